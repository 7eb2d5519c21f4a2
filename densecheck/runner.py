"""One check run: discovered files (or stdin) -> analysed results, in a stable order, with what the formats need.

This is the glue between :mod:`densecheck.discover`, :mod:`densecheck.api` (Python files) and
:mod:`densecheck.notebooks` (``.ipynb``); :mod:`densecheck.cli` only parses options and picks a format.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat

from densecheck import api
from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic, severity_rank
from densecheck.discover import discover
from densecheck.notebooks import Notebook, analyze_notebook


@dataclass
class CheckedFile:
    path: str
    result: api.FileResult
    data: bytes | None = None  # the source, kept only when it cannot be read again (stdin)
    notebook: Notebook | None = None

    def source_lines(self, cell: int | None = None) -> list[str]:
        """The lines a diagnostic's line numbers refer to (a notebook cell's lines for notebooks)."""
        if self.notebook is not None:
            return self.notebook.cell_lines(cell) if cell is not None else []
        return self._lines

    @cached_property
    def _lines(self) -> list[str]:
        """Read again on demand: only the formats that show or hash source lines need them."""
        data = self.data
        if data is None:
            try:
                with open(self.path, "rb") as fh:
                    data = fh.read()
            except OSError:
                return []
        try:
            return api.decode(data).splitlines()
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


def check_source(data: bytes, path: str, settings: Settings, *, keep: bool = False) -> CheckedFile:
    """Analyse ``data`` as the file ``path``; ``keep`` the bytes when they cannot be read again (stdin)."""
    kept = data if keep else None
    if is_notebook(path):
        result, nb = analyze_notebook(data, path, settings)
        return CheckedFile(path, result, kept, nb)
    return CheckedFile(path, api.analyze_source(data, path, settings), kept)


def check_file(path: str, settings: Settings) -> CheckedFile:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        msg = f"cannot read file: {e.strerror or e}"
        return CheckedFile(path, api.FileResult(path, diagnostics=[api._file_diagnostic(path, "DC001", msg)]))
    return check_source(data, path, settings)


#: below this many files, worker processes cost more than they save
PARALLEL_MIN_FILES = 16


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def check_files(files: list[str], settings: Settings, jobs: int | None = None) -> list[CheckedFile]:
    """Check ``files`` in worker processes when there are enough of them (``jobs``: None = one per CPU)."""
    jobs = default_jobs() if jobs is None else jobs
    if jobs > 1 and len(files) >= PARALLEL_MIN_FILES:
        try:
            with ProcessPoolExecutor(max_workers=min(jobs, len(files))) as pool:
                return list(pool.map(check_file, files, repeat(settings), chunksize=4))
        except BrokenProcessPool:  # a worker died (out of memory, killed): finish in this process
            pass
    return [check_file(p, settings) for p in files]


def run(paths: list[str], settings: Settings, *, force_exclude: bool = False, jobs: int | None = None) -> Run:
    found = discover(paths, settings, force_exclude=force_exclude)
    out = Run(missing=found.missing)
    for directory, why in found.errors:
        diag = api._file_diagnostic(directory, "DC001", f"cannot read directory: {why}")
        out.files.append(CheckedFile(directory, api.FileResult(directory, diagnostics=[diag])))
    out.files.extend(check_files(found.files, settings, jobs))
    out.files.sort(key=lambda f: f.path)
    return out


def run_stdin(data: bytes, path: str, settings: Settings) -> Run:
    return Run(files=[check_source(data, path, settings, keep=True)])
