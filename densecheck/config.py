"""Settings: what to check and how, from `[tool.densecheck]` and the command line.

Discovery: the nearest ``pyproject.toml`` with a ``[tool.densecheck]`` table, searching upward from the first
path checked (or the current directory), unless ``--config FILE`` names one. A ``pyproject.toml`` without that
table is skipped, as ruff does. Keys are kebab-case; an unknown key or a bad value is a :class:`ConfigError`
(exit code 2).

Other parts of densecheck may own a sub-table (``trace`` is the first): they register a validator with
:func:`register_section`; until one is registered the sub-table is accepted as-is.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SEVERITY_LEVELS = ("error", "warning", "info")

#: Directories (and files) never entered while walking a directory: ruff's list plus notebook checkpoints.
#: They are only skipped when met *inside* a walked directory; a path named on the command line is always
# checked.
DEFAULT_EXCLUDE = [
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".git-rewrite",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pytype",
    ".ruff_cache",
    ".densecheck_cache",
    ".svn",
    ".tox",
    ".venv",
    "__pycache__",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "venv",
]


@dataclass
class Settings:
    select: list[str] | None = None  # codes or prefixes; None = every rule enabled by default
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)  # glob (relative to root) -> codes
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: list[str] = field(default_factory=list)
    severity: dict[str, str] = field(default_factory=dict)  # code -> "error" | "warning" | "info"
    fail_level: str = "warning"  # findings at or above this severity make the exit code 1
    fc_param_budget: int = 25_000_000  # DC104: params allowed in a single fully-connected layer
    respect_gitignore: bool = True
    follow_imports: bool = True  # follow imports of the project's own modules (cross-file shape inference)
    disable_heuristics: list[str] = field(default_factory=list)  # name-based guesses not to make
    file_timeout: float = 60.0  # per-file budget, seconds (densecheck.budget)
    file_memory: int = 4096  # per-file budget, MB of memory (densecheck.budget)
    trace: Any = None  # the `trace` sub-table, validated by whoever registered it (see register_section)
    # where the settings came from: the config file, and the directory relative globs are anchored at
    config_file: str | None = None
    root: str | None = None

    def rule_enabled(self, code: str, default_enabled: bool = True) -> bool:
        def matches(sel: list[str]) -> bool:
            return any(code.startswith(s) for s in sel if s)

        if matches(self.ignore):
            return False
        if self.select is None:
            return default_enabled or matches(self.extend_select)
        return matches(self.select) or matches(self.extend_select)

    @property
    def root_dir(self) -> str:
        return os.path.abspath(self.root or os.getcwd())


class ConfigError(Exception):
    """A problem with the configuration; the message is shown as ``densecheck: error: <message>``."""


# -- sub-tables owned by other modules
# ---------------------------------------------------------------------------
#: key -> validator(value, where) returning the value to store on Settings; raise ConfigError on bad input.
_SECTIONS: dict[str, Callable[[Any, str], Any]] = {}


def register_section(key: str, validator: Callable[[Any, str], Any]) -> None:
    """Let a module (e.g. densecheck.trace) validate its own ``[tool.densecheck.<key>]`` sub-table."""
    _SECTIONS[key] = validator


def _accept_table(value: Any, where: str) -> Any:
    if not isinstance(value, (dict, list)):
        raise ConfigError(f"{where}: 'trace' must be a table or a list, not {_type_name(value)}")
    return value


# -- value checks
# ------------------------------------------------------------------------------------------------
def _type_name(v: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(v), type(v).__name__)


def _known_codes() -> list[str]:
    from densecheck.rules import RULES

    return sorted(RULES)


def check_selector(sel: str, what: str) -> str:
    """A rule selector: a code ("DC101"), a prefix ("DC1") or "ALL". Returns it normalised."""
    s = sel.strip().upper()
    if s == "ALL":
        return "DC"
    codes = _known_codes()
    if not s or not any(c.startswith(s) for c in codes):
        hint = difflib.get_close_matches(s, codes, n=1)
        raise ConfigError(
            f"{what}: unknown rule selector '{sel}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
        )
    return s


def _str_list(v: Any, what: str) -> list[str]:
    if isinstance(v, str):
        raise ConfigError(f'{what} must be an array of strings, e.g. ["{v}"]')
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{what} must be an array of strings, not {_type_name(v)}")
    return list(v)


def _selectors(v: Any, what: str) -> list[str]:
    return [check_selector(s, what) for s in _str_list(v, what)]


def check_level(v: Any, what: str) -> str:
    if not isinstance(v, str) or v.lower() not in SEVERITY_LEVELS:
        raise ConfigError(f"{what} must be one of {', '.join(repr(s) for s in SEVERITY_LEVELS)}, not {v!r}")
    return v.lower()


def _severity_table(v: Any, what: str) -> dict[str, str]:
    if not isinstance(v, dict):
        raise ConfigError(f"{what} must be a table of rule code -> level, not {_type_name(v)}")
    codes = _known_codes()
    out = {}
    for code, level in v.items():
        c = code.upper()
        if c not in codes:
            raise ConfigError(f"{what}: unknown rule code '{code}'")
        out[c] = check_level(level, f"{what}.{code}")
    return out


def _per_file_ignores(v: Any, what: str) -> dict[str, list[str]]:
    if not isinstance(v, dict):
        raise ConfigError(f"{what} must be a table of glob -> array of codes, not {_type_name(v)}")
    return {glob: _selectors(codes, f'{what}."{glob}"') for glob, codes in v.items()}


def _budget(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ConfigError(f"{what} must be a non-negative integer, not {v!r}")
    return v


def _seconds(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 86_400:
        raise ConfigError(f"{what} must be a number of seconds above 0 (at most 86400), not {v!r}")
    return float(v)


def _megabytes(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 16 <= v <= 2**30:
        raise ConfigError(f"{what} must be a whole number of megabytes, at least 16, not {v!r}")
    return v


def _heuristics(v: Any, what: str) -> list[str]:
    from densecheck.engine.heuristics import ALL

    names = _str_list(v, what)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise ConfigError(f"{what}: unknown heuristic {unknown[0]!r} (known: {', '.join(ALL)})")
    return names


def _bool(v: Any, what: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{what} must be true or false, not {v!r}")
    return v


#: config key -> (Settings attribute, value check)
_KEYS: dict[str, tuple[str, Callable[[Any, str], Any]]] = {
    "select": ("select", _selectors),
    "extend-select": ("extend_select", _selectors),
    "ignore": ("ignore", _selectors),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "exclude": ("exclude", _str_list),
    "extend-exclude": ("extend_exclude", _str_list),
    "severity": ("severity", _severity_table),
    "fail-level": ("fail_level", check_level),
    "fc-param-budget": ("fc_param_budget", _budget),
    "respect-gitignore": ("respect_gitignore", _bool),
    "follow-imports": ("follow_imports", _bool),
    "disable-heuristics": ("disable_heuristics", _heuristics),
    "file-timeout": ("file_timeout", _seconds),
    "file-memory": ("file_memory", _megabytes),
}
CONFIG_KEYS = sorted([*_KEYS, "trace"])


def settings_from_table(table: dict, where: str, settings: Settings | None = None) -> Settings:
    """Apply a ``[tool.densecheck]`` table to ``settings`` (a fresh one by default). ``where`` names the
    file."""
    settings = settings or Settings()
    for key, value in table.items():
        if key in _KEYS:
            attr, check = _KEYS[key]
            setattr(settings, attr, check(value, f"{where}: '{key}'"))
        elif key in _SECTIONS or key == "trace":
            settings.trace = _SECTIONS.get(key, _accept_table)(value, where)
        else:
            hint = difflib.get_close_matches(key.replace("_", "-"), CONFIG_KEYS, n=1)
            raise ConfigError(
                f"{where}: unknown key '{key}' in [tool.densecheck]"
                + (f" (did you mean '{hint[0]}'?)" if hint else "")
            )
    return settings


# -- files
# -------------------------------------------------------------------------------------------------------
def _read_toml(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from None
    except RecursionError:  # tomllib recurses per nested array/table: 5,000 '[' exhaust the stack
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _densecheck_table(doc: dict, path: str) -> dict | None:
    tool = doc.get("tool")
    table = tool.get("densecheck") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.densecheck] must be a table")
    return table


def find_config(start: str) -> str | None:
    """The nearest pyproject.toml at or above ``start`` that has a [tool.densecheck] table."""
    d = os.path.abspath(start)
    if not os.path.isdir(d):
        d = os.path.dirname(d)
    while True:
        candidate = os.path.join(d, "pyproject.toml")
        if os.path.isfile(candidate) and _densecheck_table(_read_toml(candidate), candidate) is not None:
            return candidate
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def load_settings(config_file: str | None = None, start: str | None = None) -> Settings:
    """Settings from ``config_file`` (``--config``) or the nearest pyproject.toml above ``start``.

    A ``--config`` file named ``pyproject.toml`` is read from its [tool.densecheck] table; any other TOML file
    (e.g. ``densecheck.toml``) holds the keys at its top level.
    """
    path: str | None
    if config_file is not None:
        if not os.path.isfile(config_file):
            raise ConfigError(f"{config_file}: config file not found")
        doc = _read_toml(config_file)
        is_pyproject = os.path.basename(config_file) == "pyproject.toml"
        table = (_densecheck_table(doc, config_file) or {}) if is_pyproject else doc
        path = config_file
    else:
        path = find_config(start or os.getcwd())
        if path is None:
            return Settings()
        table = _densecheck_table(_read_toml(path), path) or {}
    settings = settings_from_table(table, path)
    settings.config_file = path
    settings.root = os.path.dirname(os.path.abspath(path))
    return settings
