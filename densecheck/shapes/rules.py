"""The op family as shape rules: each factory takes the names a framework gives the arguments.

A plugin's tables pair a name with a rule: ``"torch.flatten": op("input start_dim end_dim", flatten("input",
"start_dim", "end_dim"))``, ``"keras.ops.reshape": op("x shape", reshape("x", "shape", scalar=False))``. The
shape arithmetic is :mod:`densecheck.shapes.ops`; the factories here only read the bound arguments
(:class:`Args`) by the framework's names, so torch, Keras and any new framework share one implementation of
each op.

Function rules take ``Args`` and return a Shape, a tuple of outputs, or None (unknown); layer rules take the
input Shape and the constructor's ``Args``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from densecheck.shapes import ops
from densecheck.shapes.lattice import UNKNOWN, Shape, known


class Args:
    """Bound arguments of a layer constructor or op call, as the rules see them.

    ``a[name]`` is the statically known Python value, or ``None`` when unknown/absent (defaults are applied).
    ``a.shape(name)`` is the Shape of a tensor argument (or None), ``a.shapes(name)`` a list of Shapes for a
    sequence-of-tensors argument.
    """

    def __init__(
        self, values: dict[str, Any], shapes: dict[str, Any] | None = None, star: list[Any] | None = None
    ) -> None:
        self._values = values
        self._shapes = shapes or {}
        self.star = star or []  # extra positional values (e.g. x.view(2, 3, 4))

    def __getitem__(self, name: str) -> Any:
        return self._values.get(name)

    def __contains__(self, name: str) -> bool:
        return self._values.get(name) is not None

    def values(self) -> dict[str, Any]:
        """Every bound value by name (a layer's ``**axes_lengths``)."""
        return dict(self._values)

    def get(self, name: str, default: Any = None) -> Any:
        v = self._values.get(name)
        return default if v is None else v

    def shape(self, name: str) -> Shape | None:
        s = self._shapes.get(name)
        return s if isinstance(s, Shape) else None

    def shapes(self, name: str) -> list[Shape] | None:
        s = self._shapes.get(name)
        return s if isinstance(s, list) else None


FunctionRule = Callable[[Args], Any]


# --- layer rules
# ------------------------------------------------------------------------------------------------


def same(s: Shape, a: Args) -> Shape:
    """Shape-preserving layers (activations, dropout, normalisation)."""
    return s


def on_last_axis(out_arg: str) -> Callable[[Shape, Args], Shape]:
    """Dense / Linear: the last axis becomes ``a[out_arg]`` features, every other axis is kept (that is the
    point)."""

    def rule(s: Shape, a: Args) -> Shape:
        if s.rank is None:
            return s
        if s.rank == 0:
            return Shape()
        if s.channel_axis is not None and not s.channels_are_last and not s.deliberate_layout:
            # it mixed a spatial axis (DC102): what comes out has no layout a later finding could name (its
            # last axis holds this layer's outputs, not positions), so nothing downstream follows on from it
            return Shape(tuple(s.dims or ())[:-1] + (a[out_arg],))
        return s.with_last(a[out_arg])

    return rule


# --- function rules
# ---------------------------------------------------------------------------------------------


def _given_but_unknown(a: Args, name: str) -> bool:
    """The argument was passed, but its value is not known statically."""
    return name in a._values and a._values[name] is None


def identity(x: str) -> FunctionRule:
    """Element-wise functions: the shape of ``x``."""
    return lambda a: a.shape(x) or UNKNOWN


def flatten(
    x: str, start: str | None = None, end: str | None = None, default_start: int = 0, default_end: int = -1
) -> FunctionRule:
    """``torch.flatten(input, start_dim, end_dim)``; ``keras.ops.flatten(x)`` keeps the batch
    (``default_start=1``)."""

    def rule(a: Args) -> Shape:
        if any(name and _given_but_unknown(a, name) for name in (start, end)):
            return UNKNOWN  # which axes are flattened is not known
        lo = a.get(start, default_start) if start else default_start
        hi = a.get(end, default_end) if end else default_end
        return ops.flatten(a.shape(x) or UNKNOWN, lo, hi)

    return rule


def reshape(x: str, shape: str, scalar: bool = True) -> FunctionRule:
    """``reshape(x, shape)`` with ``-1``; ``scalar``: a single int is a 1-d shape (``x.view(-1)``)."""

    def rule(a: Args) -> Shape:
        new = a[shape]
        if not isinstance(new, (tuple, list)):
            return ops.reshape(a.shape(x) or UNKNOWN, [new]) if scalar and new is not None else UNKNOWN
        return ops.reshape(a.shape(x) or UNKNOWN, list(new))

    return rule


def permute(x: str, axes: str, none_reverses: bool = False) -> FunctionRule:
    """``permute(x, dims)`` / ``transpose(x, perm)``; ``none_reverses``: no permutation reverses every
    axis."""

    def rule(a: Args) -> Shape:
        order, s = a[axes], a.shape(x) or UNKNOWN
        if order is None and none_reverses:
            return ops.permute(s, tuple(reversed(range(s.rank)))) if s.rank is not None else UNKNOWN
        if not isinstance(order, (tuple, list)) or any(not isinstance(d, int) for d in order):
            return UNKNOWN
        return ops.permute(s, order)

    return rule


def swapaxes(x: str, first: str, second: str) -> FunctionRule:
    """``transpose(x, dim0, dim1)``: two axes swapped; unknown axes keep the rank only."""

    def rule(a: Args) -> Shape:
        d0, d1, s = a[first], a[second], a.shape(x) or UNKNOWN
        if not isinstance(d0, int) or not isinstance(d1, int):
            return Shape.of((None,) * s.rank) if s.rank is not None else UNKNOWN
        return ops.transpose(s, d0, d1)

    return rule


def reduce(x: str, axes: str, keep: str) -> FunctionRule:
    """``mean(x, dim, keepdim)`` and every reduction: no axes reduce everything; axes given but not known
    statically give an unknown shape."""

    def rule(a: Args) -> Shape:
        if _given_but_unknown(a, keep):
            return UNKNOWN  # whether the reduced axes are kept is not known
        axis, keepdims, s = a[axes], bool(a.get(keep, False)), a.shape(x) or UNKNOWN
        if axis is None:
            return UNKNOWN if _given_but_unknown(a, axes) else ops.reduce_axes(s, None, keepdims)
        dims = axis if isinstance(axis, (tuple, list)) else (axis,)
        if any(not isinstance(d, int) for d in dims):
            return UNKNOWN
        return ops.reduce_axes(s, dims, keepdims)

    return rule


def squeeze(x: str, axis: str) -> FunctionRule:
    """``squeeze(x, axis)``: one axis, several (a tuple), or every size-1 axis (none given)."""

    def rule(a: Args) -> Shape:
        if _given_but_unknown(a, axis):
            return UNKNOWN  # squeezing an axis not known statically: not every size-1 axis
        dim, s = a[axis], a.shape(x) or UNKNOWN
        if isinstance(dim, (tuple, list)):
            for d in sorted((cast(int, s.axis(i)) for i in dim if s.axis(i) is not None), reverse=True):
                s = ops.squeeze(s, d)
            return s
        return ops.squeeze(s, dim if isinstance(dim, int) else None)

    return rule


def unsqueeze(x: str, axis: str) -> FunctionRule:
    """``unsqueeze(x, dim)`` / ``expand_dims(x, axis)``."""

    def rule(a: Args) -> Shape:
        dim = a[axis]
        return ops.unsqueeze(a.shape(x) or UNKNOWN, dim) if isinstance(dim, int) else UNKNOWN

    return rule


def matmul(x: str, y: str) -> FunctionRule:
    """``matmul(x, y)`` with numpy's rules (:func:`densecheck.shapes.ops.matmul`)."""

    def rule(a: Args) -> Shape:
        left, right = a.shape(x), a.shape(y)
        return ops.matmul(left, right) if left is not None and right is not None else UNKNOWN

    return rule


def joining(combine: Callable[[list[Shape], Any], Shape], seq: str, axis: str) -> FunctionRule:
    """cat/concat/stack-style functions: ``combine(shapes of the sequence argument seq, a[axis])``."""

    def rule(a: Args) -> Shape:
        shapes = a.shapes(seq)
        if not shapes or _given_but_unknown(a, axis):
            return Shape()  # the operands, or the axis they are joined along, not known
        return combine(shapes, a.get(axis, 0))

    return rule


def concat(seq: str, axis: str) -> FunctionRule:
    return joining(ops.concat, seq, axis)


def stack(seq: str, axis: str) -> FunctionRule:
    return joining(ops.stack, seq, axis)


def splitting(x: str, sections: str, axis: str, default_axis: int = 0, count: bool = False) -> FunctionRule:
    """``split(x, n, axis)`` / ``chunk``: a tuple of tensors of ``x``'s rank (``("repeat", piece, n)``: ``n``
    pieces when ``sections`` is an int, else an unknown number). ``count``: ``n`` is the number of equal
    pieces (numpy, Keras, TensorFlow), so a piece's split axis is the n-th of it; otherwise its size along the
    axis is unknown."""

    def rule(a: Args) -> Shape | tuple[str, Shape, int | None]:
        s = a.shape(x) or UNKNOWN
        if s.rank is None:
            return UNKNOWN
        assert s.dims is not None  # the rank is known
        d = s.axis(a.get(axis, default_axis))
        n = a[sections]
        listed = isinstance(n, (list, tuple))
        # a list: torch's sizes (one piece each), numpy's / TensorFlow's split points (one piece more)
        if listed:
            n = len(n) + (1 if count else 0)
        n = n if isinstance(n, int) and not isinstance(n, bool) else None
        if d is None:
            return ("repeat", UNKNOWN, n)
        size = s.dims[d]
        part = size // n if count and n and not listed and known(size) and size % n == 0 else None
        return ("repeat", s.with_dims(tuple(part if i == d else x for i, x in enumerate(s.dims))), n)

    return rule


def broadcasting(*names: str) -> FunctionRule:
    """Element-wise functions (add, mul, ``where(condition, x, y)``): the tensor arguments broadcast; an
    argument that is no tensor (a scalar) takes no part, so one tensor gives its own shape."""

    def rule(a: Args) -> Shape:
        shapes = [s for s in (a.shape(n) for n in names) if s is not None]
        if not shapes:
            return UNKNOWN
        out = shapes[0]
        for s in shapes[1:]:
            out = ops.broadcast(out, s)
        return out

    return rule
