"""The shape rules in the plugins (densecheck/plugins/) checked against the frameworks themselves.

Each case is a layer constructor (source text, evaluated by the framework) and an input shape. The expected
output shape is whatever torch / keras produce when the layer is built and applied; the static rule must agree
(on every dimension it claims to know).
"""

from __future__ import annotations

import libcst as cst
import pytest

from densecheck.engine.driver import Interpreter
from densecheck.engine.values import Tensor
from densecheck.shapes import Shape

TORCH_CASES = [
    ("nn.Linear(32, 10)", (2, 64, 32, 32)),
    ("nn.Linear(32, 10, bias=False)", (5, 32)),
    ("nn.Conv1d(4, 8, 3)", (2, 4, 50)),
    ("nn.Conv1d(4, 8, 5, stride=2, padding=2, dilation=1)", (2, 4, 51)),
    ("nn.Conv2d(3, 16, 3, padding=1)", (2, 3, 32, 32)),
    ("nn.Conv2d(3, 16, (3, 5), stride=(2, 1), padding=(1, 2))", (2, 3, 33, 17)),
    ("nn.Conv2d(3, 16, 3, dilation=2)", (2, 3, 32, 32)),
    ("nn.Conv2d(3, 16, 3, padding='same')", (2, 3, 31, 29)),
    ("nn.Conv2d(3, 6, 5)", (3, 32, 32)),
    ("nn.Conv3d(2, 4, 3, stride=2, padding=1)", (1, 2, 9, 10, 11)),
    ("nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)", (2, 8, 7, 7)),
    ("nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)", (2, 8, 7, 7)),
    ("nn.MaxPool2d(2, 2)", (2, 3, 32, 32)),
    ("nn.MaxPool2d(3, stride=2, padding=1)", (2, 3, 33, 33)),
    ("nn.MaxPool2d(3, stride=2, ceil_mode=True)", (2, 3, 32, 32)),
    ("nn.AvgPool1d(4)", (2, 3, 17)),
    ("nn.AvgPool3d(2)", (1, 2, 8, 8, 8)),
    ("nn.AdaptiveAvgPool2d((7, 7))", (2, 512, 14, 14)),
    ("nn.AdaptiveAvgPool2d(1)", (2, 64, 9, 9)),
    ("nn.AdaptiveMaxPool1d(5)", (2, 8, 40)),
    ("nn.AdaptiveAvgPool2d((None, 3))", (2, 8, 6, 9)),
    ("nn.Flatten()", (2, 3, 4, 5)),
    ("nn.Flatten(0, 1)", (2, 3, 4, 5)),
    ("nn.Flatten(2)", (2, 3, 4, 5)),
    ("nn.Unflatten(1, (4, 8))", (2, 32)),
    ("nn.Embedding(100, 16)", (2, 7)),
    ("nn.LayerNorm(16)", (2, 7, 16)),
    ("nn.BatchNorm2d(3)", (2, 3, 8, 8)),
    ("nn.Dropout(0.1)", (2, 3, 8)),
    ("nn.GELU()", (2, 3, 8)),
    ("nn.Upsample(scale_factor=2)", (2, 3, 8, 8)),
    ("nn.PixelShuffle(2)", (1, 16, 5, 5)),
    ("nn.ZeroPad2d(2)", (1, 3, 5, 5)),
]

