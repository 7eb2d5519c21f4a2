"""Recording every Dense / Linear of a JAX model (Flax linen and nnx, Haiku, Equinox) while it runs
abstractly.

This module *executes user code*. It is imported only inside the trace subprocess and by tests; the static
linter never imports it.

The model runs under ``jax.eval_shape`` (:func:`run_jax`): no FLOPs, no weight memory, as torch's meta device.
Each layer class's constructor is wrapped to note its call site (the first frame outside the framework's own
module machinery, as :func:`densecheck.trace.record.call_site` does for torch and Keras); its ``__call__`` is
wrapped to note the input shape. Under ``jax.vmap`` the input is a batch tracer whose shape is one
example's: the
mapped axes are read back from the tracers (outermost first), so an Equinox Linear mapped over a batch of
token
sequences shows ``(batch, tokens, features)``. Parameter counts come from the real parameters: the arrays
an nnx or
Equinox layer holds, the variables a linen layer made, the parameter tree Haiku's ``init`` gives.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from densecheck.trace.record import SiteRecord, _column, _is_own, _Recorder

#: (framework, module, class name, canonical name) of every Dense/Linear the recorder wraps
DENSE = (
    ("flax", "flax.linen", "Dense", "flax.linen.Dense"),
    ("flax", "flax.linen", "DenseGeneral", "flax.linen.DenseGeneral"),
    ("flax", "flax.nnx", "Linear", "flax.nnx.Linear"),
    ("flax", "flax.nnx", "LinearGeneral", "flax.nnx.LinearGeneral"),
    ("haiku", "haiku", "Linear", "haiku.Linear"),
    ("equinox", "equinox.nn", "Linear", "equinox.nn.Linear"),
)

#: frames of a framework's module machinery between a user's constructor call and ``__init__`` (metaclasses,
#: dataclass wrappers): skipped when looking for the call site
_MACHINERY = (
    os.sep + os.path.join("haiku", "_src", "module.py"),
    os.sep + os.path.join("equinox", "_module") + os.sep,
    os.sep + os.path.join("flax", "linen", "module.py"),
    os.sep + os.path.join("flax", "nnx", "object.py"),
    os.sep + os.path.join("flax", "nnx", "module.py"),
    os.sep + os.path.join("flax", "nnx", "pytreelib.py"),
)


def _jax_dirs() -> tuple[str, ...]:
    out = []
    for n in ("jax", "jaxlib", "flax", "haiku", "equinox", "optax", "numpy"):
        mod = sys.modules.get(n)
        f = getattr(mod, "__file__", None)
        if f:
            out.append(os.path.dirname(os.path.abspath(f)) + os.sep)
    return tuple(out)


def jax_call_site(obj: Any, fw_dirs: tuple[str, ...]) -> tuple[str, int, int | None] | None:
    """The constructor call site of ``obj``, or None when library code built it (``hk.nets.MLP``'s layers)."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if (
            _is_own(fn)
            or f.f_locals.get("self", None) is obj
            or fn.endswith(_MACHINERY)
            or any(m in fn for m in _MACHINERY)
            or fn.startswith("<string>")  # a dataclass's generated __init__
        ):
            f = f.f_back  # type: ignore[assignment]
            continue
        break
    if f is None:
        return None
    fn = f.f_code.co_filename
    if fn.startswith("<frozen") or os.path.abspath(fn).startswith(fw_dirs):
        return None
    line, col = _column(f)
    return (fn if fn.startswith("<") else os.path.abspath(fn)), line, col


def full_shape(x: Any) -> list[int | None] | None:
    """The shape of ``x`` with the axes every enclosing ``jax.vmap`` mapped over it put back in front
    (outermost first)."""
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    try:
        from jax._src.interpreters.batching import BatchTracer
    except ImportError:  # pragma: no cover - another jax layout
        return [int(d) for d in shape]
    mapped: list[int] = []
    t = x
    while isinstance(t, BatchTracer):
        bd = t.batch_dim
        if isinstance(bd, int):
            mapped.append(int(t.val.shape[bd]))
        t = t.val
    return [*reversed(mapped), *(int(d) for d in shape)]


def _size(tree: Any) -> int:
    import jax

    return sum(int(math.prod(getattr(leaf, "shape", ()))) for leaf in jax.tree_util.tree_leaves(tree))


