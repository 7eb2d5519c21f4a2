"""The numpy-style op family (densecheck/shapes/ops.py) and its rule factories (densecheck/shapes/rules.py).

Every expected concrete shape comes from numpy or torch: the test builds ``numpy.zeros(dims)`` (or
``torch.empty(dims)``) operands, applies the real op and compares its ``.shape`` with the densecheck result's
``.dims``. Where densecheck cannot know a size (an unknown rank, a ``None`` dim), the result is checked to be
*sound*: it may leave things unknown, but every rank and size it claims must hold for every concrete input the
unknown could stand for.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from densecheck.shapes import (
    UNKNOWN,
    Shape,
    Sym,
    broadcast,
    concat,
    conv_out,
    flatten,
    known,
    matmul,
    permute,
    pool_out_ceil,
    reduce_axes,
    reshape,
    rules,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from densecheck.shapes.rules import Args

A, B, C = Sym("a"), Sym("b"), Sym("c")

#: values an unknown (None) dim is tried with when checking soundness
FILL = (1, 2, 3, 5)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def arr(dims):
    return np.zeros(dims, dtype=np.float32)


def S(dims, ca=None):
    return Shape.of(dims, ca)


def fillings(dims):
    """Every concrete version of ``dims`` with each None replaced by a value from FILL."""
    slots = [FILL if d is None else (d,) for d in dims]
    return [tuple(c) for c in itertools.product(*slots)]


def outcomes(np_op, *operands):
    """numpy's result shapes for every concrete filling of the operands' None dims (invalid ones skipped)."""
    out = set()
    for concrete in itertools.product(*(fillings(d) for d in operands)):
        try:
            out.add(np_op(*(arr(c) for c in concrete)).shape)
        except (ValueError, IndexError):
            pass
    assert out, "no filling is valid: the case is wrong"
    return out


def assert_sound(result, possible):
    """``result`` claims nothing that fails for one of the ``possible`` concrete shapes."""
    if result.dims is None:
        return
    for p in possible:
        assert len(p) == len(result.dims), f"{result} claims rank {len(result.dims)}, numpy gives {p}"
        for i, d in enumerate(result.dims):
            if known(d):
                assert d == p[i], f"{result} claims axis {i} == {d}, numpy gives {p}"


def ids(v):
    return str(v).replace(" ", "")


# ---------------------------------------------------------------------------------------------------------
# flatten
# ---------------------------------------------------------------------------------------------------------

SHAPES_1_TO_5 = [(5,), (2, 3), (2, 3, 4), (2, 3, 1, 5), (1, 2, 3, 2, 2)]
FLATTEN_CASES = [
    (dims, s, e)
    for dims in SHAPES_1_TO_5
    for s in range(-len(dims), len(dims))
    for e in range(-len(dims), len(dims))
    if s % len(dims) <= e % len(dims)
]


@pytest.mark.torch
@pytest.mark.parametrize("dims", SHAPES_1_TO_5, ids=ids)
def test_flatten_matches_torch(torch, dims):
    """flatten(start, end) over every valid (incl. negative) pair of axes, ranks 1-5."""
    wrong = []
    for _, start, end in (c for c in FLATTEN_CASES if c[0] == dims):
        expected = tuple(torch.flatten(torch.empty(dims), start, end).shape)
        got = flatten(S(dims), start, end).dims
        if got != expected:
            wrong.append(((start, end), got, expected))
    assert not wrong


@pytest.mark.torch
def test_flatten_scalar_and_default(torch):
    assert flatten(S(()), 0, -1).dims == tuple(torch.flatten(torch.empty(())).shape)
    assert flatten(S((2, 3, 4, 5))).dims == tuple(torch.nn.Flatten()(torch.empty(2, 3, 4, 5)).shape)


@pytest.mark.parametrize(
    "ca, start, end, expected_ca",
    [(3, 1, -1, 1), (1, 2, -1, 1), (3, 1, 2, 2), (0, 1, -1, 0), (2, 1, 2, 1), (None, 2, -1, None)],
)
def test_flatten_follows_the_channel_axis(ca, start, end, expected_ca):
    """The channel axis moves to the merged axis (inside the range) or shifts left (after it)."""
    assert flatten(S((2, 3, 4, 5), ca), start, end).channel_axis == expected_ca


def test_flatten_to_two_axes_is_batch_features():
    assert flatten(S((2, 3, 4)), 1).channel_axis == 1


def torch_flatten_outcomes(torch, dims_list, start, end):
    """torch.flatten's result shapes for the concrete inputs that it accepts."""
    out = set()
    for dims in dims_list:
        try:
            out.add(tuple(torch.flatten(torch.empty(dims), start, end).shape))
        except (IndexError, RuntimeError):
            pass
    return out


@pytest.mark.torch
@pytest.mark.parametrize(
    "start, end, expected",
    [(1, -1, (None, None)), (0, -1, (None,)), (2, -1, None), (0, 1, None), (1, 2, None)],
)
def test_flatten_of_unknown_rank(torch, start, end, expected):
    """flatten(1) / flatten(0) of any rank give (batch, features) / (n,); other ranges are unknown."""
    out = flatten(UNKNOWN, start, end)
    assert out.dims == expected
    assert_sound(out, torch_flatten_outcomes(torch, [(2,) * r for r in range(0, 6)], start, end))


@pytest.mark.torch
@pytest.mark.parametrize(
    "dims, start, expected",
    [((2, None, 4), 1, (2, None)), ((2, None, 4), 2, (2, None, 4)), ((None, 3, 4), 1, (None, 12))],
    ids=ids,
)
def test_flatten_with_none_dims(torch, dims, start, expected):
    """A None dim makes the merged axis unknown, and is kept where it is not merged."""
    out = flatten(S(dims), start)
    assert out.dims == expected
    assert_sound(out, torch_flatten_outcomes(torch, fillings(dims), start, -1))


def test_flatten_keeps_syms_outside_the_range():
    out = flatten(S((A, B, 3, 4)), 2)
    assert out.dims[0] is A and out.dims[1] is B and out.dims[2] == 12
    assert flatten(S((A, B, 3)), 1).dims[1] is None


# ---------------------------------------------------------------------------------------------------------
# permute / transpose
# ---------------------------------------------------------------------------------------------------------

SHAPES_0_TO_5 = [(), (5,), (2, 3), (2, 3, 4), (2, 3, 4, 5), (1, 2, 3, 4, 5)]
PERMUTE_CASES = [(d, p) for d in SHAPES_0_TO_5[:5] for p in itertools.permutations(range(len(d)))] + [
    ((2, 3, 4), (-1, 0, -2)),
    ((2, 3, 4, 5), (0, -1, 1, -2)),
    ((1, 2, 3, 4, 5), (4, 0, 3, 1, 2)),
    ((1, 2, 3, 4, 5), (-1, -2, -3, -4, -5)),
]


