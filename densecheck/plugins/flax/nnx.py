"""``flax.nnx`` layers and functions: ``nnx.Linear(in_features, out_features, rngs=...)`` and the rest,
channels-last
as in linen."""

from __future__ import annotations

import functools

from densecheck.plugins import _jax_layers, base
from densecheck.plugins._jax_shapes import channels_last_window, pool_function
from densecheck.plugins.base import Args, DenseArgs, on_last_axis, op, same, squashing
from densecheck.plugins.flax.linen import _ACT
from densecheck.shapes import Shape, rules

N = "flax.nnx"

layer = functools.partial(
    base.layer,
    framework="flax",
    report=DenseArgs(in_features="in_features", out_features="out_features", bias="use_bias"),
)

_CONV_P = (
    "in_features out_features kernel_size strides padding input_dilation kernel_dilation feature_group_count"
    " use_bias"
)


def embed(s: Shape, a: Args) -> Shape:
    """Ids of any shape get one more axis; ids of unknown rank are taken as (batch, tokens), what an embedding
    reads first in a model (the first consumer tells an entry input's rank, as torch's ``nn.Embedding``)."""
    dims = s.dims if s.dims is not None else (None, None)
    return Shape.of(dims + (a["features"],), -1)


_SAME = """Dropout BatchNorm LayerNorm GroupNorm RMSNorm InstanceNorm MultiHeadAttention PReLU""".split()

LAYERS = {
    f"{N}.Linear": layer(
        f"{N}.Linear",
        "in_features out_features use_bias",
        on_last_axis("out_features"),
        defaults={"use_bias": True},
        dense=True,
    ),
    f"{N}.LinearGeneral": layer(
        f"{N}.LinearGeneral",
        "in_features out_features axis use_bias",
        None,
        defaults={"use_bias": True, "axis": -1},
        dense=True,
        wrap=_jax_layers.general("out_features", "axis"),
        report=DenseArgs(in_features=None, out_features="out_features", bias="use_bias"),
    ),
    f"{N}.Conv": layer(
        f"{N}.Conv",
        _CONV_P,
        channels_last_window("kernel_size", "strides", "padding", "out_features", dilation="kernel_dilation"),
    ),
    f"{N}.ConvTranspose": layer(
        f"{N}.ConvTranspose",
        "in_features out_features kernel_size strides padding kernel_dilation use_bias",
        channels_last_window("kernel_size", "strides", "padding", "out_features", transposed=True),
    ),
    f"{N}.Embed": layer(f"{N}.Embed", "num_embeddings features", embed),
    **{f"{N}.{n}": layer(f"{N}.{n}", "", same) for n in _SAME},
}

FUNCTIONS = {
    **{
        f"{N}.{k}_pool": op(
            "inputs window_shape strides padding",
            pool_function("inputs", "window_shape", "strides", "padding"),
        )
        for k in ("avg", "max", "min")
    },
    **{f"{N}.{n}": op("x", rules.identity("x")) for n in _ACT},
}
FUNCTIONS = squashing(
    FUNCTIONS, {f"{N}.softmax": "softmax", f"{N}.log_softmax": "softmax", f"{N}.sigmoid": "sigmoid"}
)
