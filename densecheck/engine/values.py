"""Abstract values the interpreter computes with.

Every Python expression in model code evaluates to one of these. They are deliberately few: a constant, a
tensor (with a :class:`~densecheck.shapes.Shape`), a framework layer, a container, a user
function/class/instance, a reference to an external name, a union of alternatives, or ``UNKNOWN``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst

from densecheck.plugins.base import LayerSpec
from densecheck.shapes import Shape, Sym

if TYPE_CHECKING:
    from densecheck.plugins.base import MethodImpl


class Value:
    __slots__ = ()


class _Unknown(Value):
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


@dataclass(eq=False)
class Const(Value):
    value: Any


@dataclass(eq=False)
class DimV(Value):
    """An integer that is a tensor dimension whose size is not known statically (``x.size(0)``)."""

    sym: Sym


@dataclass(eq=False)
class Tensor(Value):
    shape: Shape
    #: the Dense/Linear whose output this is, and the classifier activation applied to it since
    #: (``"softmax"``, ``"sigmoid"`` or None): followed through shape-preserving layers and ops only, so a
    #: model that returns it is known to end in that layer (its head)
    origin: Origin | None = None
    #: what fixed its rank when the code did not declare it (``"Conv2d at model.py:14"``: the first layer that
    #: read an entry input of unknown rank as, say, NCHW), followed through layers and ops
    rank_from: str | None = None


@dataclass(frozen=True)
class Origin:
    report: Any  # the LayerReport of the Dense/Linear
    squashed: str | None = None
    #: the per-position Dense/Linear reports this tensor went through one after the other (an inverted
    #: bottleneck's two), ``report`` last: a convolution reached next marks them all as feeding a feature map
    chain: tuple[Any, ...] = ()
    #: it was added to a tensor that went around those layers (``x + block(x)``): the chain is a residual
    #: block's branch, as ConvNeXt's inverted bottleneck is
    residual: bool = False


@dataclass(eq=False)
class Seq(Value):
    """tuple / list / nn.ModuleList. ``repeated``: items stand for a sequence of unknown length of such
    items."""

    items: list[Value]
    kind: str = "tuple"  # "tuple" | "list"
    repeated: bool = False


@dataclass(eq=False)
class Dict(Value):
    items: dict[Any, Value]


@dataclass(eq=False)
class Ref(Value):
    """An external name: a module, class or function we know only by its qualified name."""

    qualname: str


@dataclass(eq=False)
class Site:
    """A Dense/Linear constructor call site."""

    node: cst.Call
    report: Any  # LayerReport
    owner: Any = None  # the ClassV whose code built the layer, if any


@dataclass(eq=False)
class Layer(Value):
    """An instance of a framework layer (``nn.Conv2d(...)``, ``Dense(16)``)."""

    spec: LayerSpec
    args: dict[str, Value]
    site: Site | None = None
    built_shape: Shape | None = None  # keras: input_shape= given at construction
    guessed: bool = False  # made up from an unknown attribute's activation-like name (``config.hidden_act``)


@dataclass(eq=False)
class Sequential(Value):
    framework: str
    layers: list[Value]
    current: Shape | None = None  # keras: shape after the layers added so far, when the input is declared
    output: Value | None = None  # keras: the value after the layers added so far (``current``'s tensor)
    applied: bool = False  # it has been called on something
    #: its children by name (``nn.Sequential(OrderedDict([("fc", ...)]))``, ``add_module("fc", ...)``):
    #: ``seq.fc`` reads one, ``seq.fc = ...`` replaces it
    named: dict[str, Value] = field(default_factory=dict)
    targets: Shape | None = None  # keras: the shape of the targets ``fit`` was given, when known
    name: str | None = None


@dataclass(eq=False)
class KerasModel(Value):
    """A functional ``keras.Model(inputs, outputs)``: calling it gives the (symbolic) outputs again."""

    outputs: Value
    targets: Shape | None = None  # the shape of the targets ``fit`` was given, when known


@dataclass(eq=False)
class Function(Value):
    node: cst.FunctionDef | cst.Lambda
    scope: Scope  # defining scope
    defaults: dict[str, Value]
    qualname: str
    cls: ClassV | None = None  # defining class for methods (super())


@dataclass(eq=False)
class BoundMethod(Value):
    func: Function
    self: Value


@dataclass(eq=False)
class Builtin(Value):
    """A Python/framework callable implemented by the interpreter (``len``, ``x.size``, ``model.add``)."""

    name: str
    self: Value | None = None
    #: a plugin's implementation ``(engine, this, args, kwargs) -> value``; None: the engine's own, by
    # ``name``
    impl: MethodImpl | None = None


@dataclass(eq=False)
class Partial(Value):
    func: Value
    args: list[Value]
    kwargs: dict[str, Value]


@dataclass(eq=False)
class ClassV(Value):
    node: cst.ClassDef
    qualname: str
    bases: list[Value]
    scope: Scope
    attrs: dict[str, Value] = field(default_factory=dict)

    def mro(self) -> list[ClassV]:
        out = [self]
        for b in self.bases:
            if isinstance(b, ClassV):
                for c in b.mro():
                    if c not in out:
                        out.append(c)
        return out

    def lookup(self, name: str) -> Value | None:
        for c in self.mro():
            if name in c.attrs:
                return c.attrs[name]
        return None

    def external_bases(self) -> list[str]:
        out: list[str] = []
        for c in self.mro():
            out.extend(b.qualname for b in c.bases if isinstance(b, Ref))
        return out


@dataclass(eq=False)
class Instance(Value):
    cls: ClassV
    attrs: dict[str, Value] = field(default_factory=dict)
    built: bool = False  # keras: build() has run


@dataclass(eq=False)
class Super(Value):
    instance: Value
    cls: ClassV


@dataclass(eq=False)
class Record(Value):
    """A dataclass-like output object (``ModelOutput(last_hidden_state=x, ...)``): named fields, indexable."""

    fields: dict[str, Value]


@dataclass(eq=False)
class Union(Value):
    options: list[Value]


class Scope:
    """A namespace: module globals, or a function's locals with a parent for closures."""

    __slots__ = ("vars", "parent", "module")

    def __init__(self, parent: Scope | None = None, module: Any = None) -> None:
        self.vars: dict[str, Value] = {}
        self.parent = parent
        self.module = module

    def lookup(self, name: str) -> Value | None:
        s: Scope | None = self
        while s is not None:
            v = s.vars.get(name)
            if v is not None:
                return v
            s = s.parent
        return None


