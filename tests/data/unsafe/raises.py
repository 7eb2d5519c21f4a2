"""Importing this raises (an exception from a module being checked must never reach densecheck)."""

import keras
from _marker import touch
from keras import layers

model = keras.Sequential([
    keras.Input(shape=(3, 2)),
    layers.Dense(16),  # per-position on rank 3: 48 params, not the 112 of Flatten + Dense
])
touch(__file__, "raises.py: module body")
raise KeyboardInterrupt("raised at import time")
