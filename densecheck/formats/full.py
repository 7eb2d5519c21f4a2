"""Each finding with its source: the line, a caret under the layer call, what the layer really does, the fix.

model.py:4:5: DC101 [warning] layers.Dense(16) on a rank-4 input ... acts as a 1x1 convolution ...
  |
3 | x = keras.Input(shape=(160, 160, 64))
4 | y = layers.Dense(16)(x)
  |     ^^^^^^^^^^^^^^^^ DC101
  |
  = note: layers.Dense(16) on (None, 160, 160, 64): acts as a 1x1 convolution at 25,600 positions ...
  = help: Flatten or global-pool the feature map first ...
  = see: densecheck explain DC101
"""

from __future__ import annotations

from densecheck.formats import Context, printable, summary_line
from densecheck.runner import CheckedFile

CONTEXT_LINES = 1


def _layer_at(f: CheckedFile, d):
    for layer in f.result.layers:
        if (layer.line, layer.column, getattr(layer, "cell", None)) == (d.line, d.column, d.cell):
            return layer
    return None


def snippet(ctx: Context, f: CheckedFile, d) -> list[str]:
    lines = f.source_lines(d.cell)
    if not 0 < d.line <= len(lines):
        return []
    first = max(1, d.line - CONTEXT_LINES)
    last = min(len(lines), d.line + CONTEXT_LINES)
    width = len(str(last))
    gutter = ctx.style(" " * width + " |", fg="blue", bold=True)
    out = [gutter]
    for n in range(first, last + 1):
        text = lines[n - 1].expandtabs(4)
        out.append(
            ctx.style(f"{n:>{width}} |", fg="blue", bold=True) + (" " + printable(text) if text else "")
        )
        if n == d.line:
            raw = lines[n - 1]
            start = len(raw[: d.column - 1].expandtabs(4))
            # the span the diagnostic reports (a point span is one caret); a span that runs past this line,
            # to the line's end
            end_col = d.end_column if d.end_line == d.line and d.end_column >= d.column else len(raw) + 1
            length = max(1, len(raw[: end_col - 1].expandtabs(4)) - start)
            marks = ctx.style(
                "^" * length + " " + d.code, fg="red" if d.severity == "error" else "yellow", bold=True
            )
            out.append(gutter + " " + " " * start + marks)
    out.append(gutter)
    return out


def render(ctx: Context) -> str:
    out: list[str] = []
    pad = "  "
    for f in ctx.run.files:
        for d in f.diagnostics:
            out.append(
                f"{ctx.style(ctx.location(d), bold=True)}: {ctx.code(d)} [{d.severity}] "
                f"{printable(d.message)}"
            )
            out.extend(pad + s for s in snippet(ctx, f, d))
            layer = _layer_at(f, d)
            if layer is not None:
                out.append(f"{pad}= note: {printable(layer.explanation())}")
                if layer.input_rank_from is not None and layer.input is not None:
                    # why densecheck believes the rank: the code never declared it
                    out.append(
                        f"{pad}= note: input rank {layer.input.rank} from {printable(layer.input_rank_from)}"
                    )
            if d.fix:
                out.append(f"{pad}= help: {printable(d.fix)}")
            out.append(f"{pad}= see: densecheck explain {d.code}")
            out.append("")
    if not ctx.quiet:
        out.append(summary_line(ctx))
    return "\n".join(out) + "\n" if out else ""
