"""The shape lattice (densecheck/shapes/lattice.py): dims, shapes, their queries and the join.

Expected values are derived from Python/numpy wherever there is a ground truth (index normalisation,
products, tuple printing); the rest asserts the semantics the module's docstrings state.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from densecheck.shapes import UNKNOWN, Shape, Sym, dim_eq, dim_product, join_dim, known

A, B = Sym("a"), Sym("b")


# --- Sym ------------------------------------------------------------------------------------------------


class TestSym:
    """A Sym is identified by the object, not by its name."""

    def test_same_name_is_a_different_dim(self):
        x, y = Sym("n"), Sym("n")
        assert x is not y
        assert x.id != y.id
        assert not dim_eq(x, y)
        assert join_dim(x, y) is None

    def test_same_object_is_the_same_dim(self):
        x = Sym("n")
        assert dim_eq(x, x)
        assert join_dim(x, x) is x

    def test_ids_increase(self):
        x, y = Sym(), Sym()
        assert y.id > x.id

    def test_repr_is_the_name(self):
        assert repr(Sym("batch")) == "batch"
        assert repr(Sym()) == "?"


# --- dim helpers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "d, expected",
    [(3, True), (0, True), (1, True), (None, False), (A, False), (True, False), (False, False), (3.0, False)],
    ids=repr,
)
def test_known(d, expected):
    """Only plain ints are known sizes (bools, floats, symbols and None are not)."""
    assert known(d) is expected


@pytest.mark.parametrize("dims", [(), (5,), (2, 3), (2, 3, 4), (2, 0, 7), (1, 1, 1, 1, 1)], ids=str)
def test_dim_product_of_known_dims(dims):
    """The product of known dims is numpy's element count (1 for no dims)."""
    assert dim_product(dims) == np.empty(dims).size == math.prod(dims)


@pytest.mark.parametrize("dims", [(None,), (2, None), (A, 3), (3, A, 4), (2, True)], ids=str)
def test_dim_product_with_an_unknown_dim_is_none(dims):
    """Any unknown dim (None, Sym, or a non-int) makes the product unknown."""
    assert dim_product(dims) is None


def test_dim_product_takes_any_iterable():
    assert dim_product(d for d in (2, 3)) == 6


@pytest.mark.parametrize(
    "a, b, eq",
    [
        (3, 3, True),
        (3, 4, False),
        (0, 0, True),
        (None, None, False),  # two unknowns are not known to be equal
        (3, None, False),
        (None, 3, False),
        (A, A, True),
        (A, B, False),
        (A, 3, False),
        (3, A, False),
        (A, None, False),
        (True, 1, False),
    ],
    ids=repr,
)
def test_dim_eq_and_join_dim(a, b, eq):
    """dim_eq: certainly equal (same int or same symbol); join_dim keeps a dim only when certainly equal."""
    assert dim_eq(a, b) is eq
    assert dim_eq(b, a) is eq
    assert join_dim(a, b) is (a if eq else None)


# --- construction ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [(5,), (2, 3), (2, 3, 4), (2, 3, 4, 5), (1, 2, 3, 4, 5)], ids=str)
def test_shape_of_normalises_in_range_channel_axes(dims):
    """Shape.of turns every in-range (incl. negative) channel axis into numpy's non-negative index."""
    for i in range(-len(dims), len(dims)):
        expected = range(len(dims))[i]
        assert Shape.of(dims, i).channel_axis == expected


def test_shape_of_examples():
    assert Shape.of((2, 3, 4), -1).channel_axis == 2
    assert Shape.of((2, 3, 4), -3).channel_axis == 0
    assert Shape.of((2, 3, 4)).channel_axis is None
    assert Shape.of((), -1).channel_axis is None  # a scalar has no channel axis
    assert Shape.of([2, 3]).dims == (2, 3)  # any sequence becomes a tuple
    s = Shape.of((2, 3), 1, explicit_layout=True, spatial=True)
    assert (s.explicit_layout, s.spatial) == (True, True)
    assert Shape.of((2, 3)).explicit_layout is False and Shape.of((2, 3)).spatial is False


@pytest.mark.xfail(
    strict=True,
    reason="Shape.of wraps an out-of-range channel axis modulo the rank (3 -> 0 on rank 3) instead of "
    "dropping it as Shape.with_dims and Shape.axis do",
)
@pytest.mark.parametrize("ca", [3, -4, 7])
def test_shape_of_out_of_range_channel_axis_is_dropped(ca):
    assert Shape.of((2, 3, 4), ca).channel_axis is None


