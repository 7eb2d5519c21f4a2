"""NumPy (and ``keras.utils.to_categorical``): the shapes of the arrays a script builds as data, so what it
passes to ``model.fit`` as targets is known (one label per sample, or one per position)."""

from __future__ import annotations

from collections.abc import Callable

from densecheck.plugins.base import Args, Plugin, op
from densecheck.shapes import UNKNOWN, Shape, known


def _sized(name: str, varargs: bool = False) -> Callable[[Args], Shape]:
    def rule(a: Args) -> Shape:
        size = a[name]
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size,)
        if isinstance(size, (tuple, list)) and len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = size[0]
        if not isinstance(size, (tuple, list)) or (varargs and not size):
            return UNKNOWN
        return Shape.of(tuple(d if known(d) else None for d in size))

    return rule


def _to_categorical(a: Args) -> Shape:
    """``to_categorical(y, num_classes)``: one more axis, of the classes."""
    s = a.shape("x")
    if s is None or s.dims is None:
        return UNKNOWN
    n = a.get("num_classes")
    return Shape.of(s.dims + ((n if known(n) else None),))


_CREATE = {f"numpy.{n}": op("shape", _sized("shape")) for n in ("zeros", "ones", "empty", "full")}
_RANDOM = {f"numpy.random.{n}": op("d", _sized("d", True), varargs="d") for n in ("rand", "randn")}
_SIZED = {
    **{f"numpy.random.{n}": op("size", _sized("size")) for n in ("random", "random_sample", "sample")},
    **{f"numpy.random.{n}": op("low high size", _sized("size")) for n in ("randint", "uniform")},
    "numpy.random.normal": op("loc scale size", _sized("size")),
}
FUNCTIONS = {
    **_CREATE,
    **_RANDOM,
    **_SIZED,
    **{
        f"{ns}.to_categorical": op("x num_classes", _to_categorical)
        for ns in ("keras.utils", "keras.utils.np_utils", "tf.keras.utils")
    },
}

PLUGIN = Plugin(name="numpy", order=50, libraries=("numpy",), functions=FUNCTIONS)
