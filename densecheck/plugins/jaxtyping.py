"""The jaxtyping plugin: ``Float[Tensor, "b c h w"]`` annotations give a parameter's rank and layout.

Named dims become symbols (``b``, ``c``...), digits are sizes, ``*batch`` / ``...`` make the rank unknown; a
name such as ``c``, ``channels`` or ``d`` marks the channel axis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from densecheck.engine.values import Tensor, Value, pyvalue
from densecheck.plugins.base import Plugin
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Dim, Shape, Sym

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter


def shape_of(spec: str) -> Shape:
    dims: list[Dim] = []
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
    # named height / width axes: a feature map (``"b h w c"``), as a convolution's output or an image input is
    spatial = len(dims) >= 3 and any(n in ("h", "w", "height", "width") for n in names)
    return Shape(tuple(dims), ca, False, spatial)


def annotation(it: Interpreter, head: str, spec: Callable[[], Value]) -> Value | None:
    """``jaxtyping.Float[Tensor, "b c h w"]`` (any dtype head of jaxtyping)."""
    if not head.startswith("jaxtyping."):
        return None
    s = pyvalue(spec())
    return Tensor(shape_of(s)) if isinstance(s, str) else None


PLUGIN = Plugin(name="jaxtyping", libraries=("jaxtyping",), annotation=annotation)
