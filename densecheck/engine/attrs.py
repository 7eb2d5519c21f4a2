"""Member access: attributes of instances, classes, records, layers and containers; tensor attributes and
methods (the methods' shape rules come from the plugins)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, cast

from densecheck.engine.base import EngineBase
from densecheck.engine.helpers import feasible
from densecheck.engine.limits import MAX_DEPTH
from densecheck.engine.values import (
    UNKNOWN,
    BoundMethod,
    Builtin,
    ClassV,
    Const,
    Dict,
    DimV,
    Function,
    Instance,
    Layer,
    Record,
    Ref,
    Seq,
    Sequential,
    Super,
    Tensor,
    Union,
    Value,
    join,
    pyvalue,
)
from densecheck.plugins.registry import registry
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, Sym, known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter


#: what every tensor has, whatever its framework: its shape, rank and size, and the shape-only methods
TENSOR_INTRINSICS = frozenset(
    {"size", "shape", "dim", "ndim", "view_as", "reshape_as", "unbind", "expand_as", "numel"}
)


def _tensor_method(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    assert isinstance(b.self, Tensor)
    return it.tensor_method(b.self, b.name.partition(".")[2], args, kwargs)


class AttributesMixin(EngineBase):
    """Member access on abstract values."""

    # --- attributes -------------------------------------------------------------------------------------
    def getattr(self, v: Value, name: str) -> Value:
        if isinstance(v, Union):
            out: Value | None = None
            for o in feasible(v.options):
                r = self.getattr(o, name)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if isinstance(v, Ref):
            return Ref(f"{v.qualname}.{name}")
        reg = registry()
        for hook in reg.attribute_hooks:  # a plugin's word comes first (a KV cache's ``update``)
            a = hook(cast("Interpreter", self), v, name)
            if a is not None:
                return a
        if isinstance(v, Tensor) or (
            v is UNKNOWN and (name in reg.tensor_methods or name in TENSOR_INTRINSICS)
        ):
            t = v if isinstance(v, Tensor) else Tensor(UNKNOWN_SHAPE)
            return self.tensor_attr(t, name)
        if isinstance(v, Instance):
            if name in v.attrs:
                return v.attrs[name]
            c = v.cls.lookup(name)
            if isinstance(c, Function):
                decorators: set[str] = getattr(c, "decorators", set())
                if "property" in decorators:
                    return self.invoke(c, [], {}, self_value=v)
                if "staticmethod" in decorators:
                    return c
                return BoundMethod(c, v)
            if c is not None:
                return c
            if name in reg.module_methods:  # inherited from the framework's base (``self.add_module``)
                return Builtin("module." + name, v, reg.module_methods[name])
            return self._inherited(v, name)
        if isinstance(v, ClassV):
            c = v.lookup(name)
            return c if c is not None else self._inherited(v, name)
        if isinstance(v, Record):
            if name == "to_tuple" and name not in v.fields:
                return Builtin("record.to_tuple", v)
            return v.fields.get(name, Const(None))
        if isinstance(v, Super):
            mro = v.instance.cls.mro() if isinstance(v.instance, Instance) else []
            after = mro[mro.index(v.cls) + 1 :] if v.cls in mro else []
            for c in after:
                if name in c.attrs:
                    f = c.attrs[name]
                    return BoundMethod(f, v.instance) if isinstance(f, Function) else f
            return Builtin("super." + name, v.instance)
        if isinstance(v, Layer):
            if name in reg.layer_attributes:
                return v.args.get(name, UNKNOWN)
            if name in ("weight", "bias", "kernel"):
                return self._layer_weight(v)
            if name in reg.layer_methods:  # ``nn.Linear(16, 2).to(dtype)``: the layer itself
                return Builtin("module." + name, v, reg.layer_methods[name])
            return UNKNOWN
        if isinstance(v, Sequential):
            if name in ("add", "append", "build", "extend", "insert", "add_module"):
                return Builtin("seq." + name, v)
            if name == "layers":
                return Seq(v.layers, "list")
            return v.named.get(name, UNKNOWN)
        if isinstance(v, Seq) and v.kind == "list" and name in ("append", "extend", "insert", "pop"):
            return Builtin("list." + name, v)
        if isinstance(v, Dict) and name in ("items", "values", "keys", "get", "update", "setdefault"):
            return Builtin("dict." + name, v)
        return UNKNOWN

    def _inherited(self, v: Value, name: str) -> Value:
        """A name a model's instance or class does not define: a plugin may know it from the library's base
        class (``self.get_input_embeddings()``, ``MyFn.apply(x)``); else unknown."""
        for hook in registry().inherited_hooks:
            a = hook(cast("Interpreter", self), v, name)
            if a is not None:
                return a
        return self._from_project_bases(v, name)

    def _from_project_bases(self, v: Value, name: str, seen: frozenset[str] = frozenset()) -> Value:
        """A method or class attribute of a base class defined in another of the project's files (a mixin's
        ``set_processor``), bound to ``v``; else unknown."""
        cls = v.cls if isinstance(v, Instance) else v if isinstance(v, ClassV) else None
        if cls is None or self.depth >= MAX_DEPTH:
            return UNKNOWN
        for qual in cls.external_bases():
            if qual in seen or self.project is None:
                continue
            base = self.project_value(qual)
            if not isinstance(base, ClassV):
                continue
            c = base.lookup(name)
            if c is None:
                self.depth += 1
                try:
                    c = self._from_project_bases(base, name, seen | {qual})
                finally:
                    self.depth -= 1
                if c is UNKNOWN:
                    continue
                if isinstance(c, BoundMethod) and isinstance(v, Instance):
                    return BoundMethod(c.func, v)
                return c
            if isinstance(c, Function) and isinstance(v, Instance):
                decorators: set[str] = getattr(c, "decorators", set())
                if "property" in decorators:
                    return self.invoke(c, [], {}, self_value=v)
                if "staticmethod" in decorators:
                    return c
                return BoundMethod(c, v)
            return c
        return UNKNOWN

    def _layer_weight(self, layer: Layer) -> Value:
        """``layer.weight``: its shape from the constructor arguments the layer's spec names."""
        if layer.spec.weight is None:
            return Tensor(UNKNOWN_SHAPE)
        a = self.layer_args(layer.spec.params, layer.spec.defaults, layer.args)
        return Tensor(Shape.of(tuple(a[p] for p in layer.spec.weight)))

    def tensor_attr(self, t: Tensor, name: str) -> Value:
        s = t.shape
        if name == "shape":
            return self.shape_seq(t)
        if name in ("ndim",):
            return Const(s.rank) if s.rank is not None else UNKNOWN
        if name in ("T", "mT"):
            if s.rank is None:
                return Tensor(UNKNOWN_SHAPE)
            assert s.dims is not None  # the rank is known
            from densecheck.shapes import transpose

            return Tensor(
                transpose(s, -2, -1) if name == "mT" or s.rank == 2 else Shape.of(tuple(reversed(s.dims)))
            )
        if name in ("data", "real", "imag"):
            return t
        return Builtin("tensor." + name, t, _tensor_method)

    def shape_seq(self, t: Tensor) -> Value:
        s = t.shape
        if s.dims is None:
            return Seq([DimV(Sym("?"))], repeated=True)
        dims = list(s.dims)
        changed = False
        for i, d in enumerate(dims):
            if d is None:
                dims[i] = Sym(f"d{i}")
                changed = True
        if changed:
            t.shape = replace(s, dims=tuple(dims))
        # every unknown dim is a Sym now (a bool dim stays as it is)
        return Seq([Const(d) if known(d) else DimV(cast(Sym, d)) for d in dims], "tuple")

    def tensor_method(self, t: Tensor, name: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
        s = t.shape
        if name == "size":
            full = self.shape_seq(t)
            if not args and "dim" not in kwargs:
                return full
            d = pyvalue(args[0] if args else kwargs["dim"])
            if (
                isinstance(d, int)
                and isinstance(full, Seq)
                and not full.repeated
                and -len(full.items) <= d < len(full.items)
            ):
                return full.items[d]
            return DimV(Sym("?"))
        if name in ("dim", "ndimension"):
            return Const(s.rank) if s.rank is not None else UNKNOWN
        if name == "numel":
            from densecheck.shapes import dim_product

            n = dim_product(s.dims) if s.dims is not None else None
            return Const(n) if n is not None else UNKNOWN
        if name == "item":
            return UNKNOWN
        if name in ("view_as", "reshape_as", "expand_as"):
            other = args[0] if args else UNKNOWN
            return Tensor(other.shape) if isinstance(other, Tensor) else Tensor(UNKNOWN_SHAPE)
        if name == "unbind":
            dim = pyvalue(args[0]) if args else 0
            if s.rank is not None and isinstance(dim, int):
                a = s.axis(dim)
                if a is not None:
                    assert s.dims is not None  # the rank is known
                    dims = s.dims[:a] + s.dims[a + 1 :]
                    ca = (
                        s.channel_axis
                        if s.channel_axis is None or s.channel_axis < a
                        else (None if s.channel_axis == a else s.channel_axis - 1)
                    )
                    return Seq([Tensor(Shape(dims, ca, s.explicit_layout))], repeated=True)
            return Seq([Tensor(UNKNOWN_SHAPE)], repeated=True)
        spec = registry().tensor_methods.get(name)
        if spec is None:
            return Tensor(UNKNOWN_SHAPE) if name in registry().tensor_results else UNKNOWN
        return self.apply_op(spec, args, kwargs, self_value=t)
