"""The plugin protocol: what a framework or library teaches the engine, as typed tables and a few hooks.

A plugin is a module or package under ``densecheck/plugins/`` that exports ``PLUGIN = Plugin(...)``; the
registry (:mod:`densecheck.plugins.registry`) finds every one of them and merges their tables. The engine
reads framework knowledge only through the registry and never names a framework: adding a layer is one entry
in a plugin's ``layers`` table, adding a framework is one new plugin folder (and its tests).

What a plugin provides (every field optional):

* ``layers``: canonical qualified name -> :class:`LayerSpec`: constructor signature, shape rule, and for a
  Dense/Linear the :class:`DenseArgs` (which arguments are in/out features and bias);
* ``functions``: canonical qualified name -> :class:`OpSpec` (``torch.flatten``, ``keras.ops.reshape``);
* ``tensor_methods``: tensor method name -> :class:`OpSpec` (``x.view``, ``x.permute``); ``tensor_results``:
  the methods whose result is a tensor of unknown shape;
* ``calls``: qualified name -> :data:`SpecialCall`: containers, inputs, models, library helpers;
* ``subscripts``: ``NAME[...]`` of a library registry -> the value it gives (``ACT2FN[...]``);
* ``module_bases``: base classes whose subclasses are models or blocks; ``call_methods``: the method that runs
  one; ``module_methods``: methods a model inherits from its framework base (``add_module``, ``build``,
  ``to``);
* ``containers``: ``super().__init__(...)`` of these bases builds a container (``nn.Sequential`` subclasses);
* ``record_bases``: prefixes of output-record classes (``ModelOutput``): fields by keyword, ``out[0]``;
* ``entry_inputs``: conventional entry-point inputs by parameter name (``input_ids``: (batch, tokens)); see
  :mod:`densecheck.engine.heuristics`, which can switch them off;
* ``canonical``: spelling normaliser (``tensorflow.keras.layers.Dense`` -> ``keras.layers.Dense``);
* hooks: ``attribute`` / ``inherited`` / ``resolve`` / ``annotation`` for what tables cannot say;
* ``trace_recorder``: ``"module:function"``, a context manager recording every Dense/Linear call while
  tracing;
* ``spelling``: how the findings' advice spells a fix in this framework (``flatten``, ``pool``, ``lazy``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from densecheck.shapes import Shape
from densecheck.shapes.rules import Args as Args  # re-exported for the plugins
from densecheck.shapes.rules import broadcasting as broadcasting
from densecheck.shapes.rules import joining as joining
from densecheck.shapes.rules import on_last_axis as on_last_axis
from densecheck.shapes.rules import same as same

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter
    from densecheck.engine.values import Builtin, Layer, Sequential, Value


ShapeRule = Callable[[Shape, Args], Any] | Callable[[list[Shape], Args], Any]
"""(input shape, constructor args) -> output Shape, or a tuple of outputs (RNNs), or None (unknown); a
``multi_input`` layer's rule takes the list of its input shapes."""

WrapRule = Callable[["Interpreter", "Layer", "Value"], "Value"]
"""A wrapper layer's call: (engine, the wrapper layer, its input) -> output value."""


@dataclass(frozen=True)
class DenseArgs:
    """The constructor arguments of a Dense/Linear that the report reads: in/out features and bias."""

    in_features: str | None
    out_features: str
    bias: str