def test_channels_first_and_last_constructors():
    assert Shape.channels_last((2, 3, 4)).channel_axis == 2
    assert Shape.channels_first((2, 3, 4)).channel_axis == 1
    assert Shape.channels_last(()).channel_axis is None
    assert Shape.channels_first((7,)).channel_axis is None  # rank 1: no channel axis after the batch


def test_unknown_shape():
    assert Shape.unknown() is UNKNOWN
    assert UNKNOWN.dims is None and UNKNOWN.channel_axis is None
    assert Shape() == UNKNOWN


def test_shape_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Shape.of((2, 3)).dims = (4,)  # type: ignore[misc]


# --- queries --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [(), (5,), (2, 3), (2, None, 4), (A, 3, 4, 5), (1, 2, 3, 4, 5)], ids=str)
def test_rank_and_last_of_known_rank(dims):
    """rank is the number of axes (numpy's ndim); last is the last dim (kept by identity), None for rank 0."""
    s = Shape.of(dims)
    assert s.rank == len(dims)
    if all(known(d) for d in dims):
        assert s.rank == np.empty(dims).ndim
    if dims:
        assert s.last is dims[-1]
    else:
        assert s.last is None


def test_rank_and_last_of_unknown_rank():
    assert UNKNOWN.rank is None
    assert UNKNOWN.last is None


@pytest.mark.parametrize("rank", [0, 1, 2, 3, 5])
def test_axis_normalises_like_python_indexing(rank):
    """axis(i) is Python's index normalisation over the axes; None when out of range."""
    s = Shape.of((2,) * rank)
    for i in range(-rank - 3, rank + 3):
        try:
            expected = range(rank)[i]
        except IndexError:
            expected = None
        assert s.axis(i) == expected, i


@pytest.mark.parametrize("i", [-2, -1, 0, 1, 2])
def test_axis_of_unknown_rank_is_none(i):
    assert UNKNOWN.axis(i) is None


@pytest.mark.parametrize(
    "shape, expected",
    [
        (Shape.of((2, 3, 4), -1), True),
        (Shape.of((2, 3, 4), 1), False),
        (Shape.of((2, 3, 4), 0), False),
        (Shape.of((7,), 0), True),
        (Shape.of((2, 3, 4)), None),  # layout unknown
        (UNKNOWN, None),  # rank unknown
        (Shape(None, 1), None),
    ],
    ids=str,
)
def test_channels_are_last(shape, expected):
    assert shape.channels_are_last is expected


# --- derived shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("new", [10, None, A])
def test_with_last_replaces_only_the_last_dim(new):
    s = Shape.of((B, 3, 4), 1, explicit_layout=True, spatial=True)
    out = s.with_last(new)
    assert out.dims[:2] == (B, 3) and out.dims[0] is B
    assert out.dims[-1] is new
    assert (out.channel_axis, out.explicit_layout, out.spatial) == (1, True, True)
    assert s.dims == (B, 3, 4)  # the original is untouched


def test_with_last_of_unknown_rank_is_unchanged():
    assert UNKNOWN.with_last(5) is UNKNOWN


class TestWithDims:
    """with_dims: new dims; the channel axis is kept ("same") if it still exists, or set (may be negative)."""

    base = Shape.of((2, 3, 4, 5), 3, explicit_layout=True, spatial=True)

    def test_same_channel_axis_kept_in_range(self):
        out = self.base.with_dims((2, 3, 4, 6))
        assert out.dims == (2, 3, 4, 6)
        assert out.channel_axis == 3
        assert out.explicit_layout is True
        assert out.spatial is True  # same rank: still a feature map

    def test_same_channel_axis_dropped_when_out_of_range(self):
        out = self.base.with_dims((2, 60))
        assert out.dims == (2, 60)
        assert out.channel_axis is None
        assert out.spatial is False  # rank changed

    @pytest.mark.parametrize("ca", [-1, -2, 0, 1])
    def test_given_channel_axis_is_normalised(self, ca):
        assert self.base.with_dims((2, 60), ca).channel_axis == range(2)[ca]

    @pytest.mark.parametrize("ca", [2, -3])
    def test_given_channel_axis_out_of_range_is_dropped(self, ca):
        assert self.base.with_dims((2, 60), ca).channel_axis is None

    def test_channel_axis_none_clears(self):
        assert self.base.with_dims((2, 3, 4, 5), None).channel_axis is None

    def test_explicit_layout_override(self):
        assert self.base.with_dims((2, 3), explicit_layout=False).explicit_layout is False
        assert Shape.of((2, 3)).with_dims((2, 3), explicit_layout=True).explicit_layout is True

    def test_empty_dims(self):
        out = self.base.with_dims(())
        assert out.dims == () and out.channel_axis is None

    def test_syms_kept(self):
        out = self.base.with_dims((A, B))
        assert out.dims[0] is A and out.dims[1] is B

    def test_from_unknown_rank(self):
        out = UNKNOWN.with_dims((2, 3), -1)
        assert out.dims == (2, 3) and out.channel_axis == 1
        assert out.spatial is False


