"""A Dense whose report is not simply its input: Flax's ``DenseGeneral`` / nnx ``LinearGeneral`` (contracting
several axes at once) and Equinox's ``Linear`` (one example, mapped by ``jax.vmap``). Each is a wrapper rule
(:data:`~densecheck.plugins.base.WrapRule`) that records on the layer's report the shape the layer acts
as a plain
Dense on, and gives what the layer gives. Not a plugin (its name starts with ``_``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from densecheck.engine.values import Layer, Origin, Tensor, Value
from densecheck.plugins._jax_shapes import axes_of, last_axis_sizes
from densecheck.plugins.base import WrapRule
from densecheck.shapes import UNKNOWN, Dim, Shape, dim_product

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter


def applied(it: Interpreter, layer: Layer, x: Value, seen: Shape, out: Shape) -> Value:
    """Record ``seen`` on ``layer``'s report (as the engine does for a Dense) and give a tensor of
    ``out`` that
    this layer made."""
    rank_from = x.rank_from if isinstance(x, Tensor) else None
    it.record(layer, seen, rank_from)
    result = Tensor(out, rank_from=rank_from if out.rank is not None else None)
    if layer.site is not None:
        before = x.origin.chain if isinstance(x, Tensor) and x.origin is not None else ()
        rep = layer.site.report
        result.origin = Origin(rep, None, before + (rep,))
    return result


def general(features: str, axis: str) -> WrapRule:
    """``DenseGeneral(features, axis)``: the contracted axes (moved last and merged) are what a Dense acts on;
    the output keeps the other axes and appends ``features`` (an int or a tuple of sizes)."""

    def wrap(it: Interpreter, layer: Layer, x: Value) -> Value:
        a = it.layer_args(layer.spec.params, layer.spec.defaults, layer.args)
        s = x.shape if isinstance(x, Tensor) else UNKNOWN
        out_sizes = last_axis_sizes(a[features])
        if s.rank is None or out_sizes is None:
            return applied(it, layer, x, s, UNKNOWN)
        assert s.dims is not None  # the rank is known
        axes = axes_of(s, a.get(axis, -1))
        if axes is None:
            return applied(it, layer, x, UNKNOWN, UNKNOWN)
        kept = [d for i, d in enumerate(s.dims) if i not in axes]
        contracted: Dim = dim_product(s.dims[i] for i in axes)
        last_only = list(axes) == [s.rank - 1]
        seen = s if last_only else Shape.of(tuple(kept) + (contracted,), -1, spatial=s.spatial)
        out = Shape.of(tuple(kept) + out_sizes, -1, spatial=s.spatial and len(out_sizes) == 1)
        rep = layer.site.report if layer.site is not None else None
        if rep is not None and rep.out_features is None and getattr(rep, "_configs", 0) == 1:
            # ``features=(heads, head_dim)``: the Dense it is has their product as outputs (one construction
            # of the site, else the engine has already said its outputs are not one number)
            rep.out_features = dim_product(out_sizes)
        return applied(it, layer, x, seen, out)

    return wrap
