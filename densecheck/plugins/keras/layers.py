"""Keras knowledge (Keras 3 and tf.keras): ``keras.layers`` layers and ``keras.ops`` / ``tf`` functions.

Layout convention: Keras is channels-last unless a layer says ``data_format="channels_first"``; shapes built
from ``Input(shape=...)`` or ``input_shape=`` carry ``channel_axis = -1`` and a ``None`` batch axis.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from densecheck.plugins import base
from densecheck.plugins.base import Args, DenseArgs, on_last_axis, op, same, squashing
from densecheck.plugins.keras import calls
from densecheck.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    as_tuple,
    broadcast,
    concat,
    conv_out,
    dim_product,
    dims_of,
    flatten,
    known,
    permute,
    reshape,
    rules,
)

#: every keras layer spec says it is keras's; a Dense's report reads units and use_bias (its input features
# come
#: from the input, as Keras builds the kernel on first call)
layer = functools.partial(
    base.layer, framework="keras", report=DenseArgs(in_features=None, out_features="units", bias="use_bias")
)

dense = on_last_axis("units")


def _channels_first(a: Args) -> bool:
    data_format: object = a.get("data_format", "channels_last")
    return data_format == "channels_first"


def _split(s: Shape, nd: int, cf: bool) -> tuple[Shape, tuple[Dim, ...]] | tuple[None, None]:
    """(batch dims, spatial dims) of a keras spatial input; unknown rank -> batched with unknown dims."""
    if s.rank is None:
        s = Shape.of((None,) * (nd + 2), 1 if cf else -1)
    if s.rank != nd + 2:
        return None, None
    assert s.dims is not None  # the rank is known
    spatial = s.dims[2:] if cf else s.dims[1:-1]
    return s, spatial


def _assemble(s: Shape, spatial: Sequence[Dim], channels: Dim, cf: bool) -> Shape:
    assert s.dims is not None  # a shape from _split
    if cf:
        return Shape.of((s.dims[0], channels) + tuple(spatial), 1, spatial=True)
    return Shape.of((s.dims[0],) + tuple(spatial) + (channels,), -1, spatial=True)


def conv(nd: int, transposed: bool = False, depthwise: bool = False) -> Callable[[Shape, Args], Shape]:
    def rule(shape: Shape, a: Args) -> Shape:
        cf = _channels_first(a)
        s, spatial = _split(shape, nd, cf)
        if s is None:
            return UNKNOWN
        assert spatial is not None and s.dims is not None  # both come with a shape of known rank
        k = as_tuple(a["kernel_size"], nd)
        st = as_tuple(a.get("strides", 1), nd)
        dl = as_tuple(a.get("dilation_rate", 1), nd)
        pad = str(a.get("padding", "valid")).lower()
        opad = as_tuple(a["output_padding"], nd) if transposed and a["output_padding"] is not None else None
        out: list[Dim] = []
        for i in range(nd):
            if k is None or st is None or dl is None:
                out.append(None)
            elif transposed and opad is not None:
                out.append(
                    conv_out(
                        spatial[i],
                        k[i],
                        st[i],
                        0 if pad == "valid" else (k[i] - 1) // 2,
                        dl[i],
                        output_padding=opad[i],
                        transposed=True,
                    )
                )
            else:
                out.append(conv_out(spatial[i], k[i], st[i], pad, dl[i], mode="keras", transposed=transposed))
        if depthwise:
            c = s.dims[1] if cf else s.dims[-1]
            m = a.get("depth_multiplier", 1)
            channels = c * m if known(c) and isinstance(m, int) else None
        else:
            channels = a["filters"]
        return _assemble(s, out, channels, cf)

    return rule


def pool(nd: int) -> Callable[[Shape, Args], Shape]:
    def rule(shape: Shape, a: Args) -> Shape:
        cf = _channels_first(a)
        s, spatial = _split(shape, nd, cf)
        if s is None:
            return UNKNOWN
        assert spatial is not None and s.dims is not None  # both come with a shape of known rank
        k = as_tuple(a.get("pool_size", 2), nd)
        st = as_tuple(a["strides"] if a["strides"] is not None else a.get("pool_size", 2), nd)
        pad = str(a.get("padding", "valid")).lower()
        out = [
            conv_out(spatial[i], k[i], st[i], pad, 1, mode="keras") if k and st else None for i in range(nd)
        ]
        c = s.dims[1] if cf else s.dims[-1]
        return _assemble(s, out, c, cf)

    return rule


def global_pool(nd: int) -> Callable[[Shape, Args], Shape]:
    def rule(shape: Shape, a: Args) -> Shape:
        cf = _channels_first(a)
        s, _ = _split(shape, nd, cf)
        if s is None:
            return UNKNOWN
        assert s.dims is not None  # a shape of known rank
        c = s.dims[1] if cf else s.dims[-1]
        if a.get("keepdims", False):
            return _assemble(s, (1,) * nd, c, cf)
        return Shape.of((s.dims[0], c), -1)

    return rule


def flatten_layer(s: Shape, a: Args) -> Shape:
    if s.rank is None:
        return Shape.of((None, None), -1)
    return flatten(s, 1, -1)


def reshape_layer(s: Shape, a: Args) -> Shape:
    target = a["target_shape"]
    if not isinstance(target, (tuple, list)):
        return UNKNOWN
    if s.dims is None:
        return reshape(Shape.of((None,)), list(target), keep_batch=True).with_dims(
            (None,) + tuple(d if known(d) and d >= 0 else None for d in target), channel_axis=-1
        )
    out = reshape(s, list(target), keep_batch=True)
    return out.with_dims(dims_of(out), channel_axis=-1) if out.channel_axis is None else out


def permute_layer(s: Shape, a: Args) -> Shape:
    dims = a["dims"]
    if not isinstance(dims, (tuple, list)) or any(not isinstance(d, int) for d in dims):
        return UNKNOWN
    return permute(s, (0,) + tuple(dims))


def embedding(s: Shape, a: Args) -> Shape:
    if s.rank is None:
        return UNKNOWN
    assert s.dims is not None  # the rank is known
    return Shape.of(s.dims + (a["output_dim"],), -1)


def rnn(s: Shape, a: Args) -> Shape | tuple[Shape, Shape, Shape]:
    units = a["units"]
    if s.rank is None:
        s = Shape.of((None, None, None), -1)
    assert s.dims is not None  # the rank is known
    if a.get("return_sequences", False):
        out = Shape.of(s.dims[:2] + (units,), -1)
    else:
        out = Shape.of((s.dims[0], units), -1)
    if a.get("return_state", False):
        return (out, Shape.of((s.dims[0], units), -1), Shape.of((s.dims[0], units), -1))
    return out


def repeat_vector(s: Shape, a: Args) -> Shape:
    return Shape.of((s.dims[0] if s.dims else None, a["n"], s.last if s.rank == 2 else None), -1)


def upsampling(nd: int) -> Callable[[Shape, Args], Shape]:
    def rule(shape: Shape, a: Args) -> Shape:
        cf = _channels_first(a)
        s, spatial = _split(shape, nd, cf)
        if s is None:
            return UNKNOWN
        assert spatial is not None and s.dims is not None  # both come with a shape of known rank
        size = as_tuple(a.get("size", 2), nd)
        out = [d * size[i] if known(d) and size else None for i, d in enumerate(spatial)]
        return _assemble(s, out, s.dims[1] if cf else s.dims[-1], cf)

    return rule


def padding_layer(nd: int, sign: int) -> Callable[[Shape, Args], Shape]:
    def rule(shape: Shape, a: Args) -> Shape:
        cf = _channels_first(a)
        s, spatial = _split(shape, nd, cf)
        if s is None:
            return UNKNOWN
        assert spatial is not None and s.dims is not None  # both come with a shape of known rank
        p = a.get("padding" if sign > 0 else "cropping", 1)
        out: list[Dim] = []
        for i, d in enumerate(spatial):
            if isinstance(p, int):
                amount = 2 * p
            elif (
                nd == 1
                and isinstance(p, (tuple, list))
                and len(p) == 2
                and all(isinstance(x, int) for x in p)
            ):
                amount = p[0] + p[1]
            elif isinstance(p, (tuple, list)) and len(p) == nd:
                pi = p[i]
                amount = sum(pi) if isinstance(pi, (tuple, list)) else 2 * pi
            else:
                amount = None
            out.append(d + sign * amount if known(d) and isinstance(amount, int) else None)
        return _assemble(s, out, s.dims[1] if cf else s.dims[-1], cf)

    return rule


def merge_concat(shapes: list[Shape], a: Args) -> Shape:
    return concat(shapes, a.get("axis", -1)) if shapes else UNKNOWN


def merge_elementwise(shapes: list[Shape], a: Args) -> Shape:
    if not shapes:
        return UNKNOWN
    out = shapes[0]
    for s in shapes[1:]:
        out = broadcast(out, s)
    return out


def mha(s: Shape, a: Args) -> Shape:
    if a["output_shape"] is not None or s.rank is None:
        return s.with_last(None) if s.rank else UNKNOWN
    return s


#: EinsumDense's three equation forms, as Keras matches them (``...`` written as ``0``): no ellipsis, ellipsis
# on
#: the left, ellipsis on the right
_EINSUM_FORMS = (
    (re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)"), False),
    (re.compile(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)"), True),
    (re.compile(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0"), False),
)


def einsum_dense(s: Shape, a: Args) -> Shape:
    """``EinsumDense(equation, output_shape)``, computed as Keras computes it: the output is the input's batch
    dim, then ``output_shape`` as given (``None`` stays unknown), with the dims under ``...`` put back -- on
    the left each one inserted after the batch dim in turn (so in reverse order, as Keras does), on the right
    appended."""
    eq, spec = a["equation"], a["output_shape"]
    spec = [spec] if isinstance(spec, int) else list(spec) if isinstance(spec, (tuple, list)) else None
    if not isinstance(eq, str) or spec is None:
        return UNKNOWN
    eq = eq.replace(" ", "").replace("...", "0")
    for form, left in _EINSUM_FORMS:  # noqa: B007 - `left` (which side elides) is read after the loop
        m = form.fullmatch(eq)
        if m is not None:
            break
    else:
        return UNKNOWN
    if s.rank is None:
        return UNKNOWN if "0" in eq else Shape.of((None,) * (1 + len(spec)), -1)
    assert s.dims is not None  # the rank is known
    elided = s.rank - len(m.group(1))
    out = [s.dims[0]] + [d if known(d) else None for d in spec]
    if elided > 0 and left:
        for i in range(1, elided):
            out.insert(1, s.dims[i])
    elif elided > 0:
        out.extend(s.dims[s.rank - elided :])
    return Shape.of(tuple(out), -1, spatial=s.spatial and len(out) == s.rank)


_SAME = """Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D AlphaDropout GaussianDropout
GaussianNoise Activation ReLU LeakyReLU PReLU ELU Softmax ThresholdedReLU BatchNormalization
LayerNormalization GroupNormalization UnitNormalization RMSNormalization SyncBatchNormalization
Rescaling Normalization ActivityRegularization Masking Identity""".split()

_CONV_P = "filters kernel_size strides padding data_format dilation_rate groups activation use_bias"
_CONVT_P = "filters kernel_size strides padding output_padding data_format dilation_rate activation use_bias"
_DW_P = "kernel_size strides padding depth_multiplier data_format dilation_rate activation use_bias"
_SEP_P = "filters kernel_size strides padding data_format dilation_rate depth_multiplier activation use_bias"
_POOL_P = "pool_size strides padding data_format"
_RNN_P = "units activation recurrent_activation use_bias"

LAYERS = {
    "keras.layers.Dense": layer(
        "keras.layers.Dense", "units activation use_bias", dense, defaults={"use_bias": True}, dense=True
    ),
    **{f"keras.layers.Conv{n}D": layer(f"keras.layers.Conv{n}D", _CONV_P, conv(n)) for n in (1, 2, 3)},
    **{f"keras.layers.Convolution{n}D": layer(f"keras.layers.Conv{n}D", _CONV_P, conv(n)) for n in (1, 2, 3)},
    **{
        f"keras.layers.Conv{n}DTranspose": layer(
            f"keras.layers.Conv{n}DTranspose", _CONVT_P, conv(n, transposed=True)
        )
        for n in (1, 2, 3)
    },
    **{
        f"keras.layers.SeparableConv{n}D": layer(f"keras.layers.SeparableConv{n}D", _SEP_P, conv(n))
        for n in (1, 2)
    },
    **{
        f"keras.layers.DepthwiseConv{n}D": layer(
            f"keras.layers.DepthwiseConv{n}D", _DW_P, conv(n, depthwise=True)
        )
        for n in (1, 2)
    },
    **{
        f"keras.layers.{k}Pooling{n}D": layer(f"keras.layers.{k}Pooling{n}D", _POOL_P, pool(n))
        for n in (1, 2, 3)
        for k in ("Max", "Average")
    },
    **{
        f"keras.layers.{k}Pool{n}D": layer(f"keras.layers.{k}Pool{n}D", _POOL_P, pool(n))
        for n in (1, 2, 3)
        for k in ("Max", "Avg")
    },
    **{
        f"keras.layers.Global{k}Pooling{n}D": layer(
            f"keras.layers.Global{k}Pooling{n}D", "data_format keepdims", global_pool(n)
        )
        for n in (1, 2, 3)
        for k in ("Max", "Average")
    },
    **{
        f"keras.layers.Global{k}Pool{n}D": layer(
            f"keras.layers.Global{k}Pool{n}D", "data_format keepdims", global_pool(n)
        )
        for n in (1, 2, 3)
        for k in ("Max", "Avg")
    },
    "keras.layers.Flatten": layer("keras.layers.Flatten", "data_format", flatten_layer),
    "keras.layers.Reshape": layer("keras.layers.Reshape", "target_shape", reshape_layer),
    "keras.layers.Permute": layer("keras.layers.Permute", "dims", permute_layer),
    "keras.layers.Embedding": layer("keras.layers.Embedding", "input_dim output_dim", embedding),
    **{
        f"keras.layers.{n}": layer(f"keras.layers.{n}", _RNN_P, rnn)
        for n in ("LSTM", "GRU", "SimpleRNN", "ConvLSTM1D", "CuDNNLSTM", "CuDNNGRU")
    },
    "keras.layers.RepeatVector": layer("keras.layers.RepeatVector", "n", repeat_vector),
    **{
        f"keras.layers.UpSampling{n}D": layer(
            f"keras.layers.UpSampling{n}D", "size data_format", upsampling(n)
        )
        for n in (1, 2, 3)
    },
    **{
        f"keras.layers.ZeroPadding{n}D": layer(
            f"keras.layers.ZeroPadding{n}D", "padding data_format", padding_layer(n, +1)
        )
        for n in (1, 2, 3)
    },
    **{
        f"keras.layers.Cropping{n}D": layer(
            f"keras.layers.Cropping{n}D", "cropping data_format", padding_layer(n, -1)
        )
        for n in (1, 2, 3)
    },
    "keras.layers.Concatenate": layer("keras.layers.Concatenate", "axis", merge_concat, multi_input=True),
    **{
        f"keras.layers.{n}": layer(f"keras.layers.{n}", "", merge_elementwise, multi_input=True)
        for n in ("Add", "Multiply", "Average", "Maximum", "Minimum", "Subtract")
    },
    "keras.layers.MultiHeadAttention": layer(
        "keras.layers.MultiHeadAttention", "num_heads key_dim value_dim dropout use_bias output_shape", mha
    ),
    **{f"keras.layers.{n}": layer(f"keras.layers.{n}", "", same) for n in _SAME},
    "keras.layers.EinsumDense": layer(
        "keras.layers.EinsumDense", "equation output_shape activation bias_axes", einsum_dense
    ),
    "keras.layers.Lambda": layer(
        "keras.layers.Lambda", "function output_shape mask arguments", None, wrap=calls.lambda_layer
    ),
    "keras.layers.TimeDistributed": layer(
        "keras.layers.TimeDistributed", "layer", None, wrap=calls.time_distributed
    ),
    "keras.layers.Bidirectional": layer(
        "keras.layers.Bidirectional", "layer merge_mode", None, wrap=calls.bidirectional
    ),
}

# Names that are not layers but that the analysis treats specially (models, inputs).
SPECIAL = {
    "keras.Input",
    "keras.Sequential",
    "keras.Model",
    "keras.layers.Input",
    "keras.layers.InputLayer",
    "keras.Functional",
}

# --- functions: keras.ops / keras.backend / tf
# ----------------------------------------------------------------


# the numpy-style op family (densecheck.shapes.rules) under Keras's argument names
f_same = rules.identity("x")
# keras.ops and tf name these arguments their own ways: keras.ops.reshape(x, newshape),
# keras.ops.transpose(x, axes=None); tf.reshape(tensor, shape), tf.transpose(a, perm=None)
f_ops_reshape = rules.reshape("x", "newshape", scalar=False)
f_ops_transpose = rules.permute("x", "axes", none_reverses=True)
f_reduce = rules.reduce("x", "axis", "keepdims")
f_expand = rules.unsqueeze("x", "axis")
f_squeeze = rules.squeeze("x", "axis")
f_concat = rules.concat("xs", "axis")
f_stack = rules.stack("xs", "axis")
f_flatten = rules.flatten("x", default_start=1)
f_binary = rules.broadcasting("x", "y")
f_matmul = rules.matmul("x", "y")


_SAME_OPS = """relu gelu silu swish sigmoid tanh softmax log_softmax elu selu softplus leaky_relu exp
log sqrt abs square negative cast identity stop_gradient dropout l2_normalize normalize erf clip""".split()

FUNCTIONS = {
    **{
        f"{ns}.{n}": op("x", f_same)
        for ns in ("keras.ops", "keras.activations", "tf.nn", "tf.math", "tf")
        for n in _SAME_OPS
    },
    "keras.ops.reshape": op("x newshape", f_ops_reshape),
    "tf.reshape": op("tensor shape", rules.reshape("tensor", "shape", scalar=False)),
    "keras.ops.transpose": op("x axes", f_ops_transpose),
    "tf.transpose": op("a perm", rules.permute("a", "perm", none_reverses=True)),
    **{
        f"{ns}.{n}": op("x axis keepdims", f_reduce)
        for ns in ("keras.ops", "tf", "tf.math")
        for n in (
            "mean",
            "sum",
            "max",
            "min",
            "reduce_mean",
            "reduce_sum",
            "reduce_max",
            "reduce_min",
            "std",
            "var",
        )
    },
    **{f"{ns}.expand_dims": op("x axis", f_expand) for ns in ("keras.ops", "tf")},
    **{f"{ns}.squeeze": op("x axis", f_squeeze) for ns in ("keras.ops", "tf")},
    **{f"{ns}.{n}": op("xs axis", f_concat) for ns in ("keras.ops", "tf") for n in ("concatenate", "concat")},
    **{f"{ns}.stack": op("xs axis", f_stack) for ns in ("keras.ops", "tf")},
    **{
        f"{ns}.{n}": op("x y", f_binary)
        for ns in ("keras.ops", "tf", "tf.math")
        for n in ("add", "multiply", "subtract", "divide", "maximum", "minimum")
    },
    **{f"{ns}.matmul": op("x y", f_matmul) for ns in ("keras.ops", "tf", "tf.linalg")},
    "keras.ops.flatten": op("x", f_flatten),
    "keras.ops.split": op(
        "x indices_or_sections axis", rules.splitting("x", "indices_or_sections", "axis", count=True)
    ),
    "tf.split": op(
        "value num_or_size_splits axis", rules.splitting("value", "num_or_size_splits", "axis", count=True)
    ),
    # the functional spellings of the merge layers: ``layers.add([a, b])`` is ``layers.Add()([a, b])``
    "keras.layers.concatenate": op("inputs axis", lambda a: merge_concat(a.shapes("inputs") or [], a)),
    **{
        f"keras.layers.{n}": op("inputs", lambda a: merge_elementwise(a.shapes("inputs") or [], a))
        for n in ("add", "multiply", "average", "maximum", "minimum", "subtract")
    },
    "keras.layers.flatten": op("x", f_flatten),
}

# the output activations of a classifier (a head whose output is squashed is a per-sample prediction)
LAYERS = squashing(
    LAYERS,
    {
        "keras.layers.Dense": "arg:activation",
        "keras.layers.Activation": "arg:activation",
        "keras.layers.Softmax": "softmax",
    },
)
FUNCTIONS = squashing(
    FUNCTIONS,
    {
        f"{ns}.{n}": n.removeprefix("log_")
        for ns in ("keras.ops", "keras.activations", "tf.nn", "tf.math", "tf")
        for n in ("softmax", "log_softmax", "sigmoid")
    },
)

__all__ = ["FUNCTIONS", "LAYERS", "SPECIAL", "dim_product"]
