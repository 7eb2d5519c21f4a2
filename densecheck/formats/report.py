"""The model summary: per file and per model, every Dense/Linear with what it really is.

    models/vgg.py
      model VGG16 (3 Linear layers, 123,642,856 params in them)
        location  call               input shape   behaves as       positions  params       if flattened
        41:13     nn.Linear(25088,…  (None, 25088) fully connected          1  102,764,544  -
        ...
        41:13  nn.Linear(25088, 4096) on (None, 25088): fully connected — 102,764,544 params
      diagnostics
        models/vgg.py:41:13: DC104 nn.Linear(25088, 4096) is a fully-connected layer with ...

followed by a total over all files.
"""

from __future__ import annotations

from collections import Counter

from densecheck.formats import Context, cell_prefix, layer_sort_key, printable, summary_line
from densecheck.formats.concise import line as concise_line
from densecheck.layers import FULLY_CONNECTED, POINTWISE, SPATIAL_MIXING, UNKNOWN

BEHAVIOUR = {
    FULLY_CONNECTED: "fully connected",
    POINTWISE: "pointwise",
    SPATIAL_MIXING: "spatial mixing",
    UNKNOWN: "unknown",
}
COLUMNS = ["location", "call", "input shape", "behaves as", "positions", "params", "if flattened"]
RIGHT = {"positions", "params", "if flattened"}
MAX_CALL = 40


def _num(v) -> str:
    return f"{v:,}" if isinstance(v, int) else "-"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _where(layer) -> str:
    return f"{cell_prefix(layer, ':')}{layer.line}:{layer.column}"


def _row(layer) -> list[str]:
    s = layer.input
    return [
        _where(layer),
        _clip(printable(layer.call), MAX_CALL),
        str(s) if s is not None else "?",
        BEHAVIOUR.get(layer.behaves_as, layer.behaves_as),
        _num(layer.positions),
        _num(layer.params),
        _num(layer.params_if_flattened),
    ]


def table(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]

    def fmt(r):
        cells = [c.rjust(w) if name in RIGHT else c.ljust(w) for c, w, name in zip(r, widths, COLUMNS)]
        return (indent + "  ".join(cells)).rstrip()

    return [fmt(COLUMNS), *(fmt(r) for r in rows)]


def _counted(layers) -> str:
    """What the header counts, said exactly: ``3 Dense layers, 3,335 params in them`` -- the model's
    Dense/Linear layers, not the whole model."""
    kinds = "/".join(sorted({x.layer.rsplit(".", 1)[-1] for x in layers}))
    what = f"{len(layers):,} {kinds} layer{'' if len(layers) == 1 else 's'}"
    known = [x.params for x in layers if x.params is not None]
    if len(known) == len(layers):
        return f"{what}, {sum(known):,} params in {'it' if len(layers) == 1 else 'them'}"
    if known:
        return f"{what}, at least {sum(known):,} params in them ({len(layers) - len(known)} unknown)"
    return f"{what}, params unknown"


def _models(layers):
    groups: dict[str | None, list] = {}
    for layer in sorted(layers, key=layer_sort_key):
        groups.setdefault(layer.model, []).append(layer)
    return groups


def render(ctx: Context) -> str:
    out: list[str] = []
    behaviours: Counter = Counter()
    for f in ctx.run.files:
        diags = f.diagnostics
        if not f.result.layers and not diags:
            continue
        out.append(ctx.style(ctx.display_path(f.path), bold=True))
        for model, layers in _models(f.result.layers).items():
            head = f"model {printable(model)}" if model else "outside any model"
            out.append(f"  {ctx.style(head, bold=True)} ({_counted(layers)})")
            out.extend(table([_row(x) for x in layers], "    "))
            out.append("")
            for x in layers:
                behaviours[x.behaves_as] += 1
                out.append(f"    {_where(x)}  {printable(x.explanation())}")
            out.append("")
        if diags:
            out.append(f"  {ctx.style('diagnostics', bold=True)}")
            out.extend("    " + concise_line(ctx, d) for d in diags)
            out.append("")
    if not ctx.quiet:
        if behaviours:
            kinds = ", ".join(f"{behaviours[k]:,} {BEHAVIOUR[k]}" for k in BEHAVIOUR if behaviours[k])
            out.append(f"Layers: {kinds}.")
        out.append(summary_line(ctx))
    return "\n".join(out) + "\n" if out else ""
