"""The JSON contract: ``{"version", "layers": [...], "diagnostics": [...], "summary": {...}}``.

``layers`` holds :meth:`LayerReport.to_json` for every Dense/Linear call site, ``diagnostics`` every finding
(:meth:`Diagnostic.to_json`); both carry a ``cell`` field in notebooks. Paths are shown as in the text
formats.
"""

from __future__ import annotations

import json
from collections import Counter

from densecheck import __version__
from densecheck.formats import Context, counts, layer_sort_key


def document(ctx: Context) -> dict:
    diagnostics: list[dict]
    layers, diagnostics = [], []
    for f in ctx.run.files:
        path = ctx.display_path(f.path)
        for layer in sorted(f.result.layers, key=layer_sort_key):
            layers.append({**layer.to_json(), "path": path})
        diagnostics.extend({**d.to_json(), "path": path} for d in f.diagnostics)
    sev = counts(ctx.run.diagnostics)
    return {
        "version": __version__,
        "layers": layers,
        "diagnostics": diagnostics,
        "summary": {
            "files": len(ctx.run.files),
            "layers": len(layers),
            "behaves_as": dict(sorted(Counter(x["behaves_as"] for x in layers).items())),
            "diagnostics": len(diagnostics),
            "errors": sev["error"],
            "warnings": sev["warning"],
            "infos": sev["info"],
            "internal_errors": sum(1 for f in ctx.run.files if f.result.internal_error),
        },
    }


def render(ctx: Context) -> str:
    return json.dumps(document(ctx), indent=2, ensure_ascii=False) + "\n"
