"""The numpy-style op family: shape transfer functions shared by every framework.

Convolution arithmetic, flatten, permute/transpose, reductions, squeeze/unsqueeze, reshape (with ``-1``),
broadcasting, matmul, concatenation and stacking, as plain functions over
:class:`~densecheck.shapes.lattice.Shape`. A plugin's function and layer tables say which of its names uses
which, with the framework's own argument names (:mod:`densecheck.shapes.rules` builds those rules); nothing
here knows a framework.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

from densecheck.shapes.lattice import UNKNOWN, Dim, Shape, Sym, dim_eq, dim_product, dims_of, join_dim, known


def as_tuple(v: Any, n: int) -> tuple[Any, ...] | None:
    """Expand an int-or-sequence layer argument (kernel_size=3 -> (3, 3)); None when unknown."""
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return tuple(v) if len(v) == n else (tuple(v) * n if len(v) == 1 else None)
    return (v,) * n


def conv_out(
    size: Dim,
    kernel: int | None,
    stride: int | None,
    padding: int | str | None,
    dilation: int | None,
    mode: str = "torch",
    output_padding: int = 0,
    transposed: bool = False,
) -> Dim:
    """Output length of one spatial axis of a convolution or pooling window.

    ``padding`` is an int (explicit, per side), or for ``mode == "keras"`` the strings ``"valid"``/``"same"``;
    torch also accepts ``"same"``/``"valid"``.
    """
    if not known(size) or kernel is None or stride is None or dilation is None:
        return None
    eff = dilation * (kernel - 1) + 1
    if transposed:
        if not isinstance(padding, int):
            if padding == "same":
                return size * stride
            if padding == "valid":
                return size * stride + max(eff - stride, 0)
            return None
        return (size - 1) * stride - 2 * padding + eff + output_padding
    if isinstance(padding, str):
        if padding == "same":
            return -(-size // stride)
        if padding == "valid":
            return (size - eff) // stride + 1 if size >= eff else None
        return None
    if padding is None:
        return None
    out = (size + 2 * padding - eff) // stride + 1
    return out if out > 0 else None


def pool_out_ceil(size: Dim, kernel: int, stride: int, padding: int, dilation: int = 1) -> Dim:
    if not known(size):
        return None
    eff = dilation * (kernel - 1) + 1
    out = math.ceil((size + 2 * padding - eff) / stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out if out >= 1 else None  # a window larger than the input: torch raises, the size is unknown


def flatten(shape: Shape, start: int = 1, end: int = -1) -> Shape:
    """torch.flatten / nn.Flatten / keras Flatten (start=1, end=-1)."""
    r = shape.rank
    if r is None:
        if start == 1 and end == -1:
            # whatever the rank, flatten(1) gives (batch, features)
            return Shape((None, None), 1)
        if start == 0 and end == -1:
            return Shape((None,), 0)
        return UNKNOWN
    assert shape.dims is not None  # the rank is known
    if r == 0:
        return Shape((1,), 0)
    s, e = shape.axis(start), shape.axis(end)
    if s is None or e is None or s > e:
        return UNKNOWN if s is None or e is None else shape
    dims = shape.dims[:s] + (dim_product(shape.dims[s : e + 1]),) + shape.dims[e + 1 :]
    ca = shape.channel_axis
    if ca is not None:
        ca = ca if ca < s else (s if ca <= e else ca - (e - s))
    elif len(dims) == 2:
        ca = 1  # (batch, features)
    return Shape(dims, ca, shape.explicit_layout and ca is not None and ca < s)


def permute(shape: Shape, order: Sequence[int]) -> Shape:
    n = len(order)
    if shape.rank is not None and shape.rank != n:
        return UNKNOWN
    try:
        order = [o % n for o in order]
    except TypeError:
        return Shape((None,) * n)
    dims = tuple(shape.dims[o] for o in order) if shape.dims is not None else (None,) * n
    if shape.dims is None:
        ca = None  # the permutation reveals the rank, not which axis held the channels
    else:
        ca = order.index(shape.channel_axis) if shape.channel_axis is not None else None
    # the layout is explicit once a permutation moved the channels; one that leaves them where they were
    # (``x.permute(0, 1, 3, 2)`` on NCHW) keeps the layout the tensor had
    moved = ca is None or ca != shape.channel_axis
    return Shape(dims, ca, moved or shape.explicit_layout, shape.spatial)


def transpose(shape: Shape, a: int, b: int) -> Shape:
    if shape.rank is None:
        return UNKNOWN
    a2, b2 = shape.axis(a), shape.axis(b)
    if a2 is None or b2 is None:
        return UNKNOWN
    order = list(range(shape.rank))
    order[a2], order[b2] = order[b2], order[a2]
    return permute(shape, order)


def reduce_axes(shape: Shape, axes: Sequence[int] | None, keepdim: bool) -> Shape:
    """mean/sum/max over axes (None = all)."""
    r = shape.rank
    if axes is None:
        if keepdim:  # every axis kept, as size 1: the rank is the input's (unknown when it is)
            return Shape((1,) * r, shape.channel_axis) if r is not None else UNKNOWN
        return Shape(())
    if r is None:
        return UNKNOWN
    assert shape.dims is not None
    norm: set[int] = set()
    for a in axes:
        n = shape.axis(a)
        if n is None:
            return UNKNOWN
        norm.add(n)
    if keepdim:
        return shape.with_dims(tuple(1 if i in norm else d for i, d in enumerate(shape.dims)))
    dims = tuple(d for i, d in enumerate(shape.dims) if i not in norm)
    ca = shape.channel_axis
    if ca is not None:
        ca = None if ca in norm else ca - sum(1 for a in norm if a < ca)
    return Shape(dims, ca, shape.explicit_layout)


def unsqueeze(shape: Shape, axis: int) -> Shape:
    if shape.rank is None:
        return UNKNOWN
    assert shape.dims is not None
    r = shape.rank + 1
    if not -r <= axis < r:
        return UNKNOWN
    a = axis % r
    dims = shape.dims[:a] + (1,) + shape.dims[a:]
    ca = shape.channel_axis
    if ca is not None and ca >= a:
        ca += 1
    return Shape(dims, ca, shape.explicit_layout, shape.spatial)


def squeeze(shape: Shape, axis: int | None) -> Shape:
    if shape.rank is None:
        return UNKNOWN
    assert shape.dims is not None
    if axis is None:
        if any(not known(d) for d in shape.dims):
            return UNKNOWN
        keep = [i for i, d in enumerate(shape.dims) if d != 1]
    else:
        a = shape.axis(axis)
        if a is None:
            return UNKNOWN
        if known(shape.dims[a]) and shape.dims[a] != 1:
            return shape
        if not known(shape.dims[a]):
            return UNKNOWN
        keep = [i for i in range(shape.rank) if i != a]
    ca = shape.channel_axis
    ca = keep.index(ca) if ca is not None and ca in keep else None
    return Shape(tuple(shape.dims[i] for i in keep), ca, shape.explicit_layout)


def reshape(shape: Shape, new: Sequence[Dim | str], *, keep_batch: bool = False) -> Shape:
    """view/reshape. ``new`` items: int (-1 allowed), Sym, or None (unknown size).

    ``keep_batch`` is for Keras ``Reshape(target)`` whose target excludes the batch axis.
    """
    dims: list[Dim | str] = list(new)
    if keep_batch:
        dims = [shape.dims[0] if shape.dims else None, *dims]
    if dims.count(-1) == 1:
        i = dims.index(-1)
        skip = 1 if keep_batch else 0  # Keras targets exclude the (unknown) batch axis
        total = dim_product(shape.dims[skip:]) if shape.dims is not None else None
        rest = dim_product(d for j, d in enumerate(dims) if j != i and j >= skip)
        if total is not None and rest:
            dims[i] = total // rest
        elif shape.dims is not None and len(dims) == 2 and i == 1 and dim_eq(dims[0], shape.dims[0]):
            dims[i] = dim_product(shape.dims[1:])
        else:
            dims[i] = None
    dims = [d if (known(d) and d >= 0) or isinstance(d, Sym) else None for d in dims]
    # follow the channel axis when its size (or symbol) is identifiable in the new shape
    ca = None
    if shape.dims is not None and shape.channel_axis is not None:
        c = shape.dims[shape.channel_axis]
        if shape.channel_axis == len(shape.dims) - 1 and dims and dim_eq(dims[-1], c):
            ca = len(dims) - 1
        elif shape.channel_axis < len(dims) and dim_eq(dims[shape.channel_axis], c):
            ca = shape.channel_axis
        elif c is not None and isinstance(c, Sym):
            hits = [i for i, d in enumerate(dims) if d is c]
            ca = hits[0] if len(hits) == 1 else None
    if ca is None and len(dims) == 2:
        ca = 1
    return Shape(tuple(cast("list[Dim]", dims)), ca, shape.explicit_layout and ca is not None)


def broadcast(a: Shape, b: Shape) -> Shape:
    """Elementwise binary op result (numpy broadcasting)."""
    if a.rank is None or b.rank is None:
        # The result has at least the known operand's rank, maybe more. A known operand of rank >= 3 meeting
        # one of unknown rank is, in model code, a residual or positional add of same-rank tensors: keep its
        # rank. A low-rank operand (a bias, a scale, a (batch, tokens) mask) says nothing about the other
        # side's rank.
        k = a if b.rank is None else b
        # (one with a size-1 axis, ``w.view(-1, 1, 1)``, is there to be broadcast against a bigger tensor)
        if k.rank is not None and k.rank >= 3 and not any(known(d) and d == 1 for d in dims_of(k)):
            return Shape(tuple(None for _ in dims_of(k)), k.channel_axis, k.explicit_layout, k.spatial)
        return UNKNOWN
    big, small = (a, b) if a.rank >= b.rank else (b, a)
    assert big.rank is not None and small.rank is not None and big.dims is not None and small.dims is not None
    off = big.rank - small.rank
    dims = list(big.dims)
    for i, d in enumerate(small.dims):
        bd = dims[off + i]
        if known(bd) and bd == 1:
            dims[off + i] = d
        elif known(d) and d == 1:
            pass
        elif not known(bd) and not isinstance(bd, Sym):
            dims[off + i] = d if (known(d) and d != 1) or isinstance(d, Sym) else bd
    # the layout of the result: the bigger operand's; else the other's, unless that one is being broadcast (a
    # size-1 axis: a (batch, tokens, 1) mask's layout says nothing about the features it scales)
    broadcast_small = any(known(d) and d == 1 for d in small.dims)
    ca = (
        big.channel_axis
        if big.channel_axis is not None
        else (small.channel_axis + off if small.channel_axis is not None and not broadcast_small else None)
    )
    return Shape(tuple(dims), ca, big.explicit_layout or small.explicit_layout, big.spatial)


def concat(shapes: Sequence[Shape], axis: int) -> Shape:
    if not shapes:
        return UNKNOWN
    ranks = {s.rank for s in shapes}
    if None in ranks or len(ranks) != 1:
        known_shapes = [s for s in shapes if s.rank is not None]
        if known_shapes and len({s.rank for s in known_shapes}) == 1:
            base = known_shapes[0]
            a = base.axis(axis)
            if a is None:
                return UNKNOWN
            return base.with_dims(tuple(None if i == a else d for i, d in enumerate(dims_of(base))))
        return UNKNOWN
    base = shapes[0]
    assert base.rank is not None and base.dims is not None  # every rank is known and the same
    a = base.axis(axis)
    if a is None:
        return UNKNOWN
    out: list[Dim] = []
    for i in range(base.rank):
        if i == a:
            out.append(
                sum(cast(int, dims_of(s)[i]) for s in shapes)
                if all(known(dims_of(s)[i]) for s in shapes)
                else None
            )
        else:
            d = base.dims[i]
            for s in shapes[1:]:
                d = (
                    join_dim(d, dims_of(s)[i])
                    if known(d) and known(dims_of(s)[i])
                    else (d if known(d) else dims_of(s)[i])
                )
            out.append(d)
    cas = {s.channel_axis for s in shapes}
    return Shape(
        tuple(out),
        cas.pop() if len(cas) == 1 else None,
        all(s.explicit_layout for s in shapes),
        all(s.spatial for s in shapes),
    )


def stack(shapes: Sequence[Shape], axis: int) -> Shape:
    if not shapes or shapes[0].rank is None:
        return UNKNOWN
    base = shapes[0]
    assert base.rank is not None and base.dims is not None
    r = base.rank + 1
    if not -r <= axis < r:
        return UNKNOWN
    a = axis % r
    dims = base.dims[:a] + (len(shapes),) + base.dims[a:]
    ca = base.channel_axis
    if ca is not None and ca >= a:
        ca += 1
    return Shape(dims, ca, base.explicit_layout)


def matmul(x: Shape, y: Shape) -> Shape:
    """``x @ y`` with numpy's rules: a 1-d operand loses its axis, leading (batch) axes broadcast; the result
    keeps the left operand's channels-last layout."""
    if x.rank is None or y.rank is None:
        return UNKNOWN
    assert x.dims is not None and y.dims is not None
    if y.rank == 1:
        return Shape.of(x.dims[:-1])
    if x.rank == 1:
        return Shape.of(y.dims[:-2] + y.dims[-1:])
    batch = broadcast(Shape.of(x.dims[:-2]), Shape.of(y.dims[:-2])).dims or ()
    return Shape.of(tuple(batch) + (x.dims[-2], y.dims[-1]), -1 if x.channels_are_last else None)
