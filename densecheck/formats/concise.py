"""``path:line:col: CODE message`` — one line per finding (``path:cell N:line:col:`` in notebooks), then a
summary.

The line format is flake8's and ruff's, so editors, reviewdog and the shipped problem matchers can parse it.
"""

from __future__ import annotations

from densecheck.formats import Context, printable, summary_line


def line(ctx: Context, d) -> str:
    return f"{ctx.style(ctx.location(d), bold=True)}: {ctx.code(d)} {printable(d.message)}"


def render(ctx: Context) -> str:
    out = [line(ctx, d) for d in ctx.run.diagnostics]
    if not ctx.quiet:
        out.append(summary_line(ctx))
    return "\n".join(out) + "\n" if out else ""
