"""Small helpers over abstract values shared by the evaluator's modules."""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable
from typing import Any, TypeGuard, TypeVar, cast

import libcst as cst

from densecheck.engine.sites import ModuleContext
from densecheck.engine.values import (
    UNKNOWN,
    BoundMethod,
    ClassV,
    Const,
    DimV,
    Function,
    Instance,
    KerasModel,
    Layer,
    Ref,
    Scope,
    Seq,
    Sequential,
    Tensor,
    Union,
    Value,
)
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, Sym, known

BINOPS = {
    cst.Add: operator.add,
    cst.Subtract: operator.sub,
    cst.Multiply: operator.mul,
    cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv,
    cst.Modulo: operator.mod,
    cst.Power: operator.pow,
    cst.LeftShift: operator.lshift,
    cst.RightShift: operator.rshift,
    cst.BitOr: operator.or_,
    cst.BitAnd: operator.and_,
    cst.BitXor: operator.xor,
}
CMPOPS = {
    cst.Equal: operator.eq,
    cst.NotEqual: operator.ne,
    cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le,
    cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
}


class GlobalRef(Value):
    """A name declared ``global`` in a function: it lives in the module scope."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class VarArgs(Value):
    """``*args`` whose contents are unknown."""

    __slots__ = ("value",)

    def __init__(self, value: Value) -> None:
        self.value = value


def drop_first_axis(s: Shape) -> Shape:
    """The shape of one item when iterating over (or unpacking) a tensor along its first axis."""
    if not s.rank:
        return UNKNOWN_SHAPE
    assert s.dims is not None  # the rank is known
    ca = s.channel_axis - 1 if s.channel_axis is not None and s.channel_axis > 0 else None
    return Shape(s.dims[1:], ca, s.explicit_layout)


def feasible(opts: list[Value]) -> list[Value]:
    """Drop ``None`` from alternatives used as a tensor: that path would raise at run time, so it does not
    exist."""
    rest = [o for o in opts if not (isinstance(o, Const) and o.value is None)]
    return rest or opts


def options_seq(x: Value) -> list[Value]:
    if isinstance(x, Seq):
        return list(x.items)
    return [x]


def sig(v: Value) -> Hashable | None:
    """A hashable summary of an abstract value for the memo tables; None when it must not be memoised."""
    if isinstance(v, Tensor):
        s = v.shape
        return (
            "T",
            tuple(d if known(d) else (id(d) if isinstance(d, Sym) else None) for d in s.dims)
            if s.dims is not None
            else None,
            s.channel_axis,
            s.explicit_layout,
        )
    if isinstance(v, Const):
        try:
            hash(v.value)
        except TypeError:
            return None
        return ("C", type(v.value).__name__, v.value)
    if v is UNKNOWN:
        return "U"
    if isinstance(v, Seq):
        if v.kind == "list":
            return None  # mutable: a callee may append to it
        items = tuple(sig(x) for x in v.items)
        return None if any(i is None for i in items) else ("S", v.repeated, items)
    if isinstance(v, (Instance, Layer, Sequential, Function, ClassV, Ref, DimV, BoundMethod, KerasModel)):
        return ("O", id(v))
    return None


def signature(head: tuple[Any, ...], args: list[Value], kwargs: dict[str, Value]) -> tuple[Any, ...] | None:
    parts: list[Hashable] = []
    for a in args:
        s = sig(a)
        if s is None:
            return None
        parts.append(s)
    for k in sorted(kwargs):
        s = sig(kwargs[k])
        if s is None:
            return None
        parts.append((k, s))
    return tuple(id(h) if not isinstance(h, bool) else h for h in head) + tuple(parts)


_T = TypeVar("_T")


def safe(rule: Callable[..., _T] | None, *a: Any) -> _T | None:
    """``rule(*a)``, None when it fails (or there is no rule)."""
    try:
        if rule is None:  # calling it would raise TypeError: the same None
            return None
        return rule(*a)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, KeyError, AttributeError, OverflowError):
        return None


def is_one(v: Value) -> bool:
    return isinstance(v, Const) and v.value == 1


def has_sym(v: Any) -> bool:
    if isinstance(v, Sym):
        return True
    if isinstance(v, tuple):
        return any(has_sym(x) for x in v)
    return False


def strip_syms(v: Any) -> Any:
    if isinstance(v, Sym):
        return None
    if isinstance(v, tuple):
        return tuple(strip_syms(x) for x in v)
    return v


def is_none(v: Value) -> bool:
    return isinstance(v, Const) and v.value is None


def is_tuple(v: Value) -> TypeGuard[Seq]:
    return isinstance(v, Seq) and v.kind == "tuple" and not v.repeated


def may_be_none(v: Value) -> bool:
    return isinstance(v, Union) and any(is_none(o) for o in v.options)


def module_of(scope: Scope) -> ModuleContext:
    while scope.parent is not None:
        scope = scope.parent
    return cast(ModuleContext, scope.module)  # the root scope is a module's globals
