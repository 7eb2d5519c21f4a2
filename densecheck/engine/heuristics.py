"""Name-based guesses."""

from __future__ import annotations

import re

from densecheck.engine.values import (
    UNKNOWN,
    DimV,
    Value,
)
from densecheck.frameworks import (
    ENTRY_INPUTS,
)
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, Sym

INT_NAME = re.compile(r"(?:^|_)(?:size|dim|channels|features|heads|width|height|depth|length|len|rank|units)$"
                       r"|^(?:num|n)_|^(?:dim|hidden|channels|features|heads|depth|width)$")


#: attribute names that hold an activation (a callable that keeps its input's shape) in model code
ACTIVATION_NAME = re.compile(r"(^|_)(act|act_fn|activation|activation_fn|activation_function|hidden_act|act_layer)$")


def int_by_name(name: str) -> Value:
    """An unknown value whose name says it is an integer (``hidden_size``, ``num_heads``, ``dim``): an unknown
    dimension rather than an unknown anything, so ``torch.ones(hidden_size)`` is known to be 1-d. Plural and
    shape-like names (``dims``, ``image_shape``, ``size``) are not taken to be integers."""
    if INT_NAME.search(name) and not name.endswith(("shape", "dims", "sizes")):
        return DimV(Sym(name))
    return UNKNOWN


def conventional_input(name: str) -> Shape:
    """What an entry point's parameter holds when nobody calls it, by the framework's naming convention."""
    return ENTRY_INPUTS.get(name, UNKNOWN_SHAPE)