MAX_UNION = 4


def join(a: Value | None, b: Value | None) -> Value:
    """What is true of a value that may be ``a`` or ``b``."""
    if a is None:
        return b if b is not None else UNKNOWN
    if b is None or a is b:
        return a
    if (
        isinstance(a, Const)
        and isinstance(b, Const)
        and type(a.value) is type(b.value)
        and a.value == b.value
    ):
        return a
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if a.shape.rank == b.shape.rank:
            # made by the same Dense/Linear either way (``layer = Dropout(...) if p else Identity()``): still
            # its output
            same = a.origin is not None and b.origin is not None and a.origin.report is b.origin.report
            return Tensor(a.shape.join(b.shape), origin=a.origin if same else None)
        if a.shape.rank is None or b.shape.rank is None:
            return Tensor(Shape())  # one side's rank is unknown: so is the join's
    if isinstance(a, Seq) and isinstance(b, Seq) and len(a.items) == len(b.items) and a.kind == b.kind:
        return Seq([join(x, y) for x, y in zip(a.items, b.items)], a.kind, a.repeated or b.repeated)
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    opts: list[Value] = []
    for v in (a, b):
        for o in v.options if isinstance(v, Union) else [v]:
            if not any(o is p for p in opts):
                opts.append(o)
    if len(opts) > MAX_UNION:
        return UNKNOWN
    return Union(opts)


def options(v: Value) -> list[Value]:
    return v.options if isinstance(v, Union) else [v]


def pyvalue(v: Value | None) -> Any:
    """The Python value of a constant (recursively for tuples/lists), else None.

    DimV becomes its Sym (so shape rules can follow symbolic dims), unknown items inside sequences become
    None.
    """
    if isinstance(v, Const):
        return v.value
    if isinstance(v, DimV):
        return v.sym
    if isinstance(v, Seq) and not v.repeated:
        return tuple(pyvalue(x) for x in v.items)
    return None
