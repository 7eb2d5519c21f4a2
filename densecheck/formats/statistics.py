"""``--statistics``: how many findings per rule, most frequent first (JSON with ``--format json``)."""

from __future__ import annotations

import json
from collections import Counter

from densecheck.formats import Context
from densecheck.rules import RULES


def rows(ctx: Context) -> list[dict]:
    c = Counter(d.code for d in ctx.run.diagnostics)
    sev = {d.code: d.severity for d in ctx.run.diagnostics}
    return [
        {"code": code, "name": RULES[code].name if code in RULES else "", "severity": sev[code], "count": n}
        for code, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def render(ctx: Context, as_json: bool = False) -> str:
    table = rows(ctx)
    if as_json:
        return json.dumps(table, indent=2) + "\n"
    if not table:
        return ""
    width = max(len(str(r["count"])) for r in table)
    return "".join(
        f"{r['count']:>{width}}\t{ctx.code_text(r['code'], r['severity'])}\t[{r['severity']}] {r['name']}\n"
        for r in table
    )
