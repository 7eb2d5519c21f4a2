"""The Equinox plugin: ``eqx.nn.Linear(in, out, key=...)``, ``eqx.nn.Conv1d/2d/3d`` and ``Conv``, pooling,
``eqx.nn.MLP``, ``eqx.nn.Sequential``, modules (``eqx.Module`` subclasses, dataclasses run by ``__call__``).

Equinox is unbatched by design: a layer acts on one example (a Linear on ``(in_features,)``, a convolution on
``(channels, *spatial)``) and ``jax.vmap`` adds the batch or position axes. A Linear's report therefore gets a
batch axis in front, and the axes that ``jax.vmap`` calls inside the model's code took away (positions:
tokens,
pixels) before its input: ``jax.vmap(self.linear)(x)`` on ``(tokens, d)`` is a per-token layer, a Linear on a
``jnp.ravel``-ed feature map is fully connected. A Linear given more than a vector contracts the axis before
the last (``weight @ x``), which is not the feature axis: spatial mixing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from densecheck.engine.values import UNKNOWN, Instance, Layer, Seq, Sequential, Tensor, Value
from densecheck.plugins import _jax_layers, base
from densecheck.plugins._jax_shapes import channels_first_window
from densecheck.plugins.base import Args, DenseArgs, Plugin, same
from densecheck.plugins.flax.calls import fields
from densecheck.plugins.jaxnumpy import first_arg, vmap, vmap_stack
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Dim, Shape, as_tuple, known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter

E = "equinox.nn"

layer = functools.partial(
    base.layer,
    framework="equinox",
    report=DenseArgs(in_features="in_features", out_features="out_features", bias="use_bias"),
)


def linear(it: Interpreter, lay: Layer, x: Value) -> Value:
    """``eqx.nn.Linear`` on one example: ``(in,) -> (out,)``; ``"scalar"`` features are rank 0."""
    a = it.layer_args(lay.spec.params, lay.spec.defaults, lay.args)
    out_f = a["out_features"]
    out_dims: tuple[Dim, ...] = () if out_f == "scalar" else ((out_f if known(out_f) else None),)
    s = x.shape if isinstance(x, Tensor) else UNKNOWN_SHAPE
    positions = tuple(d for kind, d in vmap_stack(it) if kind == "position")
    pos = tuple(d if known(d) else None for d in positions)
    if s.rank is None:  # what it takes: one vector of its input features (what fixes the input's rank)
        in_f = a["in_features"]
        s = Shape.of(() if in_f == "scalar" else ((in_f if known(in_f) else None),), -1)
        if isinstance(x, Tensor) and x.rank_from is None:
            where = it.where(it.call_node) if it.call_node is not None else None
            x = Tensor(x.shape, x.origin, f"Linear at {where}" if where else "Linear")
    dims = s.dims
    assert dims is not None  # the rank is known
    if len(dims) <= 1:
        seen = Shape.of((None,) + pos + (dims or (1,)), -1, spatial=False)
        return _jax_layers.applied(it, lay, x, seen, Shape.of(out_dims, -1 if out_dims else None))
    # weight @ x: contracts the axis before the last
    full = (None,) + pos + dims
    seen = Shape(full, len(full) - 2, False, s.spatial)
    out = Shape.of(dims[:-2] + out_dims + dims[-1:])
    return _jax_layers.applied(it, lay, x, seen, out)


def mlp(s: Shape, a: Args) -> Shape:
    out = a["out_size"]
    if s.rank is None:
        return UNKNOWN_SHAPE
    assert s.dims is not None
    last: tuple[Dim, ...] = () if out == "scalar" else ((out if known(out) else None),)
    return Shape.of(s.dims[:-1] + last if s.dims else last, -1 if last else None)


def adaptive(nd: int) -> Callable[[Shape, Args], Shape]:
    def rule(s: Shape, a: Args) -> Shape:
        target = as_tuple(a["target_shape"], nd)
        if s.rank is None:
            s = Shape.of((None,) * (nd + 1), 0)
        r = s.rank
        if r is None or r < nd + 1 or target is None or s.dims is None:
            return UNKNOWN_SHAPE
        lead = s.dims[: r - nd]
        return Shape.of(lead + tuple(target), r - nd - 1, spatial=True)

    return rule


def embedding(s: Shape, a: Args) -> Shape:
    if s.rank is None:
        return UNKNOWN_SHAPE
    assert s.dims is not None
    return Shape.of(s.dims + (a["embedding_size"],), -1)


def stateful(s: Shape, a: Args) -> tuple[Shape, None]:
    """``eqx.nn.BatchNorm(...)(x, state)``: ``(x's shape, the new state)``."""
    return s, None


def spectral(it: Interpreter, lay: Layer, x: Value) -> Value:
    """``eqx.nn.SpectralNorm(layer, ...)(x, state)``: the layer on ``x``, and the new state."""
    inner = lay.args.get("layer")
    return Seq([it.call(inner, [x], {}) if inner is not None else Tensor(UNKNOWN_SHAPE), UNKNOWN])


def weight_norm(it: Interpreter, lay: Layer, x: Value) -> Value:
    inner = lay.args.get("layer")
    return it.call(inner, [x], {}) if inner is not None else Tensor(UNKNOWN_SHAPE)


def cell(lstm: bool) -> Callable[[Shape, Args], Any]:
    """``eqx.nn.GRUCell(input_size, hidden_size)(x, hidden)``: the new hidden state, ``(hidden_size,)`` (an
    LSTM's ``(h, c)``)."""

    def rule(s: Shape, a: Args) -> Any:
        h = a["hidden_size"]
        out = Shape.of(((h if known(h) else None),), -1)
        return (out, out) if lstm else out

    return rule


def lambda_layer(it: Interpreter, lay: Layer, x: Value) -> Value:
    fn = lay.args.get("fn")
    return it.call(fn, [x], {}) if fn is not None else Tensor(UNKNOWN_SHAPE)


def _conv(nd: int | None, transposed: bool = False) -> Callable[[Shape, Args], Shape]:
    def rule(s: Shape, a: Args) -> Shape:
        n = nd if nd is not None else a["num_spatial_dims"]
        if not isinstance(n, int):
            return UNKNOWN_SHAPE
        r = channels_first_window(
            "kernel_size",
            "stride",
            "padding",
            "out_channels",
            fixed_nd=n,
            dilation="dilation",
            transposed=transposed,
            output_padding="output_padding" if transposed else None,
        )
        return r(s, a)

    return rule


def _pool(nd: int) -> Callable[[Shape, Args], Shape]:
    return channels_first_window("kernel_size", "stride", "padding", None, fixed_nd=nd)


_CONV_P = "in_channels out_channels kernel_size stride padding dilation groups use_bias"
_CONVT_P = "in_channels out_channels kernel_size stride output_padding padding dilation groups use_bias"
_SAME = "Dropout LayerNorm GroupNorm RMSNorm Identity PReLU MultiheadAttention".split()

LAYERS = {
    f"{E}.Linear": layer(
        f"{E}.Linear",
        "in_features out_features use_bias",
        None,
        defaults={"use_bias": True},
        dense=True,
        wrap=linear,
    ),
    **{f"{E}.Conv{n}d": layer(f"{E}.Conv{n}d", _CONV_P, _conv(n)) for n in (1, 2, 3)},
    f"{E}.Conv": layer(f"{E}.Conv", "num_spatial_dims " + _CONV_P, _conv(None)),
    **{
        f"{E}.ConvTranspose{n}d": layer(f"{E}.ConvTranspose{n}d", _CONVT_P, _conv(n, transposed=True))
        for n in (1, 2, 3)
    },
    **{
        f"{E}.{k}Pool{n}d": layer(f"{E}.{k}Pool{n}d", "kernel_size stride padding", _pool(n))
        for n in (1, 2, 3)
        for k in ("Max", "Avg")
    },
    **{
        f"{E}.Adaptive{k}Pool{n}d": layer(f"{E}.Adaptive{k}Pool{n}d", "target_shape", adaptive(n))
        for n in (1, 2, 3)
        for k in ("Max", "Avg")
    },
    f"{E}.MLP": layer(f"{E}.MLP", "in_size out_size width_size depth", mlp),
    f"{E}.Embedding": layer(f"{E}.Embedding", "num_embeddings embedding_size", embedding),
    f"{E}.Lambda": layer(f"{E}.Lambda", "fn", None, wrap=lambda_layer),
    f"{E}.BatchNorm": layer(f"{E}.BatchNorm", "input_size axis_name", stateful),
    f"{E}.SpectralNorm": layer(f"{E}.SpectralNorm", "layer weight_name", None, wrap=spectral),
    f"{E}.WeightNorm": layer(f"{E}.WeightNorm", "layer weight_name", None, wrap=weight_norm),
    f"{E}.GRUCell": layer(f"{E}.GRUCell", "input_size hidden_size use_bias", cell(lstm=False)),
    f"{E}.LSTMCell": layer(f"{E}.LSTMCell", "input_size hidden_size use_bias", cell(lstm=True)),
    **{f"{E}.{n}": layer(f"{E}.{n}", "", same) for n in _SAME},
}


def sequential(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    items = args[0] if args else kwargs.get("layers", UNKNOWN)
    layers: list[Value] = list(items.items) if isinstance(items, Seq) and not items.repeated else [UNKNOWN]
    seq = Sequential("equinox", layers)
    if not (it.frames and isinstance(it.frames[-1].self_value, Instance)):
        it.loose_models.append(seq)
    return seq


CALLS = {
    f"{E}.Sequential": sequential,
    "equinox.filter_vmap": vmap,
    "equinox.filter_jit": first_arg,
    "equinox.filter_checkpoint": first_arg,
}


def canonical(qualname: str) -> str | None:
    """``equinox.nn._linear.Linear`` -> ``equinox.nn.Linear``; ``equinox._module.Module`` ->
    ``equinox.Module``."""
    if qualname.startswith("equinox.nn.") and qualname.count(".") > 2:
        short = f"{E}.{qualname.rsplit('.', 1)[-1]}"
        return short if short in LAYERS or short in CALLS else None
    if qualname.startswith("equinox._") and qualname.endswith(".Module"):
        return "equinox.Module"
    return None


PLUGIN = Plugin(
    name="equinox",
    order=22,
    roots=("equinox",),
    libraries=("equinox",),
    layers=LAYERS,
    calls=CALLS,
    module_bases=("equinox.Module",),
    containers={"equinox.Module": fields},
    canonical=canonical,
    trace_recorder="densecheck.trace.jax_record:jax_sites",
    spelling={"flatten": "x = jnp.ravel(x)", "pool": "x = jnp.mean(x, axis=(1, 2))"},
)
