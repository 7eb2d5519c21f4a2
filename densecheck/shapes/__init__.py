"""Shapes: the lattice (:mod:`.lattice`: dims, shapes, joins) and the op family over it (:mod:`.ops`)."""

from densecheck.shapes.lattice import *  # noqa: F403
from densecheck.shapes.lattice import UNKNOWN, Dim, Shape, Sym, dim_eq, dim_product, dims_of, join_dim, known
from densecheck.shapes.ops import (
    as_tuple,
    broadcast,
    concat,
    conv_out,
    flatten,
    matmul,
    permute,
    pool_out_ceil,
    reduce_axes,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)

__all__ = [
    "UNKNOWN",
    "Dim",
    "Shape",
    "Sym",
    "dim_eq",
    "dim_product",
    "dims_of",
    "join_dim",
    "known",
    "as_tuple",
    "broadcast",
    "concat",
    "conv_out",
    "flatten",
    "matmul",
    "permute",
    "pool_out_ceil",
    "reduce_axes",
    "reshape",
    "squeeze",
    "stack",
    "transpose",
    "unsqueeze",
]
