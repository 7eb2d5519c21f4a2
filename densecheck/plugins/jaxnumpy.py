"""JAX itself: ``jax.numpy`` through the shared numpy op family, ``jax.random`` arrays, ``jax.nn``
activations,
and the function transformations a model's code goes through (``jax.vmap``, ``jax.jit``).

``jax.vmap(f)(x)`` runs ``f`` on one slice of ``x`` (the mapped axis removed, as JAX does) and puts the mapped
axis back on what ``f`` gives. Which axes a vmap took away is remembered while ``f`` runs, so a layer
that acts
on one example (Equinox's Linear) can say how many positions it was mapped over: a vmap written inside a
model's
own code maps over positions (tokens, pixels), one written outside any model maps over the batch.

NumPy-style tensor methods (``x.mean(axis=(1, 2))``, ``x.sum(axis=-1, keepdims=True)``) read the numpy
argument
names here: the shared tensor-method table reads torch's (``dim``, ``keepdim``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from densecheck.engine.values import (
    UNKNOWN,
    Builtin,
    Const,
    Instance,
    Seq,
    Tensor,
    Value,
    pyvalue,
)
from densecheck.plugins.base import Args, OpSpec, Plugin, op, squashing
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Dim, Shape, known, rules

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter

JNP = "jax.numpy"


def _sized(name: str) -> Callable[[Args], Shape]:
    def rule(a: Args) -> Shape:
        size = a[name]
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size,)
        if not isinstance(size, (tuple, list)):
            return UNKNOWN_SHAPE
        return Shape.of(tuple(d if known(d) else None for d in size))

    return rule


def einsum(a: Args) -> Shape:
    """``jnp.einsum("bhwc,cd->bhwd", x, w)``: the output's axes from the operands' letters (``...`` kept)."""
    eq = a["subscripts"]
    ops = a.shapes("operands")
    if not isinstance(eq, str) or not ops:
        return UNKNOWN_SHAPE
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ops):
        return UNKNOWN_SHAPE
    sizes: dict[str, Dim] = {}
    ellipsis: tuple[Dim, ...] | None = None
    for term, s in zip(terms, ops):
        if s.dims is None:
            return UNKNOWN_SHAPE
        if "..." in term:
            head, _, tail = term.partition("...")
            n = len(s.dims) - len(head) - len(tail)
            if n < 0:
                return UNKNOWN_SHAPE
            ell = s.dims[len(head) : len(head) + n]
            ellipsis = ell if ellipsis is None or len(ell) >= len(ellipsis) else ellipsis
            letters = list(zip(head, s.dims[: len(head)])) + list(
                zip(tail, s.dims[len(s.dims) - len(tail) :])
            )
        else:
            if len(term) != len(s.dims):
                return UNKNOWN_SHAPE
            letters = list(zip(term, s.dims))
        for ch, d in letters:
            if known(d) or ch not in sizes:
                sizes[ch] = d
    if not arrow:  # implicit output: the letters seen once, in alphabetical order
        counts = {ch: lhs.count(ch) for ch in sizes}
        rhs = ("..." if ellipsis else "") + "".join(sorted(ch for ch, n in counts.items() if n == 1))
    out: list[Dim] = []
    head, dots, tail = rhs.partition("...")
    for ch in head:
        out.append(sizes.get(ch))
    if dots:
        out.extend(ellipsis or ())
    for ch in tail:
        out.append(sizes.get(ch))
    ca = len(out) - 1 if out else None
    spatial = any(s.spatial for s in ops) and len(out) >= 3
    return Shape.of(tuple(d if known(d) else None for d in out), ca, spatial=spatial)


_SAME = """tanh exp log sqrt rsqrt abs negative square sign sin cos sigmoid exp2 log1p expm1 clip
round floor ceil nan_to_num asarray array copy real imag conj""".split()
_BINARY = "add subtract multiply divide true_divide maximum minimum power where".split()
_REDUCE_D = "mean sum std var prod nanmean nansum".split()  # (a, axis, dtype, out, keepdims)
_REDUCE = "max min amax amin argmax argmin any all logsumexp".split()  # (a, axis, out, keepdims)
_ACT = """relu relu6 gelu silu swish sigmoid softplus soft_sign elu selu celu leaky_relu tanh softmax
log_softmax log_sigmoid hard_tanh hard_sigmoid hard_swish mish glu standardize normalize one_hot""".split()

FUNCTIONS: dict[str, OpSpec] = {
    **{f"{JNP}.{n}": op("shape dtype", _sized("shape")) for n in ("zeros", "ones", "empty")},
    f"{JNP}.full": op("shape fill_value dtype", _sized("shape")),
    **{f"{JNP}.{n}_like": op("a", rules.identity("a")) for n in ("zeros", "ones", "empty", "full")},
    **{
        f"jax.random.{n}": op("key shape dtype", _sized("shape"))
        for n in ("normal", "uniform", "truncated_normal")
    },
    "jax.random.randint": op("key shape minval maxval", _sized("shape")),
    "jax.random.bernoulli": op("key p shape", _sized("shape")),
    f"{JNP}.reshape": op("a shape order newshape", rules.reshape("a", "shape")),
    f"{JNP}.transpose": op("a axes", rules.permute("a", "axes", none_reverses=True)),
    f"{JNP}.swapaxes": op("a axis1 axis2", rules.swapaxes("a", "axis1", "axis2")),
    **{
        f"{JNP}.{n}": op("a axis dtype out keepdims", rules.reduce("a", "axis", "keepdims"))
        for n in _REDUCE_D
    },
    **{f"{JNP}.{n}": op("a axis out keepdims", rules.reduce("a", "axis", "keepdims")) for n in _REDUCE},
    f"{JNP}.expand_dims": op("a axis", rules.unsqueeze("a", "axis")),
    f"{JNP}.squeeze": op("a axis", rules.squeeze("a", "axis")),
    f"{JNP}.concatenate": op("arrays axis", rules.concat("arrays", "axis"), axis=0),
    f"{JNP}.concat": op("arrays axis", rules.concat("arrays", "axis"), axis=0),
    f"{JNP}.stack": op("arrays axis", rules.stack("arrays", "axis"), axis=0),
    f"{JNP}.ravel": op("a", rules.flatten("a")),
    f"{JNP}.matmul": op("a b", rules.matmul("a", "b")),
    f"{JNP}.dot": op("a b", rules.matmul("a", "b")),
    f"{JNP}.einsum": op("subscripts operands", einsum, varargs=None),
    **{f"{JNP}.{n}": op("x", rules.identity("x")) for n in _SAME},
    **{f"{JNP}.{n}": op("x y", rules.broadcasting("x", "y")) for n in _BINARY if n != "where"},
    f"{JNP}.where": op("condition x y", rules.broadcasting("condition", "x", "y")),
    **{f"jax.nn.{n}": op("x", rules.identity("x")) for n in _ACT if n != "one_hot"},
    "jax.lax.stop_gradient": op("x", rules.identity("x")),
}
FUNCTIONS = squashing(
    FUNCTIONS,
    {"jax.nn.softmax": "softmax", "jax.nn.log_softmax": "softmax", "jax.nn.sigmoid": "sigmoid"},
)


def _einsum_call(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """``jnp.einsum(subscripts, *operands)``: the operands are the positional arguments after the equation."""
    if not args:
        return Tensor(UNKNOWN_SHAPE)
    return it.apply_op(FUNCTIONS[f"{JNP}.einsum"], [args[0], Seq(list(args[1:]))], {})


# --- jax.vmap ---------------------------------------------------------------------------------------------


def vmap_stack(it: Interpreter) -> list[tuple[str, Dim]]:
    """The axes the ``jax.vmap`` calls running now took away, outermost first: ("batch" | "position",
    size)."""
    stack: list[tuple[str, Dim]] | None = getattr(it, "_jax_vmapped", None)
    if stack is None:
        stack = []
        it._jax_vmapped = stack  # type: ignore[attr-defined]
    return stack


def _in_axis(in_axes: Any, i: int) -> Any:
    if isinstance(in_axes, (tuple, list)):
        return in_axes[i] if i < len(in_axes) else None
    return in_axes


def _strip(v: Value, axis: Any) -> tuple[Value, Dim | None, bool]:
    """(``v`` without its ``axis``, that axis's size, whether an axis was taken away)."""
    if not isinstance(v, Tensor) or axis is None or not isinstance(axis, int):
        return v, None, False
    s = v.shape
    if s.rank is None or s.rank == 0:
        return v, None, s.rank is None
    assert s.dims is not None  # the rank is known
    ax = s.axis(axis)
    if ax is None:
        return v, None, False
    dims = s.dims[:ax] + s.dims[ax + 1 :]
    ca = s.channel_axis
    ca = None if ca == ax else (ca - 1 if ca is not None and ca > ax else ca)
    spatial = s.spatial and len(dims) >= 3
    return Tensor(Shape(dims, ca, s.explicit_layout, spatial), rank_from=v.rank_from), s.dims[ax], True


def _put_back(v: Value, size: Dim, axis: Any) -> Value:
    if isinstance(v, Seq) and not v.repeated:
        return Seq([_put_back(x, size, axis) for x in v.items], v.kind)
    if not isinstance(v, Tensor) or v.shape.dims is None:
        return v
    s = v.shape
    assert s.dims is not None
    ax = axis if isinstance(axis, int) else 0
    ax = ax % (len(s.dims) + 1) if ax < 0 else min(ax, len(s.dims))
    dims = s.dims[:ax] + (size if known(size) else None,) + s.dims[ax:]
    ca = s.channel_axis
    ca = ca + 1 if ca is not None and ca >= ax else ca
    if ca is None and len(dims) == 2:
        ca = 1
    out = Tensor(Shape(dims, ca, s.explicit_layout, s.spatial), v.origin, v.rank_from)
    return out


def vmapped(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """Calling ``jax.vmap(f, in_axes, out_axes)``: ``f`` on one slice of each mapped argument."""
    packed = b.self
    if not isinstance(packed, Seq) or len(packed.items) != 3:
        return UNKNOWN
    fn, in_axes_v, out_axes_v = packed.items
    in_axes = pyvalue(in_axes_v) if isinstance(in_axes_v, (Const, Seq)) else 0
    out_axes = pyvalue(out_axes_v) if isinstance(out_axes_v, Const) else 0
    inner: list[Value] = []
    size: Dim | None = None
    mapped = False
    for i, a in enumerate(args):
        v, d, took = _strip(a, _in_axis(in_axes, i))
        inner.append(v)
        if took:
            mapped = True
            size = size if known(size) else d
    inside_model = any(isinstance(f.self_value, Instance) for f in it.frames)
    stack = vmap_stack(it)
    if mapped:
        stack.append(("position" if inside_model else "batch", size))
    try:
        out = it.call(fn, inner, kwargs)
    finally:
        if mapped:
            stack.pop()
    return _put_back(out, size, out_axes) if mapped else out


def vmap(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """``jax.vmap(fun, in_axes=0, out_axes=0)`` (and ``eqx.filter_vmap``): a function mapped over an axis."""
    fn = args[0] if args else kwargs.get("fun", kwargs.get("f", UNKNOWN))
    in_axes = args[1] if len(args) > 1 else kwargs.get("in_axes", Const(0))
    out_axes = args[2] if len(args) > 2 else kwargs.get("out_axes", Const(0))
    return Builtin("jax.vmap", Seq([fn, in_axes, out_axes]), vmapped)


def scan(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """``jax.lax.scan(f, init, xs)``: ``f(carry, x)`` on one step of ``xs`` (its first axis removed); the
    outputs it stacks get that axis back: ``(carry, ys)``."""
    f = args[0] if args else kwargs.get("f", UNKNOWN)
    init = args[1] if len(args) > 1 else kwargs.get("init", UNKNOWN)
    xs = args[2] if len(args) > 2 else kwargs.get("xs", Const(None))
    size: Dim | None = None
    if isinstance(xs, Seq) and not xs.repeated:
        parts = [_strip(x, 0) for x in xs.items]
        step: Value = Seq([p[0] for p in parts], xs.kind)
        size = next((p[1] for p in parts if known(p[1])), None)
    else:
        step, size, _ = _strip(xs, 0)
    out = it.call(f, [init, step], {})
    if isinstance(out, Seq) and not out.repeated and len(out.items) == 2:
        carry, ys = out.items
        return Seq([carry, _put_back(ys, size, 0)])
    return Seq([UNKNOWN, UNKNOWN])


def first_arg(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """``jax.jit(f)``, ``jax.checkpoint(f)``: the same function, as far as shapes go."""
    return args[0] if args else next(iter(kwargs.values()), UNKNOWN)


CALLS = {
    "jax.vmap": vmap,
    "jax.lax.scan": scan,
    "jax.jit": first_arg,
    "jax.checkpoint": first_arg,
    "jax.remat": first_arg,
    f"{JNP}.einsum": _einsum_call,
}

# --- numpy-style tensor methods ----------------------------------------------------------------------------

_NUMPY_METHODS = {
    **{n: op("axis dtype out keepdims", rules.reduce("input", "axis", "keepdims")) for n in _REDUCE_D},
    **{
        n: op("axis out keepdims", rules.reduce("input", "axis", "keepdims"))
        for n in _REDUCE
        if n not in ("max", "min")  # torch's x.max(dim) gives (values, indices): left to the torch table
    },
    "transpose": op("axes", rules.permute("input", "axes", none_reverses=True), varargs="axes"),
    "squeeze": op("axis", rules.squeeze("input", "axis")),
    "swapaxes": op("axis1 axis2", rules.swapaxes("input", "axis1", "axis2")),
    "ravel": op("", rules.flatten("input")),
    "flatten": op("", rules.flatten("input")),
    # numpy's only (torch has none of these): the array's own shape
    **{n: op("dtype", rules.identity("input")) for n in ("astype", "block_until_ready", "conj")},
}
_NUMPY_ONLY = frozenset({"astype", "block_until_ready", "conj"})


def _numpy_method(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    name = b.name.rpartition(".")[2]
    t = b.self
    if not isinstance(t, Tensor):
        return UNKNOWN
    numpy_style = (
        name in _NUMPY_ONLY
        or "axis" in kwargs
        or "keepdims" in kwargs
        or (name in ("transpose", "flatten", "ravel") and not args)
        or (name == "transpose" and len(args) != 2)
    )
    if numpy_style and name in _NUMPY_METHODS:
        return it.apply_op(_NUMPY_METHODS[name], args, kwargs, self_value=t)
    return it.tensor_method(t, name, args, kwargs)


def attribute(it: Interpreter, v: Value, name: str) -> Value | None:
    """``x.mean(axis=(1, 2))``, ``x.transpose((0, 3, 1, 2))``, ``x.ravel()`` on an array: numpy's
    arguments."""
    if isinstance(v, Tensor) and name in _NUMPY_METHODS:
        return Builtin(f"tensor.{name}", v, _numpy_method)
    return None


PLUGIN = Plugin(
    name="jax",
    order=40,
    roots=("jax",),
    libraries=("jax", "jaxlib"),
    functions=FUNCTIONS,
    calls=CALLS,
    tensor_types=frozenset({"jax.Array", "jax.numpy.ndarray"}),
    attribute=attribute,
)
