# Global pooling done with tf.reduce_mean in a Lambda-free functional model (ops.mean on the map).
import keras
from keras import layers, ops

inputs = keras.Input(shape=(40, 40, 3))
x = layers.Conv2D(24, 3, activation="relu")(inputs)
x = layers.Conv2D(48, 3, strides=2, activation="relu")(x)
x = ops.mean(x, axis=[1, 2])
x = layers.Dense(32, activation="relu")(x)
outputs = layers.Dense(4, activation="softmax")(x)
model = keras.Model(inputs, outputs)
