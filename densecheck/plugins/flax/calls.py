"""Flax's module protocol, for the engine: a linen module is a dataclass (its fields are its constructor's
arguments), builds its submodules in ``setup()`` (run the first time one is looked up, as Flax does) or
inline in
an ``@nn.compact`` ``__call__``, and is run by ``model.init(rng, x)`` / ``model.apply(variables, x)``; nnx and
linen ``Sequential`` chain layers and functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from densecheck.engine.helpers import VarArgs
from densecheck.engine.values import (
    UNKNOWN,
    Builtin,
    Const,
    Function,
    Instance,
    Record,
    Seq,
    Sequential,
    Tensor,
    Value,
    pyvalue,
)
from densecheck.plugins.jaxnumpy import _put_back, _strip
from densecheck.shapes import Shape, known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter

LINEN_MODULE = "flax.linen.Module"
#: linen's bases of user modules (a recurrent cell subclasses RNNCellBase)
LINEN_BASES = (LINEN_MODULE, "flax.linen.RNNCellBase")
NNX_MODULE = "flax.nnx.Module"
_ARGS = "__dataclass_args__"
_SETUP = "__setup_ran__"
#: linen's methods that run the module: how many leading arguments are not the module's own inputs
RUNNERS = {"init": 1, "apply": 1, "init_with_output": 1, "lazy_init": 1}


def fields(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """The constructor's arguments of a dataclass module with no ``__init__`` of its own, bound to its
    fields on
    first use (:func:`bind_fields`): kept in the slot the engine gives a framework base's ``__init__``."""
    return Record({_ARGS: Seq(list(args)), **kwargs})


def bind_fields(it: Interpreter, inst: Instance) -> None:
    """``CNN(10, dropout=0.1)``: the fields in declaration order (bases first) get the positional
    arguments, the
    keywords their own; a field not given keeps its class-level default."""
    rec = inst.attrs.get("__sequential__")
    if not isinstance(rec, Record) or _ARGS not in rec.fields:
        return
    del inst.attrs["__sequential__"]
    given = dict(rec.fields)
    positional = given.pop(_ARGS)
    names = it.declared_fields(inst.cls) or []
    if isinstance(positional, Seq):
        for name, v in zip(names, positional.items):
            if not isinstance(v, VarArgs):
                inst.attrs.setdefault(name, v)
    for k, v in given.items():
        inst.attrs.setdefault(k, v)


def is_linen(v: Value) -> bool:
    return isinstance(v, Instance) and any(b in LINEN_BASES for b in v.cls.external_bases())


