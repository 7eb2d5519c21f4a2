"""Framework knowledge as data.

Each framework module (``torch.py``, ``keras.py``) exports tables:

* ``LAYERS``: canonical qualified name -> :class:`LayerSpec` (constructor signature + shape rule applied when the
  layer is called).
* ``FUNCTIONS``: canonical qualified name -> :class:`OpSpec` (``torch.flatten``, ``F.relu``, ``tf.reshape``, ...).
* ``METHODS`` (torch): tensor method name -> :class:`OpSpec` (``x.view``, ``x.permute``, ...).

Adding a layer means adding one entry to a table. The visitor never mentions a layer by name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from densecheck.shapes import UNKNOWN, Shape, broadcast


class Args:
    """Bound arguments of a layer constructor or op call, as the rules see them.

    ``a[name]`` is the statically known Python value, or ``None`` when unknown/absent (defaults are applied).
    ``a.shape(name)`` is the Shape of a tensor argument (or None), ``a.shapes(name)`` a list of Shapes for a
    sequence-of-tensors argument.
    """

    def __init__(self, values: dict[str, Any], shapes: dict[str, Any] | None = None,
                 star: list[Any] | None = None) -> None:
        self._values = values
        self._shapes = shapes or {}
        self.star = star or []  # extra positional values (e.g. x.view(2, 3, 4))

    def __getitem__(self, name: str) -> Any:
        return self._values.get(name)

    def __contains__(self, name: str) -> bool:
        return self._values.get(name) is not None

    def get(self, name: str, default: Any = None) -> Any:
        v = self._values.get(name)
        return default if v is None else v

    def shape(self, name: str) -> Shape | None:
        s = self._shapes.get(name)
        return s if isinstance(s, Shape) else None

    def shapes(self, name: str) -> list[Shape] | None:
        s = self._shapes.get(name)
        return s if isinstance(s, list) else None


ShapeRule = Callable[[Shape, Args], Any]
"""(input shape, constructor args) -> output Shape, or a tuple of outputs (RNNs), or None (unknown)."""


@dataclass(frozen=True)
class LayerSpec:
    name: str  # canonical, e.g. "torch.nn.Conv2d"
    params: tuple[str, ...]  # constructor parameters, positional order
    rule: ShapeRule | None  # None: output unknown
    defaults: dict[str, Any] = field(default_factory=dict)
    dense: bool = False  # a Dense/Linear layer: every constructor site is reported
    multi_input: bool = False  # called with a list of tensors (keras merge layers)
    wraps: bool = False  # wraps another layer given as first argument (TimeDistributed, Bidirectional)

    @property
    def framework(self) -> str:
        return "torch" if self.name.startswith("torch") else "keras"

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


# --- rules shared by every framework ----------------------------------------------------------------------------


def same(s: Shape, a: Args) -> Shape:
    """Shape-preserving layers (activations, dropout, normalisation)."""
    return s


def on_last_axis(out_arg: str) -> ShapeRule:
    """Dense / Linear: the last axis becomes ``a[out_arg]`` features, every other axis is kept (that is the point)."""

    def rule(s: Shape, a: Args) -> Shape:
        if s.rank is None:
            return s
        if s.rank == 0:
            return Shape()
        return s.with_last(a[out_arg])

    return rule


def joining(combine, seq: str, axis: str) -> Callable[[Args], Any]:
    """cat/concat/stack-style functions: ``combine(shapes of the sequence argument seq, a[axis])``."""

    def rule(a: Args):
        shapes = a.shapes(seq)
        return combine(shapes, a.get(axis, 0)) if shapes else Shape()

    return rule


def broadcasting(left: str, right: str) -> Callable[[Args], Any]:
    """Element-wise binary functions (add, mul, ...): the two arguments broadcast; one unknown argument leaves the
    other's shape."""

    def rule(a: Args):
        x, y = a.shape(left), a.shape(right)
        if x is None or y is None:
            return x or y or UNKNOWN
        return broadcast(x, y)

    return rule


def layer(name: str, params: str, rule: ShapeRule | None, **kw) -> LayerSpec:
    defaults = kw.pop("defaults", {})
    return LayerSpec(name, tuple(p for p in params.split() if p), rule, defaults, **kw)


def op(params: str, rule: Callable[[Args], Any], varargs: str | None = None, **defaults) -> OpSpec:
    return OpSpec(tuple(p for p in params.split() if p), rule, defaults, varargs)


