"""LayerReport: what densecheck says about one Dense/Linear constructor call site.

The analysis fills in the facts (where the layer is built, its arguments, the shapes it was applied to);
everything the user reads — behaves_as, positions, params, params_if_flattened, macs, the one-sentence
explanation — is derived here, in one place, from those facts. The JSON contract in the README is
:meth:`LayerReport.to_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from densecheck.shapes import Shape, dim_product, known

FULLY_CONNECTED = "fully_connected"
POINTWISE = "pointwise"
SPATIAL_MIXING = "spatial_mixing"
UNKNOWN = "unknown"


@dataclass
class LayerReport:
    # where
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    # what
    framework: str  # "keras" | "torch"
    layer: str  # canonical qualified name, e.g. "torch.nn.Linear"
    call: str  # short display of the constructor, e.g. "nn.Linear(512, 10)"
    model: str | None = None  # enclosing model: class name, or the variable a Sequential/Model is bound to
    name: str | None = None  # attribute / variable the layer is bound to, e.g. "self.fc1"
    in_features: int | None = None  # declared (torch) — Keras Dense infers it from the input
    out_features: int | None = None
    bias: bool | None = True
    # facts from the analysis
    shapes: list[Shape] = field(default_factory=list)  # every input shape the layer was applied to
    #: where each of ``shapes`` came from, the same length: the outermost model method or function running
    #: when the layer was applied (``"SmallCNN.forward"``), None for a module's top level
    contexts: list[str | None] = field(default_factory=list)
    source: str = "static"
    trace: dict | None = None  # filled by trace mode: {"input_shape": [...], "agrees": bool, ...}
    # True while every shape came from running the layer's own class as an entry point (nothing in the file
    # calls it), with conventional inputs: a caller in another file of the project, when there is one, knows
    # better
    assumed_input: bool = True
    #: a model gives this layer's output back (maybe through an activation): it is the model's head
    model_output: bool = False
    #: the classifier activation applied to its output on the way out ("softmax", "sigmoid"), if any
    squashed: str | None = None
    #: what it makes goes on through a convolution or pool (maybe through more per-position layers and a
    #: residual add): a per-position layer inside a convolutional network, as in ConvNeXt's blocks
    feeds_feature_map: bool = False
    #: what fixed the rank of the input when the code did not declare it (``"Conv2d at model.py:14"``: an
    #: entry point's input read as NCHW by its first convolution; ``"the conventional input 'input_ids'"``)
    input_rank_from: str | None = None
    #: the shape of the targets the model is trained on in the same file (``model.fit(x, y)``), when known
    targets: list[int | None] | None = None
    #: its output is given back as the logits of an output record of one prediction per sample (a plugin
    #: names them: transformers' ``SequenceClassifierOutput``, ``ImageClassifierOutput``): that record's name
    per_sample_output: str | None = None

    # -- derived facts ------------------------------------------------------------------------------------
    def by_context(self) -> list[tuple[str | None, LayerReport]]:
        """This layer as each context that applied it saw it: (context, a report of only its shapes), in the
        order the contexts first applied it."""
        groups: dict[str | None, list[Shape]] = {}
        for s, c in zip(self.shapes, self.contexts):
            groups.setdefault(c, []).append(s)
        return [(c, replace(self, shapes=ss, contexts=[c] * len(ss))) for c, ss in groups.items()]

    @property
    def ranks(self) -> list[int]:
        return sorted({s.rank for s in self.shapes if s.rank is not None})

    @property
    def input(self) -> Shape | None:
        """The single shape this layer sees, joined over all calls; None when unknown or several ranks."""
        known_shapes = [s for s in self.shapes if s.rank is not None]
        if not known_shapes or len(self.ranks) != 1:
            return None
        out = known_shapes[0]
        for s in known_shapes[1:]:
            out = out.join(s)
        return out

    @property
    def input_rank(self) -> int | None:
        s = self.input
        return s.rank if s is not None else None

    @property
    def behaves_as(self) -> str:
        s = self.input
        if s is None:
            return UNKNOWN
        assert s.rank is not None  # input: a join of shapes of one known rank
        if s.rank <= 2:
            return FULLY_CONNECTED
        if s.channel_axis is None or s.channel_axis == s.rank - 1:
            return POINTWISE
        return SPATIAL_MIXING

    @property
    def effective_in_features(self) -> int | None:
        """in_features as built: declared (torch) or the input's last dim (Keras, LazyLinear)."""
        if self.in_features is not None:
            return self.in_features
        s = self.input
        return s.last if s is not None and known(s.last) else None

    @property
    def positions(self) -> int | None:
        s = self.input
        if s is None:
            return None
        assert s.rank is not None and s.dims is not None  # input: a join of shapes of one known rank
        if s.rank <= 1:
            return 1
        return dim_product(s.dims[1:-1])

    @property
    def params(self) -> int | None:
        i, o = self.effective_in_features, self.out_features
        if i is None or o is None or self.bias is None:
            return None
        return i * o + (o if self.bias else 0)

    @property
    def params_if_flattened(self) -> int | None:
        s = self.input
        if s is None:
            return None
        assert s.rank is not None and s.dims is not None  # input: a join of shapes of one known rank
        if s.rank <= 2 or self.out_features is None or self.bias is None:
            return None
        flat = dim_product(s.dims[1:])
        if flat is None:
            return None
        return flat * self.out_features + (self.out_features if self.bias else 0)

    @property
    def macs(self) -> int | None:
        """Multiply-accumulates per sample: positions x in x out."""
        p, i, o = self.positions, self.effective_in_features, self.out_features
        if p is None or i is None or o is None:
            return None
        return p * i * o

    @property
    def mismatch(self) -> tuple[int, int] | None:
        """(declared in_features, inferred last dim) when they certainly disagree."""
        s = self.input
        if self.in_features is None or s is None or not known(s.last):
            return None
        return (self.in_features, s.last) if s.last != self.in_features else None

    # -- words ----------------------------------------------------------------------------------------------
    def explanation(self) -> str:
        """One sentence a user can act on."""
        s = self.input
        head = f"{self.call}"
        if s is None:
            if len(self.ranks) > 1:
                seen = self.by_context()
                if len(seen) > 1:  # say who applied which: "rank 4 from SmallCNN.forward, rank 2 from ..."
                    where = ", ".join(
                        f"{'/'.join(map(str, r.ranks)) or '?'} from {context_name(c)}" for c, r in seen
                    )
                    return f"{head} is applied to inputs of different ranks: {where}"
                return f"{head} is applied to inputs of different ranks ({', '.join(map(str, self.ranks))})"
            return f"{head}: input shape unknown statically"
        assert s.rank is not None  # input: a join of shapes of one known rank
        on = f"{head} on {s}"
        p = self.params
        ptxt = f"{p:,} params" if p is not None else "params unknown"
        kind = self.behaves_as
        if kind == FULLY_CONNECTED:
            return f"{on}: fully connected — {ptxt}"
        pos = self.positions
        at = f"at {pos:,} positions" if pos is not None else "at every position"
        flat = self.params_if_flattened
        tail = f"; flattening first would make it {flat:,}" if flat is not None else ""
        if kind == POINTWISE:
            what = "a 1x1 convolution" if s.rank >= 4 else "a per-position (pointwise) layer"
            return f"{on}: acts as {what} {at} — {ptxt}{tail}"
        axis = s.rank - 1
        return (
            f"{on}: mixes along axis {axis} (a spatial axis: channels are on axis {s.channel_axis}) "
            f"{at} — {ptxt}{tail}"
        )

    def to_json(self) -> dict:
        s = self.input
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "framework": self.framework,
            "layer": self.layer,
            "call": self.call,
            "model": self.model,
            "name": self.name,
            "input_shape": s.json() if s is not None else None,
            "input_rank": s.rank if s is not None else None,
            "input_ranks": self.ranks,
            "input_rank_from": self.input_rank_from if s is not None else None,
            "channel_axis": s.channel_axis if s is not None else None,
            "behaves_as": self.behaves_as,
            "positions": self.positions,
            "in_features": self.effective_in_features,
            "out_features": self.out_features,
            "bias": self.bias,
            "params": self.params,
            "params_if_flattened": self.params_if_flattened,
            "macs": self.macs,
            "source": self.source,
            "trace": self.trace,
            "explanation": self.explanation(),
        }


def context_name(context: str | None) -> str:
    """A context as messages name it."""
    return context if context is not None else "the module's top level"
