"""Attribute access and tensor methods."""

from __future__ import annotations

from typing import TYPE_CHECKING

from densecheck.engine.helpers import feasible
from densecheck.engine.library import einops_shape
from densecheck.engine.pybuiltins import (
    AUTOGRAD_FUNCTION,
    MODULE_METHODS,
    MODULE_RETURNS_SELF,
    TENSOR_RESULT,
    TENSORISH,
)
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
from densecheck.frameworks import torch as torch_fw
from densecheck.frameworks import transformers as hf_fw
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, Sym, known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter


class AttributesMixin:
    """Member access on abstract values."""

    # --- attributes -------------------------------------------------------------------------------------
    def getattr(self: Interpreter, v: Value, name: str) -> Value:
        if isinstance(v, Union):
            out: Value | None = None
            for o in feasible(v.options):
                r = self.getattr(o, name)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if isinstance(v, Ref):
            return Ref(f"{v.qualname}.{name}")
        if name in hf_fw.CACHE_METHODS and (v is UNKNOWN or isinstance(v, Tensor) or (
                isinstance(v, Instance) and v.cls.qualname.endswith("Cache"))):  # (tensors have no .update)
            return Builtin("hf.cache_update", v)
        if isinstance(v, Tensor) or (v is UNKNOWN and name in TENSORISH):
            t = v if isinstance(v, Tensor) else Tensor(UNKNOWN_SHAPE)
            return self.tensor_attr(t, name)
        if isinstance(v, Instance):
            if name in v.attrs:
                return v.attrs[name]
            c = v.cls.lookup(name)
            if isinstance(c, Function):
                decorators = getattr(c, "decorators", set())
                if "property" in decorators:
                    return self.invoke(c, [], {}, self_value=v)
                if "staticmethod" in decorators:
                    return c
                return BoundMethod(c, v)
            if c is not None:
                return c
            if name in MODULE_METHODS:
                return Builtin("module." + name, v)
            if name in hf_fw.MODEL_METHODS:  # ``self.get_input_embeddings()``: inherited from the library's model
                return Builtin("library." + hf_fw.MODEL_METHODS[name], v)
            return UNKNOWN
        if isinstance(v, ClassV):
            c = v.lookup(name)
            if c is None and name == "apply" and AUTOGRAD_FUNCTION.intersection(v.external_bases()):
                return Builtin("autograd.apply", v)  # ``MyFn.apply(x)`` runs the static ``MyFn.forward(ctx, x)``
            if c is None and name in hf_fw.FROM_CONFIG and self._is_module_class(v):
                return Builtin("class." + name, v)
            return c if c is not None else UNKNOWN
        if isinstance(v, Record):
            if name == "to_tuple" and name not in v.fields:
                return Builtin("record.to_tuple", v)
            return v.fields.get(name, Const(None))
        if isinstance(v, Super):
            mro = v.instance.cls.mro() if isinstance(v.instance, Instance) else []
            after = mro[mro.index(v.cls) + 1:] if v.cls in mro else []
            for c in after:
                if name in c.attrs:
                    f = c.attrs[name]
                    return BoundMethod(f, v.instance) if isinstance(f, Function) else f
            return Builtin("super." + name, v.instance)
        if isinstance(v, Layer):
            if name in ("in_features", "out_features", "units", "filters", "out_channels", "in_channels",
                        "embedding_dim", "num_embeddings", "hidden_size"):
                return v.args.get(name, UNKNOWN)
            if name in ("weight", "bias", "kernel"):
                return self._layer_weight(v)
            if name in MODULE_RETURNS_SELF:
                return Builtin("module." + name, v)  # ``nn.Linear(16, 2).to(dtype)``: the layer itself
            return UNKNOWN
        if isinstance(v, Sequential):
            if name in ("add", "append", "build", "extend", "insert", "add_module"):
                return Builtin("seq." + name, v)
            if name == "layers":
                return Seq(v.layers, "list")
            return UNKNOWN
        if isinstance(v, Seq) and v.kind == "list" and name in ("append", "extend", "insert"):
            return Builtin("list." + name, v)
        if isinstance(v, Dict) and name in ("items", "values", "keys", "get", "update", "setdefault"):
            return Builtin("dict." + name, v)
        return UNKNOWN

    def _layer_weight(self: Interpreter, layer: Layer) -> Value:
        a = self.layer_args(layer.spec.params, layer.spec.defaults, layer.args)
        if layer.spec.short in ("Linear",):
            return Tensor(Shape.of((a["out_features"], a["in_features"])))
        if layer.spec.short == "Embedding":
            return Tensor(Shape.of((a["num_embeddings"], a["embedding_dim"])))
        return Tensor(UNKNOWN_SHAPE)

    def tensor_attr(self: Interpreter, t: Tensor, name: str) -> Value:
        s = t.shape
        if name == "shape":
            return self.shape_seq(t)
        if name in ("ndim",):
            return Const(s.rank) if s.rank is not None else UNKNOWN
        if name in ("T", "mT"):
            if s.rank is None:
                return Tensor(UNKNOWN_SHAPE)
            from densecheck.shapes import transpose
            return Tensor(transpose(s, -2, -1) if name == "mT" or s.rank == 2 else
                          Shape.of(tuple(reversed(s.dims))))
        if name in ("data", "real", "imag"):
            return t
        return Builtin("tensor." + name, t)

    def shape_seq(self: Interpreter, t: Tensor) -> Value:
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
            t.shape = Shape(tuple(dims), s.channel_axis, s.explicit_layout)
        return Seq([Const(d) if known(d) else DimV(d) for d in dims], "tuple")

    def tensor_method(self: Interpreter, t: Tensor, name: str, args, kwargs) -> Value:
        s = t.shape
        if name == "size":
            full = self.shape_seq(t)
            if not args and "dim" not in kwargs:
                return full
            d = pyvalue(args[0] if args else kwargs["dim"])
            if isinstance(d, int) and isinstance(full, Seq) and not full.repeated and -len(full.items) <= d < len(
                    full.items):
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
                    dims = s.dims[:a] + s.dims[a + 1:]
                    ca = s.channel_axis if s.channel_axis is None or s.channel_axis < a else (
                        None if s.channel_axis == a else s.channel_axis - 1)
                    return Seq([Tensor(Shape(dims, ca, s.explicit_layout))], repeated=True)
            return Seq([Tensor(UNKNOWN_SHAPE)], repeated=True)
        spec = torch_fw.METHODS.get(name)
        if spec is None:
            return Tensor(UNKNOWN_SHAPE) if name in TENSOR_RESULT else UNKNOWN
        return self.apply_op(spec, args, kwargs, self_value=t)

    # --- einops -----------------------------------------------------------------------------------------
    def einops(self: Interpreter, fn: str, args, kwargs) -> Value:
        if fn not in ("rearrange", "reduce", "repeat") or len(args) < 2:
            return Tensor(UNKNOWN_SHAPE) if fn in ("rearrange", "reduce", "repeat") else UNKNOWN
        x = args[0]
        pattern = pyvalue(args[1])
        if not isinstance(pattern, str) or "->" not in pattern:
            return Tensor(UNKNOWN_SHAPE)
        sizes = {k: pyvalue(v) for k, v in kwargs.items()}
        return Tensor(einops_shape(x.shape if isinstance(x, Tensor) else UNKNOWN_SHAPE, pattern, sizes))


