"""Suppression comments: `# noqa`, `# noqa: CODE`, `# densecheck: ignore[CODE]`."""

from __future__ import annotations

import re

from densecheck.diagnostics import Diagnostic

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def apply(diagnostics: list[Diagnostic], source: str) -> list[Diagnostic]:
    lines = source.splitlines()
    out = []
    for d in diagnostics:
        line = lines[d.line - 1] if 0 < d.line <= len(lines) else ""
        m = _NOQA.search(line)
        if m and (not m.group("codes") or d.code in re.split(r"[\s,]+", m.group("codes").upper())):
            continue
        out.append(d)
    return out
