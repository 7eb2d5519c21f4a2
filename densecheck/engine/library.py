"""Library helpers (to become plugins)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from densecheck.engine.helpers import VarArgs
from densecheck.engine.values import (
    UNKNOWN,
    Const,
    Dict,
    KerasModel,
    Layer,
    Partial,
    Seq,
    Sequential,
    Tensor,
    Value,
    pyvalue,
)
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter
from densecheck.shapes import Shape, Sym, known


def jaxtyping_shape(spec: str) -> Shape:
    dims: list = []
    for tok in spec.split():
        if tok.startswith("*") or tok == "...":
            return UNKNOWN_SHAPE
        tok = tok.lstrip("#_")
        dims.append(int(tok) if tok.isdigit() else Sym(tok))
    names = [t.lower() for t in spec.split()]
    ca = None
    for i, n in enumerate(names):
        if n in ("c", "channels", "ch", "d", "dim", "hidden", "embed", "features", "e"):
            ca = i
            break
    return Shape(tuple(dims), ca, False)


def einops_groups(side: str) -> list[list[str]] | None:
    groups: list[list[str]] = []
    cur: list[str] | None = None
    for tok in side.replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            cur = []
        elif tok == ")":
            if cur is None:
                return None
            groups.append(cur)
            cur = None
        elif cur is not None:
            cur.append(tok)
        else:
            groups.append([tok])
    return groups


def einops_shape(s: Shape, pattern: str, sizes: dict[str, Any]) -> Shape:
    lhs, _, rhs = pattern.partition("->")
    left, right = einops_groups(lhs), einops_groups(rhs)
    if left is None or right is None or any(g == ["..."] for g in left + right):
        return UNKNOWN_SHAPE
    axis_size: dict[str, Any] = {k: v for k, v in sizes.items() if isinstance(v, int)}
    channel_name = None
    if s.dims is not None and len(s.dims) == len(left):
        for g, d in zip(left, s.dims):
            if len(g) == 1 and known(d):
                axis_size[g[0]] = d
            elif len(g) > 1 and known(d):
                unknown = [n for n in g if n not in axis_size]
                if len(unknown) == 1:
                    rest = 1
                    for n in g:
                        if n != unknown[0]:
                            rest *= axis_size[n]
                    axis_size[unknown[0]] = d // rest if rest else None
        if s.channel_axis is not None and len(left[s.channel_axis]) == 1:
            channel_name = left[s.channel_axis][0]
    dims = []
    ca = None
    for i, g in enumerate(right):
        total = 1
        for n in g:
            v = axis_size.get(n, 1 if n == "1" else None)
            if v is None:
                total = None
                break
            total *= v
        dims.append(total)
        if channel_name is not None and g == [channel_name]:
            ca = i
    if ca is None and channel_name is None and right and len(right[-1]) == 1 and \
            right[-1][0] in ("c", "d", "dim", "channels", "e"):
        ca = len(right) - 1
    return Shape(tuple(dims), ca, True)


# ---------------------------------------------------------------------------------------------------------
# Special external callables: containers, inputs, models
# ---------------------------------------------------------------------------------------------------------

def torch_sequential(it: Interpreter, args, kwargs, node) -> Value:
    layers: list[Value] = []
    for a in args:
        if isinstance(a, Dict):
            layers.extend(a.items.values())
        elif isinstance(a, VarArgs):
            inner = a.value
            if isinstance(inner, Seq):
                layers.extend(inner.items if not inner.repeated else [inner.items[0]])
            else:
                layers.append(UNKNOWN)
        else:
            layers.append(a)
    return Sequential("torch", layers)


def _keras_sequential(it: Interpreter, args, kwargs, node) -> Value:
    items = args[0] if args else kwargs.get("layers")
    seq = Sequential("keras", [])
    if isinstance(items, Seq):
        for layer in items.items:
            keras_add(it, seq, layer)
    return seq


def keras_add(it: Interpreter, seq: Sequential, layer: Value) -> None:
    if isinstance(layer, Tensor):  # keras.Input(...) as the first "layer"
        seq.current = layer.shape
        return
    if isinstance(layer, Layer) and layer.spec.short in ("InputLayer",):
        return
    seq.layers.append(layer)
    if seq.current is None and isinstance(layer, Layer) and layer.built_shape is not None:
        seq.current = layer.built_shape
    if seq.current is not None:
        out = it.call(layer, [Tensor(seq.current)], {})
        seq.current = out.shape if isinstance(out, Tensor) else UNKNOWN_SHAPE


def _keras_input(it: Interpreter, args, kwargs, node) -> Value:
    shape = pyvalue(args[0]) if args else pyvalue(kwargs.get("shape"))
    batch = pyvalue(kwargs.get("batch_size"))
    if shape is None and "batch_shape" in kwargs:
        bs = pyvalue(kwargs["batch_shape"])
        if isinstance(bs, tuple):
            return Tensor(Shape.of(tuple(d if known(d) else None for d in bs), -1))
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, tuple):
        return Tensor(UNKNOWN_SHAPE)
    dims = ((batch if isinstance(batch, int) else None),) + tuple(d if known(d) else None for d in shape)
    return Tensor(Shape.of(dims, -1, spatial=len(dims) >= 4))  # a rank >= 4 Input is an image / feature map


def _keras_model(it: Interpreter, args, kwargs, node) -> Value:
    outputs = args[1] if len(args) > 1 else kwargs.get("outputs", UNKNOWN)
    return KerasModel(outputs)


def _module_list(it: Interpreter, args, kwargs, node) -> Value:
    items = args[0] if args else kwargs.get("modules")
    if isinstance(items, Seq):
        return Seq(list(items.items), "list", items.repeated)
    if isinstance(items, Sequential):
        return Seq(list(items.layers), "list")
    return Seq([], "list") if items is None else Seq([UNKNOWN], "list", repeated=True)


def _module_dict(it: Interpreter, args, kwargs, node) -> Value:
    items = args[0] if args else None
    if isinstance(items, Dict):
        return Dict(dict(items.items))
    if isinstance(items, Seq):
        return _ordered_dict(it, args, kwargs, node)
    return Dict({})


def _ordered_dict(it: Interpreter, args, kwargs, node) -> Value:
    items = args[0] if args else None
    out: dict[Any, Value] = {}
    if isinstance(items, Seq):
        for i, pair in enumerate(items.items):
            if isinstance(pair, Seq) and len(pair.items) == 2:
                k = pyvalue(pair.items[0])
                out[k if k is not None and not isinstance(k, Sym) else f"<{i}>"] = pair.items[1]
    elif isinstance(items, Dict):
        out.update(items.items)
    out.update(kwargs)
    return Dict(out)


def _partial(it: Interpreter, args, kwargs, node) -> Value:
    if not args:
        return UNKNOWN
    return Partial(args[0], list(args[1:]), dict(kwargs))


def _torch_size(it: Interpreter, args, kwargs, node) -> Value:
    return args[0] if args and isinstance(args[0], Seq) else UNKNOWN


def _first_arg(it: Interpreter, args, kwargs, node) -> Value:
    return args[0] if args else next(iter(kwargs.values()), UNKNOWN)


def _arange(it: Interpreter, args, kwargs, node) -> Value:
    vals = [pyvalue(a) for a in args]
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        try:
            return Tensor(Shape.of((len(range(*vals)),)))
        except (TypeError, ValueError):
            pass
    return Tensor(Shape.of((None,)))


def literal_shape(v: Value) -> tuple | None:
    if isinstance(v, Seq) and not v.repeated:
        inner = [literal_shape(x) for x in v.items]
        if inner and all(i is not None and i == inner[0] for i in inner):
            return (len(v.items),) + inner[0]
        return (len(v.items),) if not inner else None
    if isinstance(v, Const) and isinstance(v.value, (int, float, bool)):
        return ()
    return None


def _torch_tensor(it: Interpreter, args, kwargs, node) -> Value:
    shape = literal_shape(args[0]) if args else None
    return Tensor(Shape.of(shape)) if shape is not None else Tensor(UNKNOWN_SHAPE)


SPECIAL_CALLS = {
    "torch.nn.Parameter": _first_arg,
    "torch.nn.Buffer": _first_arg,
    "torch.nn.parameter.Parameter": _first_arg,
    "torch.arange": _arange,
    "torch.tensor": _torch_tensor,
    "torch.as_tensor": _torch_tensor,
    "torch.nn.Sequential": torch_sequential,
    "torch.nn.ModuleList": _module_list,
    "torch.nn.ParameterList": _module_list,
    "torch.nn.ModuleDict": _module_dict,
    "keras.Sequential": _keras_sequential,
    "keras.models.Sequential": _keras_sequential,
    "keras.Input": _keras_input,
    "keras.layers.Input": _keras_input,
    "keras.Model": _keras_model,
    "keras.models.Model": _keras_model,
    "keras.Functional": _keras_model,
    "collections.OrderedDict": _ordered_dict,
    "typing.OrderedDict": _ordered_dict,
    "functools.partial": _partial,
    "torch.Size": _torch_size,
    # weight/spectral normalisation re-parametrises a module's weight and returns that same module
    # (``torch.nn.utils[.parametrizations].weight_norm``, canonical)
    "torch.nn.weight_norm": _first_arg,
    "torch.nn.spectral_norm": _first_arg,
}


