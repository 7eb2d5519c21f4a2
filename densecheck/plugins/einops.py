"""The einops plugin: ``rearrange`` / ``reduce`` / ``repeat`` patterns read as shape transformations, as
functions and as the layers ``Rearrange`` / ``Reduce`` / ``EinMix`` (``einops.layers.torch`` and the other
frameworks' modules).

``rearrange(x, "b c h w -> b (h w) c")`` is parsed: the groups on each side, the sizes given by keyword, and
the known dims of the input give the output shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from densecheck.engine.values import UNKNOWN, Seq, Tensor, Value, pyvalue
from densecheck.plugins.base import Args, Plugin, layer
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, dim_product, known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter

FUNCTIONS = ("rearrange", "reduce", "repeat")


def groups(side: str) -> list[list[str]] | None:
    groups: list[list[str]] = []
    cur: list[str] | None = None
    for tok in side.replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            cur = []
        elif tok == ")":
            if cur is None:
                return None
            groups.append(cur)
            cur = None
        elif cur is not None:
            cur.append(tok)
        else:
            groups.append([tok])
    return groups


def shape_of(s: Shape, pattern: str, sizes: dict[str, Any]) -> Shape:
    lhs, _, rhs = pattern.partition("->")
    left, right = groups(lhs), groups(rhs)
    if left is None or right is None or any(g == ["..."] for g in left + right):
        return UNKNOWN_SHAPE
    axis_size: dict[str, Any] = {k: v for k, v in sizes.items() if isinstance(v, int)}
    channel_name = None
    if s.dims is not None and len(s.dims) == len(left):
        for g, d in zip(left, s.dims):
            if len(g) == 1 and known(d):
                axis_size[g[0]] = d
            elif len(g) > 1 and known(d):
                unknown = [n for n in g if n not in axis_size]
                if len(unknown) == 1:
                    rest = 1
                    for n in g:
                        if n != unknown[0]:
                            rest *= axis_size[n]
                    axis_size[unknown[0]] = d // rest if rest else None
        if s.channel_axis is not None and len(left[s.channel_axis]) == 1:
            channel_name = left[s.channel_axis][0]
    dims = []
    ca = None
    for i, g in enumerate(right):
        total: int | None = 1
        for n in g:
            v = axis_size.get(n, 1 if n == "1" else None)
            if v is None:
                total = None
                break
            total *= v
        dims.append(total)
        if channel_name is not None and g == [channel_name]:
            ca = i
    if (
        ca is None
        and channel_name is None
        and right
        and len(right[-1]) == 1
        and right[-1][0] in ("c", "d", "dim", "channels", "e")
    ):
        ca = len(right) - 1
    # explicit layout: the pattern moved the channels (``b c h w -> b c (h w)`` leaves them where they were);
    # a pure permutation of a feature map's axes (``b h w c -> b c h w``) leaves a feature map
    moved = ca is None or ca != s.channel_axis
    permutation = all(len(g) == 1 for g in left + right) and sorted(map(tuple, left)) == sorted(
        map(tuple, right)
    )
    return Shape(tuple(dims), ca, moved or s.explicit_layout, s.spatial and permutation)


def _star(pattern: object) -> tuple[int, int] | None:
    """(named axes before ``*``, after it) of a pack pattern (``"b * d"``), or None."""
    if not isinstance(pattern, str):
        return None
    toks = pattern.split()
    if toks.count("*") != 1 or any(not t.isidentifier() for t in toks if t != "*"):
        return None
    i = toks.index("*")
    return i, len(toks) - i - 1


def pack(args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``packed, ps = pack([cls, x], "b * d")``: the named axes kept, the ``*`` axes of each input joined
    into one; ``ps`` stands for the inputs' shapes, so ``unpack`` gives them back."""
    items = args[0] if args else kwargs.get("tensors")
    star = _star(pyvalue(args[1]) if len(args) > 1 else pyvalue(kwargs.get("pattern")))
    if not isinstance(items, Seq) or items.repeated or star is None:
        return Seq([Tensor(UNKNOWN_SHAPE), UNKNOWN])
    before, after = star
    shapes = [x.shape if isinstance(x, Tensor) else UNKNOWN_SHAPE for x in items.items]
    out: Shape = UNKNOWN_SHAPE
    total: int | None = 0
    for sh in shapes:
        if sh.dims is None or len(sh.dims) < before + after:
            return Seq([Tensor(UNKNOWN_SHAPE), UNKNOWN])
        n = dim_product(sh.dims[before : len(sh.dims) - after])
        total = total + n if total is not None and n is not None else None
        piece = Shape.of(sh.dims[:before] + (None,) + sh.dims[len(sh.dims) - after :], -1 if after else None)
        out = piece if out.dims is None else out.join(piece)
    if out.dims is not None:
        out = out.with_dims(out.dims[:before] + (total,) + out.dims[before + 1 :])
    return Seq([Tensor(out), Seq([Tensor(sh) for sh in shapes])])


def unpack(args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``a, b = unpack(packed, ps, "b * d")``: the shapes ``pack`` was given, their named axes as the packed
    tensor has them."""
    ps = args[1] if len(args) > 1 else kwargs.get("packed_shapes")
    if isinstance(ps, Seq) and not ps.repeated and all(isinstance(x, Tensor) for x in ps.items):
        return Seq([Tensor(x.shape) for x in ps.items if isinstance(x, Tensor)], "list")
    return Seq([Tensor(UNKNOWN_SHAPE)], "list", repeated=True)


def resolve(it: Interpreter, q: str, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value | None:
    """``einops.rearrange(x, pattern, **sizes)`` and its siblings, ``pack`` / ``unpack``; any other
    ``einops.`` name is unknown."""
    if not q.startswith("einops."):
        return None
    fn = q.rsplit(".", 1)[-1]
    if fn == "pack":
        return pack(args, kwargs)
    if fn == "unpack":
        return unpack(args, kwargs)
    if fn not in FUNCTIONS or len(args) < 2:
        return Tensor(UNKNOWN_SHAPE) if fn in FUNCTIONS else UNKNOWN
    x = args[0]
    pattern = pyvalue(args[1])
    if not isinstance(pattern, str) or "->" not in pattern:
        return Tensor(UNKNOWN_SHAPE)
    sizes = {k: pyvalue(v) for k, v in kwargs.items()}
    return Tensor(shape_of(x.shape if isinstance(x, Tensor) else UNKNOWN_SHAPE, pattern, sizes))


def _layer_rule(s: Shape, a: Args) -> Shape:
    """``Rearrange(pattern, **sizes)`` / ``Reduce(pattern, reduction, **sizes)`` / ``EinMix(pattern, ...)``
    as layers: the pattern applied to the input (its left side also says the input's rank)."""
    pattern = a["pattern"]
    if not isinstance(pattern, str) or "->" not in pattern:
        return UNKNOWN_SHAPE
    sizes = {k: v for k, v in a.values().items() if k not in _LAYER_PARAMS}
    return shape_of(s, pattern, sizes)


_LAYER_PARAMS = {"pattern", "reduction", "weight_shape", "bias_shape"}
LAYERS = {
    f"einops.layers.{fw}.{name}": layer(f"einops.layers.{fw}.{name}", params, _layer_rule)
    for fw in ("torch", "keras", "tensorflow", "flax")
    for name, params in (
        ("Rearrange", "pattern"),
        ("Reduce", "pattern reduction"),
        ("EinMix", "pattern weight_shape bias_shape"),
    )
}

PLUGIN = Plugin(name="einops", libraries=("einops",), layers=LAYERS, resolve=resolve)