@pytest.mark.parametrize("dims, order", PERMUTE_CASES, ids=ids)
def test_permute_matches_numpy(dims, order):
    """permute over every permutation of ranks 0-4 (and some rank 5 / negative ones), like np.transpose."""
    out = permute(S(dims), order)
    assert out.dims == np.transpose(arr(dims), order).shape
    assert out.explicit_layout is True


@pytest.mark.parametrize("ca", [0, 1, 2])
def test_permute_follows_the_channel_axis(ca):
    # (2, 3, 4) -> (4, 2, 3): old axis 2 is new axis 0, old 0 -> 1, old 1 -> 2
    assert permute(S((2, 3, 4), ca), (2, 0, 1)).channel_axis == {2: 0, 0: 1, 1: 2}[ca]


def test_permute_keeps_syms_and_none():
    out = permute(S((A, None, B, C)), (3, 1, 0, 2))
    assert out.dims[0] is C and out.dims[1] is None and out.dims[2] is A and out.dims[3] is B


def test_permute_of_wrong_length_is_unknown():
    assert permute(S((2, 3, 4)), (1, 0)) is UNKNOWN


def test_permute_of_unknown_rank_reveals_only_the_rank():
    out = permute(UNKNOWN, (0, 2, 1))
    assert out.dims == (None, None, None)
    assert out.channel_axis is None


TRANSPOSE_CASES = [
    (d, a, b) for d in SHAPES_1_TO_5[:4] for a in range(-len(d), len(d)) for b in range(-len(d), len(d))
]


@pytest.mark.parametrize("dims", SHAPES_1_TO_5[:4], ids=ids)
def test_transpose_matches_numpy_swapaxes(dims):
    """transpose(a, b) over every (incl. negative) pair of axes of ranks 1-4."""
    wrong = [
        ((a, b), got, expected)
        for _, a, b in (c for c in TRANSPOSE_CASES if c[0] == dims)
        if (got := transpose(S(dims), a, b).dims) != (expected := np.swapaxes(arr(dims), a, b).shape)
    ]
    assert not wrong


@pytest.mark.parametrize("a, b", [(0, 3), (-4, 0), (5, 1)])
def test_transpose_out_of_range_is_unknown(a, b):
    assert transpose(S((2, 3, 4)), a, b) is UNKNOWN


def test_transpose_unknown_rank_and_syms():
    assert transpose(UNKNOWN, 0, 1) is UNKNOWN
    out = transpose(S((A, B, 3), 2), 1, -1)
    assert out.dims[0] is A and out.dims[1] == 3 and out.dims[2] is B
    assert out.channel_axis == 1 and out.explicit_layout is True


# ---------------------------------------------------------------------------------------------------------
# reductions
# ---------------------------------------------------------------------------------------------------------

REDUCE_AXES = [0, -1, (0, 1), (-1, 0), (1, -2), (0, 2, 4), (-5, 4), ()]
REDUCE_CASES = [
    (d, ax, k)
    for d in SHAPES_1_TO_5
    for ax in REDUCE_AXES
    for k in (False, True)
    if all(-len(d) <= a < len(d) for a in np.atleast_1d(ax).astype(int))
    and len({a % len(d) for a in np.atleast_1d(ax).astype(int)}) == len(np.atleast_1d(ax))
]


@pytest.mark.parametrize("dims, axes, keep", REDUCE_CASES, ids=ids)
def test_reduce_axes_matches_numpy(dims, axes, keep):
    """sum/mean over int or tuple axes (negative too), with and without keepdims, ranks 1-5."""
    ax = axes if isinstance(axes, tuple) else (axes,)
    assert reduce_axes(S(dims), ax, keep).dims == np.sum(arr(dims), axis=axes, keepdims=keep).shape


@pytest.mark.parametrize("dims", SHAPES_0_TO_5, ids=ids)
@pytest.mark.parametrize("keep", [False, True])
def test_reduce_all_axes_matches_numpy(dims, keep):
    """axes=None reduces everything."""
    assert reduce_axes(S(dims), None, keep).dims == np.sum(arr(dims), keepdims=keep).shape


@pytest.mark.parametrize(
    "ca, axes, keep, expected", [(2, (1,), False, 1), (1, (1,), False, None), (0, (1, 2), False, 0)]
)
def test_reduce_follows_the_channel_axis(ca, axes, keep, expected):
    assert reduce_axes(S((2, 3, 4), ca), axes, keep).channel_axis == expected


def test_reduce_keepdims_keeps_the_channel_axis():
    assert reduce_axes(S((2, 3, 4), 2), (1,), True).channel_axis == 2
    assert reduce_axes(S((2, 3, 4), 2), None, True).channel_axis == 2


def test_reduce_out_of_range_axis_is_unknown():
    assert reduce_axes(S((2, 3)), (2,), False) is UNKNOWN
    assert reduce_axes(S((2, 3)), (-3,), True) is UNKNOWN


def test_reduce_of_unknown_rank():
    """With axes the rank is unknown; reducing everything (no keepdims) is a scalar whatever the rank."""
    assert reduce_axes(UNKNOWN, (1,), False) is UNKNOWN
    assert reduce_axes(UNKNOWN, (1,), True) is UNKNOWN
    assert reduce_axes(UNKNOWN, None, False).dims == ()


def test_reduce_all_keepdims_of_unknown_rank_is_sound():
    out = reduce_axes(UNKNOWN, None, True)
    assert_sound(out, {np.sum(arr((2,) * r), keepdims=True).shape for r in range(1, 5)})


def test_reduce_keeps_none_and_syms():
    out = reduce_axes(S((A, None, 4, B)), (2,), False)
    assert out.dims[0] is A and out.dims[1] is None and out.dims[2] is B
    assert_sound(
        reduce_axes(S((2, None, 4)), (1,), True), outcomes(lambda x: x.sum(1, keepdims=True), (2, None, 4))
    )


# ---------------------------------------------------------------------------------------------------------
# unsqueeze / squeeze
# ---------------------------------------------------------------------------------------------------------

UNSQUEEZE_CASES = [(d, a) for d in SHAPES_0_TO_5[:5] for a in range(-len(d) - 1, len(d) + 1)]


