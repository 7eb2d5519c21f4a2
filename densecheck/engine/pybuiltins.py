"""Python builtins and methods implemented by the interpreter: ``len``, ``range``, ``zip``, list and dict
methods, ``super()``, containers' ``add``/``build``, and the standard library's ``OrderedDict``, ``partial``
and ``math``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from densecheck.engine.helpers import is_tuple
from densecheck.engine.limits import MAX_INT, MAX_ITEMS, MAX_UNROLL
from densecheck.engine.values import (
    UNKNOWN,
    Builtin,
    ClassV,
    Const,
    Dict,
    DimV,
    Instance,
    Layer,
    Partial,
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
from densecheck.plugins.registry import canonical, lookup_layer, registry
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter
    from densecheck.plugins.base import MethodImpl, SpecialCall

    #: ``math.<fn>`` as a method: called with no bound method (``b`` None) by the stdlib calls
    MathImpl = Callable[[Interpreter, Builtin | None, list[Value], dict[str, Value]], Value]
from densecheck.shapes import Shape, Sym, known

# ---------------------------------------------------------------------------------------------------------
# Python builtins and methods implemented by the interpreter
# ---------------------------------------------------------------------------------------------------------


def _b_len(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    x = args[0] if args else UNKNOWN
    if isinstance(x, Seq) and not x.repeated:
        return Const(len(x.items))
    if isinstance(x, Dict):
        return Const(len(x.items))
    if isinstance(x, Sequential):
        return Const(len(x.layers))
    if isinstance(x, Const) and isinstance(x.value, (str, tuple)):
        return Const(len(x.value))
    if isinstance(x, Tensor) and x.shape.rank:
        assert x.shape.dims is not None  # the rank is known
        d = x.shape.dims[0]
        return Const(d) if known(d) else DimV(d if isinstance(d, Sym) else Sym("?"))
    return UNKNOWN


def _b_range(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    vals = [pyvalue(a) for a in args]
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        try:
            r = range(*vals)
        except (TypeError, ValueError):
            return Seq([UNKNOWN], "list", repeated=True)
        if all(abs(v) <= MAX_INT for v in vals) and len(r) <= MAX_UNROLL:
            return Seq([Const(i) for i in r], "list")
    return Seq([DimV(Sym("i"))], "list", repeated=True)


def _b_numeric(kind: Callable[[Any], Any]) -> MethodImpl:
    def impl(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
        x = args[0] if args else Const(0)
        if isinstance(x, Const) and isinstance(x.value, (int, float, str, bool)):
            try:
                return Const(kind(x.value))
            except (TypeError, ValueError, OverflowError):
                return UNKNOWN
        if isinstance(x, DimV) and kind is int:
            return x
        return UNKNOWN

    return impl


def _b_seq(kind: str) -> MethodImpl:
    def impl(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
        x = args[0] if args else Seq([], kind)
        if isinstance(x, Record) and kind == "tuple":
            return x  # a ModelOutput's tuple, or a filtered generator's items: indexed the same way
        if isinstance(x, Seq):
            return Seq(list(x.items), kind, x.repeated)
        if isinstance(x, Dict):
            return Seq([Const(k) for k in x.items], kind)
        if isinstance(x, Sequential):
            return Seq(list(x.layers), kind)
        return Seq([UNKNOWN], kind, repeated=True)

    return impl


def _b_minmax(fn: Callable[[list[Any]], Any]) -> MethodImpl:
    def impl(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
        vals = [pyvalue(a) for a in args]
        if len(vals) == 1 and isinstance(vals[0], tuple):
            vals = list(vals[0])
        if vals and all(isinstance(v, (int, float)) for v in vals):
            return Const(fn(vals))
        return UNKNOWN

    return impl


def _b_sum(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    v = pyvalue(args[0]) if args else None
    if isinstance(v, tuple) and all(isinstance(x, (int, float)) for x in v):
        return Const(sum(v))
    return UNKNOWN


def b_math(fn: Callable[..., Any]) -> MathImpl:
    def impl(it: Interpreter, b: Builtin | None, args: list[Value], kwargs: dict[str, Value]) -> Value:
        vals = [pyvalue(a) for a in args]
        if len(vals) == 1 and isinstance(vals[0], tuple):
            vals = list(vals[0]) if fn is math.prod else vals
        if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            if any(isinstance(v, int) and abs(v) > MAX_INT for v in vals) or len(vals) > MAX_ITEMS:
                return UNKNOWN
            try:
                r = fn(vals) if fn is math.prod else fn(*vals)
            except (ValueError, OverflowError, TypeError):
                return UNKNOWN
            return UNKNOWN if isinstance(r, int) and abs(r) > MAX_INT else Const(r)
        return UNKNOWN

    return impl


def _b_getattr(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    if len(args) >= 2:
        name = pyvalue(args[1])
        if isinstance(name, str):
            r = it.getattr(args[0], name)
            if r is UNKNOWN and len(args) > 2:
                return args[2]
            return r
    return UNKNOWN


def _b_setattr(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    if len(args) == 3:
        name = pyvalue(args[1])
        if isinstance(name, str) and isinstance(args[0], (Instance, ClassV)):
            args[0].attrs[name] = args[2]
    return Const(None)


def _b_super(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    frame = it.frame
    fn = frame.func
    if fn is not None and fn.cls is not None and frame.self_value is not None:
        return Super(frame.self_value, fn.cls)
    if len(args) == 2 and isinstance(args[0], ClassV):
        return Super(args[1], args[0])
    return UNKNOWN


def _b_enumerate(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    x = args[0] if args else UNKNOWN
    items, exact = it.iteration(x)
    if exact:
        return Seq([Seq([Const(i), v]) for i, v in enumerate(items)], "list")
    return Seq([Seq([DimV(Sym("i")), items[0]])], "list", repeated=True)


def _b_zip(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    cols = [it.iteration(a) for a in args]
    if cols and all(exact for _, exact in cols):
        n = min(len(items) for items, _ in cols)
        return Seq([Seq([items[i] for items, _ in cols]) for i in range(n)], "list")
    return Seq([Seq([items[0] if items else UNKNOWN for items, _ in cols])], "list", repeated=True)


def _b_map(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``map(fn, xs, ...)``: ``fn`` called on each item (a list; one call standing for all of them when the
    items are not known one by one)."""
    if len(args) < 2 or kwargs:
        return UNKNOWN
    fn, cols = args[0], [it.iteration(a) for a in args[1:]]
    if all(exact for _, exact in cols):
        n = min(len(items) for items, _ in cols)
        return Seq([it.call(fn, [items[i] for items, _ in cols], {}) for i in range(n)], "list")
    first = [items[0] if items else UNKNOWN for items, _ in cols]
    return Seq([it.call(fn, first, {})], "list", repeated=True)


