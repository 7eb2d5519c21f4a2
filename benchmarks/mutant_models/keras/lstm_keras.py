# LSTM sentiment model; the LSTM returns sequences and the last step is picked by hand.
import keras
from keras import layers

inputs = keras.Input(shape=(None,), dtype="int32")
x = layers.Embedding(20000, 64)(inputs)
x = layers.LSTM(64, return_sequences=True)(x)
x = layers.LSTM(32, return_sequences=True)(x)
last = x[:, -1, :]
outputs = layers.Dense(1, activation="sigmoid")(last)
model = keras.Model(inputs, outputs)