@pytest.mark.parametrize("dims, axis", UNSQUEEZE_CASES, ids=ids)
def test_unsqueeze_matches_numpy_expand_dims(dims, axis):
    """unsqueeze at every valid (incl. negative) position, ranks 0-4."""
    assert unsqueeze(S(dims), axis).dims == np.expand_dims(arr(dims), axis).shape


@pytest.mark.parametrize("axis", [4, -5, 10])
def test_unsqueeze_out_of_range_is_unknown(axis):
    assert unsqueeze(S((2, 3, 4)), axis) is UNKNOWN


def test_unsqueeze_unknown_rank_syms_and_channel_axis():
    assert unsqueeze(UNKNOWN, 0) is UNKNOWN
    out = unsqueeze(S((A, None, B), 2), 1)
    assert out.dims[0] is A and out.dims[1] == 1 and out.dims[2] is None and out.dims[3] is B
    assert out.channel_axis == 3
    assert unsqueeze(S((2, 3), 0), -1).channel_axis == 0


SQUEEZE_SHAPES = [(1,), (5,), (1, 3), (2, 1), (1, 3, 1), (2, 1, 4, 1), (1, 1, 2, 1, 3)]
SQUEEZE_CASES = [(d, a) for d in SQUEEZE_SHAPES for a in range(-len(d), len(d))]


@pytest.mark.torch
@pytest.mark.parametrize("dims, axis", SQUEEZE_CASES, ids=ids)
def test_squeeze_one_axis_matches_torch(torch, dims, axis):
    """squeeze(axis) removes a size-1 axis and leaves any other axis alone (torch semantics)."""
    assert squeeze(S(dims), axis).dims == tuple(torch.squeeze(torch.empty(dims), axis).shape)


@pytest.mark.parametrize("dims", SQUEEZE_SHAPES, ids=ids)
def test_squeeze_all_matches_numpy(dims):
    assert squeeze(S(dims), None).dims == np.squeeze(arr(dims)).shape


def test_squeeze_unknowns():
    """Unknown at the squeezed axis (or anywhere, for squeeze-all) is unknown; elsewhere it is kept."""
    assert squeeze(UNKNOWN, 0) is UNKNOWN
    assert squeeze(UNKNOWN, None) is UNKNOWN
    assert squeeze(S((2, None, 3)), 1) is UNKNOWN
    assert squeeze(S((2, A, 3)), 1) is UNKNOWN
    assert squeeze(S((1, None, 3)), None) is UNKNOWN
    assert squeeze(S((2, 3)), 2) is UNKNOWN
    out = squeeze(S((A, 1, None, B), 3), 1)
    assert out.dims[0] is A and out.dims[1] is None and out.dims[2] is B
    assert out.channel_axis == 2
    assert_sound(out, outcomes(lambda x: np.squeeze(x, 1), (2, 1, None, 3)))


def test_squeeze_drops_a_squeezed_channel_axis():
    assert squeeze(S((2, 1, 3), 1), 1).channel_axis is None
    assert squeeze(S((1, 3, 1), 1), None).channel_axis == 0


# ---------------------------------------------------------------------------------------------------------
# reshape
# ---------------------------------------------------------------------------------------------------------

RESHAPE_CASES = [
    ((2, 3, 4), (24,)),
    ((2, 3, 4), (-1,)),
    ((2, 3, 4), (6, 4)),
    ((2, 3, 4), (2, -1)),
    ((2, 3, 4), (-1, 4)),
    ((2, 3, 4), (2, -1, 2)),
    ((2, 3, 4), (1, 2, 3, 4)),
    ((2, 3, 4), (2, 3, 2, -1)),
    ((6,), (-1, 1, 3)),
    ((2, 3, 4, 5), (2, 3, -1)),
    ((2, 3, 4, 5), (-1, 60)),
    ((1, 2, 3, 4, 5), (-1,)),
    ((1, 2, 3, 4, 5), (6, 2, -1, 1, 1)),
    ((), (1, -1)),
]


@pytest.mark.parametrize("dims, new", RESHAPE_CASES, ids=ids)
def test_reshape_matches_numpy(dims, new):
    """reshape with at most one -1 anywhere, ranks 0-5."""
    assert reshape(S(dims), new).dims == np.reshape(arr(dims), new).shape


@pytest.mark.parametrize(
    "dims, target",
    [((2, 3, 4), (12,)), ((2, 3, 4), (-1,)), ((2, 3, 4), (-1, 2)), ((2, 12), (3, -1))],
    ids=ids,
)
def test_reshape_keep_batch(dims, target):
    """keep_batch (Keras Reshape): the target excludes the batch axis, which is kept."""
    expected = np.reshape(arr(dims), (dims[0], *target)).shape
    assert reshape(S(dims), target, keep_batch=True).dims == expected


@pytest.mark.parametrize(
    "dims, new, expected",
    [
        ((None, 3, 4), (-1, 12), (None, 12)),
        ((None, 3, 4), (-1,), (None,)),
        ((2, None), (2, -1), (2, None)),
        ((2, 3, None), (6, -1), (6, None)),
    ],
    ids=ids,
)
def test_reshape_with_none_dims(dims, new, expected):
    """-1 stands for an unknown size when the input's element count is unknown."""
    out = reshape(S(dims), new)
    assert out.dims == expected
    assert_sound(out, outcomes(lambda x: x.reshape(new), dims))


def test_reshape_of_unknown_rank():
    out = reshape(UNKNOWN, (2, -1))
    assert out.dims == (2, None)
    assert_sound(out, {arr((2,) * r).reshape(2, -1).shape for r in range(1, 5)})
    assert reshape(UNKNOWN, (-1,)).dims == (None,)


def test_reshape_keeps_syms():
    """view(b, -1) after b, c, h, w = x.shape: b kept by identity, the rest computed."""
    out = reshape(S((A, 3, 4, 5), 1), (A, -1))
    assert out.dims[0] is A and out.dims[1] == 60
    out = reshape(S((A, B, 4, 5), 1), (A, B, -1))
    assert out.dims[0] is A and out.dims[1] is B and out.dims[2] is None
    assert out.channel_axis == 1  # the channel symbol is followed


def test_reshape_invalid_items_become_unknown():
    assert reshape(S((2, 3, 4)), (-1, -1)).dims == (None, None)
    assert reshape(S((2, 3, 4)), (2, None)).dims == (2, None)


# ---------------------------------------------------------------------------------------------------------
# broadcasting
# ---------------------------------------------------------------------------------------------------------

