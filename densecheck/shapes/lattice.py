"""Abstract shape values: the lattice the analysis computes over.

A :class:`Shape` is what densecheck knows about a tensor: its rank (or that the rank is unknown), each
dimension (a known int, a symbol standing for an unknown-but-fixed size such as ``x.size(0)``, or ``None`` =
unknown), which axis holds the features/channels, and whether that layout was set deliberately
(``permute``/``transpose``).

The transfer functions that change shapes live beside it, in :mod:`densecheck.shapes.ops`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TypeGuard

_sym_ids = itertools.count(1)


class Sym:
    """A dimension whose size is unknown but which is the same wherever this object appears.

    ``b, c, h, w = x.shape`` binds four symbols; ``x.view(b, c, h * w)`` then keeps ``b`` and ``c``
    identifiable (so the channel axis can be followed) while ``h * w`` is simply unknown.
    """

    __slots__ = ("name", "id")

    def __init__(self, name: str = "?") -> None:
        self.name = name
        self.id = next(_sym_ids)

    def __repr__(self) -> str:
        return self.name


Dim = int | Sym | None
"""int: known size; Sym: unknown size with identity; None: unknown."""


def known(d: object) -> TypeGuard[int]:
    return isinstance(d, int) and not isinstance(d, bool)


def dim_product(dims: Iterable[object]) -> int | None:
    out = 1
    for d in dims:
        if not known(d):
            return None
        out *= d
    return out


def dim_eq(a: object, b: object) -> bool:
    """True when the two dims are certainly equal (same int, or the same symbol)."""
    if known(a) and known(b):
        return a == b
    return a is not None and a is b


def join_dim(a: Dim, b: Dim) -> Dim:
    return a if dim_eq(a, b) else None


@dataclass(frozen=True)
class Shape:
    """What is known about a tensor's shape.

    dims: all axes including the batch axis, or ``None`` when the rank is unknown.
    channel_axis: non-negative index of the feature/channel axis, or ``None`` when the layout is unknown.
    explicit_layout: the channel axis was put where it is by an explicit permute/transpose/rearrange.
    spatial: the tensor is a feature map: its non-batch, non-channel axes are spatial positions produced by a
        convolution, pooling or an image input (not, say, the (batch, L, L, dim) pair map of a protein model).
    declared: the non-batch axes are what a model's declared input said one sample is (``Input((3, 2))``), and
        nothing that reads an axis as a sequence or a feature map has touched them since: the axes before the
        last are part of one sample, not positions the model meant to keep. Kept only by what keeps the
        other axes as they are (Dense/Linear, activations, dropout).
    """

    dims: tuple[Dim, ...] | None = None
    channel_axis: int | None = None
    explicit_layout: bool = False
    spatial: bool = False
    declared: bool = False

    # -- construction -------------------------------------------------------------------------------------
    @staticmethod
    def unknown() -> Shape:
        return UNKNOWN

    @staticmethod
    def of(
        dims: Sequence[Dim],
        channel_axis: int | None = None,
        explicit_layout: bool = False,
        spatial: bool = False,
    ) -> Shape:
        dims = tuple(dims)
        if channel_axis is not None:
            channel_axis = channel_axis % len(dims) if dims else None
        return Shape(dims, channel_axis, explicit_layout, spatial)

    @staticmethod
    def channels_last(dims: Sequence[Dim]) -> Shape:
        return Shape.of(dims, -1 if dims else None)

    @staticmethod
    def channels_first(dims: Sequence[Dim]) -> Shape:
        return Shape.of(dims, 1 if len(dims) > 1 else None)

    # -- queries ------------------------------------------------------------------------------------------
    @property
    def rank(self) -> int | None:
        return None if self.dims is None else len(self.dims)

    @property
    def last(self) -> Dim:
        return self.dims[-1] if self.dims else None

    def axis(self, i: int) -> int | None:
        """Normalise a possibly negative axis index; None if out of range or rank unknown."""
        r = self.rank
        if r is None or not -r <= i < r:
            return None
        return i % r

    @property
    def deliberate_layout(self) -> bool:
        """The channels were moved off their place on purpose, on a tensor that is not a feature map: the
        (batch, dim, tokens) of MLP-Mixer's token mixing. A feature map's channels put back where its
        convolution had them (``h.transpose(1, 2)`` ... ``.transpose(1, 2)``) are not: its spatial axes are
        still spatial."""
        return self.explicit_layout and not self.spatial

    @property
    def channels_are_last(self) -> bool | None:
        if self.dims is None or self.channel_axis is None:
            return None
        return self.channel_axis == len(self.dims) - 1

    def with_dims(
        self,
        dims: Sequence[Dim],
        channel_axis: int | None | Literal["same"] = "same",
        explicit_layout: bool | None = None,
    ) -> Shape:
        ca = self.channel_axis if channel_axis == "same" else channel_axis
        dims = tuple(dims)
        if ca is not None:
            ca = ca % len(dims) if dims and -len(dims) <= ca < len(dims) else None
        el = self.explicit_layout if explicit_layout is None else explicit_layout
        return Shape(dims, ca, el, self.spatial and len(dims) == len(self.dims or ()))

    def with_last(self, d: Dim) -> Shape:
        if self.dims is None:
            return self
        return replace(self, dims=self.dims[:-1] + (d,))

    def json(self) -> list[int | None] | None:
        if self.dims is None:
            return None
        return [d if known(d) else None for d in self.dims]

    def __str__(self) -> str:
        if self.dims is None:
            return "(?)"
        parts = ["None" if not known(d) else str(d) for d in self.dims]
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

    def join(self, other: Shape) -> Shape:
        """Least upper bound: what is true of both."""
        if self is other:
            return self
        if self.dims is None or other.dims is None or len(self.dims) != len(other.dims):
            return UNKNOWN
        ca = self.channel_axis if self.channel_axis == other.channel_axis else None
        return Shape(
            tuple(join_dim(a, b) for a, b in zip(self.dims, other.dims)),
            ca,
            self.explicit_layout and other.explicit_layout,
            self.spatial and other.spatial,
            self.declared and other.declared,
        )


UNKNOWN = Shape(None, None, False)


def dims_of(s: Shape) -> tuple[Dim, ...]:
    """``s.dims`` of a shape whose rank the caller has checked is known (for the type checker)."""
    assert s.dims is not None
    return s.dims


# ---------------------------------------------------------------------------------------------------------
# Transfer functions shared by the framework tables
# ---------------------------------------------------------------------------------------------------------
