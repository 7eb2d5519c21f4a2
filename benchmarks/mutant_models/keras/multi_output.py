# Two-headed functional model (class + box regression) sharing a flattened trunk.
import keras
from keras import layers

image = keras.Input(shape=(64, 64, 3), name="image")
x = layers.Conv2D(32, 3, activation="relu")(image)
x = layers.MaxPooling2D()(x)
x = layers.Conv2D(64, 3, activation="relu")(x)
x = layers.MaxPooling2D()(x)
x = layers.Flatten()(x)
shared = layers.Dense(128, activation="relu")(x)
label = layers.Dense(20, activation="softmax", name="label")(shared)
box = layers.Dense(4, activation="sigmoid", name="box")(shared)
model = keras.Model(inputs=image, outputs=[label, box])