BROADCAST_CASES = [
    ((3,), (3,)),
    ((1,), (4,)),
    ((2, 3), (3,)),
    ((2, 3), (1,)),
    ((2, 1), (1, 3)),
    ((3, 1), (4,)),
    ((2, 3, 4), (4,)),
    ((2, 3, 4), (3, 1)),
    ((2, 1, 4), (5, 1)),
    ((1, 1, 1), (2, 3, 4)),
    ((2, 3, 4, 5), (1, 3, 1, 5)),
    ((2, 3, 4, 5), (4, 1)),
    ((1, 2, 1, 4, 1), (3, 4, 5)),
    ((), (2, 3)),
    ((), ()),
]


@pytest.mark.parametrize("x, y", BROADCAST_CASES, ids=ids)
def test_broadcast_matches_numpy(x, y):
    """Elementwise broadcasting with size-1 and missing leading axes, in both operand orders."""
    expected = np.broadcast_shapes(x, y)
    assert broadcast(S(x), S(y)).dims == expected
    assert broadcast(S(y), S(x)).dims == expected


@pytest.mark.parametrize(
    "x, y, expected",
    [
        ((None, 3), (1, 3), (None, 3)),  # numpy would need the None
        ((None,), (5,), (5,)),  # valid only if None is 1 or 5: the result is 5 either way
        ((2, None), (4, 1, 1), (4, 2, None)),
        ((None, 1), (1, None), (None, None)),
    ],
    ids=ids,
)
def test_broadcast_with_none_dims(x, y, expected):
    for a, b in ((x, y), (y, x)):
        out = broadcast(S(a), S(b))
        assert out.dims == expected
        assert_sound(out, outcomes(np.add, a, b))


def test_broadcast_keeps_syms():
    out = broadcast(S((A, 1, 4)), S((3, 1)))
    assert out.dims[0] is A and out.dims[1:] == (3, 4)
    out = broadcast(S((1, B)), S((A, 1, 1)))
    assert out.dims[0] is A and out.dims[2] is B


def test_broadcast_channel_axis():
    assert broadcast(S((2, 3, 4), 1), S((4,), 0)).channel_axis == 1
    assert broadcast(S((2, 3, 4)), S((3, 4), 1)).channel_axis == 2  # shifted by the missing axis


def test_a_broadcast_operand_gives_no_layout():
    """``hidden * mask[..., None]``: the (batch, tokens, 1) mask is broadcast over the features (numpy agrees
    on the shape); its axis 1 is no channel axis of the product (it once made a false DC102)."""
    hidden, mask = S((2, 7, 16)), S((2, 7, 1), 1)
    out = broadcast(hidden, mask)
    assert out.dims == (arr((2, 7, 16)) * arr((2, 7, 1))).shape
    assert out.channel_axis is None
    assert broadcast(S((2, 7, 16)), S((2, 7, 16), 2)).channel_axis == 2  # not broadcast: its layout counts


class TestBroadcastUnknownRank:
    """An unknown-rank operand: unknown, except the documented same-rank case (a known rank >= 3, no 1s)."""

    @pytest.mark.parametrize("k", [(), (4,), (2, 4), (2, 1, 4), (1, 3, 4, 5)], ids=ids)
    def test_unknown(self, k):
        assert broadcast(UNKNOWN, S(k)) is UNKNOWN
        assert broadcast(S(k), UNKNOWN) is UNKNOWN

    @pytest.mark.parametrize("k", [(2, 3, 4), (2, 3, 4, 5), (A, 3, 4)], ids=ids)
    def test_residual_keeps_the_rank_only(self, k):
        for out in (broadcast(UNKNOWN, S(k, 1)), broadcast(S(k, 1), UNKNOWN)):
            assert out.dims == (None,) * len(k)
            assert out.channel_axis == 1

    def test_both_unknown(self):
        assert broadcast(UNKNOWN, UNKNOWN) is UNKNOWN


# ---------------------------------------------------------------------------------------------------------
# concat / stack
# ---------------------------------------------------------------------------------------------------------


def _concat_operands(dims, axis, sizes):
    a = axis % len(dims)
    return [dims[:a] + (n,) + dims[a + 1 :] for n in sizes]


CONCAT_CASES = [
    (ops, axis)
    for dims in SHAPES_1_TO_5[:4]
    for axis in range(-len(dims), len(dims))
    for sizes in ((2, 3), (1, 4, 2))
    for ops in [_concat_operands(dims, axis, sizes)]
]


@pytest.mark.parametrize("operands, axis", CONCAT_CASES, ids=ids)
def test_concat_matches_numpy(operands, axis):
    """concat of 2-3 operands on every (incl. negative) axis of ranks 1-4."""
    expected = np.concatenate([arr(d) for d in operands], axis).shape
    assert concat([S(d) for d in operands], axis).dims == expected


@pytest.mark.parametrize("operands", [[(2, 0), (2, 3)], [(0,), (5,)], [(2, 3), (2, 0), (2, 4)]], ids=ids)
def test_concat_with_an_empty_operand(operands):
    expected = np.concatenate([arr(d) for d in operands], -1).shape
    assert concat([S(d) for d in operands], -1).dims == expected


@pytest.mark.parametrize(
    "operands, axis, expected",
    [
        ([(2, None), (2, 3)], 1, (2, None)),
        ([(None, 3), (2, 3)], 1, (2, 6)),  # the other operand fixes the size off the concat axis
        ([(2, None), (2, 3)], 0, (4, 3)),
        ([(None, 3), (None, 3)], 0, (None, 3)),
    ],
    ids=ids,
)
def test_concat_with_none_dims(operands, axis, expected):
    out = concat([S(d) for d in operands], axis)
    assert out.dims == expected
    assert_sound(out, outcomes(lambda *xs: np.concatenate(xs, axis), *operands))


def test_concat_unknowns():
    """Unknown-rank operands leave the concat axis unknown; no operands or a bad axis are unknown."""
    out = concat([S((2, 3, 4)), UNKNOWN], 1)
    assert out.dims == (2, None, 4)
    assert_sound(out, {np.concatenate([arr((2, 3, 4)), arr((2, n, 4))], 1).shape for n in FILL})
    assert concat([UNKNOWN, UNKNOWN], 0) is UNKNOWN
    assert concat([S((2, 3)), S((2, 3, 4))], 0) is UNKNOWN
    assert concat([], 0) is UNKNOWN
    assert concat([S((2, 3)), S((2, 3))], 2) is UNKNOWN
    assert concat([S((2, 3)), UNKNOWN], -3) is UNKNOWN


def test_concat_keeps_syms_and_channel_axis():
    out = concat([S((A, 3, 4), 2), S((A, 5, 4), 2)], 1)
    assert out.dims[0] is A and out.dims[1:] == (8, 4)
    assert out.channel_axis == 2
    assert concat([S((2, 3), 1), S((2, 3), 0)], 0).channel_axis is None


