"""SARIF 2.1.0 for code-scanning services (GitHub code scanning via ``github/codeql-action/upload-sarif``).

Every rule is described in ``tool.driver.rules`` (its ``densecheck explain`` text as help). Result URIs are
relative to the repository root (``$GITHUB_WORKSPACE``, else the git root) under ``uriBaseId`` ``%SRCROOT%``;
``partialFingerprints`` hash the code, the file and the text of the flagged line (not its number), so a
finding keeps its identity when lines are inserted above it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
from urllib.parse import quote

from densecheck import __version__
from densecheck.formats import Context, cell_prefix, located, repo_root
from densecheck.rules import ALL_RULES

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/densecheck/densecheck"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _first_paragraph(doc: str, heading: str) -> str:
    m = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", doc, re.S | re.M)
    return " ".join(m.group(1).split()) if m else ""


def rule_descriptor(rule) -> dict:
    doc = rule.documentation()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _first_paragraph(doc, "What it does") or rule.summary},
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": LEVELS[rule.severity], "enabled": rule.default_enabled},
        "properties": {"tags": ["densecheck"]},
    }


def _uri(path: str) -> tuple[str, bool]:
    """(uri, relative?)"""
    if path.startswith("/"):
        return "file://" + quote(os.fsencode(path)), False
    return quote(os.fsencode(path)), True  # bytes: a file name that is not UTF-8 is percent-encoded as it is


def render(ctx: Context) -> str:
    root = repo_root(ctx.cwd)
    index = {r.code: i for i, r in enumerate(ALL_RULES)}
    results = []
    for _, d, path, identity in located(ctx, root):
        uri, relative = _uri(path)
        artifact = {"uri": uri, **({"uriBaseId": "%SRCROOT%"} if relative else {})}
        result = {
            "ruleId": d.code,
            "level": LEVELS.get(d.severity, "warning"),
            "message": {"text": cell_prefix(d) + d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact,
                        "region": {
                            "startLine": d.line,
                            "startColumn": d.column,
                            "endLine": max(d.end_line, d.line),
                            "endColumn": max(d.end_column, 1),
                        },
                    }
                }
            ],
            "partialFingerprints": {
                "densecheck/v1": hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:32]
            },
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        if d.cell is not None:
            result["properties"] = {"cell": d.cell}
        results.append(result)
    doc = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "densecheck",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [rule_descriptor(r) for r in ALL_RULES],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": pathlib.Path(root).as_uri().rstrip("/") + "/"}},
                "invocations": [{"executionSuccessful": not ctx.run.internal_error and not ctx.run.missing}],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
