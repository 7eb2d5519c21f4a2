"""Framework layers and ops: building a layer, applying it to a tensor, recording the shapes a Dense/Linear
site sees."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from densecheck.engine.base import EngineBase
from densecheck.engine.helpers import feasible, options_seq, safe
from densecheck.engine.limits import MAX_SHAPES_PER_SITE, MAX_UNROLL
from densecheck.engine.values import (
    UNKNOWN,
    Const,
    Instance,
    Layer,
    Origin,
    Ref,
    Seq,
    Sequential,
    Site,
    Tensor,
    Union,
    Value,
    join,
)
from densecheck.layers import LayerReport
from densecheck.plugins.base import Args, LayerSpec, OpSpec, same
from densecheck.plugins.registry import registry
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape

if TYPE_CHECKING:
    import libcst as cst

    from densecheck.engine.driver import Interpreter


class LayersMixin(EngineBase):
    """Layers and ops over abstract tensors."""

    def make_layer(
        self, spec: LayerSpec, args: list[Value], kwargs: dict[str, Value], node: cst.Call | None
    ) -> Value:
        bound = self.bind(spec.params, args, kwargs)
        layer = Layer(spec, bound)
        plugin = registry().plugin(spec.framework)
        if plugin is not None and plugin.built_shape is not None:
            layer.built_shape = plugin.built_shape(kwargs)  # Keras: ``input_shape=`` builds the layer
        if spec.dense and node is not None:
            rep = self._report_for(node, spec)
            if rep is not None:
                owner = self.frames[-1].self_value if self.frames else None
                layer.site = Site(node, rep, owner.cls if isinstance(owner, Instance) else None)
                self._note_config(rep, spec, self.layer_args(spec.params, spec.defaults, bound))
        return layer

    @staticmethod
    def _note_config(rep: LayerReport, spec: LayerSpec, a: Args) -> None:
        """The report's in/out features and bias, from one more construction of its site: a value that differs
        between constructions (a block built twice with other sizes) is not one number, so it becomes None."""
        names = spec.report
        in_f = a[names.in_features] if names is not None and names.in_features else None
        out_f = a[names.out_features] if names is not None else None
        bias = a.get(names.bias, True) if names is not None else True
        bias = bias if isinstance(bias, bool) else None
        first = rep._configs == 0  # type: ignore[attr-defined]
        rep._configs += 1  # type: ignore[attr-defined]
        rep.in_features = in_f if first or rep.in_features == in_f else None
        rep.out_features = out_f if first or rep.out_features == out_f else None
        rep.bias = bias if first or rep.bias == bias else None
        if not isinstance(rep.in_features, int) or isinstance(rep.in_features, bool):
            rep.in_features = None
        if not isinstance(rep.out_features, int) or isinstance(rep.out_features, bool):
            rep.out_features = None

    def record(self, layer: Layer, shape: Shape, rank_from: str | None = None) -> None:
        if layer.site is None:
            return
        rep = layer.site.report
        if not (self.entries and layer.site.owner is self.entries[-1]):
            rep.assumed_input = False  # a caller's input, not the conventional one given to an entry point
        if len(rep.shapes) >= MAX_SHAPES_PER_SITE:
            return
        key = (shape.json(), shape.channel_axis, shape.explicit_layout)
        for s in rep.shapes:
            if (s.json(), s.channel_axis, s.explicit_layout) == key:
                return
        rep.shapes.append(shape)
        rep.contexts.append(self.applying_context())
        if rank_from is not None and shape.rank is not None and rep.input_rank_from is None:
            rep.input_rank_from = rank_from

    def applying_context(self) -> str | None:
        """Who is applying a layer now: the outermost method or function running (``"FixedCNN.forward"``,
        named after the class of the instance it runs on, so an inherited method tells its subclasses apart),
        None at a module's top level."""
        for frame in self.frames:
            fn = frame.func
            if fn is None:
                continue
            own = frame.self_value
            if isinstance(own, Instance):
                return f"{own.cls.qualname}.{fn.qualname.rsplit('.', 1)[-1]}"
            return fn.qualname
        return None

    def apply_layer(self, layer: Layer, args: list[Value], kwargs: dict[str, Value]) -> Value:
        spec = layer.spec
        x = args[0] if args else next(iter(kwargs.values()), UNKNOWN)
        if isinstance(x, Union):
            out: Value | None = None
            for o in feasible(x.options):
                r = self.apply_layer(layer, [o] + list(args[1:]), kwargs)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if spec.wrap is not None:
            return self.apply_wrapper(layer, x)
        a = self.layer_args(spec.params, spec.defaults, layer.args)
        if spec.multi_input:
            inputs = options_seq(x)
            shapes = [t.shape if isinstance(t, Tensor) else UNKNOWN_SHAPE for t in inputs]
            merged = self.to_value(safe(spec.rule, shapes, a))
            # ``layers.add([x, block(x)])``: the residual branch's Dense made it (an element-wise merge of
            # same-shaped tensors: a sum, for what this reads)
            carry_origin(inputs, merged, adds=True)
            return merged
        shape = x.shape if isinstance(x, Tensor) else UNKNOWN_SHAPE
        if spec.dense:
            self.record(layer, shape, x.rank_from if isinstance(x, Tensor) else None)
        if spec.rule is None:
            return Tensor(UNKNOWN_SHAPE)
        out = self.to_value(safe(spec.rule, shape, a))
        squash = self._squash_kind(spec.squashes, layer.args)
        if spec.dense and layer.site is not None and isinstance(out, Tensor):
            before = x.origin.chain if isinstance(x, Tensor) and x.origin is not None else ()
            rep = layer.site.report
            out.origin = Origin(rep, squash, before + (rep,))
        elif isinstance(x, Tensor):
            self._follow_origin(x, out, squash)
            if x.origin is not None and x.origin.residual and _feature_map(out) and spec.rule is not same:
                # a convolution or pool goes on from a residual block whose branch those Denses are
                for rep in x.origin.chain:
                    rep.feeds_feature_map = True
        self._follow_rank(x, out, spec.short)
        return out

    def _follow_rank(self, x: Value, out: Value, what: str) -> None:
        """Say what fixed ``out``'s rank: ``what`` (a layer, an op) when its input's rank was unknown, else
        whatever fixed its input's."""
        if isinstance(out, Seq) and not out.repeated:  # an RNN's (output, state)
            for item in out.items:
                self._follow_rank(x, item, what)
            return
        if not isinstance(out, Tensor) or out.shape.rank is None or out.rank_from is not None:
            return
        if isinstance(x, Tensor) and x.shape.rank is not None:
            out.rank_from = x.rank_from
        else:  # a loose container's first layer, run by the driver, has no call of its own to point at
            where = self.where(self.call_node) if self.call_node is not None else None
            out.rank_from = f"{what} at {where}" if where else what

    @staticmethod
    def _squash_kind(squashes: str | None, args: dict[str, Value]) -> str | None:
        """The classifier activation a layer or op applies: its spec's, or the one its argument names."""
        if squashes is None or not squashes.startswith("arg:"):
            return squashes
        v = args.get(squashes[4:])
        name = v.value if isinstance(v, Const) else v.qualname if isinstance(v, Ref) else None
        if not isinstance(name, str):
            return None
        name = name.rsplit(".", 1)[-1].lower().removeprefix("log_")
        return name if name in ("softmax", "sigmoid") else None

    @staticmethod
    def _follow_origin(x: Tensor, out: Value, squash: str | None) -> None:
        """A shape-preserving layer or op (an activation, dropout) passes on which Dense/Linear made its
        input; a classifier activation is noted on the way."""
        if x.origin is not None and isinstance(out, Tensor) and out.shape == x.shape:
            out.origin = replace(x.origin, squashed=squash or x.origin.squashed)

    def apply_wrapper(self, layer: Layer, x: Value) -> Value:
        """A layer that wraps another layer or a function (``TimeDistributed(Dense(8))``, ``Lambda(fn)``):
        the wrapper's plugin rule says how."""
        inner = layer.args.get("layer")
        if not isinstance(x, Tensor) or layer.spec.wrap is None:
            if isinstance(inner, Layer) and inner.spec.dense:
                self.record(inner, UNKNOWN_SHAPE)
            return Tensor(UNKNOWN_SHAPE)
        return layer.spec.wrap(cast("Interpreter", self), layer, x)

    def apply_sequential(self, seq: Sequential, x: Value) -> Value:
        seq.applied = True
        for layer in seq.layers:
            x = self.call(layer, [x], {})
        return x

    def to_value(self, r: Any) -> Value:
        if isinstance(r, Shape):
            return Tensor(r)
        if isinstance(r, tuple):
            if len(r) == 3 and r[0] == "repeat":
                piece = Tensor(r[1]) if isinstance(r[1], Shape) else UNKNOWN
                n = r[2]
                if isinstance(n, int) and 0 < n <= MAX_UNROLL:
                    return Seq([piece] * n)
                return Seq([piece], repeated=True)
            return Seq([self.to_value(x) for x in r])
        return Tensor(UNKNOWN_SHAPE) if r is None else UNKNOWN

    def apply_op(
        self,
        op: OpSpec,
        args: list[Value],
        kwargs: dict[str, Value],
        self_value: Value | None = None,
        self_param: str = "input",
    ) -> Value:
        params = op.params
        if self_value is not None:
            bound = self.bind(params, args, kwargs, op.varargs)
            bound[self_param] = self_value
        else:
            bound = self.bind(params, args, kwargs, op.varargs)
        for k, v in list(bound.items()):
            if v is UNKNOWN and k in ("input", "x"):
                bound[k] = Tensor(UNKNOWN_SHAPE)
        a = self.layer_args(params, op.defaults, bound, keep_syms=True)
        out = self.to_value(safe(op.rule, a))
        src = bound.get(self_param) if self_value is not None else next(iter(bound.values()), None)
        if isinstance(src, Tensor):
            self._follow_origin(src, out, op.squashes)
            if src.rank_from is not None and isinstance(out, Tensor) and out.shape.rank is not None:
                out.rank_from = out.rank_from or src.rank_from
        return out


def _feature_map(v: Value) -> bool:
    return isinstance(v, Tensor) and v.shape.spatial and (v.shape.rank or 0) >= 3


def carry_origin(sources: list[Value], out: Value, adds: bool = False) -> None:
    """A tensor made from others of its own rank (a residual add, ``x * gamma``) was made by what made them:
    it keeps the first one's origin (which Dense/Linear made it). ``adds``: the sources are summed, so one
    that no Dense/Linear made went around them (a skip connection): the origin is a residual branch."""
    if not isinstance(out, Tensor) or out.origin is not None:
        return
    for s in sources:
        if isinstance(s, Tensor) and s.origin is not None and s.shape.rank == out.shape.rank is not None:
            skip = adds and any(
                isinstance(o, Tensor) and o.origin is None and o.shape.rank == out.shape.rank for o in sources
            )
            out.origin = replace(s.origin, residual=True) if skip else s.origin
            return
