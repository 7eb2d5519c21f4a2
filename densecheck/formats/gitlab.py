"""GitLab Code Quality report (a JSON array), for ``artifacts: reports: codequality``.

Paths are relative to ``$CI_PROJECT_DIR`` (else the git root). ``fingerprint`` is stable across line moves
(code, file and the flagged line's text) and unique within the report, as GitLab requires.
"""

from __future__ import annotations

import hashlib
import json

from densecheck.formats import Context, cell_prefix, located, printable, repo_root

SEVERITIES = {"error": "major", "warning": "minor", "info": "info"}


def render(ctx: Context) -> str:
    root = repo_root(ctx.cwd, env_var="CI_PROJECT_DIR")
    out = [
        {
            "description": f"{cell_prefix(d)}{d.code} {printable(d.message)}",
            "check_name": f"{d.code} {d.rule}".strip(),
            "fingerprint": hashlib.md5(identity.encode("utf-8", "surrogateescape")).hexdigest(),
            "severity": SEVERITIES.get(d.severity, "minor"),
            "location": {"path": printable(path), "lines": {"begin": d.line, "end": max(d.end_line, d.line)}},
        }
        for _, d, path, identity in located(ctx, root)
    ]
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"
