"""keras.ops functions called with keyword arguments: each keyword is Keras's own name for it, so a
``keras.ops.transpose(x, axes=...)`` is read as written (it was once read as ``perm``, tf's name, and
reversed every axis). The expected shapes come from Keras itself."""

from __future__ import annotations

import pytest

from densecheck import api

CALLS = [
    "keras.ops.transpose(x, axes=(0, 2, 1))",
    "keras.ops.transpose(x, (0, 2, 1))",
    "keras.ops.transpose(x)",  # no axes: every axis reversed
    "keras.ops.reshape(x, newshape=(-1, 12))",
    "keras.ops.reshape(x, (-1, 12))",
]


@pytest.mark.keras
@pytest.mark.parametrize("call", CALLS)
def test_keyword_arguments_are_read_by_their_keras_names(call):
    keras = pytest.importorskip("keras")
    head = f"import keras\nfrom keras import layers\n\nx = keras.Input(shape=(3, 4))\ny = {call}\n"
    ns: dict = {}
    exec(compile(head, "model.py", "exec"), {"keras": keras}, ns)  # the test's own code: Keras's shape of y
    expected = list(ns["y"].shape)
    source = head + "z = layers.Dense(5)(y)\n"
    (layer,) = api.analyze_source(source, "model.py").layers
    assert layer.input_rank == len(expected)
    assert list(layer.input.dims) == expected
