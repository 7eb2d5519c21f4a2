"""A multi-level Keras model: a Block layer class used by a subclassed Model, a helper in another module, and
functional / Sequential variants that declare their Input."""

import keras
from keras import layers

from keras_helpers import head


class Block(layers.Layer):
    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.up = layers.Dense(4 * dim, activation="relu"); self.down = layers.Dense(dim)

    def call(self, x):
        return x + self.down(self.up(x))


class Model(keras.Model):
    def __init__(self, dim=8, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [Block(dim) for _ in range(2)]
        self.pool = layers.GlobalAveragePooling1D()
        self.out = head(3)

    def call(self, x):
        for b in self.blocks:
            x = b(x)
        return self.out(self.pool(x))


def build():
    """Subclassed: traced on a symbolic input of the given shape."""
    return Model()


def build_functional():
    inputs = keras.Input(shape=(6, 6, 4))
    x = layers.Dense(16)(inputs)
    x = layers.Flatten()(x)
    return keras.Model(inputs, head(5)(x))


def build_sequential():
    return keras.Sequential([keras.Input(shape=(3, 2)), layers.Dense(16), layers.Flatten(), layers.Dense(4)])
