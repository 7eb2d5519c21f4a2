"""Settings: what to check and how, from `[tool.densecheck]` and the command line.

(This is the minimal core; discovery of pyproject.toml and validation live here too.)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Settings:
    select: list[str] | None = None  # codes or prefixes; None = every rule enabled by default
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    extend_exclude: list[str] = field(default_factory=list)
    severity: dict[str, str] = field(default_factory=dict)  # code -> "error" | "warning" | "info"
    fail_level: str = "warning"  # findings at or above this severity make the exit code 1
    fc_param_budget: int = 25_000_000  # DC104: params allowed in a single fully-connected layer
    respect_gitignore: bool = True

    def rule_enabled(self, code: str, default_enabled: bool = True) -> bool:
        def matches(sel: list[str]) -> bool:
            return any(code.startswith(s) for s in sel if s)

        if matches(self.ignore):
            return False
        if self.select is None:
            return default_enabled or matches(self.extend_select)
        return matches(self.select) or matches(self.extend_select)
