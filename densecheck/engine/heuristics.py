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
* ``docstring-shapes``: an entry point's parameter its docstring gives a shape (``hidden_states
  (`torch.Tensor` of shape `(batch_size, seq_len, dim)`)``, Google or NumPy style) holds a tensor of that
  rank -- what the author wrote, where nobody in the file passes the input;
* ``optional-settings``: a constructor argument of an entry model (a class nobody in the file builds) that
  defaults to None may be given: None or an unknown value, so both sides of ``if in_channels is not None``
  are followed (the literal default alone often switches the whole model off);
* ``attention-names``: a function named for attention (``dispatch_attention_fn``, ``flash_attn_func``) that
  the analysis does not follow (a library's, a registry of backends chosen at run time) or could not (then
  its annotation must say it returns a tensor), called with query, key and value tensors, gives what
  attention gives: query's axes with value's features;
* ``index-rank``: a tensor of unknown rank indexed with an explicit closing ``:`` (``x[:, 0, :]``) has as
  many axes as the index names -- a trailing ``:`` selects nothing, so it is there to say the rank;
* ``nonempty-loops``: a loop over a container of an unknown number of like items (``for blk in self.blocks``,
  a ModuleList built from ``range(config.num_layers)``) runs at least once; any other loop of unknown length
  may also run zero times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from densecheck.engine.values import UNKNOWN, DimV, Layer, Seq, Tensor, Union, Value
from densecheck.plugins.base import LayerSpec, same
from densecheck.plugins.registry import registry
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, Sym

ALL = (
    "int-names",
    "activation-names",
    "entry-inputs",
    "docstring-shapes",
    "optional-settings",
    "attention-names",
    "index-rank",
    "nonempty-loops",
)

INT_NAME = re.compile(
    r"(?:^|_)(?:size|dim|channels|features|heads|width|height|depth|length|len|rank|units)$"
    r"|^(?:num|n)_|^(?:dim|hidden|channels|features|heads|depth|width)$"
)

#: attribute names that hold an activation (a callable that keeps its input's shape) in model code
ACTIVATION_NAME = re.compile(
    r"(^|_)(act|act_fn|activation|activation_fn|activation_function|hidden_act|act_layer)$"
)

#: function names that say attention (the scaled-dot-product family and its dispatchers)
ATTENTION_NAME = re.compile(r"attention|attn|(^|_)sdpa($|_)", re.IGNORECASE)

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

    def docstring_input(self, doc: str | None, name: str) -> Shape:
        """The shape an entry point's docstring gives its parameter ``name`` (unknown when it gives none)."""
        if "docstring-shapes" in self.disabled or not doc or name not in doc:
            return UNKNOWN_SHAPE
        return docstring_shapes(doc).get(name, UNKNOWN_SHAPE)

    def optional_setting(self, default: Value) -> Value:
        """An entry model's constructor argument whose default is None: None, or what a user passes."""
        if "optional-settings" in self.disabled:
            return default
        return Union([default, UNKNOWN])

    def attention_result(
        self, name: str, returns_tensor: bool, args: list[Value], kwargs: dict[str, Value]
    ) -> Value | None:
        """The result of an attention function nobody could follow: query's shape with value's last axis
        (None: no guess)."""
        if "attention-names" in self.disabled or not returns_tensor or not ATTENTION_NAME.search(name):
            return None
        qkv = list(args[:3])
        for i, names in enumerate((("query", "q"), ("key", "k"), ("value", "v"))):
            for n in names:
                if n in kwargs and len(qkv) <= i:
                    qkv.append(kwargs[n])
        if len(qkv) < 3 or not all(isinstance(t, Tensor) for t in qkv):
            return None
        q, v = cast(Tensor, qkv[0]), cast(Tensor, qkv[2])
        if q.shape.rank is None or q.shape.rank < 2:
            return None
        assert q.shape.dims is not None  # the rank is known
        last = v.shape.dims[-1] if v.shape.dims else None
        return Tensor(Shape.of(q.shape.dims[:-1] + (last,)))

    def index_rank(self, consumed: int, full_last: bool) -> bool:
        """Whether ``x[...]`` with ``consumed`` axes named, ending in a bare ``:``, tells x's rank."""
        return "index-rank" not in self.disabled and full_last and consumed >= 2

    def nonempty_loop(self, iterable: Value) -> bool:
        """Whether a loop over ``iterable`` (items not known one by one) is taken to run at least once."""
        return "nonempty-loops" not in self.disabled and isinstance(iterable, Seq) and bool(iterable.items)


#: the start of a parameter's entry in a docstring's argument list: ``name (type): ...``, ``name: ...``,
#: ``name : type`` (NumPy style)
_DOC_ENTRY = re.compile(r"^(?P<indent>[ \t]*)\**(?P<name>[A-Za-z_]\w*)\s*(?:\([^\n]*?\)\s*)?:(?!:)")
#: a shape in an entry's text: ``of shape `(batch, seq, dim)```, ``shape (N, C)``, ``shape [B, T]``
_DOC_SHAPE = re.compile(r"\bshaped?\s*(?:of\s*|=\s*|:\s*)?`{0,2}(?P<dims>\([^()`]*\)|\[[^\[\]`]*\])")
_DOC_DIM = re.compile(r"^(?:\d+|[A-Za-z_][\w.]*(?:\s*[*/+-]\s*(?:\d+|[A-Za-z_][\w.]*))*|[A-Za-z_][\w ]*)$")


def _doc_dims(text: str) -> tuple[int | None, ...] | None:
    """``(batch_size, 3, seq_len)`` -> (None, 3, None); None for anything that is not a plain list of dims
    (``(..., dim)``, ``(*, H)``, nested brackets, an empty list)."""
    inner = text[1:-1].strip()
    if not inner:
        return None
    parts = [p.strip() for p in inner.split(",")]
    if parts[-1] == "":
        parts = parts[:-1]  # ``(N,)``
    if not parts or any(not p or not _DOC_DIM.match(p) for p in parts):
        return None
    return tuple(int(p) if p.isdigit() else None for p in parts)


#: docstring shapes of higher rank are not taken: an image's ``(batch, channel, height, width)`` is the shape
#: docstrings most often keep after the code changed (a model fed packed (batch, tokens, channels) latents
#: whose docstring still says image), and a real image's rank comes from its first convolution anyway
MAX_DOC_RANK = 3


def docstring_shapes(doc: str) -> dict[str, Shape]:
    """The parameters a docstring gives one shape: the first shape written in each parameter's entry
    (its line and the more-indented lines after it; the first entry of a name counts). A parameter whose
    entry gives shapes of different ranks (``(batch, seq)`` or ``(batch, seq, dim)``), or a shape of rank
    above MAX_DOC_RANK, gets none."""
    out: dict[str, Shape] = {}
    lines = doc.expandtabs().splitlines()
    i = 0
    while i < len(lines):
        m = _DOC_ENTRY.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, name = len(m.group("indent")), m.group("name")
        text = [lines[i]]
        j = i = i + 1  # the lines after an entry are read again: a section header's entries are its own
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
            text.append(lines[j])
            j += 1
        shapes = [_doc_dims(s.group("dims")) for s in _DOC_SHAPE.finditer(" ".join(text))]
        ranks = {len(d) for d in shapes if d is not None}
        if len(ranks) == 1 and shapes[0] is not None and len(shapes[0]) <= MAX_DOC_RANK and name not in out:
            out[name] = Shape.of((None,) * len(shapes[0]))  # the rank only: a docstring's sizes are loose
    return out