@pytest.mark.parametrize(
    "dims", [(), (5,), (2, 3), (2, 3, 4), (1, 2, 3, 4, 5)], ids=lambda d: f"rank{len(d)}"
)
def test_json_and_str_of_known_dims(dims):
    """A fully known shape prints like the Python tuple of numpy's .shape and serialises as its list."""
    s = Shape.of(dims)
    assert str(s) == str(np.empty(dims).shape) == str(tuple(dims))
    assert s.json() == list(np.empty(dims).shape)


@pytest.mark.parametrize(
    "dims, text, js",
    [
        ((None,), "(None,)", [None]),
        ((A,), "(None,)", [None]),
        ((2, None, A, 4), "(2, None, None, 4)", [2, None, None, 4]),
    ],
    ids=str,
)
def test_json_and_str_with_unknown_dims(dims, text, js):
    """Unknown dims (None or Sym) are None in JSON and print as None."""
    s = Shape.of(dims)
    assert str(s) == text
    assert s.json() == js


def test_json_and_str_of_unknown_rank():
    assert UNKNOWN.json() is None
    assert str(UNKNOWN) == "(?)"


# --- join -----------------------------------------------------------------------------------------------


class TestJoin:
    """Shape.join is the least upper bound: only what is true of both shapes survives."""

    def test_same_object(self):
        s = Shape.of((2, 3), 1)
        assert s.join(s) is s

    def test_equal_shapes(self):
        s, t = Shape.of((2, 3, A), 2, True, True), Shape.of((2, 3, A), 2, True, True)
        assert s is not t
        assert s.join(t) == s

    @pytest.mark.parametrize(
        "x, y, expected",
        [
            ((2, 3), (2, 4), (2, None)),
            ((2, 3, 4), (5, 3, 6), (None, 3, None)),
            ((2, None), (2, 3), (2, None)),
            ((None, None), (None, None), (None, None)),
            ((), (), ()),
        ],
        ids=str,
    )
    def test_different_known_dims_become_none(self, x, y, expected):
        assert Shape.of(x).join(Shape.of(y)).dims == expected
        assert Shape.of(y).join(Shape.of(x)).dims == expected

    @pytest.mark.parametrize("x, y", [((2, 3), (2, 3, 1)), ((5,), ()), ((2, 3, 4), (2, 3))], ids=str)
    def test_different_ranks_give_unknown(self, x, y):
        assert Shape.of(x).join(Shape.of(y)) is UNKNOWN
        assert Shape.of(y).join(Shape.of(x)) is UNKNOWN

    @pytest.mark.parametrize("x", [(), (2,), (2, 3, 4)], ids=str)
    def test_unknown_rank_gives_unknown(self, x):
        assert Shape.of(x).join(UNKNOWN) is UNKNOWN
        assert UNKNOWN.join(Shape.of(x)) is UNKNOWN
        assert UNKNOWN.join(UNKNOWN) is UNKNOWN

    def test_shared_syms_kept_by_identity(self):
        a2 = Sym("a")  # same name, different dim
        out = Shape.of((A, B, A, 3)).join(Shape.of((A, B, a2, 3)))
        assert out.dims[0] is A and out.dims[1] is B
        assert out.dims[2] is None
        assert out.dims[3] == 3

    def test_sym_and_int_become_none(self):
        assert Shape.of((A, 3)).join(Shape.of((4, 3))).dims == (None, 3)

    @pytest.mark.parametrize("ca1, ca2, expected", [(1, 1, 1), (1, 2, None), (None, 2, None), (-1, 2, 2)])
    def test_channel_axis_kept_only_when_equal(self, ca1, ca2, expected):
        assert Shape.of((2, 3, 4), ca1).join(Shape.of((2, 3, 4), ca2)).channel_axis == expected

    @pytest.mark.parametrize("f1, f2", [(True, True), (True, False), (False, True), (False, False)])
    def test_flags_need_both(self, f1, f2):
        out = Shape.of((2, 3), 1, explicit_layout=f1, spatial=f2).join(
            Shape.of((2, 3), 1, explicit_layout=f2, spatial=f1)
        )
        assert out.explicit_layout is (f1 and f2)
        assert out.spatial is (f1 and f2)