STACK_CASES = [(d, n, a) for d in SHAPES_0_TO_5[:5] for n in (1, 3) for a in range(-len(d) - 1, len(d) + 1)]


@pytest.mark.parametrize("dims", SHAPES_0_TO_5[:5], ids=ids)
def test_stack_matches_numpy(dims):
    """stack of 1 or 3 operands at every (incl. negative) new position, ranks 0-4."""
    wrong = [
        ((n, axis), got, expected)
        for _, n, axis in (c for c in STACK_CASES if c[0] == dims)
        if (got := stack([S(dims)] * n, axis).dims) != (expected := np.stack([arr(dims)] * n, axis).shape)
    ]
    assert not wrong


def test_stack_unknowns_syms_and_channel_axis():
    assert stack([UNKNOWN, S((2, 3))], 0) is UNKNOWN
    assert stack([], 0) is UNKNOWN
    assert stack([S((2, 3))], 3) is UNKNOWN
    assert stack([S((2, 3))], -4) is UNKNOWN
    out = stack([S((A, None, 3), 2)] * 2, 1)
    assert out.dims[0] is A and out.dims[1] == 2 and out.dims[2] is None and out.dims[3] == 3
    assert out.channel_axis == 3


# ---------------------------------------------------------------------------------------------------------
# matmul
# ---------------------------------------------------------------------------------------------------------

MATMUL_CASES = [
    ((4,), (4,)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((2, 3, 4), (4,)),
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 6)),
    ((1, 3, 4), (7, 4, 2)),
    ((2, 1, 1, 3, 4), (6, 1, 4, 2)),
    ((4,), (2, 3, 4, 5)),
]


@pytest.mark.parametrize("x, y", MATMUL_CASES, ids=ids)
def test_matmul_matches_numpy(x, y):
    """x @ y incl. 1-d operands and broadcast batch axes."""
    assert matmul(S(x), S(y)).dims == np.matmul(arr(x), arr(y)).shape


def test_matmul_unknowns_syms_and_layout():
    assert matmul(UNKNOWN, S((3, 4))) is UNKNOWN
    assert matmul(S((3, 4)), UNKNOWN) is UNKNOWN
    out = matmul(S((A, 3, 4), -1), S((4, B)))
    assert out.dims[0] is A and out.dims[1] == 3 and out.dims[2] is B
    assert out.channel_axis == 2  # the left operand was channels-last
    assert matmul(S((2, 3, 4), 1), S((4, 5))).channel_axis is None
    assert_sound(matmul(S((None, 3, 4)), S((4, 5))), outcomes(np.matmul, (None, 3, 4), (4, 5)))


# ---------------------------------------------------------------------------------------------------------
# convolution / pooling arithmetic
# ---------------------------------------------------------------------------------------------------------


def torch_size(torch, module, size):
    """The output width of ``module`` on a (1, 1, size, size) input; None when torch rejects the input.

    Modules and inputs live on the "meta" device: torch's own shape computation and checks, no arithmetic.
    """
    try:
        return module.to("meta")(torch.empty(1, 1, size, size, device="meta")).shape[-1]
    except RuntimeError:
        return None


@pytest.mark.torch
@pytest.mark.parametrize("k, dil", list(itertools.product((1, 3, 4), (1, 2))), ids=ids)
def test_conv_out_matches_torch_conv2d(torch, k, dil):
    """conv_out with an explicit padding is Conv2d's output size (None where torch finds it too small)."""
    wrong = []
    for stride, pad in itertools.product((1, 2, 3), (0, 1, 2)):
        conv = torch.nn.Conv2d(1, 1, k, stride=stride, padding=pad, dilation=dil)
        for size in (2, 5, 8, 11):
            got, expected = conv_out(size, k, stride, pad, dil), torch_size(torch, conv, size)
            if got != expected:
                wrong.append(((size, stride, pad), got, expected))
    assert not wrong


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("pad", ["same", "valid"])
@pytest.mark.parametrize("k, dil", list(itertools.product((1, 2, 3, 4), (1, 2))), ids=ids)
def test_conv_out_string_padding_matches_torch(torch, pad, k, dil):
    """torch's padding="same"/"valid" (stride 1)."""
    conv = torch.nn.Conv2d(1, 1, k, padding=pad, dilation=dil)
    wrong = [
        (size, got, expected)
        for size in (3, 5, 8)
        if (got := conv_out(size, k, 1, pad, dil)) != (expected := torch_size(torch, conv, size))
    ]
    assert not wrong


@pytest.mark.torch
@pytest.mark.parametrize("k, dil", list(itertools.product((2, 3, 4), (1, 2))), ids=ids)
def test_conv_out_transposed_matches_torch(torch, k, dil):
    """Transposed convolution (ConvTranspose2d) with padding and output_padding."""
    wrong = []
    for stride, pad, out_pad in itertools.product((1, 2, 3), (0, 1), (0, 1)):
        if out_pad >= max(stride, dil):
            continue  # torch rejects such an output_padding
        conv = torch.nn.ConvTranspose2d(
            1, 1, k, stride=stride, padding=pad, output_padding=out_pad, dilation=dil
        )
        for size in (3, 7):
            got = conv_out(size, k, stride, pad, dil, output_padding=out_pad, transposed=True)
            if got != (expected := torch_size(torch, conv, size)):
                wrong.append(((size, stride, pad, out_pad), got, expected))
    assert not wrong


@pytest.mark.parametrize(
    "args",
    [(None, 3, 1, 0, 1), (Sym("h"), 3, 1, 0, 1), (8, None, 1, 0, 1), (8, 3, None, 0, 1), (8, 3, 1, 0, None)],
    ids=ids,
)
def test_conv_out_unknown_inputs(args):
    assert conv_out(*args) is None


def test_conv_out_unknown_padding():
    assert conv_out(8, 3, 1, None, 1) is None
    assert conv_out(8, 3, 1, "causal", 1, mode="keras") is None
    assert conv_out(8, 3, 2, "full", 1, transposed=True) is None


