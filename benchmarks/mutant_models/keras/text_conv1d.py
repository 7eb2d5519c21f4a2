# Conv1D text classifier with a global max pool over time.
import keras
from keras import layers

max_features = 20000
sequence_length = 100

inputs = keras.Input(shape=(sequence_length,), dtype="int64")
x = layers.Embedding(max_features, 64)(inputs)
x = layers.Dropout(0.5)(x)
x = layers.Conv1D(64, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.Conv1D(64, 7, padding="valid", activation="relu", strides=3)(x)
x = layers.GlobalMaxPooling1D()(x)
x = layers.Dense(64, activation="relu")(x)
x = layers.Dropout(0.5)(x)
predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
model = keras.Model(inputs, predictions)
