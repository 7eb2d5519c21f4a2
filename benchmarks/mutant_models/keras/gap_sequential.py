# Sequential CNN with GlobalAveragePooling2D instead of Flatten.
import keras
from keras import layers

model = keras.Sequential(name="gap_cnn")
model.add(keras.Input(shape=(64, 64, 3)))
model.add(layers.Conv2D(32, 3, activation="relu"))
model.add(layers.BatchNormalization())
model.add(layers.Conv2D(64, 3, strides=2, activation="relu"))
model.add(layers.Conv2D(128, 3, strides=2, activation="relu"))
model.add(layers.GlobalAveragePooling2D())
model.add(layers.Dense(5, activation="softmax"))