@dataclass(frozen=True)
class LayerSpec:
    name: str  # canonical, e.g. "torch.nn.Conv2d"
    params: tuple[str, ...]  # constructor parameters, positional order
    rule: ShapeRule | None  # None: output unknown
    defaults: dict[str, Any] = field(default_factory=dict)
    dense: bool = False  # a Dense/Linear layer: every constructor site is reported
    multi_input: bool = False  # called with a list of tensors (keras merge layers)
    #: wraps another layer given as first argument (TimeDistributed, Bidirectional): (engine, wrapper, input)
    # -> output
    wrap: WrapRule | None = None
    framework: str = ""  # the plugin's name ("torch", "keras")
    #: a Dense/Linear: which constructor arguments are its in/out features and bias (for the report)
    report: DenseArgs | None = None
    #: the arguments giving its ``.weight`` shape (``("out_features", "in_features")`` for nn.Linear), if
    # known
    weight: tuple[str, ...] | None = None
    #: the output activation of a classifier this layer applies (``"softmax"``, ``"sigmoid"``), or
    #: ``"arg:NAME"``: the one its argument NAME names (Keras ``Dense(10, activation="softmax")``)
    squashes: str | None = None

    @property
    def short(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class OpSpec:
    """A function or tensor method with a shape rule: ``rule(args) -> Shape | tuple | None``."""

    params: tuple[str, ...]
    rule: Callable[[Args], Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    varargs: str | None = None  # name that collects *args as a tuple (x.view(2, 3) == x.view((2, 3)))
    squashes: str | None = None  # the classifier output activation it is (``"softmax"``), as LayerSpec's


def squashing(table: dict[str, Any], kinds: Mapping[str, str]) -> dict[str, Any]:
    """``table`` (layers, functions or tensor methods) with ``squashes`` set for the names in ``kinds``."""
    out = dict(table)
    for name, kind in kinds.items():
        out[name] = replace(out[name], squashes=kind)
    return out


def layer(name: str, params: str, rule: ShapeRule | None, **kw: Any) -> LayerSpec:
    defaults = kw.pop("defaults", {})
    return LayerSpec(name, tuple(p for p in params.split() if p), rule, defaults, **kw)


def op(params: str, rule: Callable[[Args], Any], varargs: str | None = None, **defaults: Any) -> OpSpec:
    return OpSpec(tuple(p for p in params.split() if p), rule, defaults, varargs)


# --- the plugin
# ------------------------------------------------------------------------------------------------

SpecialCall = Callable[["Interpreter", list["Value"], dict[str, "Value"], Any], "Value"]
"""A callable the engine cannot read the source of: (engine, args, kwargs, call node or None) -> value."""

MethodImpl = Callable[["Interpreter", "Builtin", list["Value"], dict[str, "Value"]], "Value"]
"""A method implemented for the engine: (engine, the bound method, args, kwargs) -> value."""

AttributeHook = Callable[["Interpreter", "Value", str], "Value | None"]
"""(engine, value, attribute name) -> the attribute, or None when the hook has nothing to say."""

CallHook = Callable[["Interpreter", str, list["Value"], dict[str, "Value"], Any], "Value | None"]
"""(engine, canonical name, args, kwargs, call node) -> the call's value, or None when the hook has nothing to
say."""

AnnotationHook = Callable[["Interpreter", str, Callable[[], "Value"]], "Value | None"]
"""(engine, the qualified name of a two-argument annotation's head, its second argument, evaluated on
demand) -> the annotated parameter's value, or None (``Float[Tensor, "b c h w"]``)."""

SequentialAdd = Callable[["Interpreter", "Sequential", "Value"], None]
"""``seq.add(layer)`` on this framework's sequential container."""


@dataclass(frozen=True)
class Plugin:
    """Everything one framework or library contributes. See the module docstring for what each field means."""

    name: str
    #: where plugins' answers compete (a class defining both ``forward`` and ``call``), lower goes first
    order: int = 100
    roots: tuple[str, ...] = ()  # top-level modules whose import makes a file worth analysing
    #: top-level packages this plugin describes: never followed as project code, even when their source is in
    #: the project's directory (their layers come from the tables)
    libraries: tuple[str, ...] = ()
    layers: Mapping[str, LayerSpec] = field(default_factory=dict)
    functions: Mapping[str, OpSpec] = field(default_factory=dict)
    tensor_methods: Mapping[str, OpSpec] = field(default_factory=dict)
    tensor_results: frozenset[str] = frozenset()
    calls: Mapping[str, SpecialCall] = field(default_factory=dict)
    subscripts: Mapping[str, Callable[[], Value]] = field(default_factory=dict)
    module_bases: tuple[str, ...] = ()
    call_methods: tuple[str, ...] = ()
    module_methods: Mapping[str, MethodImpl | None] = field(default_factory=dict)
    layer_methods: Mapping[str, MethodImpl] = field(
        default_factory=dict
    )  # methods of a framework layer value
    layer_attributes: frozenset[str] = frozenset()  # constructor arguments readable as attributes
    containers: Mapping[str, SpecialCall] = field(default_factory=dict)
    sequential_add: SequentialAdd | None = None
    record_bases: tuple[str, ...] = ()
    record_roots: tuple[str, ...] = ()  # name endings of the root record class (whose fields are not read)
    tensor_types: frozenset[str] = frozenset()
    entry_inputs: Mapping[str, Shape] = field(default_factory=dict)
    entry_omitted: frozenset[str] = frozenset()
    canonical: Callable[[str], str | None] | None = None
    built_shape: Callable[[dict[str, Value]], Shape | None] | None = None
    attribute: AttributeHook | None = None  # consulted before any other attribute rule
    inherited: AttributeHook | None = None  # a name an instance or class of a model does not define itself
    resolve: CallHook | None = None  # an external name no table names (a family of names by prefix)
    annotation: AnnotationHook | None = None
    trace_recorder: str | None = None  # "module:function" of the recording context manager (trace mode)
    #: how a fix is spelled in this framework, for the findings' advice: ``flatten`` (the call that flattens
    #: a feature map for a head), ``pool`` (the global average pool), ``lazy`` (the Dense/Linear that infers
    #: its input size)
    spelling: Mapping[str, str] = field(default_factory=dict)
