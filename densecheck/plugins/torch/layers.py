"""PyTorch knowledge: ``torch.nn`` layers, ``torch`` / ``torch.nn.functional`` functions and tensor methods.

Layout convention: torch convolutions and pooling are channels-first, (N, C, *spatial); their outputs carry
``channel_axis = 1``. Linear acts on the last axis whatever the layout.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

from densecheck.plugins import base
from densecheck.plugins.base import Args, DenseArgs, OpSpec, on_last_axis, op, same, squashing
from densecheck.shapes import (
    UNKNOWN,
    Dim,
    Shape,
    as_tuple,
    broadcast,
    conv_out,
    dims_of,
    flatten,
    known,
    pool_out_ceil,
    reduce_axes,
    rules,
    transpose,
)

#: every torch layer spec says it is torch's; a Linear's report reads in_features, out_features and bias
layer = functools.partial(
    base.layer,
    framework="torch",
    report=DenseArgs(in_features="in_features", out_features="out_features", bias="bias"),
)

# --- shape rules for layers (input shape, constructor args) -> output
# ------------------------------------------


linear = on_last_axis("out_features")


def _channels_first_input(s: Shape, nd: int) -> Shape:
    """Torch spatial layers take (N, C, *spatial) or unbatched (C, *spatial); unknown rank -> batched."""
    if s.rank is None:
        return Shape.of((None,) * (nd + 2), 1)
    return s


def conv(nd: int, transposed: bool = False) -> Callable[[Shape, Args], Shape]:
    def rule(s: Shape, a: Args) -> Shape:
        s = _channels_first_input(s, nd)
        if s.rank not in (nd + 1, nd + 2):
            return UNKNOWN
        assert s.dims is not None  # the rank is known
        lead = s.rank - nd - 1  # 1 when batched, 0 when not
        k = as_tuple(a["kernel_size"], nd)
        st = as_tuple(a.get("stride", 1), nd)
        dl = as_tuple(a.get("dilation", 1), nd)
        pad = a.get("padding", 0)
        pads = (pad,) * nd if isinstance(pad, str) else as_tuple(pad, nd)
        op_ = as_tuple(a.get("output_padding", 0), nd) if transposed else (0,) * nd
        spatial = s.dims[lead + 1 :]
        out: list[Dim] = []
        for i in range(nd):
            if k is None or st is None or dl is None or pads is None or op_ is None:
                out.append(None)
            else:
                out.append(
                    conv_out(
                        spatial[i], k[i], st[i], pads[i], dl[i], output_padding=op_[i], transposed=transposed
                    )
                )
        return Shape.of(s.dims[:lead] + (a["out_channels"],) + tuple(out), lead, spatial=True)

    return rule


def pool(nd: int, kind: str = "max") -> Callable[[Shape, Args], Shape]:
    def rule(s: Shape, a: Args) -> Shape:
        s = _channels_first_input(s, nd)
        if s.rank not in (nd + 1, nd + 2):
            return UNKNOWN
        assert s.dims is not None  # the rank is known
        lead = s.rank - nd - 1
        k = as_tuple(a["kernel_size"], nd)
        st = as_tuple(a["stride"] if a["stride"] is not None else a["kernel_size"], nd)
        pads = as_tuple(a.get("padding", 0), nd)
        dl = as_tuple(a.get("dilation", 1), nd) if kind == "max" else (1,) * nd
        ceil = a.get("ceil_mode", False)
        spatial = s.dims[lead + 1 :]
        out: list[Dim] = []
        for i in range(nd):
            if k is None or st is None or pads is None or dl is None:
                out.append(None)
            elif ceil:
                out.append(pool_out_ceil(spatial[i], k[i], st[i], pads[i], dl[i]))
            else:
                out.append(conv_out(spatial[i], k[i], st[i], pads[i], dl[i]))
        return _pooled(s, s.dims[: lead + 1] + tuple(out), lead, nd)

    return rule


def _pooled(s: Shape, dims: tuple[Dim, ...], lead: int, nd: int) -> Shape:
    """A pool's output: a channels-first feature map (``pooler(tokens.transpose(1, 2))`` pools the tokens),
    except where a 1-d pool shrinks what is known or plainly meant to be the features: the input's channels
    are on its last axis, or no convolution made it and it is pooled to a length above 1
    (``F.adaptive_avg_pool1d(h, out_dim)`` narrowing (batch, tokens, features)) -- a pool moves no axis."""
    last = s.rank - 1 if s.rank is not None else None
    features = s.channel_axis is not None and s.axis(s.channel_axis) == last
    narrowed = s.channel_axis is None and not s.spatial and known(dims[-1]) and dims[-1] > 1
    if nd == 1 and (features or narrowed):
        return Shape.of(dims)
    return Shape.of(dims, lead, spatial=True)


def adaptive_pool(nd: int) -> Callable[[Shape, Args], Shape]:
    def rule(s: Shape, a: Args) -> Shape:
        s = _channels_first_input(s, nd)
        if s.rank not in (nd + 1, nd + 2):
            return UNKNOWN
        assert s.dims is not None  # the rank is known
        lead = s.rank - nd - 1
        size = a["output_size"]
        sizes = as_tuple(size, nd)
        spatial = s.dims[lead + 1 :]
        out: tuple[Dim, ...]
        if sizes is None:
            out = (None,) * nd
        else:
            out = tuple(spatial[i] if sizes[i] is None else sizes[i] for i in range(nd))
        return _pooled(s, s.dims[: lead + 1] + out, lead, nd)

    return rule


def flatten_layer(s: Shape, a: Args) -> Shape:
    return flatten(s, a.get("start_dim", 1), a.get("end_dim", -1))


def unflatten_layer(s: Shape, a: Args) -> Shape:
    size = a["unflattened_size"]
    dim = a["dim"]
    if s.rank is None or dim is None or not isinstance(size, (tuple, list)):
        return UNKNOWN
    d = s.axis(dim)
    if d is None:
        return UNKNOWN
    assert s.dims is not None  # the rank is known
    dims = s.dims[:d] + tuple(size) + s.dims[d + 1 :]
    ca = s.channel_axis
    if ca is not None and ca > d:
        ca += len(size) - 1
    elif ca == d:
        ca = None
    return Shape(tuple(x if known(x) and x >= 0 else None for x in dims), ca, s.explicit_layout)


def embedding(s: Shape, a: Args) -> Shape:
    """Ids of any shape get one more axis; ids of unknown rank are taken as (batch, tokens), what an
    Embedding reads first in a model (the first consumer tells an entry input's rank)."""
    dims = s.dims if s.dims is not None else (None, None)
    return Shape.of(dims + (a["embedding_dim"],), -1)


def feature_map_norm(nd: int) -> Callable[[Shape, Args], Shape]:
    """BatchNorm2d / BatchNorm3d: only (N, C, *spatial) of ``nd`` spatial axes is accepted, so an input of
    unknown rank or layout is that feature map (channels on axis 1)."""

    def rule(s: Shape, a: Args) -> Shape:
        if s.rank is None:
            return Shape.of((None,) * (nd + 2), 1, spatial=True)
        if s.rank == nd + 2 and s.channel_axis is None:
            return Shape.of(dims_of(s), 1, spatial=True)
        return s

    return rule


def embedding_bag(s: Shape, a: Args) -> Shape:
    return Shape.of((dims_of(s)[0] if s.rank == 2 else None, a["embedding_dim"]), -1)


def rnn(s: Shape, a: Args) -> tuple[Shape, None]:
    hidden = a["hidden_size"]
    proj = a.get("proj_size", 0)
    dirs = 2 if a.get("bidirectional", False) else 1
    feat = (proj or hidden) * dirs if hidden is not None else None
    if s.rank is None:  # a sequence of unknown rank: batched (the rank is the same, batch_first or not)
        out = Shape.of((None, None, feat), -1)
    elif s.rank == 2:  # unbatched (L, H_in)
        out = Shape.of((dims_of(s)[0], feat), -1)
    else:
        out = Shape.of(dims_of(s)[:2] + (feat,), -1)
    return (out, UNKNOWN_TUPLE)


UNKNOWN_TUPLE = None  # the hidden state: not tracked


def mha(s: Shape, a: Args) -> tuple[Shape, None]:
    return (s, None)


def upsample(s: Shape, a: Args) -> Shape:
    if s.rank is None or s.rank < 3:
        return UNKNOWN if s.rank is None else s
    assert s.dims is not None  # the rank is known
    nd = s.rank - 2
    size = as_tuple(a["size"], nd) if a["size"] is not None else None
    scale = as_tuple(a["scale_factor"], nd) if a["scale_factor"] is not None else None
    out: list[Dim] = []
    for i, d in enumerate(s.dims[2:]):
        if size is not None:
            out.append(size[i])
        elif scale is not None and known(d) and float(scale[i]).is_integer():
            out.append(int(d * scale[i]))
        else:
            out.append(None)
    return Shape.of(s.dims[:2] + tuple(out), 1)


def pixel_shuffle(s: Shape, a: Args) -> Shape:
    r = a["upscale_factor"]
    if s.rank != 4 or r is None:
        return UNKNOWN
    assert s.dims is not None  # the rank is 4
    n, c, h, w = s.dims
    return Shape.of(
        (n, c // (r * r) if known(c) else None, h * r if known(h) else None, w * r if known(w) else None), 1
    )


def pad_nd(nd: int) -> Callable[[Shape, Args], Shape]:
    """ZeroPad2d(p) and friends: p is an int or (left, right[, top, bottom[, front, back]]), last axis
    first."""

    def rule(s: Shape, a: Args) -> Shape:
        if s.rank is None:
            return s
        assert s.dims is not None  # the rank is known
        p = a["padding"]
        pads = (p,) * (2 * nd) if isinstance(p, int) else p
        dims = list(s.dims)
        for i in range(nd):
            ax = s.rank - 1 - i
            if (
                isinstance(pads, (tuple, list))
                and len(pads) == 2 * nd
                and known(dims[ax])
                and all(isinstance(x, int) for x in pads[2 * i : 2 * i + 2])
            ):
                dims[ax] = cast(int, dims[ax]) + pads[2 * i] + pads[2 * i + 1]
            else:
                dims[ax] = None
        return s.with_dims(dims)

    return rule


def f_pad(a: Args) -> Shape:
    """F.pad(x, pad): pad has 2 entries per padded trailing axis."""
    s = _x(a)
    p = a["pad"]
    if s.rank is None or not isinstance(p, (tuple, list)) or len(p) % 2:
        return s if s.rank is None else s.with_dims((None,) * s.rank, channel_axis="same")
    return pad_nd(len(p) // 2)(s, Args({"padding": tuple(p)}))


_CONV = "in_channels out_channels kernel_size stride padding dilation groups bias padding_mode device dtype"
_CONVT = (
    "in_channels out_channels kernel_size stride padding output_padding groups bias dilation padding_mode "
    "device dtype"
)
_LAZYCONV = "out_channels kernel_size stride padding dilation groups bias padding_mode device dtype"
_MAXPOOL = "kernel_size stride padding dilation return_indices ceil_mode"
_AVGPOOL = "kernel_size stride padding ceil_mode count_include_pad divisor_override"
_RNN = "input_size hidden_size num_layers bias batch_first dropout bidirectional proj_size device dtype"

_SAME = """Identity ReLU ReLU6 GELU SiLU Mish Sigmoid Tanh Softmax Softmax2d LogSoftmax LeakyReLU ELU
SELU CELU PReLU RReLU Softplus Softsign Hardswish Hardsigmoid Hardtanh Tanhshrink Threshold GLU Softmin
QuickGELU Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout BatchNorm1d
SyncBatchNorm LazyBatchNorm1d LayerNorm GroupNorm
InstanceNorm1d InstanceNorm2d InstanceNorm3d LocalResponseNorm RMSNorm CrossMapLRN2d
TransformerEncoderLayer TransformerDecoderLayer TransformerEncoder TransformerDecoder""".split()

LAYERS = {
    "torch.nn.Linear": layer(
        "torch.nn.Linear",
        "in_features out_features bias device dtype",
        linear,
        defaults={"bias": True},
        dense=True,
        weight=("out_features", "in_features"),
    ),
    "torch.nn.LazyLinear": layer(
        "torch.nn.LazyLinear", "out_features bias device dtype", linear, defaults={"bias": True}, dense=True
    ),
    **{
        f"torch.nn.Conv{n}d": layer(
            f"torch.nn.Conv{n}d",
            _CONV,
            conv(n),
            defaults={"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True},
        )
        for n in (1, 2, 3)
    },
    **{
        f"torch.nn.LazyConv{n}d": layer(
            f"torch.nn.LazyConv{n}d", _LAZYCONV, conv(n), defaults={"stride": 1, "padding": 0, "dilation": 1}
        )
        for n in (1, 2, 3)
    },
    **{
        f"torch.nn.ConvTranspose{n}d": layer(
            f"torch.nn.ConvTranspose{n}d",
            _CONVT,
            conv(n, transposed=True),
            defaults={"stride": 1, "padding": 0, "output_padding": 0, "dilation": 1},
        )
        for n in (1, 2, 3)
    },
    **{
        f"torch.nn.MaxPool{n}d": layer(
            f"torch.nn.MaxPool{n}d",
            _MAXPOOL,
            pool(n, "max"),
            defaults={"padding": 0, "dilation": 1, "ceil_mode": False},
        )
        for n in (1, 2, 3)
    },
    **{
        f"torch.nn.AvgPool{n}d": layer(
            f"torch.nn.AvgPool{n}d", _AVGPOOL, pool(n, "avg"), defaults={"padding": 0, "ceil_mode": False}
        )
        for n in (1, 2, 3)
    },
    **{
        f"torch.nn.LPPool{n}d": layer(
            f"torch.nn.LPPool{n}d",
            "norm_type kernel_size stride ceil_mode",
            pool(n, "avg"),
            defaults={"ceil_mode": False},
        )
        for n in (1, 2, 3)
    },
    **{
        f"torch.nn.Adaptive{k}Pool{n}d": layer(
            f"torch.nn.Adaptive{k}Pool{n}d", "output_size", adaptive_pool(n)
        )
        for n in (1, 2, 3)
        for k in ("Avg", "Max")
    },
    "torch.nn.Flatten": layer(
        "torch.nn.Flatten", "start_dim end_dim", flatten_layer, defaults={"start_dim": 1, "end_dim": -1}
    ),
    "torch.nn.Unflatten": layer("torch.nn.Unflatten", "dim unflattened_size", unflatten_layer),
    "torch.nn.Embedding": layer(
        "torch.nn.Embedding",
        "num_embeddings embedding_dim padding_idx",
        embedding,
        weight=("num_embeddings", "embedding_dim"),
    ),
    **{
        f"torch.nn.{p}BatchNorm{n}d": layer(f"torch.nn.{p}BatchNorm{n}d", "num_features", feature_map_norm(n))
        for n in (2, 3)
        for p in ("", "Lazy")
    },
    "torch.nn.EmbeddingBag": layer("torch.nn.EmbeddingBag", "num_embeddings embedding_dim", embedding_bag),
    "torch.nn.LSTM": layer("torch.nn.LSTM", _RNN, rnn, defaults={"proj_size": 0, "bidirectional": False}),
    "torch.nn.GRU": layer("torch.nn.GRU", _RNN, rnn, defaults={"bidirectional": False}),
    "torch.nn.RNN": layer(
        "torch.nn.RNN",
        "input_size hidden_size num_layers nonlinearity bias batch_first dropout bidirectional",
        rnn,
        defaults={"bidirectional": False},
    ),
    "torch.nn.MultiheadAttention": layer("torch.nn.MultiheadAttention", "embed_dim num_heads", mha),
    "torch.nn.Upsample": layer("torch.nn.Upsample", "size scale_factor mode align_corners", upsample),
    "torch.nn.UpsamplingNearest2d": layer("torch.nn.UpsamplingNearest2d", "size scale_factor", upsample),
    "torch.nn.UpsamplingBilinear2d": layer("torch.nn.UpsamplingBilinear2d", "size scale_factor", upsample),
    "torch.nn.PixelShuffle": layer("torch.nn.PixelShuffle", "upscale_factor", pixel_shuffle),
    **{
        f"torch.nn.{p}Pad{n}d": layer(f"torch.nn.{p}Pad{n}d", "padding", pad_nd(n))
        for n in (1, 2, 3)
        for p in ("Zero", "Constant", "Reflection", "Replication", "Circular")
    },
    **{f"torch.nn.{n}": layer(f"torch.nn.{n}", "", same) for n in _SAME},
}

# --- functions and tensor methods: rules over Args -> Shape
# ---------------------------------------------------


def _x(a: Args) -> Shape:
    return a.shape("input") or UNKNOWN


f_same = rules.identity("input")
f_flatten = rules.flatten("input", "start_dim", "end_dim")
f_reshape = rules.reshape("input", "shape")
f_permute = rules.permute("input", "dims")
f_transpose = rules.swapaxes("input", "dim0", "dim1")


def f_t(a: Args) -> Shape:
    s = _x(a)
    return transpose(s, 0, 1) if s.rank == 2 else s


f_reduce = rules.reduce("input", "dim", "keepdim")


def f_max(a: Args) -> Shape | tuple[Shape, Shape]:
    """x.max(dim) returns (values, indices); x.max() a scalar; torch.max(a, b) elementwise."""
    dim = a["dim"]
    if isinstance(dim, int):
        out = reduce_axes(_x(a), (dim,), bool(a.get("keepdim", False)))
        return (out, out)
    other = a.shape("dim")
    if other is not None:
        return broadcast(_x(a), other)
    if "dim" not in a._values:
        return Shape(())
    return UNKNOWN


f_squeeze = rules.squeeze("input", "dim")
f_unsqueeze = rules.unsqueeze("input", "dim")
f_cat = rules.concat("tensors", "dim")
f_stack = rules.stack("tensors", "dim")


def f_new(a: Args) -> Shape:
    """torch.randn(2, 3) / torch.zeros((2, 3)) / torch.empty(size=...)."""
    size = a["size"]
    if isinstance(size, (tuple, list)) and len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    if not isinstance(size, (tuple, list)):
        return UNKNOWN
    return Shape.of(tuple(d if known(d) else None for d in size))


def f_randint(a: Args) -> Shape:
    size = a["size"] if a["size"] is not None else a["high"]
    if isinstance(size, (tuple, list)):
        return Shape.of(tuple(d if known(d) else None for d in size))
    return UNKNOWN


def f_like(a: Args) -> Shape:
    s = _x(a)
    return Shape.of(s.dims) if s.dims is not None else UNKNOWN


f_binary = rules.broadcasting("input", "other")


def f_gather(a: Args) -> Shape:
    """torch.gather(input, dim, index): the result has the shape of ``index``."""
    s = a.shape("index")
    return Shape.of(s.dims) if s is not None and s.dims is not None else UNKNOWN


def f_repeat_interleave(a: Args) -> Shape:
    """x.repeat_interleave(repeats, dim): the same rank (one axis longer); without dim, flattened to one
    axis."""
    x, dim = _x(a), a["dim"]
    if dim is None:
        return UNKNOWN if "dim" in a._values else Shape.of((None,))
    if not isinstance(dim, int) or x.dims is None or not -len(x.dims) <= dim < len(x.dims):  # len: the rank
        return UNKNOWN
    dims = list(x.dims)
    dims[dim] = None
    return Shape(tuple(dims), x.channel_axis, x.explicit_layout)


def f_one_hot(a: Args) -> Shape:
    """F.one_hot(ids, num_classes): a class axis after the ids' axes."""
    x = _x(a)
    if x.dims is None:
        return UNKNOWN
    n = a["num_classes"]
    return Shape.of(tuple(x.dims) + (n if isinstance(n, int) and n > 0 else None,), -1)


def f_halve(a: Args) -> Shape:
    """F.glu(x, dim): the same rank, ``dim`` halved."""
    x, dim = _x(a), a["dim"]
    if not isinstance(dim, int) or x.dims is None or not -len(x.dims) <= dim < len(x.dims):  # len: the rank
        return UNKNOWN
    dims = list(x.dims)
    dims[dim] = cast(int, dims[dim]) // 2 if known(dims[dim]) else None
    return Shape(tuple(dims), x.channel_axis, x.explicit_layout)


f_matmul = rules.matmul("input", "other")


#: x.chunk(n, dim) / x.split(size, dim): a tuple of tensors of the same rank
f_chunk = rules.splitting("input", "chunks", "dim")


def f_expand(a: Args) -> Shape:
    sizes = a["sizes"]
    s = _x(a)
    if not isinstance(sizes, (tuple, list)):
        return UNKNOWN
    dims: list[Dim] = []
    off = len(sizes) - (s.rank or 0)
    for i, d in enumerate(sizes):
        if isinstance(d, int) and d == -1:  # keep that axis's size: unknown when the input's is not known
            dims.append(s.dims[i - off] if s.dims is not None and i - off >= 0 else None)
        else:
            dims.append(d if known(d) and d >= 0 else None)
    ca = s.channel_axis + off if s.channel_axis is not None and s.rank is not None else None
    return Shape.of(dims, ca)


def f_repeat(a: Args) -> Shape:
    reps = a["sizes"]
    s = _x(a)
    if not isinstance(reps, (tuple, list)):
        return UNKNOWN
    if s.rank is not None and len(reps) == s.rank:
        assert s.dims is not None  # the rank is known
        return s.with_dims(
            tuple(d * r if known(d) and isinstance(r, int) else None for d, r in zip(s.dims, reps))
        )
    return Shape.of((None,) * len(reps))


def f_pool(nd: int) -> Callable[[Args], Shape]:
    def rule(a: Args) -> Shape:
        s = _channels_first_input(_x(a), nd)
        args = Args(
            {
                "kernel_size": a["kernel_size"],
                "stride": a["stride"],
                "padding": a.get("padding", 0),
                "dilation": a.get("dilation", 1),
                "ceil_mode": a.get("ceil_mode", False),
            }
        )
        return pool(nd)(s, args)

    return rule


def f_adaptive(nd: int) -> Callable[[Args], Shape]:
    def rule(a: Args) -> Shape:
        return adaptive_pool(nd)(_x(a), Args({"output_size": a["output_size"]}))

    return rule


def f_interpolate(a: Args) -> Shape:
    return upsample(_x(a), Args({"size": a["size"], "scale_factor": a["scale_factor"]}))


def f_linear(a: Args) -> Shape:
    s = _x(a)
    w = a.shape("weight")
    out = dims_of(w)[0] if w is not None and w.rank == 2 else None
    return s.with_last(out) if s.rank else s


def f_embedding(a: Args) -> Shape:
    s = _x(a)
    w = a.shape("weight")
    return (
        Shape.of(dims_of(s) + (dims_of(w)[-1] if w is not None and w.rank == 2 else None,), -1)
        if s.rank
        else UNKNOWN
    )


def f_conv(nd: int) -> Callable[[Args], Shape]:
    """F.conv{nd}d(input, weight, ...): (N, C, *spatial) or unbatched (C, *spatial) in, the same rank out."""

    def rule(a: Args) -> Shape:
        s = _x(a)
        if s.rank not in (nd + 1, nd + 2):
            return UNKNOWN
        assert s.dims is not None  # the rank is known
        lead = s.rank - nd - 1
        return Shape.of(s.dims[:lead] + (None,) * (nd + 1), lead, spatial=True)

    return rule


def _unflatten_args(a: Args) -> Args:
    """``torch.unflatten(input, dim, sizes)`` in nn.Unflatten's terms (a -1 size stays unknown)."""
    return Args({"dim": a.get("dim"), "unflattened_size": a.get("sizes")}, {})


def f_outer(a: Args) -> Shape:
    """outer(input, vec2): (n,) x (m,) -> (n, m), whatever the inputs (1-d, or torch raises)."""
    x, y = _x(a), a.shape("vec2") or UNKNOWN
    return Shape.of((dims_of(x)[0] if x.rank == 1 else None, dims_of(y)[0] if y.rank == 1 else None))


def f_view_as_real(a: Args) -> Shape:
    """A complex tensor's real view: one more axis of 2 (real, imaginary)."""
    s = _x(a)
    return Shape.of(dims_of(s) + (2,)) if s.rank is not None else UNKNOWN


def f_view_as_complex(a: Args) -> Shape:
    """A (..., 2) real tensor's complex view: the last axis goes."""
    s = _x(a)
    return Shape.of(dims_of(s)[:-1]) if s.rank else UNKNOWN


def f_index_select(a: Args) -> Shape:
    s = _x(a)
    d = s.axis(a.get("dim", 0)) if s.rank is not None else None
    return (
        s.with_dims(tuple(None if i == d else x for i, x in enumerate(dims_of(s))))
        if d is not None
        else UNKNOWN
    )


_SAME_FUNCS = """relu relu_ relu6 gelu silu mish sigmoid tanh softmax log_softmax leaky_relu elu selu
celu softplus hardswish hardsigmoid hardtanh dropout dropout1d dropout2d dropout3d alpha_dropout
layer_norm group_norm batch_norm instance_norm local_response_norm rms_norm normalize glu_ softmin
logsigmoid silu_ gelu_ tanhshrink prelu threshold""".split()
_SAME_TORCH = """abs exp log sqrt rsqrt sigmoid tanh relu sin cos neg sign clamp clip clone erf square
pow dropout masked_fill nan_to_num softmax log_softmax cumsum roll flip tril triu""".split()

FUNCTIONS = {
    **{f"torch.nn.functional.{n}": op("input", f_same) for n in _SAME_FUNCS},
    **{f"torch.{n}": op("input", f_same) for n in _SAME_TORCH},
    "torch.flatten": op("input start_dim end_dim", f_flatten, start_dim=0, end_dim=-1),
    "torch.reshape": op("input shape", f_reshape),
    "torch.permute": op("input dims", f_permute),
    "torch.transpose": op("input dim0 dim1", f_transpose),
    "torch.swapaxes": op("input dim0 dim1", f_transpose),
    "torch.t": op("input", f_t),
    "torch.squeeze": op("input dim", f_squeeze),
    "torch.unsqueeze": op("input dim", f_unsqueeze),
    "torch.mean": op("input dim keepdim", f_reduce, keepdim=False),
    "torch.sum": op("input dim keepdim", f_reduce, keepdim=False),
    "torch.amax": op("input dim keepdim", f_reduce, keepdim=False),
    "torch.all": op("input dim keepdim", f_reduce, keepdim=False),
    "torch.any": op("input dim keepdim", f_reduce, keepdim=False),
    **{f"torch.logical_{n}": op("input other", f_binary) for n in ("and", "or", "xor")},
    "torch.gather": op("input dim index", f_gather),
    "torch.repeat_interleave": op("input repeats dim", f_repeat_interleave),
    "torch.nn.functional.one_hot": op("input num_classes", f_one_hot, num_classes=-1),
    "torch.nn.functional.glu": op("input dim", f_halve, dim=-1),
    # indices of the extreme along dim (the flat index, a 0-d tensor, without dim): the shape of a reduction
    "torch.argmax": op("input dim keepdim", f_reduce, keepdim=False),
    "torch.argmin": op("input dim keepdim", f_reduce, keepdim=False),
    "torch.amin": op("input dim keepdim", f_reduce, keepdim=False),
    "torch.logsumexp": op("input dim keepdim", f_reduce, keepdim=False),
    "torch.max": op("input dim keepdim", f_max, keepdim=False),
    "torch.min": op("input dim keepdim", f_max, keepdim=False),
    "torch.cat": op("tensors dim", f_cat, dim=0),
    "torch.concat": op("tensors dim", f_cat, dim=0),
    "torch.concatenate": op("tensors dim", f_cat, dim=0),
    "torch.stack": op("tensors dim", f_stack, dim=0),
    "torch.add": op("input other", f_binary),
    "torch.mul": op("input other", f_binary),
    "torch.sub": op("input other", f_binary),
    "torch.div": op("input other", f_binary),
    "torch.matmul": op("input other", f_matmul),
    "torch.bmm": op("input other", f_matmul),
    # where(condition, input, other): the three broadcast (the condition is often a (batch, tokens, 1) mask)
    "torch.where": op("condition input other", rules.broadcasting("condition", "input", "other")),
    "torch.chunk": op("input chunks dim", f_chunk, dim=0),
    "torch.split": op("input chunks dim", f_chunk, dim=0),
    "torch.split_with_sizes": op(
        "input split_sizes dim", rules.splitting("input", "split_sizes", "dim"), dim=0
    ),
    "torch.index_select": op("input dim index", f_index_select),
    "torch.unflatten": op("input dim sizes", lambda a: unflatten_layer(_x(a), _unflatten_args(a))),
    "torch.outer": op("input vec2", f_outer),
    "torch.ger": op("input vec2", f_outer),
    "torch.view_as_real": op("input", f_view_as_real),
    "torch.view_as_complex": op("input", f_view_as_complex),
    "torch.polar": op("abs angle", rules.broadcasting("abs", "angle")),
    **{f"torch.{n}": op("size", f_new, varargs="size") for n in ("randn", "rand", "zeros", "ones", "empty")},
    "torch.full": op("size fill_value", f_new),
    "torch.randint": op("low high size", f_randint),
    **{f"torch.{n}_like": op("input", f_like) for n in ("randn", "rand", "zeros", "ones", "empty", "full")},
    "torch.nn.functional.linear": op("input weight bias", f_linear),
    "torch.nn.functional.embedding": op("input weight", f_embedding),
    **{f"torch.nn.functional.conv{n}d": op("input weight bias", f_conv(n)) for n in (1, 2, 3)},
    **{
        f"torch.nn.functional.{k}_pool{n}d": op("input kernel_size stride padding", f_pool(n), padding=0)
        for n in (1, 2, 3)
        for k in ("max", "avg")
    },
    **{
        f"torch.nn.functional.adaptive_{k}_pool{n}d": op("input output_size", f_adaptive(n))
        for n in (1, 2, 3)
        for k in ("max", "avg")
    },
    "torch.nn.functional.interpolate": op("input size scale_factor mode align_corners", f_interpolate),
    "torch.nn.functional.upsample": op("input size scale_factor mode align_corners", f_interpolate),
    "torch.nn.functional.pad": op("input pad mode value", f_pad),
    "torch.nn.functional.scaled_dot_product_attention": op("query key value", lambda a: a.shape("query")),
}

_SAME_METHODS = """contiguous float double half bfloat16 int long bool to cuda cpu clone detach type
type_as relu relu_ sigmoid tanh exp log sqrt rsqrt abs neg pow clamp clamp_ clip masked_fill
masked_fill_ softmax log_softmax add_ mul_ div_ sub_ fill_ zero_ normal_ uniform_ requires_grad_ sign
square erf cumsum flip roll float_power tril triu nan_to_num detach_ pin_memory""".split()


def _as_method(spec: OpSpec) -> OpSpec:
    """``torch.f(input, a, b)`` is also ``input.f(a, b)``: the same rule without the leading ``input``."""
    return OpSpec(spec.params[1:], spec.rule, spec.defaults, spec.varargs)


METHODS = {
    # every torch.<f>(input, ...) in FUNCTIONS is also a tensor method
    **{
        name.removeprefix("torch."): _as_method(spec)
        for name, spec in FUNCTIONS.items()
        if name.count(".") == 1 and spec.params[:1] == ("input",)
    },
    **{n: op("", f_same) for n in _SAME_METHODS},
    # method-only spellings, and methods whose signature differs from the function's
    "view": op("shape", f_reshape, varargs="shape"),
    "reshape": op("shape", f_reshape, varargs="shape"),
    "permute": op("dims", f_permute, varargs="dims"),
    "std": op("dim keepdim", f_reduce, keepdim=False),
    "var": op("dim keepdim", f_reduce, keepdim=False),
    "norm": op("p dim keepdim", f_reduce, keepdim=False),
    "expand": op("sizes", f_expand, varargs="sizes"),
    "masked_scatter": op("mask source", f_same),  # the shape of self (source only supplies the values)
    "where": op("condition other", rules.broadcasting("condition", "input", "other")),
    "repeat": op("sizes", f_repeat, varargs="sizes"),
    **{f"new_{n}": op("size", f_new, varargs="size") for n in ("zeros", "ones", "empty")},
    "new_full": op("size fill_value", f_new),
}

# functions/methods whose first parameter is the tensor itself (methods get it bound as "input")
SELF_PARAM = "input"

# the output activations of a classifier (a head whose output is squashed is a per-sample prediction)
LAYERS = squashing(
    LAYERS,
    {"torch.nn.Softmax": "softmax", "torch.nn.LogSoftmax": "softmax", "torch.nn.Sigmoid": "sigmoid"},
)
FUNCTIONS = squashing(
    FUNCTIONS,
    {
        **{
            f"{ns}.{n}": n.removeprefix("log_")
            for ns in ("torch", "torch.nn.functional")
            for n in ("softmax", "log_softmax", "sigmoid")
        },
    },
)
METHODS = squashing(METHODS, {"softmax": "softmax", "log_softmax": "softmax", "sigmoid": "sigmoid"})
