"""Run as a script, this writes the marker and leaves with os._exit(4) (no cleanup, no exception to catch)."""

import os

import keras
from keras import layers


def build():
    inputs = keras.Input(shape=(160, 160, 3))
    x = layers.Conv2D(64, 3, padding="same")(inputs)
    y = layers.Dense(16)(x)  # DC101: a 1x1 convolution at 25,600 positions
    return keras.Model(inputs, y)


if __name__ == "__main__":
    with open(os.environ.get("DENSECHECK_UNSAFE_MARKER") or "EXECUTED", "a", encoding="utf-8") as fh:
        fh.write("main_guard.py: __main__ block\n")
    build().summary()
    os._exit(4)
