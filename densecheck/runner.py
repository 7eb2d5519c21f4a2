"""One check run: discovered files (or stdin) -> analysed results, in a stable order, with what the formats need.

This is the glue between :mod:`densecheck.discover`, :mod:`densecheck.api` (Python files) and
:mod:`densecheck.notebooks` (``.ipynb``); :mod:`densecheck.cli` only parses options and picks a format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from densecheck import api
from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic, severity_rank
from densecheck.discover import discover
from densecheck.notebooks import Notebook, analyze_notebook


@dataclass
class CheckedFile:
    path: str
    result: api.FileResult
    data: bytes | None = None  # the file as read (for source snippets); None when unreadable
    notebook: Notebook | None = None

    def source_lines(self, cell: int | None = None) -> list[str]:
        """The lines a diagnostic's line numbers refer to (a notebook cell's lines for notebooks)."""
        if self.notebook is not None:
            return self.notebook.cell_lines(cell) if cell is not None else []
        return self._lines

    @cached_property
    def _lines(self) -> list[str]:
        if self.data is None:
            return []
        try:
            return api.decode(self.data).splitlines()
        except (SyntaxError, UnicodeDecodeError, LookupError):
            return []

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return sorted(self.result.diagnostics, key=Diagnostic.sort_key)


@dataclass
class Run:
    files: list[CheckedFile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # paths on the command line that do not exist

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.diagnostics]

    @property
    def internal_error(self) -> bool:
        return any(f.result.internal_error for f in self.files)

    def exit_code(self, settings: Settings, exit_zero: bool = False) -> int:
        """2: a path was missing or densecheck failed on a file; 1: findings at/above the fail level; else 0."""
        if self.missing or self.internal_error:
            return 2
        if exit_zero:
            return 0
        floor = severity_rank(settings.fail_level)
        return 1 if any(severity_rank(d.severity) >= floor for d in self.diagnostics) else 0


def is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


def check_source(data: bytes, path: str, settings: Settings) -> CheckedFile:
    if is_notebook(path):
        result, nb = analyze_notebook(data, path, settings)
        return CheckedFile(path, result, data, nb)
    return CheckedFile(path, api.analyze_source(data, path, settings), data)


def check_file(path: str, settings: Settings) -> CheckedFile:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        msg = f"cannot read file: {e.strerror or e}"
        return CheckedFile(path, api.FileResult(path, diagnostics=[api._file_diagnostic(path, "DC001", msg)]))
    return check_source(data, path, settings)


def run(paths: list[str], settings: Settings, *, force_exclude: bool = False) -> Run:
    found = discover(paths, settings, force_exclude=force_exclude)
    out = Run(missing=found.missing)
    for directory, why in found.errors:
        diag = api._file_diagnostic(directory, "DC001", f"cannot read directory: {why}")
        out.files.append(CheckedFile(directory, api.FileResult(directory, diagnostics=[diag])))
    out.files.extend(check_file(p, settings) for p in found.files)
    out.files.sort(key=lambda f: f.path)
    return out


def run_stdin(data: bytes, path: str, settings: Settings) -> Run:
    return Run(files=[check_source(data, path, settings)])