def runner(skip: int) -> Any:
    def impl(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
        inst = b.self
        if inst is None:
            return UNKNOWN
        kw = {
            k: v for k, v in kwargs.items() if k not in ("rngs", "mutable", "method", "capture_intermediates")
        }
        run = list(args[skip:])
        out = it.call_instance(inst, run, kw) if isinstance(inst, Instance) else it.call(inst, run, kw)
        return UNKNOWN if b.name.endswith((".init", ".lazy_init")) else out

    return impl


def attribute(it: Interpreter, v: Value, name: str) -> Value | None:
    """A linen module's fields, its ``setup()`` (run on the first lookup it may define), ``init`` and
    ``apply``."""
    if isinstance(v, Sequential) and v.framework == "flax" and name in RUNNERS:
        return Builtin(f"flax.{name}", v, runner(RUNNERS[name]))  # ``nn.Sequential([...]).init(rng, x)``
    if not is_linen(v):
        return None
    assert isinstance(v, Instance)
    bind_fields(it, v)
    if name in v.attrs:
        return None
    if name in RUNNERS and v.cls.lookup(name) is None:
        return Builtin(f"flax.{name}", v, runner(RUNNERS[name]))
    if name == "param" and v.cls.lookup(name) is None:
        return Builtin("flax.param", v, param)
    setup = v.cls.lookup("setup")
    if isinstance(setup, Function) and _SETUP not in v.attrs and v.cls.lookup(name) is None:
        v.attrs[_SETUP] = UNKNOWN
        it.invoke(setup, [], {}, self_value=v)
    return None


def param(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``self.param(name, init_fn, shape, ...)``: an array of that shape (when the code gives it)."""
    shape = pyvalue(args[2]) if len(args) > 2 else pyvalue(kwargs.get("shape"))
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, tuple):
        return Tensor(Shape.of(tuple(d if known(d) else None for d in shape)))
    return Tensor(Shape())


def linen_sequential(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """``nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(10)])``."""
    items = args[0] if args else kwargs.get("layers", UNKNOWN)
    layers: list[Value] = list(items.items) if isinstance(items, Seq) and not items.repeated else [UNKNOWN]
    return _sequential(it, layers)


def nnx_sequential(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """``nnx.Sequential(nnx.Linear(784, 64, rngs=rngs), nnx.relu, ...)``."""
    layers: list[Value] = []
    for a in args:
        if isinstance(a, VarArgs):
            inner = a.value
            layers.extend(inner.items if isinstance(inner, Seq) and not inner.repeated else [UNKNOWN])
        else:
            layers.append(a)
    return _sequential(it, layers)


def _sequential(it: Interpreter, layers: list[Value]) -> Value:
    seq = Sequential("flax", layers)
    if not (it.frames and isinstance(it.frames[-1].self_value, Instance)):
        it.loose_models.append(seq)  # built outside any model: run on what its first layer takes
    return seq


def cell(features: str, index: int) -> Any:
    """``nn.LSTMCell(features)`` / ``nnx.LSTMCell(in, hidden, rngs=...)``: a cell called as ``cell(carry, x)``
    giving ``(carry, y)``, ``y`` of ``x``'s shape with ``features`` last; an ``x`` of unknown rank is (batch,
    features), what a cell reads first."""

    def impl(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        size = args[index] if len(args) > index else kwargs.get(features, UNKNOWN)
        return Builtin("flax.cell", size, step)

    return impl


def step(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    n = pyvalue(b.self)
    n = n if known(n) else None
    carry = args[0] if args else kwargs.get("carry", UNKNOWN)
    x = args[1] if len(args) > 1 else kwargs.get("inputs", UNKNOWN)
    s = x.shape if isinstance(x, Tensor) and x.shape.rank else Shape.of((None, None), -1)
    y = Tensor(s.with_last(n))
    return Seq([carry if carry is not UNKNOWN else y, y])


def rnn(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    """``nn.RNN(cell, return_carry=False, time_major=False)``: the cell over the time axis."""
    c = args[0] if args else kwargs.get("cell", UNKNOWN)
    opts = Seq([c, kwargs.get("return_carry", Const(False)), kwargs.get("time_major", Const(False))])
    return Builtin("flax.RNN", opts, run_rnn)


def run_rnn(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    assert isinstance(b.self, Seq)
    c, return_carry, time_major = b.self.items
    x = args[0] if args else kwargs.get("inputs", UNKNOWN)
    axis = 0 if pyvalue(time_major) is True else 1
    carry = kwargs.get("initial_carry", args[1] if len(args) > 1 else UNKNOWN)
    if isinstance(x, Tensor) and x.shape.rank is None:
        x = Tensor(Shape.of((None, None, None), -1))  # (batch, time, features): what an RNN reads
    one, size, _ = _strip(x, axis)
    out = it.call(c, [carry, one], {})
    if not isinstance(out, Seq) or out.repeated or len(out.items) != 2:
        return UNKNOWN
    new_carry, y = out.items
    ys = _put_back(y, size, axis)
    return Seq([new_carry, ys]) if pyvalue(return_carry) is True else ys


def opaque(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    return UNKNOWN


CALLS = {
    "flax.linen.Sequential": linen_sequential,
    "flax.nnx.Sequential": nnx_sequential,
    "flax.nnx.Rngs": opaque,
    **{
        f"flax.linen.{n}": cell("features", 0)
        for n in ("LSTMCell", "OptimizedLSTMCell", "GRUCell", "SimpleCell")
    },
    **{
        f"flax.nnx.{n}": cell("hidden_features", 1)
        for n in ("LSTMCell", "OptimizedLSTMCell", "GRUCell", "SimpleCell")
    },
    "flax.linen.RNN": rnn,
    "flax.nnx.RNN": rnn,
}