class JaxRecorder(_Recorder):
    """Sites by constructor call, with each instance's facts: (in, out, params, bias) once known."""

    def __init__(self) -> None:
        super().__init__("jax")
        self.facts: dict[int, tuple[Any, ...]] = {}
        self.haiku_names: dict[int, str] = {}  # id(instance) -> its module name (params are looked up there)
        self.frameworks: set[str] = set()
        self.by_array: dict[int, Any] = {}  # id(an Equinox Linear's weight or bias) -> the Linear

    def add_site(self, obj: Any, layer: str, framework: str, fw_dirs: tuple[str, ...]) -> None:
        site = jax_call_site(obj, fw_dirs)
        if site is None:
            return
        s = self.sites.get(site)
        if s is None:
            from densecheck.trace.record import _Site

            s = self.sites[site] = _Site(site, framework, layer)
        s.instances.append(obj)
        self.by_id[id(obj)] = s
        self.frameworks.add(framework)
        if framework == "equinox":  # a copy (eqx.tree_at, make_with_state) keeps its arrays: theirs find it
            for leaf in (getattr(obj, "weight", None), getattr(obj, "bias", None)):
                if leaf is not None:
                    self.by_array[id(leaf)] = obj

    def alias(self, new: Any, old: Any) -> None:
        """``new`` is a copy of ``old`` (a linen clone): the same site."""
        s = self.by_id.get(id(old))
        if s is not None and id(new) not in self.by_id:
            s.instances.append(new)
            self.by_id[id(new)] = s
            if id(old) in self.facts:
                self.facts.setdefault(id(new), self.facts[id(old)])

    def seen(self, obj: Any, x: Any, facts: tuple[Any, ...] | None, axis: Any = None) -> None:
        """A call of ``obj`` on ``x``; ``axis``: the axes a DenseGeneral contracts, which the record shows
        moved last and merged (the plain Dense it is)."""
        s = self.by_id.get(id(obj))
        if s is None:
            for leaf in (getattr(obj, "bias", None), getattr(obj, "weight", None)):
                orig = self.by_array.get(id(leaf)) if leaf is not None else None
                if orig is not None:
                    self.alias(obj, orig)
                    s = self.by_id.get(id(obj))
                    break
        if s is None:
            return
        self.called.add(id(obj))
        shape = full_shape(x)
        if shape is not None and axis is not None:
            axes = sorted({a % len(shape) for a in (axis if isinstance(axis, (tuple, list)) else (axis,))})
            kept = [d for i, d in enumerate(shape) if i not in axes]
            shape = [*kept, math.prod(shape[i] or 0 for i in axes)]
        if facts is not None:
            self.facts[id(obj)] = facts
        f = self.facts.get(id(obj), (None, None, None, None))
        if shape is not None:
            s.see(shape, f[0], f[1], f[3])

    def describe(self, obj: Any) -> tuple[Any, ...]:
        return self.facts.get(id(obj), (None, None, None, None))

    def haiku_params(self, params: Any) -> None:
        """Haiku's parameters live in ``init``'s tree under each module's name: read each Linear's there."""
        for oid, name in self.haiku_names.items():
            mod = params.get(name) if hasattr(params, "get") else None
            if mod is None:
                continue
            w = mod.get("w")
            b = mod.get("b")
            in_f = int(w.shape[0]) if w is not None else None
            out_f = int(w.shape[-1]) if w is not None else None
            self.facts[oid] = (in_f, out_f, _size(mod), b is not None)

    def results(self) -> list[SiteRecord]:
        out = []
        for s in self.sites.values():
            s.instances = [o for o in s.instances if id(o) in self.called] or s.instances
            out.append(s.record(self.describe))
        return out


def _flax_facts(mod: Any, general: bool) -> tuple[Any, ...] | None:
    try:
        from flax.core import meta

        params = meta.unbox(mod.variables.get("params", {}))  # nn.with_partitioning's boxes: their arrays
    except Exception:  # noqa: BLE001 - an unbound module has no variables
        return None
    kernel = params.get("kernel")
    if kernel is None:
        return None
    bias = params.get("bias")
    n_out = 1 if isinstance(mod.features, int) else len(mod.features)
    in_f = int(math.prod(kernel.shape[: kernel.ndim - n_out])) if general else int(kernel.shape[0])
    out_f = int(math.prod(kernel.shape[kernel.ndim - n_out :]))
    return in_f, out_f, _size(params), bias is not None


def _nnx_facts(mod: Any) -> tuple[Any, ...]:
    k = mod.kernel  # an nnx Variable: its shape is its array's
    b = getattr(mod, "bias", None)
    b = b if b is not None and getattr(b, "shape", None) is not None else None
    n = int(math.prod(k.shape)) + (int(math.prod(b.shape)) if b is not None else 0)
    out_f = int(mod.out_features) if isinstance(mod.out_features, int) else int(math.prod(mod.out_features))
    in_f = int(mod.in_features) if isinstance(mod.in_features, int) else int(math.prod(mod.in_features))
    return in_f, out_f, n, b is not None


def _eqx_facts(mod: Any) -> tuple[Any, ...]:
    w, b = mod.weight, mod.bias
    n = int(math.prod(w.shape)) + (int(math.prod(b.shape)) if b is not None else 0)
    return int(w.shape[1]), int(w.shape[0]), n, b is not None


_ACTIVE: JaxRecorder | None = None