def _b_dict(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``dict(a=x, ...)``, ``dict(mapping)``, ``dict([(k, v), ...])``: a dict of what is known."""
    out: dict[Any, Value] = {}
    if args:
        src = args[0]
        if isinstance(src, Seq):
            src = ordered_dict(it, [src], {}, None)
        if not isinstance(src, Dict) or len(args) > 1:
            return UNKNOWN
        out.update(src.items)
    out.update(kwargs)
    return Dict(out)


def _b_reversed(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    x = args[0] if args else UNKNOWN
    if isinstance(x, Seq):
        return Seq(list(reversed(x.items)), x.kind, x.repeated)
    return UNKNOWN


def _b_slice(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``slice(a, b, c)``: a slice object (bounds not known statically stand as unknown dimensions)."""
    if not 1 <= len(args) <= 3 or kwargs:
        return UNKNOWN
    parts = [pyvalue(a) if not (isinstance(a, Const) and a.value is None) else None for a in args]
    parts = [p if p is None or (type(p) is int) else Sym("?") for p in parts]
    return Const(slice(*parts))


def _b_isinstance(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``isinstance(x, tuple)`` where the answer is sure: a tensor is a ``torch.Tensor`` and no tuple, list,
    dict, number or string (``layer_outputs[0] if isinstance(layer_outputs, tuple) else layer_outputs``); a
    constant is what it is; an instance of a class of the analysed code is an instance of the classes in its
    MRO only."""
    if len(args) != 2 or kwargs:
        return UNKNOWN
    kinds = args[1].items if is_tuple(args[1]) else [args[1]]
    answers = [py_isinstance(args[0], k) for k in kinds]
    if True in answers:
        return Const(True)
    return Const(False) if answers and all(a is False for a in answers) else UNKNOWN


_PY_TYPES = {"tuple": tuple, "list": list, "dict": dict, "int": int, "float": float, "str": str, "bool": bool}


def py_isinstance(v: Value, kind: Value) -> bool | None:
    if isinstance(v, Union):
        answers = {py_isinstance(o, kind) for o in v.options}
        return answers.pop() if len(answers) == 1 else None
    name = (
        kind.name
        if isinstance(kind, Builtin) and kind.self is None
        else canonical(kind.qualname)
        if isinstance(kind, Ref)
        else None
    )
    if isinstance(v, Tensor):
        if name in registry().tensor_types:
            return True
        return False if name in _PY_TYPES or name in registry().module_bases else None
    if isinstance(v, Const) and name in _PY_TYPES:
        return isinstance(v.value, _PY_TYPES[name])
    if isinstance(v, Instance) and isinstance(kind, ClassV):
        return kind in v.cls.mro()  # a framework base cannot derive from a class of the analysed code
    return None


def _b_print(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    return Const(None)


def _b_seq_add(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``seq.add(layer)`` / ``seq.append(layer)``: the container's framework says what adding does (Keras
    builds the layer on the shape so far); otherwise the layer is appended."""
    seq = b.self
    if isinstance(seq, Sequential) and args:
        plugin = registry().plugin(seq.framework)
        if plugin is not None and plugin.sequential_add is not None:
            plugin.sequential_add(it, seq, args[-1])
        else:
            seq.layers.append(args[-1])
    return Const(None)


def _b_seq_add_module(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    if isinstance(b.self, Sequential) and len(args) == 2:
        b.self.layers.append(args[1])
        name = pyvalue(args[0])
        if isinstance(name, str):
            b.self.named[name] = args[1]
    return Const(None)


def _b_seq_build(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    seq = b.self
    shape = pyvalue(args[0]) if args else pyvalue(kwargs.get("input_shape"))
    if isinstance(seq, Sequential) and isinstance(shape, tuple):
        cur = Shape.of(tuple(d if known(d) else None for d in shape), -1)
        out: Value = Tensor(cur)
        for layer in seq.layers:
            out = it.call(layer, [out if isinstance(out, Tensor) else Tensor(cur)], {})
            cur = out.shape if isinstance(out, Tensor) else UNKNOWN_SHAPE
        seq.current, seq.output, seq.applied = cur, out, True
    return Const(None)


def _b_list_append(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    if isinstance(b.self, Seq) and args:
        if b.self.repeated:
            b.self.items[0] = join(b.self.items[0], args[0])
        elif len(b.self.items) < 256:
            b.self.items.append(args[0])
    return Const(None)


def _b_list_extend(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    if isinstance(b.self, Seq) and args:
        x = args[0]
        if isinstance(x, Seq) and not x.repeated and not b.self.repeated:
            b.self.items.extend(x.items)
        elif isinstance(x, Seq) and x.items:
            b.self.items[:] = [it.join_all(b.self.items + x.items)]
            b.self.repeated = True
    return Const(None)


def _b_list_insert(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    if isinstance(b.self, Seq) and len(args) == 2:
        idx = pyvalue(args[0])
        if isinstance(idx, int) and not b.self.repeated:
            b.self.items.insert(idx, args[1])
    return Const(None)


def _b_list_pop(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``skips.pop()`` / ``xs.pop(0)``: the item, taken out of a list known item by item; of a list of an
    unknown number of like items, one of them (the list stays as it is)."""
    seq = b.self
    if not isinstance(seq, Seq) or not seq.items:
        return UNKNOWN
    if seq.repeated:
        return seq.items[0]
    idx = pyvalue(args[0]) if args else -1
    if not isinstance(idx, int) or isinstance(idx, bool) or not -len(seq.items) <= idx < len(seq.items):
        return UNKNOWN
    return seq.items.pop(idx)


def _b_dict_items(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    d = b.self
    return Seq([Seq([Const(k), v]) for k, v in d.items.items()], "list") if isinstance(d, Dict) else UNKNOWN


def _b_dict_values(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    d = b.self
    return Seq(list(d.items.values()), "list") if isinstance(d, Dict) else UNKNOWN


def _b_dict_keys(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    d = b.self
    return Seq([Const(k) for k in d.items], "list") if isinstance(d, Dict) else UNKNOWN


def _b_dict_get(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    d = b.self
    if isinstance(d, Dict) and args:
        k = pyvalue(args[0])
        try:
            if k in d.items:
                return d.items[k]
        except TypeError:
            return UNKNOWN
        return args[1] if len(args) > 1 else Const(None)
    return UNKNOWN


def _b_dict_update(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    d = b.self
    if isinstance(d, Dict):
        if args and isinstance(args[0], Dict):
            d.items.update(args[0].items)
        d.items.update(kwargs)
    return Const(None)


def b_super_init(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """super().__init__(...) of an external base: subclasses of a container (``nn.Sequential``) keep their
    layers, subclasses of a framework layer (``class ScaledEmbedding(nn.Embedding)``) keep the layer their
    base builds."""
    inst = b.self
    if not isinstance(inst, Instance):
        return Const(None)
    containers = registry().containers
    for base in inst.cls.external_bases():
        if base in containers:
            inst.attrs["__sequential__"] = containers[base](it, args, kwargs, None)
            break
        spec = lookup_layer(base)
        if spec is not None:
            inst.attrs["__layer__"] = it.make_layer(spec, args, kwargs, None)
            break
    return Const(None)


def _b_super_forward(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """super().forward(x) / super().call(x) where the base is a framework layer."""
    inst = b.self
    layer = inst.attrs.get("__layer__") if isinstance(inst, Instance) else None
    if isinstance(layer, Layer):
        return it.apply_layer(layer, args, kwargs)
    return Tensor(UNKNOWN_SHAPE) if args else UNKNOWN


def bare_layer(qualname: str, guessed: bool = False) -> Value:
    """A layer of the framework class ``qualname`` whose constructor arguments are not known."""
    spec = lookup_layer(qualname)
    return Layer(spec, {}, guessed=guessed) if spec is not None else UNKNOWN


BUILTIN_IMPL: dict[str, MethodImpl] = {
    "len": _b_len,
    "range": _b_range,
    "int": _b_numeric(int),
    "float": _b_numeric(float),
    "bool": _b_numeric(bool),
    "round": _b_numeric(round),
    "abs": _b_numeric(abs),
    "tuple": _b_seq("tuple"),
    "list": _b_seq("list"),
    "min": _b_minmax(min),
    "max": _b_minmax(max),
    "sum": _b_sum,
    "getattr": _b_getattr,
    "setattr": _b_setattr,
    "super": _b_super,
    "enumerate": _b_enumerate,
    "zip": _b_zip,
    "map": _b_map,
    "dict": _b_dict,
    "reversed": _b_reversed,
    "slice": _b_slice,
    "isinstance": _b_isinstance,
    "print": _b_print,
    "seq.add": _b_seq_add,
    "seq.append": _b_seq_add,
    "seq.build": _b_seq_build,
    "seq.add_module": _b_seq_add_module,
    "list.append": _b_list_append,
    "list.extend": _b_list_extend,
    "list.insert": _b_list_insert,
    "list.pop": _b_list_pop,
    "dict.items": _b_dict_items,
    "dict.values": _b_dict_values,
    "dict.keys": _b_dict_keys,
    "dict.get": _b_dict_get,
    "dict.update": _b_dict_update,
    "super.__init__": b_super_init,
    "super.forward": _b_super_forward,
    "super.call": _b_super_forward,
    "super.__call__": _b_super_forward,
    "record.to_tuple": lambda it, b, args, kwargs: cast(
        Value, b.self
    ),  # indexed as the record is: None fields skipped
}
PY_BUILTINS = {n for n in BUILTIN_IMPL if "." not in n} | {
    "str",
    "set",
    "hasattr",
    "callable",
    "iter",
    "next",
    "filter",
    "sorted",
    "any",
    "all",
}
MATH: dict[str, Callable[..., Any]] = {
    "prod": math.prod,
    "sqrt": math.sqrt,
    "ceil": math.ceil,
    "floor": math.floor,
    "log2": math.log2,
    "log": math.log,
    "gcd": math.gcd,
}


def ordered_dict(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
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


def partial(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    if not args:
        return UNKNOWN
    return Partial(args[0], list(args[1:]), dict(kwargs))


def _math_call(fn: Callable[..., Any]) -> SpecialCall:
    """``math.<fn>(...)`` as a call the engine implements."""
    return lambda it, args, kwargs, node: b_math(fn)(it, None, args, kwargs)


#: callables of the standard library (and numpy's ``prod``) the engine implements: (engine, args, kwargs,
# node)
STDLIB_CALLS: dict[str, SpecialCall] = {
    "collections.OrderedDict": ordered_dict,
    "typing.OrderedDict": ordered_dict,
    "functools.partial": partial,
    **{f"math.{n}": _math_call(fn) for n, fn in MATH.items()},
    **{n: _math_call(math.prod) for n in ("numpy.prod", "np.prod")},
}
