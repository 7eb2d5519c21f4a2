"""Problem matchers for editors and CI, shipped as package data next to this module.

``github-problem-matcher.json`` (GitHub Actions: ``echo "::add-matcher::<path>"``) and
``vscode-problem-matcher.json`` (the ``problemMatcher`` array of a VS Code task) parse the concise format,
``path:line:col: CODE message`` (``path:cell N:line:col: ...`` in notebooks). That line carries no severity,
so each matcher holds one pattern per default severity, listing the codes that have it; the files are
generated from the rule registry (``python -m densecheck.matchers`` rewrites them, and a test checks they are
current). Severities changed with ``[tool.densecheck] severity`` are not seen by the matchers: use ``--format
github`` there.
"""

from __future__ import annotations

import json
import os

from densecheck.rules import ALL_RULES

HERE = os.path.dirname(os.path.abspath(__file__))
GITHUB = os.path.join(HERE, "github-problem-matcher.json")
VSCODE = os.path.join(HERE, "vscode-problem-matcher.json")

#: densecheck severity -> (GitHub Actions severity, VS Code severity)
LEVELS = {"error": ("error", "error"), "warning": ("warning", "warning"), "info": ("warning", "info")}


def regexp(codes: list[str]) -> str:
    return r"^(.+?):(?:cell \d+:)?(\d+):(\d+): (" + "|".join(codes) + r") (.*)$"


def _groups() -> list[tuple[str, list[str]]]:
    by_level: dict[str, list[str]] = {}
    for rule in ALL_RULES:
        by_level.setdefault(rule.severity, []).append(rule.code)
    return [(level, by_level[level]) for level in ("error", "warning", "info") if level in by_level]


def github_matcher() -> dict:
    return {
        "problemMatcher": [
            {
                "owner": f"densecheck-{level}",
                "severity": LEVELS[level][0],
                "pattern": [
                    {"regexp": regexp(codes), "file": 1, "line": 2, "column": 3, "code": 4, "message": 5}
                ],
            }
            for level, codes in _groups()
        ]
    }


def vscode_matcher() -> list[dict]:
    return [
        {
            "owner": "densecheck",
            "source": "densecheck",
            "fileLocation": ["relative", "${workspaceFolder}"],
            "severity": LEVELS[level][1],
            "pattern": {"regexp": regexp(codes), "file": 1, "line": 2, "column": 3, "code": 4, "message": 5},
        }
        for level, codes in _groups()
    ]


def dumps(doc) -> str:
    return json.dumps(doc, indent=2) + "\n"


def write() -> None:
    for path, doc in ((GITHUB, github_matcher()), (VSCODE, vscode_matcher())):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(dumps(doc))