@contextlib.contextmanager
def jax_sites() -> Iterator[JaxRecorder]:
    """While active, every Flax / Haiku / Equinox Dense-like layer built and called is recorded."""
    import importlib

    global _ACTIVE
    if _ACTIVE is not None:  # one recorder for every JAX library: installed once, however many ask
        yield _ACTIVE
        return
    rec = _ACTIVE = JaxRecorder()
    undo: list[Callable[[], None]] = []

    def patch(cls: type, name: str, new: Any) -> None:
        old = cls.__dict__.get(name, None)
        had = name in cls.__dict__
        setattr(cls, name, new)
        undo.append(lambda: setattr(cls, name, old) if had else delattr(cls, name))

    for framework, module, clsname, canon in DENSE:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        cls = getattr(mod, clsname, None)
        if cls is None:
            continue
        init = cls.__init__
        call = cls.__call__

        def new_init(
            self: Any, *a: Any, _init: Any = init, _c: str = canon, _fw: str = framework, **k: Any
        ) -> None:
            _init(self, *a, **k)
            rec.add_site(self, _c, _fw, _jax_dirs())

        def new_call(self: Any, x: Any, *a: Any, _call: Any = call, _c: str = canon, **k: Any) -> Any:
            out = _call(self, x, *a, **k)
            facts = None
            if _c.startswith("flax.linen."):
                facts = _flax_facts(self, general=_c.endswith("General"))
            elif _c.startswith("flax.nnx."):
                facts = _nnx_facts(self)
            elif _c.startswith("equinox."):
                facts = _eqx_facts(self)
            elif _c.startswith("haiku."):
                rec.haiku_names.setdefault(id(self), self.module_name)
            rec.seen(self, x, facts, getattr(self, "axis", -1) if _c.endswith("General") else None)
            return out

        patch(cls, "__init__", new_init)
        patch(cls, "__call__", new_call)

    try:
        linen = importlib.import_module("flax.linen")
        clone = linen.Module.clone

        def new_clone(self: Any, *a: Any, _clone: Any = clone, **k: Any) -> Any:
            out = _clone(self, *a, **k)
            rec.alias(out, self)
            return out

        patch(linen.Module, "clone", new_clone)
    except ImportError:
        pass
    try:
        yield rec
    finally:
        _ACTIVE = None
        for u in reversed(undo):
            u()


# --- running a model abstractly ----------------------------------------------------------------------------


def detect_jax(obj: Any) -> str | None:
    """ "flax.linen" / "flax.nnx" / "haiku" / "equinox" for a model object of that library, else None."""
    for name, attr in (("flax.linen", "Module"), ("flax.nnx", "Module"), ("equinox", "Module")):
        mod = sys.modules.get(name)
        if mod is not None and isinstance(obj, getattr(mod, attr)):
            return name
    hk = sys.modules.get("haiku")
    if hk is not None and isinstance(obj, (hk.Transformed, hk.TransformedWithState)):
        return "haiku"
    return None


def run_jax(model: Any, specs: list[tuple[tuple[int, ...], str]], rec: JaxRecorder) -> Any:
    """Run ``model`` on abstract inputs of ``specs`` (batch axis included) under ``jax.eval_shape``.

    A linen module: ``model.init(rng, *inputs)``; an nnx module: called on the inputs; a Haiku transform:
    ``init(rng, *inputs)``; an Equinox module (unbatched): ``jax.vmap`` over the inputs' first axis.
    Gives what
    ``init`` gave (abstract), for the caller's parameter counts."""
    import jax
    import jax.numpy as jnp

    inputs = [jax.ShapeDtypeStruct(tuple(s), jnp.dtype(d or "float32")) for s, d in specs]
    kind = detect_jax(model)
    key = jax.random.key(0)
    if kind == "flax.linen":
        return jax.eval_shape(lambda *xs: model.init(key, *xs), *inputs)
    if kind == "haiku":
        params = jax.eval_shape(lambda *xs: model.init(key, *xs), *inputs)
        rec.haiku_params(params[0] if isinstance(params, tuple) else params)
        return params
    if kind == "flax.nnx":
        from flax import nnx

        graphdef, state = nnx.split(model)

        def run(state: Any, *xs: Any) -> Any:
            return nnx.merge(graphdef, state)(*xs)

        return jax.eval_shape(run, state, *inputs)
    if kind == "equinox":
        import equinox as eqx

        return eqx.filter_eval_shape(lambda *xs: jax.vmap(model)(*xs), *inputs)
    raise ValueError(f"{type(model).__qualname__} is not a Flax, Haiku or Equinox model")


def record_jax(build: Callable[[], Any], specs: list[tuple[tuple[int, ...], str]]) -> list[SiteRecord]:
    """Build the model with the recorder active and run it abstractly (:func:`run_jax`)."""
    with jax_sites() as rec:
        model = build()
        run_jax(model, specs, rec)
    return rec.results()
