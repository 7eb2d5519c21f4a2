"""``flax.linen`` layers and functions: shape rules (channels-last, any number of leading batch axes)."""

from __future__ import annotations

import functools
from typing import Any

from densecheck.plugins import _jax_layers, base
from densecheck.plugins._jax_shapes import channels_last_window, pool_function
from densecheck.plugins.base import Args, DenseArgs, on_last_axis, op, same, squashing
from densecheck.shapes import Shape, rules

L = "flax.linen"

#: a linen Dense's report reads features and use_bias; its input features come from the input, as Flax creates
#: the kernel on the first call (like Keras's ``Dense(units)``)
layer = functools.partial(
    base.layer, framework="flax", report=DenseArgs(in_features=None, out_features="features", bias="use_bias")
)

_CONV_P = "features kernel_size strides padding input_dilation kernel_dilation feature_group_count use_bias"
_CONVT_P = "features kernel_size strides padding kernel_dilation use_bias"


def embed(s: Shape, a: Args) -> Shape:
    """Ids of any shape get one more axis; ids of unknown rank are taken as (batch, tokens), what an embedding
    reads first in a model (the first consumer tells an entry input's rank, as torch's ``nn.Embedding``)."""
    dims = s.dims if s.dims is not None else (None, None)
    return Shape.of(dims + (a["features"],), -1)


_SAME = """Dropout BatchNorm LayerNorm GroupNorm RMSNorm InstanceNorm SpectralNorm WeightNorm
MultiHeadDotProductAttention SelfAttention MultiHeadAttention PReLU""".split()
_ACT = """relu relu6 gelu silu swish sigmoid softplus soft_sign elu selu celu leaky_relu tanh softmax
log_softmax log_sigmoid hard_tanh hard_sigmoid hard_swish standardize normalize glu""".split()

LAYERS = {
    f"{L}.Dense": layer(
        f"{L}.Dense", "features use_bias", on_last_axis("features"), defaults={"use_bias": True}, dense=True
    ),
    f"{L}.DenseGeneral": layer(
        f"{L}.DenseGeneral",
        "features axis batch_dims use_bias",
        None,
        defaults={"use_bias": True, "axis": -1},
        dense=True,
        wrap=_jax_layers.general("features", "axis"),
    ),
    f"{L}.Conv": layer(
        f"{L}.Conv",
        _CONV_P,
        channels_last_window("kernel_size", "strides", "padding", "features", dilation="kernel_dilation"),
    ),
    f"{L}.ConvLocal": layer(
        f"{L}.ConvLocal",
        _CONV_P,
        channels_last_window("kernel_size", "strides", "padding", "features", dilation="kernel_dilation"),
    ),
    f"{L}.ConvTranspose": layer(
        f"{L}.ConvTranspose",
        _CONVT_P,
        channels_last_window("kernel_size", "strides", "padding", "features", transposed=True),
    ),
    f"{L}.Embed": layer(f"{L}.Embed", "num_embeddings features", embed),
    **{f"{L}.{n}": layer(f"{L}.{n}", "", same) for n in _SAME},
}


def _pool() -> Any:
    return op(
        "inputs window_shape strides padding", pool_function("inputs", "window_shape", "strides", "padding")
    )


FUNCTIONS = {
    **{f"{L}.{k}_pool": _pool() for k in ("avg", "max", "min")},
    **{f"{L}.{n}": op("x", rules.identity("x")) for n in _ACT},
}
FUNCTIONS = squashing(
    FUNCTIONS, {f"{L}.softmax": "softmax", f"{L}.log_softmax": "softmax", f"{L}.sigmoid": "sigmoid"}
)