@pytest.mark.torch
@pytest.mark.parametrize("k, dil", list(itertools.product((2, 3, 4), (1, 2))), ids=ids)
def test_pool_out_ceil_matches_torch_maxpool(torch, k, dil):
    """pool_out_ceil is MaxPool2d(ceil_mode=True)'s output size (incl. the last-window-in-padding rule)."""
    wrong = []
    for stride, pad in itertools.product((1, 2, 3), range(k // 2 + 1)):  # torch: padding <= kernel / 2
        pool = torch.nn.MaxPool2d(k, stride=stride, padding=pad, dilation=dil, ceil_mode=True)
        for size in range(dil * (k - 1) + 1, 12):  # inputs the window fits in (smaller: see below)
            expected = torch_size(torch, pool, size)
            assert expected is not None
            if (got := pool_out_ceil(size, k, stride, pad, dil)) != expected:
                wrong.append(((size, stride, pad), got, expected))
    assert not wrong


@pytest.mark.parametrize("size", [None, Sym("h")])
def test_pool_out_ceil_unknown_size(size):
    assert pool_out_ceil(size, 2, 2, 0) is None


@pytest.mark.torch
@pytest.mark.parametrize("size, k, stride", [(1, 3, 2), (2, 3, 1)], ids=ids)
def test_pool_out_ceil_too_small_input(torch, size, k, stride):
    assert torch_size(torch, torch.nn.MaxPool2d(k, stride=stride, ceil_mode=True), size) is None
    assert pool_out_ceil(size, k, stride, 0) is None


# ---------------------------------------------------------------------------------------------------------
# rules: the factories under torch-style and Keras-style argument names
# ---------------------------------------------------------------------------------------------------------


class TestArgs:
    """Args: a[name] is the value (None if unknown or absent); `in` means known; shapes by name."""

    def test_values_and_shapes(self):
        s = S((2, 3))
        a = Args({"dim": 1, "unknown": None}, {"x": s, "xs": [s, s], "v": 3})
        assert a["dim"] == 1 and a["unknown"] is None and a["absent"] is None
        assert "dim" in a and "unknown" not in a and "absent" not in a
        assert a.get("unknown", 7) == 7 and a.get("dim", 7) == 1
        assert a.shape("x") is s and a.shape("xs") is None and a.shape("v") is None
        assert a.shapes("xs") == [s, s] and a.shapes("x") is None
        assert a.star == []


TORCH, KERAS = "torch", "keras"
STYLES = [TORCH, KERAS]


def x_name(style):
    return "input" if style == TORCH else "x"


@pytest.mark.parametrize("style", STYLES)
def test_rule_identity(style):
    x = x_name(style)
    s = S((2, 3, 4), 1)
    assert rules.identity(x)(Args({}, {x: s})) is s
    assert rules.identity(x)(Args({})) is UNKNOWN


@pytest.mark.torch
@pytest.mark.parametrize("dims, start, end", FLATTEN_CASES[::6], ids=ids)
def test_rule_flatten_torch(torch, dims, start, end):
    rule = rules.flatten("input", "start_dim", "end_dim")
    out = rule(Args({"start_dim": start, "end_dim": end}, {"input": S(dims)}))
    assert out.dims == tuple(torch.flatten(torch.empty(dims), start, end).shape)
    # absent arguments: the defaults (0, -1)
    assert rule(Args({}, {"input": S(dims)})).dims == tuple(torch.flatten(torch.empty(dims)).shape)


@pytest.mark.torch
@pytest.mark.parametrize("dims", SHAPES_1_TO_5[1:], ids=ids)
def test_rule_flatten_keras_keeps_the_batch(torch, dims):
    """keras.ops.flatten-style (default_start=1) is nn.Flatten / keras Flatten: (batch, features)."""
    out = rules.flatten("x", default_start=1)(Args({}, {"x": S(dims)}))
    assert out.dims == tuple(torch.nn.Flatten()(torch.empty(dims)).shape)


@pytest.mark.torch
def test_rule_flatten_given_but_unknown_start_is_sound(torch):
    out = rules.flatten("input", "start_dim", "end_dim")(Args({"start_dim": None}, {"input": S((2, 3, 4))}))
    assert_sound(out, set().union(*(torch_flatten_outcomes(torch, [(2, 3, 4)], s, -1) for s in range(3))))


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("dims, new", RESHAPE_CASES, ids=ids)
def test_rule_reshape_sequence(style, dims, new):
    x = x_name(style)
    rule = rules.reshape(x, "shape", scalar=style == TORCH)
    out = rule(Args({"shape": new}, {x: S(dims)}))
    assert out.dims == np.reshape(arr(dims), new).shape
    assert rule(Args({"shape": list(new)}, {x: S(dims)})).dims == out.dims


@pytest.mark.parametrize("new", [-1, 24])
def test_rule_reshape_bare_int(new):
    """scalar=True (x.view(-1)): a bare int is a 1-d shape; scalar=False (Keras) rejects it: unknown."""
    dims = (2, 3, 4)
    out = rules.reshape("input", "shape")(Args({"shape": new}, {"input": S(dims)}))
    assert out.dims == np.reshape(arr(dims), new).shape
    assert rules.reshape("x", "shape", scalar=False)(Args({"shape": new}, {"x": S(dims)})) is UNKNOWN


@pytest.mark.parametrize("style", STYLES)
def test_rule_reshape_unknown_target(style):
    x = x_name(style)
    rule = rules.reshape(x, "shape", scalar=style == TORCH)
    assert rule(Args({"shape": None}, {x: S((2, 3))})) is UNKNOWN
    assert rule(Args({}, {x: S((2, 3))})) is UNKNOWN
    assert rule(Args({"shape": (2, -1)}, {})).dims == (2, None)  # input unknown


@pytest.mark.parametrize("style, axes", [(TORCH, "dims"), (KERAS, "perm")])
@pytest.mark.parametrize("dims, order", PERMUTE_CASES[::4], ids=ids)
def test_rule_permute(style, axes, dims, order):
    x = x_name(style)
    rule = rules.permute(x, axes, none_reverses=style == KERAS)
    for o in (order, list(order)):
        assert rule(Args({axes: o}, {x: S(dims)})).dims == np.transpose(arr(dims), order).shape


@pytest.mark.parametrize("dims", SHAPES_0_TO_5, ids=ids)
def test_rule_permute_none(dims):
    """No permutation: none_reverses (Keras) reverses every axis, like np.transpose; torch: unknown."""
    keras = rules.permute("x", "perm", none_reverses=True)(Args({"perm": None}, {"x": S(dims)}))
    assert keras.dims == np.transpose(arr(dims)).shape
    assert rules.permute("input", "dims")(Args({"dims": None}, {"input": S(dims)})) is UNKNOWN


@pytest.mark.parametrize("style, axes", [(TORCH, "dims"), (KERAS, "perm")])
def test_rule_permute_unknowns(style, axes):
    x = x_name(style)
    rule = rules.permute(x, axes, none_reverses=style == KERAS)
    assert rule(Args({axes: (0, None, 1)}, {x: S((2, 3, 4))})) is UNKNOWN
    assert rule(Args({axes: 1}, {x: S((2, 3, 4))})) is UNKNOWN
    assert rule(Args({axes: (1, 0)}, {})).dims == (None, None)
    assert rules.permute("x", "perm", none_reverses=True)(Args({}, {})) is UNKNOWN


@pytest.mark.parametrize("style, d0, d1", [(TORCH, "dim0", "dim1"), (KERAS, "axis1", "axis2")])
@pytest.mark.parametrize("dims, a, b", TRANSPOSE_CASES[::5], ids=ids)
def test_rule_swapaxes(style, d0, d1, dims, a, b):
    x = x_name(style)
    out = rules.swapaxes(x, d0, d1)(Args({d0: a, d1: b}, {x: S(dims)}))
    assert out.dims == np.swapaxes(arr(dims), a, b).shape


@pytest.mark.parametrize("style, d0, d1", [(TORCH, "dim0", "dim1"), (KERAS, "axis1", "axis2")])
def test_rule_swapaxes_unknown_axes_keep_the_rank(style, d0, d1):
    x = x_name(style)
    rule = rules.swapaxes(x, d0, d1)
    assert rule(Args({d0: None, d1: 1}, {x: S((2, 3, 4))})).dims == (None, None, None)
    assert rule(Args({d0: 0, d1: None}, {})) is UNKNOWN


REDUCE_STYLES = [(TORCH, "dim", "keepdim"), (KERAS, "axis", "keepdims")]


@pytest.mark.parametrize("style, ax, kd", REDUCE_STYLES)
@pytest.mark.parametrize("dims, axes, keep", REDUCE_CASES[::4], ids=ids)
def test_rule_reduce(style, ax, kd, dims, axes, keep):
    """The same reduce rule under torch's (dim, keepdim) and Keras's (axis, keepdims) names."""
    x = x_name(style)
    out = rules.reduce(x, ax, kd)(Args({ax: axes, kd: keep}, {x: S(dims)}))
    assert out.dims == np.sum(arr(dims), axis=axes, keepdims=keep).shape


@pytest.mark.parametrize("style, ax, kd", REDUCE_STYLES)
@pytest.mark.parametrize("dims", SHAPES_0_TO_5, ids=ids)
def test_rule_reduce_absent_axis_reduces_everything(style, ax, kd, dims):
    x = x_name(style)
    rule = rules.reduce(x, ax, kd)
    assert rule(Args({}, {x: S(dims)})).dims == np.sum(arr(dims)).shape
    assert rule(Args({kd: True}, {x: S(dims)})).dims == np.sum(arr(dims), keepdims=True).shape


@pytest.mark.parametrize("style, ax, kd", REDUCE_STYLES)
def test_rule_reduce_unknown_axis(style, ax, kd):
    """An axis argument given but unknown (key present, value None) is unknown; a non-int axis too."""
    x = x_name(style)
    rule = rules.reduce(x, ax, kd)
    assert rule(Args({ax: None}, {x: S((2, 3, 4))})) is UNKNOWN
    assert rule(Args({ax: (0, None)}, {x: S((2, 3, 4))})) is UNKNOWN
    assert rule(Args({ax: 1}, {})) is UNKNOWN  # input of unknown shape


@pytest.mark.parametrize("style, ax, kd", REDUCE_STYLES)
def test_rule_reduce_given_but_unknown_keepdims_is_sound(style, ax, kd):
    x = x_name(style)
    out = rules.reduce(x, ax, kd)(Args({ax: 1, kd: None}, {x: S((2, 3, 4))}))
    assert_sound(out, {np.sum(arr((2, 3, 4)), axis=1, keepdims=k).shape for k in (False, True)})


@pytest.mark.torch
@pytest.mark.xfail(
    strict=True,
    reason="torch reduces every axis for dim=() (x.sum(dim=()) is a scalar); the shared rule follows "
    "numpy (no axis reduced)",
)
def test_rule_reduce_empty_dims_under_torch(torch):
    out = rules.reduce("input", "dim", "keepdim")(Args({"dim": ()}, {"input": S((2, 3, 4))}))
    assert out.dims == tuple(torch.sum(torch.empty(2, 3, 4), dim=()).shape)


@pytest.mark.torch
@pytest.mark.parametrize("dims, axis", SQUEEZE_CASES[::2], ids=ids)
def test_rule_squeeze_torch(torch, dims, axis):
    rule = rules.squeeze("input", "dim")
    t = torch.empty(dims)
    assert rule(Args({"dim": axis}, {"input": S(dims)})).dims == tuple(torch.squeeze(t, axis).shape)
    assert rule(Args({}, {"input": S(dims)})).dims == tuple(torch.squeeze(t).shape)


@pytest.mark.parametrize(
    "dims, axes",
    [((1, 3, 1), (0, 2)), ((1, 3, 1), (-1,)), ((2, 1, 4, 1), (1, -1)), ((1, 1, 2), [0, 1])],
    ids=ids,
)
def test_rule_squeeze_keras_tuple(dims, axes):
    rule = rules.squeeze("x", "axis")
    assert rule(Args({"axis": axes}, {"x": S(dims)})).dims == np.squeeze(arr(dims), tuple(axes)).shape
    assert rule(Args({}, {"x": S(dims)})).dims == np.squeeze(arr(dims)).shape


@pytest.mark.parametrize("style, ax", [(TORCH, "dim"), (KERAS, "axis")])
def test_rule_squeeze_given_but_unknown_axis_is_sound(style, ax):
    x = x_name(style)
    out = rules.squeeze(x, ax)(Args({ax: None}, {x: S((1, 3, 1))}))
    assert_sound(out, {np.squeeze(arr((1, 3, 1)), a).shape for a in (0, 2)})


@pytest.mark.parametrize("style, ax", [(TORCH, "dim"), (KERAS, "axis")])
@pytest.mark.parametrize("dims, axis", UNSQUEEZE_CASES[::3], ids=ids)
def test_rule_unsqueeze(style, ax, dims, axis):
    x = x_name(style)
    out = rules.unsqueeze(x, ax)(Args({ax: axis}, {x: S(dims)}))
    assert out.dims == np.expand_dims(arr(dims), axis).shape


@pytest.mark.parametrize("style, ax", [(TORCH, "dim"), (KERAS, "axis")])
def test_rule_unsqueeze_unknown_axis(style, ax):
    x = x_name(style)
    rule = rules.unsqueeze(x, ax)
    assert rule(Args({ax: None}, {x: S((2, 3))})) is UNKNOWN
    assert rule(Args({ax: (0, 1)}, {x: S((2, 3))})) is UNKNOWN
    assert rule(Args({ax: 0}, {})) is UNKNOWN


@pytest.mark.parametrize("lhs, rhs", [("input", "other"), ("x", "y")])
@pytest.mark.parametrize("x, y", MATMUL_CASES, ids=ids)
def test_rule_matmul(lhs, rhs, x, y):
    out = rules.matmul(lhs, rhs)(Args({}, {lhs: S(x), rhs: S(y)}))
    assert out.dims == np.matmul(arr(x), arr(y)).shape
    assert rules.matmul(lhs, rhs)(Args({}, {lhs: S(x)})) is UNKNOWN


JOIN_STYLES = [("tensors", "dim"), ("xs", "axis")]


@pytest.mark.parametrize("seq, ax", JOIN_STYLES)
@pytest.mark.parametrize("operands, axis", CONCAT_CASES[::3], ids=ids)
def test_rule_concat(seq, ax, operands, axis):
    out = rules.concat(seq, ax)(Args({ax: axis}, {seq: [S(d) for d in operands]}))
    assert out.dims == np.concatenate([arr(d) for d in operands], axis).shape


@pytest.mark.parametrize("seq, ax", JOIN_STYLES)
@pytest.mark.parametrize("dims, n, axis", STACK_CASES[::3], ids=ids)
def test_rule_stack(seq, ax, dims, n, axis):
    out = rules.stack(seq, ax)(Args({ax: axis}, {seq: [S(dims)] * n}))
    assert out.dims == np.stack([arr(dims)] * n, axis).shape


@pytest.mark.parametrize("seq, ax", JOIN_STYLES)
def test_rule_joining_defaults(seq, ax):
    """An absent axis is 0 (torch.cat / keras.ops.concatenate); an unseen sequence is unknown."""
    xs = [S((2, 3)), S((4, 3))]
    assert rules.concat(seq, ax)(Args({}, {seq: xs})).dims == np.concatenate([arr((2, 3)), arr((4, 3))]).shape
    assert rules.stack(seq, ax)(Args({}, {seq: xs[:1] * 2})).dims == np.stack([arr((2, 3))] * 2).shape
    assert rules.concat(seq, ax)(Args({ax: 0}, {})).dims is None
    assert rules.stack(seq, ax)(Args({ax: 0}, {seq: []})).dims is None


@pytest.mark.parametrize("combine", ["concat", "stack"])
@pytest.mark.parametrize("seq, ax", JOIN_STYLES)
def test_rule_joining_given_but_unknown_axis_is_sound(combine, seq, ax):
    np_op = np.concatenate if combine == "concat" else np.stack
    out = getattr(rules, combine)(seq, ax)(Args({ax: None}, {seq: [S((2, 4))] * 3}))
    assert_sound(out, {np_op([arr((2, 4))] * 3, a).shape for a in (0, 1)})


@pytest.mark.parametrize("lhs, rhs", [("input", "other"), ("x", "y")])
@pytest.mark.parametrize("x, y", BROADCAST_CASES, ids=ids)
def test_rule_broadcasting(lhs, rhs, x, y):
    out = rules.broadcasting(lhs, rhs)(Args({}, {lhs: S(x), rhs: S(y)}))
    assert out.dims == np.broadcast_shapes(x, y)


@pytest.mark.parametrize("lhs, rhs", [("input", "other"), ("x", "y")])
def test_rule_broadcasting_with_a_non_tensor(lhs, rhs):
    """A Python number (no shape) leaves the tensor's shape; nothing known is unknown."""
    s = S((2, 3), 1)
    rule = rules.broadcasting(lhs, rhs)
    assert rule(Args({rhs: 2.0}, {lhs: s})) is s
    assert rule(Args({lhs: 2.0}, {rhs: s})) is s
    assert rule(Args({})) is UNKNOWN
    assert (arr((2, 3)) + 2.0).shape == s.dims


@pytest.mark.torch
@pytest.mark.parametrize("dims", [(5, 8), (2, 7, 8), (2, 3, 4, 8), (1, 2, 3, 4, 8)], ids=ids)
def test_rule_on_last_axis_torch_linear(torch, dims):
    """Linear (out_features): only the last axis changes, like nn.Linear."""
    lin = torch.nn.Linear(dims[-1], 6)
    with torch.no_grad():
        expected = tuple(lin(torch.empty(dims)).shape)
    out = rules.on_last_axis("out_features")(S(dims, 1), Args({"out_features": 6}))
    assert out.dims == expected
    # channels on axis 1 of a rank > 2 input: the layer mixed a spatial axis (DC102), and what comes out has
    # no layout a later finding could name (no follow-on findings); on (N, C) the channels were last
    assert out.channel_axis == (1 if len(dims) == 2 else None)


@pytest.mark.parametrize("dims", [(5, 8), (2, 7, 8), (2, 3, 4, 8), (1, 2, 3, 4, 8)], ids=ids)
def test_rule_on_last_axis_keras_dense(dims):
    """Dense (units): x @ kernel of shape (last, units)."""
    out = rules.on_last_axis("units")(S(dims), Args({"units": 6}))
    assert out.dims == np.matmul(arr(dims), arr((dims[-1], 6))).shape


@pytest.mark.parametrize("units", ["out_features", "units"])
def test_rule_on_last_axis_unknowns(units):
    rule = rules.on_last_axis(units)
    assert rule(UNKNOWN, Args({units: 6})) is UNKNOWN
    assert rule(S(()), Args({units: 6})).dims is None
    out = rule(S((A, 3, 8)), Args({units: None}))
    assert out.dims[0] is A and out.dims[1] == 3 and out.dims[2] is None


def test_rule_same():
    s = S((2, 3))
    assert rules.same(s, Args({})) is s


@pytest.mark.torch
@pytest.mark.parametrize(
    ("cond", "x", "y"),
    [((2, 5, 1), (2, 5, 8), (2, 5, 8)), ((5, 1), (2, 5, 8), None), ((2, 1, 8), (8,), (2, 5, 1))],
)
def test_torch_where_broadcasts_its_three_arguments(torch, cond, x, y):
    """``torch.where(condition, x, y)`` has the broadcast shape of all three (it once took the condition's:
    a (batch, tokens, 1) mask made the features 1)."""
    from densecheck.plugins.registry import registry

    other = torch.zeros(y) if y is not None else 0.0
    expected = tuple(torch.where(torch.zeros(cond, dtype=torch.bool), torch.zeros(x), other).shape)
    shapes = {"condition": S(cond), "input": S(x)}
    if y is not None:
        shapes["other"] = S(y)
    out = registry().functions["torch.where"].rule(Args(dict.fromkeys(shapes), shapes))
    assert out.dims == expected
