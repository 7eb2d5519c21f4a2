"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` annotation per finding.

``::error title=densecheck (DC102),file=src/net.py,line=12,col=19,endLine=12,endColumn=36::src/net.py:12:19:
DC102 ...``

Paths are relative to ``$GITHUB_WORKSPACE`` (else the git root), so the annotations land on the right file
when densecheck runs in a subdirectory. Data is escaped as the runner expects (``%``, CR, LF), properties also
``:`` and ``,``.
"""

from __future__ import annotations

from densecheck.formats import Context, printable, repo_path, repo_root

#: left in messages for :func:`escape_data` to write as %0D / %0A, as the runner expects
LINE_BREAKS = "\r\n"
LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def render(ctx: Context) -> str:
    root = repo_root(ctx.cwd)
    out = []
    for d in ctx.run.diagnostics:
        path = printable(repo_path(d.path, root))
        props = {
            "title": f"densecheck ({d.code})",
            "file": path,
            "line": d.line,
            "col": d.column,
            "endLine": d.end_line,
            "endColumn": d.end_column,
        }
        head = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items())
        message = f"{ctx.location(d)}: {d.code} {printable(d.message, keep=LINE_BREAKS)}"
        out.append(f"::{LEVELS.get(d.severity, 'warning')} {head}::{escape_data(message)}")
    return "\n".join(out) + "\n" if out else ""
