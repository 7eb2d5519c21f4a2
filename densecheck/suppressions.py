"""Suppression comments and per-file ignores.

* ``# noqa`` (every code), ``# noqa: DC101,DC102`` — shared with flake8/ruff;
* ``# densecheck: ignore`` / ``# densecheck: ignore[DC101, DC102]`` — densecheck's own spelling;
* ``# densecheck: ignore-file`` / ``# densecheck: ignore-file[DC101]`` — the whole file (conventionally at the
  top);
* ``per-file-ignores`` in ``[tool.densecheck]`` — globs relative to the project root.

A finding is suppressed by a directive on its first line or on its last line, so a constructor call spread
over several lines can carry the comment on ``nn.Linear(`` or on the closing ``)``. Comments are found with
:mod:`tokenize`, so a ``# noqa`` inside a string is not a directive. Codes are matched exactly
(case-insensitive).

With rule DC900 (``unused-noqa``, off by default) the directives naming DC codes that suppressed nothing are
reported; a bare ``# noqa`` and codes of other tools are left alone, since they may be meant for flake8 or
ruff.
"""

from __future__ import annotations

import io
import os
import re
import tokenize
from dataclasses import dataclass, field, replace

import pathspec

from densecheck.diagnostics import Diagnostic

_CODE = r"[A-Za-z]+[0-9]+"
_NOQA = re.compile(
    r"#\s*noqa(?![\w-])(?P<colon>\s*:\s*(?P<codes>" + _CODE + r"(?:(?:\s*,\s*|\s+)" + _CODE + r")*)?)?",
    re.IGNORECASE,
)
_OWN = re.compile(
    r"#\s*densecheck\s*:\s*(?P<kind>ignore-file|ignore)(?![\w-])(?:\[(?P<codes>[^\]]*)\])?", re.IGNORECASE
)
_SPLIT = re.compile(r"[\s,]+")


@dataclass
class Directive:
    line: int
    column: int  # 1-based column of the directive's '#'
    end_column: int
    kind: str  # "noqa" | "ignore" | "ignore-file"
    codes: tuple[str, ...] | None  # None: every code
    used: set[str] = field(default_factory=set)

    def covers(self, code: str) -> bool:
        return self.codes is None or code in self.codes


def _codes(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(c.upper() for c in _SPLIT.split(text) if c)


def comments(source: str) -> list[tuple[int, int, str]]:
    """(line, 0-based column, text) of every comment; stops quietly where tokenize gives up."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out.append((tok.start[0], tok.start[1], tok.string))
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def parse_directives(source: str) -> list[Directive]:
    out = []
    for line, col, text in comments(source):
        for m in _OWN.finditer(text):
            out.append(
                Directive(
                    line,
                    col + m.start() + 1,
                    col + m.end() + 1,
                    m.group("kind").lower(),
                    _codes(m.group("codes")),
                )
            )
        for m in _NOQA.finditer(text):
            if m.group("colon") and not m.group("codes"):
                continue  # a colon followed by no code is malformed: suppress nothing rather than everything
            out.append(
                Directive(line, col + m.start() + 1, col + m.end() + 1, "noqa", _codes(m.group("codes")))
            )
    return out


def per_file_ignored(path: str, settings) -> list[str]:
    """The selectors ``per-file-ignores`` switches off for ``path``."""
    if not settings.per_file_ignores:
        return []
    from densecheck.discover import relative_to

    key = relative_to(path, settings.root_dir) or os.path.abspath(path).replace(os.sep, "/")
    out: list[str] = []
    for glob, codes in settings.per_file_ignores.items():
        if pathspec.GitIgnoreSpec.from_lines([glob]).match_file(key):
            out.extend(codes)
    return out


def directives_of(source: str) -> list[Directive]:
    """The suppression directives of ``source`` (none without a comment that could be one: a cheap test
    first)."""
    if "#" not in source or not re.search(r"noqa|densecheck", source, re.IGNORECASE):
        return []
    return parse_directives(source)


def apply(
    diagnostics: list[Diagnostic], source: str | list[Directive], settings=None, path: str | None = None
) -> list[Diagnostic]:
    """The diagnostics that no directive or per-file ignore suppresses (plus DC900 findings when enabled).
    ``source``: the file's text, or its directives (:func:`directives_of`)."""
    if settings is not None and path is not None:
        off = per_file_ignored(path, settings)
        if off:
            diagnostics = [d for d in diagnostics if not any(d.code.startswith(s) for s in off)]
    report_unused = settings is not None and settings.rule_enabled("DC900", default_enabled=False)
    if not diagnostics and not report_unused:
        return []
    found = directives_of(source) if isinstance(source, str) else source
    if not found:
        return list(diagnostics)
    directives = [replace(dv, used=set()) for dv in found]  # which codes each one suppressed: this call's own
    by_line: dict[int, list[Directive]] = {}
    for dv in directives:
        if dv.kind != "ignore-file":
            by_line.setdefault(dv.line, []).append(dv)
    file_level = [dv for dv in directives if dv.kind == "ignore-file"]
    out = []
    for d in diagnostics:
        hit = next((dv for dv in file_level if dv.covers(d.code)), None)
        if hit is None:
            lines = (d.line,) if d.end_line == d.line else (d.line, d.end_line)
            hit = next((dv for ln in lines for dv in by_line.get(ln, ()) if dv.covers(d.code)), None)
        if hit is None:
            out.append(d)
        else:
            hit.used.add(d.code)
    if report_unused:
        out.extend(_unused(directives, path or "<stdin>", settings))
    return out


def _unused(directives: list[Directive], path: str, settings) -> list[Diagnostic]:
    from densecheck.rules import RULES

    rule = RULES["DC900"]
    out = []
    for dv in directives:
        if dv.codes is None:
            if dv.kind == "noqa" or dv.used:  # a bare noqa may be meant for another linter
                continue
            unused = []
        else:
            unused = [c for c in dv.codes if c.startswith("DC") and c not in dv.used and c != rule.code]
            if not unused:
                continue
        spelled = "# noqa" if dv.kind == "noqa" else f"# densecheck: {dv.kind}"
        if dv.codes is None:
            msg = f"unused suppression `{spelled}`: there is nothing to suppress here"
        else:
            msg = f"unused suppression `{spelled}`: {', '.join(unused)} did not suppress anything here"
            unknown = [c for c in unused if c not in RULES]
            if unknown:
                msg += (
                    f" ({unknown[0]} is not a densecheck rule)"
                    if len(unknown) == 1
                    else f" ({', '.join(unknown)} are not densecheck rules)"
                )
        d = Diagnostic(
            path,
            dv.line,
            dv.column,
            dv.line,
            dv.end_column,
            rule.code,
            rule.severity,
            msg,
            rule.name,
            fix="remove the unused codes from the comment"
            if unused and len(unused) < len(dv.codes or ())
            else "remove the comment",
        )
        sev = settings.severity.get(rule.code)
        out.append(replace(d, severity=sev) if sev else d)
    return out
