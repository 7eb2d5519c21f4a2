"""Diagnostic: one finding, located in a file, with a stable code."""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("info", "warning", "error")


def severity_rank(sev: str) -> int:
    return SEVERITIES.index(sev) if sev in SEVERITIES else len(SEVERITIES)


@dataclass(frozen=True)
class Diagnostic:
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    code: str
    severity: str  # "error" | "warning" | "info"
    message: str
    rule: str = ""  # the rule's kebab-case name
    fix: str | None = None  # the suggested change, in words
    cell: int | None = None  # notebooks: the 1-based cell; line/end_line then count within that cell

    def to_json(self) -> dict:
        d = asdict(self)
        if d["cell"] is None:
            del d["cell"]
        return d

    def sort_key(self):
        return (self.path, self.cell or 0, self.line, self.column, self.code)