KERAS_CASES = [
    ("layers.Dense(16)", (None, 3, 2)),
    ("layers.Dense(16, use_bias=False)", (None, 6)),
    ("layers.Conv1D(8, 3)", (None, 50, 4)),
    ("layers.Conv1D(8, 5, strides=2, padding='same')", (None, 51, 4)),
    ("layers.Conv2D(16, 3, padding='same')", (None, 160, 160, 3)),
    ("layers.Conv2D(16, (3, 5), strides=(2, 1))", (None, 33, 17, 3)),
    ("layers.Conv2D(16, 3, dilation_rate=2)", (None, 32, 32, 3)),
    ("layers.Conv2D(16, 3, data_format='channels_first')", (None, 3, 32, 32)),
    ("layers.Conv3D(4, 3, strides=2, padding='same')", (None, 9, 10, 11, 2)),
    ("layers.Conv2DTranspose(4, 4, strides=2, padding='same')", (None, 7, 7, 8)),
    ("layers.Conv2DTranspose(4, 3, strides=2)", (None, 7, 7, 8)),
    ("layers.DepthwiseConv2D(3, depth_multiplier=2)", (None, 10, 10, 4)),
    ("layers.SeparableConv2D(8, 3, padding='same')", (None, 10, 10, 4)),
    ("layers.MaxPooling2D()", (None, 224, 224, 64)),
    ("layers.MaxPooling2D(3, strides=2, padding='same')", (None, 33, 33, 4)),
    ("layers.AveragePooling1D(4)", (None, 17, 3)),
    ("layers.GlobalAveragePooling2D()", (None, 7, 7, 512)),
    ("layers.GlobalMaxPooling1D(keepdims=True)", (None, 7, 16)),
    ("layers.Flatten()", (None, 7, 7, 512)),
    ("layers.Reshape((4, 8))", (None, 32)),
    ("layers.Reshape((-1, 8))", (None, 4, 4, 2)),
    ("layers.Permute((2, 1))", (None, 5, 3)),
    ("layers.Embedding(1000, 64)", (None, 12)),
    ("layers.LSTM(32, return_sequences=True)", (None, 10, 8)),
    ("layers.GRU(32)", (None, 10, 8)),
    ("layers.UpSampling2D(2)", (None, 8, 8, 3)),
    ("layers.ZeroPadding2D(((1, 2), (3, 4)))", (None, 8, 8, 3)),
    ("layers.Cropping1D((1, 2))", (None, 10, 3)),
    ("layers.RepeatVector(3)", (None, 5)),
    ("layers.BatchNormalization()", (None, 8, 8, 3)),
    ("layers.EinsumDense('ab,bc->ac', output_shape=64, bias_axes='c')", (None, 32)),
    ("layers.EinsumDense('abc,cd->abd', output_shape=(None, 64))", (None, 10, 32)),
    ("layers.EinsumDense('...b,bc->...c', output_shape=64)", (None, 5, 7, 32)),
    ("layers.EinsumDense('abc,cde->abde', output_shape=(None, 4, 16))", (None, 10, 32)),
    ("layers.EinsumDense('abcd,cde->abe', output_shape=(None, 64))", (None, 10, 4, 16)),
    ("layers.EinsumDense('abc,cd->ad', output_shape=8)", (None, 10, 32)),
]


def static_output(framework: str, ctor: str, shape: tuple) -> Shape:
    header = "import torch\nfrom torch import nn\n" if framework == "torch" else "from keras import layers\n"
    module = cst.parse_module(header + f"layer = {ctor}\n")
    it = Interpreter(module, "<case>")
    it.run()
    layer = it.globals.vars["layer"]
    cl = -1 if framework == "keras" else None
    out = it.call(layer, [Tensor(Shape.of(shape, cl))], {})
    if not isinstance(out, Tensor):  # RNN-style (output, state) tuples: first item
        out = out.items[0]
    return out.shape


def assert_agrees(static: Shape, real: tuple) -> None:
    assert static.rank == len(real), f"static {static} vs real {real}"
    for s, r in zip(static.json(), real):
        if s is not None and r is not None:
            assert s == r, f"static {static} vs real {real}"


@pytest.mark.parametrize("ctor,shape", TORCH_CASES)
def test_torch_rule_matches_torch(ctor, shape):
    torch = pytest.importorskip("torch")
    from torch import nn  # noqa: F401 - used by eval

    layer = eval(ctor, {"nn": torch.nn})
    dtype = torch.long if ctor.startswith("nn.Embedding") else torch.float32
    real = tuple(layer(torch.zeros(shape, dtype=dtype)).shape)
    static = static_output("torch", ctor, shape)
    assert_agrees(static, real)
    # everything is knowable for these cases: the static rule must not give up
    assert None not in static.json(), f"{ctor} on {shape}: static {static} has unknown dims, real {real}"


@pytest.mark.parametrize("ctor,shape", KERAS_CASES)
def test_keras_rule_matches_keras(ctor, shape):
    keras = pytest.importorskip("keras")

    layer = eval(ctor, {"layers": keras.layers})
    out = layer(keras.Input(batch_shape=shape))
    real = tuple(out.shape)
    static = static_output("keras", ctor, shape)
    assert_agrees(static, real)
    assert static.json()[1:] == list(real[1:]), f"{ctor}: static {static} vs real {real}"
