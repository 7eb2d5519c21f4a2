"""PyTorch's callables the engine cannot read the source of: containers, tensor constructors, module methods.

Each is a :data:`~densecheck.plugins.base.SpecialCall` ``(engine, args, kwargs, node) -> value`` or a
:data:`~densecheck.plugins.base.MethodImpl` ``(engine, bound method, args, kwargs) -> value``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from densecheck.engine.helpers import VarArgs
from densecheck.engine.pybuiltins import ordered_dict
from densecheck.engine.values import (
    UNKNOWN,
    Builtin,
    ClassV,
    Const,
    Dict,
    Function,
    Instance,
    Seq,
    Sequential,
    Tensor,
    Value,
    pyvalue,
)
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter
    from densecheck.plugins.base import SpecialCall


def sequential(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    layers: list[Value] = []
    named: dict[str, Value] = {}
    for a in args:
        if isinstance(a, Dict):
            layers.extend(a.items.values())
            named.update((k, v) for k, v in a.items.items() if isinstance(k, str))
        elif isinstance(a, VarArgs):
            inner = a.value
            if isinstance(inner, Seq):
                layers.extend(inner.items if not inner.repeated else [inner.items[0]])
            else:
                layers.append(UNKNOWN)
        else:
            layers.append(a)
    seq = Sequential("torch", layers, named=named)
    if not (it.frames and isinstance(it.frames[-1].self_value, Instance)):
        it.loose_models.append(seq)  # built outside any model (a module-level model, a factory's result)
    return seq


def module_list(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    items = args[0] if args else kwargs.get("modules")
    if isinstance(items, Seq):
        return Seq(list(items.items), "list", items.repeated)
    if isinstance(items, Sequential):
        return Seq(list(items.layers), "list")
    return Seq([], "list") if items is None else Seq([UNKNOWN], "list", repeated=True)


def module_dict(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    items = args[0] if args else None
    if isinstance(items, Dict):
        return Dict(dict(items.items))
    if isinstance(items, Seq):
        return ordered_dict(it, args, kwargs, node)
    return Dict({})


def torch_size(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    return args[0] if args and isinstance(args[0], Seq) else UNKNOWN


def first_arg(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    return args[0] if args else next(iter(kwargs.values()), UNKNOWN)


def arange(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    vals = [pyvalue(a) for a in args]
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        try:
            return Tensor(Shape.of((len(range(*vals)),)))
        except (TypeError, ValueError):
            pass
    return Tensor(Shape.of((None,)))


def literal_shape(v: Value) -> tuple[int, ...] | None:
    if isinstance(v, Seq) and not v.repeated:
        inner = [literal_shape(x) for x in v.items]
        if inner and all(i is not None and i == inner[0] for i in inner):
            return (len(v.items),) + cast("tuple[int, ...]", inner[0])
        return (len(v.items),) if not inner else None
    if isinstance(v, Const) and isinstance(v.value, (int, float, bool)):
        return ()
    return None


def torch_tensor(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
    shape = literal_shape(args[0]) if args else None
    return Tensor(Shape.of(shape)) if shape is not None else Tensor(UNKNOWN_SHAPE)


def summary(batch_missing: bool) -> SpecialCall:
    """torchinfo.summary(model, input_size=(1, 3, 224, 224)) / torchsummary.summary(model, (3, 224, 224))."""

    def impl(it: Interpreter, args: list[Value], kwargs: dict[str, Value], node: Any) -> Value:
        model = args[0] if args else kwargs.get("model", UNKNOWN)
        size = pyvalue(args[1]) if len(args) > 1 else pyvalue(kwargs.get("input_size"))
        if isinstance(size, tuple) and size and all(isinstance(d, int) for d in size):
            dims = ((None,) if batch_missing else ()) + size
            it.call(model, [Tensor(Shape.of(dims))], {})
        return UNKNOWN

    return impl


def add_module(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    if len(args) == 2 and isinstance(b.self, Instance):
        name = pyvalue(args[0])
        if isinstance(name, str):
            b.self.attrs[name] = args[1]
    return Const(None)


def autograd_apply(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    forward = b.self.lookup("forward") if isinstance(b.self, ClassV) else None
    if not isinstance(forward, Function):
        return UNKNOWN
    return it.invoke(forward, [UNKNOWN, *args], kwargs)  # ``ctx``: the autograd context, opaque here


def returns_self(it: Interpreter, b: Builtin, args: list[Value], kwargs: dict[str, Value]) -> Value:
    """``nn.Linear(16, 2).to(dtype)``, ``Block(config).eval()``: the module itself."""
    return b.self if b.self is not None else UNKNOWN


#: nn.Module methods that return the module itself (``Block(config).to(dtype=torch.float32)``)
RETURNS_SELF = (
    "apply",
    "eval",
    "train",
    "to",
    "float",
    "half",
    "double",
    "bfloat16",
    "cuda",
    "cpu",
    "requires_grad_",
    "share_memory",
    "to_empty",
)

#: methods a model inherits from nn.Module: the ones that change what the analysis sees, and the ones known to
#: exist but whose result is not tracked (None: calling them gives an unknown value)
MODULE_METHODS = {
    "add_module": add_module,
    "register_module": add_module,
    **dict.fromkeys(
        ("register_buffer", "register_parameter", "parameters", "modules", "children", "named_modules")
    ),
    **dict.fromkeys(RETURNS_SELF, returns_self),
}

AUTOGRAD_FUNCTION = frozenset({"torch.autograd.Function", "torch.autograd.function.Function"})


def inherited(it: Interpreter, v: Value, name: str) -> Value | None:
    """``MyFn.apply(x)`` of a ``torch.autograd.Function`` subclass runs its static ``forward(ctx, x)``."""
    if isinstance(v, ClassV) and name == "apply" and AUTOGRAD_FUNCTION.intersection(v.external_bases()):
        return Builtin("autograd.apply", v, autograd_apply)
    return None


CALLS = {
    "torch.nn.Parameter": first_arg,
    "torch.nn.Buffer": first_arg,
    "torch.nn.parameter.Parameter": first_arg,
    "torch.arange": arange,
    "torch.tensor": torch_tensor,
    "torch.as_tensor": torch_tensor,
    "torch.nn.Sequential": sequential,
    "torch.nn.ModuleList": module_list,
    "torch.nn.ParameterList": module_list,
    "torch.nn.ModuleDict": module_dict,
    "torch.Size": torch_size,
    # weight/spectral normalisation re-parametrises a module's weight and returns that same module
    # (``torch.nn.utils[.parametrizations].weight_norm``, canonical)
    "torch.nn.weight_norm": first_arg,
    "torch.nn.spectral_norm": first_arg,
    "torchinfo.summary": summary(batch_missing=False),
    "torchsummary.summary": summary(batch_missing=True),
}