# --- conventional input names -----------------------------------------------------------------------------------
# When a model's forward/call is analysed on its own (nobody in the file calls it), a parameter with one of these
# names is taken to hold a tensor of this shape: the convention of Hugging Face transformers and of most model code.
# Only names whose rank is fixed by the convention are listed (``hidden_states`` is not: 3 in a transformer block,
# 4 in a ConvNeXt stage).
ENTRY_INPUTS: dict[str, Shape] = {
    "input_ids": Shape.of((None, None)),  # (batch, tokens) of token ids
    "token_type_ids": Shape.of((None, None)),
    "attention_mask": Shape.of((None, None)),
    "position_ids": Shape.of((None, None)),
    "decoder_input_ids": Shape.of((None, None)),
    "inputs_embeds": Shape.of((None, None, None), -1),  # (batch, tokens, hidden)
    "decoder_inputs_embeds": Shape.of((None, None, None), -1),
    "encoder_hidden_states": Shape.of((None, None, None), -1),  # (batch, source tokens, hidden): cross-attention
    "encoder_attention_mask": Shape.of((None, None)),
}

# Optional inputs (default None) of an entry point that hold what the model computes itself, kept from an earlier
# call, or the loss's targets: analysed as not passed, i.e. as an inference pass from scratch. Any other optional
# input is None or a tensor.
ENTRY_OMITTED: frozenset[str] = frozenset({
    "labels",  # the loss's targets
    "encoder_outputs",  # the encoder's output, when the encoder already ran (generation)
    "past_key_values", "past_key_value", "cache", "cache_params",  # KV / state caches of earlier steps
})

# --- qualified-name canonicalisation -------------------------------------------------------------------------

_KERAS_ROOTS = ("tensorflow.keras.", "tensorflow.python.keras.", "tf_keras.", "keras.src.", "keras.api.",
                "tensorflow.compat.v1.keras.", "tensorflow.compat.v2.keras.", "tensorflow.python.keras.")


def canonical(qualname: str) -> str:
    """Map the many spellings of one API to the name the tables use.

    ``tensorflow.keras.layers.Dense``, ``keras.src.layers.core.dense.Dense`` -> ``keras.layers.Dense``;
    ``torch.nn.modules.linear.Linear`` -> ``torch.nn.Linear``; ``tensorflow.reshape`` -> ``tf.reshape``.
    """
    q = qualname
    for root in _KERAS_ROOTS:
        if q.startswith(root):
            q = "keras." + q[len(root):]
            break
    if q.startswith("keras."):
        last = q.rsplit(".", 1)[-1]
        if q.startswith(("keras.layers.", "keras.engine.", "keras.models.")) or q.count(".") == 1:
            from densecheck.frameworks import keras as _k

            if "keras.layers." + last in _k.LAYERS:
                return "keras.layers." + last
            if "keras." + last in _k.SPECIAL:
                return "keras." + last
        if q.startswith("keras.backend.") or q.startswith("keras.ops."):
            return "keras.ops." + last
        return q
    if q.startswith("torch.nn.") and not q.startswith("torch.nn.functional.") and not q.startswith("torch.nn.init"):
        return "torch.nn." + q.rsplit(".", 1)[-1]
    if q.startswith("tensorflow."):
        return "tf." + q[len("tensorflow."):]
    return q


def lookup_layer(canonical_name: str) -> LayerSpec | None:
    from densecheck.frameworks import keras as _k, torch as _t

    return _t.LAYERS.get(canonical_name) or _k.LAYERS.get(canonical_name)


def lookup_function(canonical_name: str) -> OpSpec | None:
    from densecheck.frameworks import keras as _k, torch as _t

    return _t.FUNCTIONS.get(canonical_name) or _k.FUNCTIONS.get(canonical_name)


def is_dense_name(canonical_name: str) -> bool:
    spec = lookup_layer(canonical_name)
    return spec is not None and spec.dense


@functools.lru_cache(maxsize=1)
def candidate_names() -> tuple[str, ...]:
    """Names one of which a file must contain to hold a reported layer: the last part of every Dense/Linear name in
    the framework tables (``Dense``, ``Linear``; ``LazyLinear`` contains ``Linear``)."""
    from densecheck.frameworks import keras, torch

    names = {spec.short for table in (torch.LAYERS, keras.LAYERS) for spec in table.values() if spec.dense}
    return tuple(sorted(n for n in names if not any(m != n and m in n for m in names)))
