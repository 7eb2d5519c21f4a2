"""The Haiku plugin: ``hk.Linear(output_size)`` (its input size comes from the input, as Haiku creates
the weight
on the first call), ``hk.Conv1D/2D/3D`` (NHWC by default), pooling, ``hk.Flatten``, ``hk.Sequential``,
``hk.nets.MLP``, modules (``hk.Module`` subclasses run by ``__call__``) and ``hk.transform(f)`` whose
``init(rng, x)`` / ``apply(params, rng, x)`` run ``f`` on ``x``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from densecheck.engine.values import UNKNOWN, Builtin, Const, Instance, Record, Seq, Sequential, Value
from densecheck.plugins import base
from densecheck.plugins._jax_shapes import channels_last_window, window_out
from densecheck.plugins.base import Args, DenseArgs, Plugin, on_last_axis, op, same
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Dim, Shape, flatten, known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter

H = "haiku"

layer = functools.partial(
    base.layer,
    framework="haiku",
    report=DenseArgs(in_features=None, out_features="output_size", bias="with_bias"),
)


def conv(nd: int, transposed: bool = False) -> Callable[[Shape, Args], Shape]:
    last = channels_last_window(
        "kernel_shape",
        "stride",
        "padding",
        "output_channels",
        fixed_nd=nd,
        dilation="rate",
        transposed=transposed,
    )

    def rule(s: Shape, a: Args) -> Shape:
        fmt = str(a.get("data_format", "N" + "DHW"[3 - nd :] + "C")).upper()
        if fmt.startswith("NC"):  # channels first: move them last, run, move them back
            if s.rank is None:
                s = Shape.of((None,) * (nd + 2), 1)
            assert s.dims is not None  # the rank is known
            moved = Shape.of(s.dims[:1] + s.dims[2:] + s.dims[1:2], -1)
            out = last(moved, a)
            if out.dims is None:
                return out
            return Shape.of(out.dims[:1] + out.dims[-1:] + out.dims[1:-1], 1, spatial=True)
        return last(s, a)

    return rule


def pool_shape(s: Shape, a: Args) -> Shape:
    """``hk.max_pool(x, window_shape, strides, padding, channel_axis=-1)``: an int window covers every
    axis but
    the batch and the channels; a shorter sequence the last axes (the others are batch axes)."""
    if s.rank is None or s.dims is None:
        return UNKNOWN_SHAPE
    channel_axis = a.get("channel_axis", -1)

    def per_axis(size: Any) -> tuple[int, ...] | None:
        if isinstance(size, int):
            ca = s.axis(channel_axis) if isinstance(channel_axis, int) else None
            return (1,) + tuple(1 if d == ca else size for d in range(1, len(s.dims or ())))
        if (
            isinstance(size, (tuple, list))
            and all(isinstance(x, int) for x in size)
            and len(size) <= len(s.dims or ())
        ):
            return (1,) * (len(s.dims or ()) - len(size)) + tuple(size)
        return None

    w, st = per_axis(a["window_shape"]), per_axis(a["strides"])
    pad = str(a.get("padding", "VALID")).lower()
    if w is None or st is None:
        return Shape.of((None,) * len(s.dims), s.channel_axis, spatial=s.spatial)
    out: list[Dim] = [window_out(d, k, t, pad) if k != 1 or t != 1 else d for d, k, t in zip(s.dims, w, st)]
    return Shape.of(tuple(out), s.channel_axis, s.explicit_layout, spatial=s.spatial)


def flatten_layer(s: Shape, a: Args) -> Shape:
    keep = a.get("preserve_dims", 1)
    if s.rank is None:
        return Shape.of((None,) * (keep + 1), -1) if isinstance(keep, int) else UNKNOWN_SHAPE
    if not isinstance(keep, int) or s.rank <= keep:
        return s
    return flatten(s, keep, -1)


def mlp(s: Shape, a: Args) -> Shape:
    sizes = a["output_sizes"]
    if not isinstance(sizes, (tuple, list)) or not sizes or s.rank is None:
        return s.with_last(None) if s.rank else UNKNOWN_SHAPE
    return s.with_last(sizes[-1] if known(sizes[-1]) else None)


def embed(s: Shape, a: Args) -> Shape:
    """Ids of any shape get one more axis; ids of unknown rank are taken as (batch, tokens), what an embedding
    reads first in a model (the first consumer tells an entry input's rank, as torch's ``nn.Embedding``)."""
    dims = s.dims if s.dims is not None else (None, None)
    return Shape.of(dims + (a["embed_dim"],), -1)


_CONV_P = "output_channels kernel_shape stride rate padding with_bias w_init b_init data_format"
_SAME = "BatchNorm LayerNorm GroupNorm RMSNorm InstanceNorm MultiHeadAttention dropout".split()

LAYERS = {
    f"{H}.Linear": layer(
        f"{H}.Linear",
        "output_size with_bias",
        on_last_axis("output_size"),
        defaults={"with_bias": True},
        dense=True,
    ),
    **{f"{H}.Conv{n}D": layer(f"{H}.Conv{n}D", _CONV_P, conv(n)) for n in (1, 2, 3)},
    **{
        f"{H}.Conv{n}DTranspose": layer(f"{H}.Conv{n}DTranspose", _CONV_P, conv(n, transposed=True))
        for n in (1, 2, 3)
    },
    f"{H}.MaxPool": layer(f"{H}.MaxPool", "window_shape strides padding channel_axis", pool_shape),
    f"{H}.AvgPool": layer(f"{H}.AvgPool", "window_shape strides padding channel_axis", pool_shape),
    f"{H}.Flatten": layer(f"{H}.Flatten", "preserve_dims", flatten_layer),
    f"{H}.nets.MLP": layer(
        f"{H}.nets.MLP", "output_sizes w_init b_init with_bias activation activate_final", mlp
    ),
    f"{H}.Embed": layer(f"{H}.Embed", "vocab_size embed_dim", embed),
    **{f"{H}.{n}": layer(f"{H}.{n}", "", same) for n in _SAME},
}


def _pool_fn(a: Args) -> Shape:
    s = a.shape("value")
    return pool_shape(s if s is not None else UNKNOWN_SHAPE, a)


FUNCTIONS = {
    f"{H}.max_pool": op("value window_shape strides padding channel_axis", _pool_fn),
    f"{H}.avg_pool": op("value window_shape strides padding channel_axis", _pool_fn),
    f"{H}.flatten": op("x preserve_dims", lambda a: flatten_layer(a.shape("x") or UNKNOWN_SHAPE, a)),
}


# --- hk.transform, hk.Sequential ----------------------------------------------------------------------------


def _runner(skip: int, gives: bool) -> Any:
    def impl(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
        out = (
            it.call(b.self, list(args[skip:]), {k: v for k, v in kwargs.items() if k != "rng"})
            if b.self
            else UNKNOWN
        )
        return out if gives else UNKNOWN

    return impl


def transformed(apply_skip: int) -> Any:
    """``hk.transform(f)``: a pair ``init(rng, *args)`` / ``apply(params, [state,] rng, *args)``, each running
    ``f`` on its inputs."""

    def impl(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        f = args[0] if args else kwargs.get("f", UNKNOWN)
        return Record(
            {
                "init": Builtin("haiku.init", f, _runner(1, False)),
                "apply": Builtin("haiku.apply", f, _runner(apply_skip, True)),
                "__haiku_fn__": f,
                "__haiku_skip__": Const(apply_skip),
            }
        )

    return impl


def without_apply_rng(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    t = args[0] if args else UNKNOWN
    if not isinstance(t, Record) or "__haiku_fn__" not in t.fields:
        return UNKNOWN
    f = t.fields["__haiku_fn__"]
    skip = t.fields["__haiku_skip__"]
    n = skip.value - 1 if isinstance(skip, Const) and isinstance(skip.value, int) else 1
    return Record(
        {**t.fields, "apply": Builtin("haiku.apply", f, _runner(n, True)), "__haiku_skip__": Const(n)}
    )


def sequential(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    items = args[0] if args else kwargs.get("layers", UNKNOWN)
    layers: list[Value] = list(items.items) if isinstance(items, Seq) and not items.repeated else [UNKNOWN]
    seq = Sequential("haiku", layers)
    if not (it.frames and isinstance(it.frames[-1].self_value, Instance)) and not it.frames[-1].func:
        it.loose_models.append(seq)
    return seq


CALLS = {
    f"{H}.transform": transformed(2),
    f"{H}.transform_with_state": transformed(3),
    f"{H}.without_apply_rng": without_apply_rng,
    f"{H}.Sequential": sequential,
    f"{H}.PRNGSequence": lambda it, args, kwargs, node: UNKNOWN,
}


def canonical(qualname: str) -> str | None:
    """``haiku._src.basic.Linear`` -> ``haiku.Linear``; ``haiku._src.nets.mlp.MLP`` -> ``haiku.nets.MLP``."""
    if not qualname.startswith("haiku.") or qualname.count(".") < 2:
        return None
    last = qualname.rsplit(".", 1)[-1]
    for name in (f"{H}.{last}", f"{H}.nets.{last}"):
        if name in LAYERS or name in FUNCTIONS or name in CALLS:
            return name
    return None


PLUGIN = Plugin(
    name="haiku",
    order=21,
    roots=("haiku",),
    libraries=("haiku",),
    layers=LAYERS,
    functions=FUNCTIONS,
    calls=CALLS,
    module_bases=(f"{H}.Module",),
    canonical=canonical,
    trace_recorder="densecheck.trace.jax_record:jax_sites",
    spelling={"flatten": "x = hk.Flatten()(x)", "pool": "x = jnp.mean(x, axis=(1, 2))"},
)
