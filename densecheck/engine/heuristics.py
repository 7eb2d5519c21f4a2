"""Every name-based guess the engine makes, in one place, each one switchable.

Model code is full of values the analysis cannot compute (a config's ``hidden_size``, an ``act_fn`` chosen by
string); their names still say what they are. The guesses below turn a name into a value; everything else in
the engine follows the code only. Each guess has a name, listed in :data:`ALL` and switched off with the
``disable-heuristics`` setting (``[tool.densecheck]``), so their effect can be measured and a user who
distrusts one can turn it off:

* ``int-names``: an unknown value named like an integer (``hidden_size``, ``num_heads``, ``dim``) is an
  unknown dimension, so ``torch.ones(hidden_size)`` is known to be 1-d;
* ``activation-names``: an unknown attribute named like an activation (``config.hidden_act``, ``self.act_fn``)
  is a shape-preserving callable;
* ``entry-inputs``: an entry point's parameter with a conventional name (``input_ids``: (batch, tokens)) holds
  a tensor of that rank; the names come from the plugins (``entry_inputs``);
* ``nonempty-loops``: a loop over a container of an unknown number of like items (``for blk in self.blocks``,
  a ModuleList built from ``range(config.num_layers)``) runs at least once; any other loop of unknown length
  may also run zero times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from densecheck.engine.values import UNKNOWN, DimV, Layer, Seq, Value
from densecheck.plugins.base import LayerSpec, same
from densecheck.plugins.registry import registry
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, Sym

ALL = ("int-names", "activation-names", "entry-inputs", "nonempty-loops")

INT_NAME = re.compile(
    r"(?:^|_)(?:size|dim|channels|features|heads|width|height|depth|length|len|rank|units)$"
    r"|^(?:num|n)_|^(?:dim|hidden|channels|features|heads|depth|width)$"
)

#: attribute names that hold an activation (a callable that keeps its input's shape) in model code
ACTIVATION_NAME = re.compile(
    r"(^|_)(act|act_fn|activation|activation_fn|activation_function|hidden_act|act_layer)$"
)

#: what a guessed activation is: a layer that keeps its input's shape
ACTIVATION = LayerSpec("activation", (), same)


@dataclass(frozen=True)
class Heuristics:
    """The guesses one analysis makes; ``disabled`` names the ones switched off."""

    disabled: frozenset[str] = frozenset()

    def int_name(self, name: str) -> Value:
        """An unknown value whose name says it is an integer: an unknown dimension rather than an unknown
        anything. Plural and shape-like names (``dims``, ``image_shape``, ``size``) are not taken to be
        integers."""
        if (
            "int-names" not in self.disabled
            and INT_NAME.search(name)
            and not name.endswith(("shape", "dims", "sizes"))
        ):
            return DimV(Sym(name))
        return UNKNOWN

    def activation(self, name: str) -> Value | None:
        """An unknown attribute named like an activation: a shape-preserving callable (None: no guess)."""
        if "activation-names" not in self.disabled and ACTIVATION_NAME.search(name):
            return Layer(ACTIVATION, {}, guessed=True)
        return None

    def entry_input(self, name: str) -> Shape:
        """What an entry point's parameter holds when nobody calls it, by the naming convention."""
        if "entry-inputs" in self.disabled:
            return UNKNOWN_SHAPE
        return registry().entry_inputs.get(name, UNKNOWN_SHAPE)

    def nonempty_loop(self, iterable: Value) -> bool:
        """Whether a loop over ``iterable`` (items not known one by one) is taken to run at least once."""
        return "nonempty-loops" not in self.disabled and isinstance(iterable, Seq) and bool(iterable.items)
