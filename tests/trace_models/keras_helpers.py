"""A helper in another module building a Dense (tf.keras spelling: the same class under Keras 3)."""

import tensorflow as tf


def head(n):
    return tf.keras.layers.Dense(n, activation="softmax")
