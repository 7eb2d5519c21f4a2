"""Output formats, one module each. Every module has ``render(ctx: Context) -> str``.

Paths are shown relative to the current directory when the file is under it (as ruff does); the CI formats
(sarif, github, gitlab) use paths relative to the repository/workspace root instead, so annotations land on
the right file when densecheck runs from a subdirectory.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import click

from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic
from densecheck.discover import relative_to
from densecheck.layers import UNKNOWN
from densecheck.runner import Run

FORMAT_NAMES = ["concise", "full", "report", "json", "sarif", "github", "gitlab", "junit"]

SEVERITY_COLORS = {"error": "red", "warning": "yellow", "info": "blue"}


@dataclass
class Context:
    run: Run
    settings: Settings
    color: bool = False
    quiet: bool = False
    cwd: str = field(default_factory=os.getcwd)

    # -- paths
    # ------------------------------------------------------------------------------------------------
    def display_path(self, path: str) -> str:
        """Relative to the current directory when under it, else absolute; always :func:`printable`."""
        if path == "-" or path.startswith("<"):
            return printable(path)
        ap = os.path.abspath(path)
        rel = os.path.relpath(ap, self.cwd)
        shown = printable(ap if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel)
        # a line that starts with ``::`` is a GitHub workflow command: a file named ``::error ...`` must not
        # be one
        return "." + os.sep + shown if shown.startswith("::") else shown

    def location(self, d: Diagnostic) -> str:
        """``path:line:col`` — or ``path:cell N:line:col`` in a notebook."""
        return f"{self.display_path(d.path)}:{cell_prefix(d, ':')}{d.line}:{d.column}"

    # -- style
    # ------------------------------------------------------------------------------------------------
    def style(self, text: str, **kw) -> str:
        return click.style(text, **kw) if self.color else text

    def code(self, d: Diagnostic) -> str:
        return self.code_text(d.code, d.severity)

    def code_text(self, code: str, severity: str) -> str:
        return self.style(code, fg=SEVERITY_COLORS.get(severity), bold=True)


def printable(text: str, keep: str = "") -> str:
    """Text from the checked tree made safe to print as one line of text or XML.

    Control characters (line breaks, ESC, ``\\x01``) become Python escapes and lone surrogates -- the
    undecodable bytes of a file name, kept by ``surrogateescape`` -- become ``\\xNN``, so a file name or a
    string in the source can neither start a new output line (a forged finding or workflow command), drive the
    terminal, nor make the output invalid UTF-8 or invalid XML. Characters in ``keep`` are left for a format's
    own escaping.
    """
    if text.isprintable():
        return text
    out = []
    for c in text:
        if c.isprintable() or c in keep:
            out.append(c)
        elif 0xDC80 <= ord(c) <= 0xDCFF:
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        else:
            out.append(c.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def repo_root(cwd: str | None = None, env_var: str = "GITHUB_WORKSPACE") -> str:
    """The CI workspace ($GITHUB_WORKSPACE, $CI_PROJECT_DIR), else the enclosing git root, else the cwd."""
    env = os.environ.get(env_var)
    if env:
        return os.path.abspath(env)
    start = d = os.path.abspath(cwd or os.getcwd())
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return start
        d = parent


def repo_path(path: str, root: str) -> str:
    """``path`` relative to ``root`` with forward slashes (absolute when outside it)."""
    if path == "-" or path.startswith("<"):
        return path
    return relative_to(path, root) or os.path.abspath(path).replace(os.sep, "/")


def cell_prefix(obj, sep: str = ": ") -> str:
    """``"cell 3: "`` for a finding or layer in a notebook, else ``""``."""
    cell = getattr(obj, "cell", None)
    return f"cell {cell}{sep}" if cell is not None else ""


def layer_sort_key(layer) -> tuple:
    return (getattr(layer, "cell", None) or 0, layer.line, layer.column)


def located(ctx: Context, root: str):
    """(file, diagnostic, path relative to ``root``, identity) for every finding, in output order.

    The identity (for SARIF/GitLab fingerprints) is built from the code, the path and the flagged line's text
    with its whitespace collapsed, plus an occurrence count — not the line number, so it survives edits above
    it.
    """
    for f in ctx.run.files:
        seen: Counter = Counter()
        for d in f.diagnostics:
            path = repo_path(d.path, root)
            lines = f.source_lines(d.cell)
            text = " ".join(lines[d.line - 1].split()) if 0 < d.line <= len(lines) else f"line {d.line}"
            key = f"{d.code}|{path}|{d.cell or ''}|{text}"
            seen[key] += 1
            yield f, d, path, f"{key}|{seen[key]}"


def counts(diagnostics: list[Diagnostic]) -> Counter:
    return Counter(d.severity for d in diagnostics)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def summary_line(ctx: Context) -> str:
    """``Found 3 problems (1 error, 2 warnings); checked 12 layers in 3 files.`` / ``All checks passed!
    (...)``"""
    diags = ctx.run.diagnostics
    nlayers = sum(len(f.result.layers) for f in ctx.run.files)
    unknown = sum(x.behaves_as == UNKNOWN for f in ctx.run.files for x in f.result.layers)
    scope = f"checked {plural(nlayers, 'layer')} in {plural(len(ctx.run.files), 'file')}"
    if unknown:  # a layer whose shape is unknown was looked at, not checked: say how many
        scope += f", {unknown:,} of unknown shape (--format report lists them)"
    if not diags and ctx.run.missing:
        return f"No problems found, but {plural(len(ctx.run.missing), 'path')} did not exist ({scope})."
    if not diags:
        return ctx.style("All checks passed!", fg="green", bold=True) + f" ({scope})"
    c = counts(diags)
    parts = [plural(c[s], s) for s in ("error", "warning", "info") if c[s]]
    return ctx.style(f"Found {plural(len(diags), 'problem')}", bold=True) + f" ({', '.join(parts)}); {scope}."


def get(name: str) -> Callable[[Context], str]:
    from densecheck.formats import concise, full, github, gitlab, json_format, junit, report, sarif

    return {
        "concise": concise.render,
        "full": full.render,
        "report": report.render,
        "json": json_format.render,
        "sarif": sarif.render,
        "github": github.render,
        "gitlab": gitlab.render,
        "junit": junit.render,
    }[name]
