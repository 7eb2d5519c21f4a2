"""Framework layers and ops: building a layer, applying it to a tensor, recording the shapes a Dense/Linear
site sees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from densecheck.engine.helpers import feasible, options_seq, safe
from densecheck.engine.limits import MAX_SHAPES_PER_SITE, MAX_UNROLL
from densecheck.engine.values import (
    UNKNOWN,
    Instance,
    Layer,
    Seq,
    Sequential,
    Site,
    Tensor,
    Union,
    Value,
    join,
    pyvalue,
)
from densecheck.frameworks import (
    LayerSpec,
    OpSpec,
)
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter


class LayersMixin:
    """Layers and ops over abstract tensors."""

    def make_layer(self: Interpreter, spec: LayerSpec, args, kwargs, node) -> Value:
        bound = self.bind(spec.params, args, kwargs)
        layer = Layer(spec, bound)
        for key in ("input_shape", "batch_input_shape", "input_dim"):
            if key in kwargs:
                v = pyvalue(kwargs[key])
                if key == "input_dim" and isinstance(v, int):
                    layer.built_shape = Shape.of((None, v), -1)
                elif isinstance(v, tuple):
                    dims = tuple(d if known(d) else None for d in v)
                    dims = ((None,) + dims) if key == "input_shape" else dims
                    layer.built_shape = Shape.of(dims, -1, spatial=len(dims) >= 4)
        if spec.dense and node is not None:
            rep = self._report_for(node, spec)
            if rep is not None:
                owner = self.frames[-1].self_value if self.frames else None
                layer.site = Site(node, rep, owner.cls if isinstance(owner, Instance) else None)
                a = self.layer_args(spec.params, spec.defaults, bound)
                in_f = a["in_features"]
                out_f = a["out_features"] if spec.framework == "torch" else a["units"]
                bias = a.get("bias", True) if spec.framework == "torch" else a.get("use_bias", True)
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
        return layer

    def record(self: Interpreter, layer: Layer, shape: Shape) -> None:
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

    def apply_layer(self: Interpreter, layer: Layer, args: list[Value], kwargs: dict[str, Value]) -> Value:
        spec = layer.spec
        x = args[0] if args else next(iter(kwargs.values()), UNKNOWN)
        if isinstance(x, Union):
            out: Value | None = None
            for o in feasible(x.options):
                r = self.apply_layer(layer, [o] + list(args[1:]), kwargs)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if spec.wraps:
            return self.apply_wrapper(layer, x)
        a = self.layer_args(spec.params, spec.defaults, layer.args)
        if spec.multi_input:
            shapes = [t.shape if isinstance(t, Tensor) else UNKNOWN_SHAPE for t in options_seq(x)]
            return self.to_value(safe(spec.rule, shapes, a))
        shape = x.shape if isinstance(x, Tensor) else UNKNOWN_SHAPE
        if spec.dense:
            self.record(layer, shape)
        if spec.rule is None:
            return Tensor(UNKNOWN_SHAPE)
        return self.to_value(safe(spec.rule, shape, a))

    def apply_wrapper(self: Interpreter, layer: Layer, x: Value) -> Value:
        inner = layer.args.get("layer")
        if not isinstance(inner, Layer) or not isinstance(x, Tensor):
            if isinstance(inner, Layer) and inner.spec.dense:
                self.record(inner, UNKNOWN_SHAPE)
            return Tensor(UNKNOWN_SHAPE)
        s = x.shape
        if layer.spec.short == "TimeDistributed":
            if s.rank is None or s.rank < 3:
                return self.apply_layer(inner, [Tensor(UNKNOWN_SHAPE)], {})
            ca = s.channel_axis - 1 if s.channel_axis is not None and s.channel_axis > 1 else s.channel_axis
            inner_in = Shape(s.dims[:1] + s.dims[2:], ca, s.explicit_layout)
            out = self.apply_layer(inner, [Tensor(inner_in)], {})
            if isinstance(out, Tensor) and out.shape.rank is not None:
                o = out.shape
                oca = o.channel_axis + 1 if o.channel_axis is not None and o.channel_axis >= 1 else o.channel_axis
                return Tensor(Shape(o.dims[:1] + (s.dims[1],) + o.dims[1:], oca, o.explicit_layout))
            return Tensor(UNKNOWN_SHAPE)
        out = self.apply_layer(inner, [x], {})  # Bidirectional
        merge = pyvalue(layer.args.get("merge_mode")) if "merge_mode" in layer.args else "concat"
        if merge == "concat":
            def double(v):
                if isinstance(v, Tensor) and v.shape.rank and known(v.shape.last):
                    return Tensor(v.shape.with_last(v.shape.last * 2))
                return v
            if isinstance(out, Seq):
                return Seq([double(i) for i in out.items])
            return double(out)
        return out

    def apply_sequential(self: Interpreter, seq: Sequential, x: Value) -> Value:
        for layer in seq.layers:
            x = self.call(layer, [x], {})
        return x

    def to_value(self: Interpreter, r: Any) -> Value:
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

    def apply_op(self: Interpreter, op: OpSpec, args: list[Value], kwargs: dict[str, Value], self_value: Value | None = None,
                 self_param: str = "input") -> Value:
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
        return self.to_value(safe(op.rule, a))


