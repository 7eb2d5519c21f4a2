"""The interpreter's bounds and its control-flow signals: steps, depth, unrolling, integer size, the frame."""

from __future__ import annotations

from densecheck.engine.values import (
    Function,
    Scope,
    Value,
)

MAX_DEPTH = 24
MAX_STEPS = 400_000
MAX_UNROLL = 32
#: Constant folding refuses integers beyond this (no shape dim is anywhere near it): a bigger one is unknown,
# so
#: ``s = s * s`` chains, ``2 ** 2 ** 30`` or ``math.prod`` of huge values cost nothing (hostile-input budget)
MAX_INT = 10**18
MAX_INT_DIGITS = 19
#: The longest list/tuple value the interpreter keeps item by item (``s = s + s`` in a loop doubles it)
MAX_ITEMS = 4096
MAX_SHAPES_PER_SITE = 16


class Budget(Exception):
    """The file is too big/deep to finish within the step budget: report what was found so far."""


class Returned(Exception):
    pass


#: a frame's state at one point of a path: its variables and, in a method, its instance's attributes
State = tuple[dict[str, Value], dict[str, Value] | None]


class LoopExits:
    """The states in which the paths through one loop body left it: by ``break`` (to after the loop) and by
    ``continue`` (to its next iteration)."""

    __slots__ = ("breaks", "continues")

    def __init__(self) -> None:
        self.breaks: list[State] = []
        self.continues: list[State] = []


class Frame:
    __slots__ = ("scope", "returns", "self_value", "func", "loops", "rank_of")

    def __init__(self, scope: Scope, self_value: Value | None = None, func: Function | None = None) -> None:
        self.scope = scope
        self.returns: list[Value] = []
        self.self_value = self_value
        self.func = func
        self.loops: list[LoopExits] = []  # the loops being run, innermost last
        self.rank_of: dict[str, str] = {}  # ``nd = x.ndim``: nd -> x (a test of nd is a test of x's rank)


#: how many project modules one file's analysis may follow imports into (bounds the cost per file)
MAX_FOLLOWED_MODULES = 16
#: a dict read with a key not known statically is one of its values when it has at most this many
MAX_DICT_JOIN = 8
#: steps a call of another file's function may take before it counts as unknown
MAX_FOLLOWED_STEPS = 2_000
