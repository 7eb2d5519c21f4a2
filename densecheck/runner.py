"""One check run: discovered files (or stdin) -> analysed results, in a stable order, with what the formats
need.

This is the glue between :mod:`densecheck.discover`, :mod:`densecheck.api` (Python files) and
:mod:`densecheck.notebooks` (``.ipynb``); :mod:`densecheck.cli` only parses options and picks a format.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import cached_property
from itertools import repeat
from typing import cast

from densecheck import api, budget, findings
from densecheck.cache import Cache, Stamp, stamp_for
from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic, severity_rank
from densecheck.discover import discover
from densecheck.notebooks import Notebook, analyze_notebook, looks_like_notebook
from densecheck.plugins.registry import candidate_names
from densecheck.processes import die_with_parent


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
    skipped: list[tuple[str, str]] = field(
        default_factory=list
    )  # (file, why): not read, e.g. links leaving the tree

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return [d for f in self.files for d in f.diagnostics]

    @property
    def internal_error(self) -> bool:
        return any(f.result.internal_error for f in self.files)

    def exit_code(self, settings: Settings, exit_zero: bool = False) -> int:
        """2: a path was missing or densecheck failed on a file; 1: findings at/above the fail level; else
        0."""
        if self.missing or self.internal_error:
            return 2
        if exit_zero:
            return 0
        floor = severity_rank(settings.fail_level)
        return 1 if any(severity_rank(d.severity) >= floor for d in self.diagnostics) else 0


def is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


def check_source(
    data: bytes, path: str, settings: Settings, *, keep: bool = False, notebook: bool | None = None
) -> CheckedFile:
    """Analyse ``data`` as the file ``path``; ``keep`` the bytes when they cannot be read again (stdin);
    ``notebook``: whether it is a notebook (default: by the name's extension)."""
    kept = data if keep else None
    try:
        if is_notebook(path) if notebook is None else notebook:
            result, nb = analyze_notebook(data, path, settings)
            return CheckedFile(path, result, kept, nb)
        return CheckedFile(path, analyze_python(data, path, settings), kept)
    except Exception as e:  # noqa: BLE001 - a bug densecheck has on one file must not cost the others' findings
        return CheckedFile(
            path, api.FileResult(path, notes=[api._internal_error(path, e)], internal_error=True), kept
        )


# -- the pre-filter
# ------------------------------------------------------------------------------------------------
def analyze_python(data: bytes, path: str, settings: Settings) -> api.FileResult:
    """:func:`densecheck.api.analyze_facts`, with a pre-filter that skips libcst for files that cannot hold a
    layer.

    A reported layer is a call whose callee resolves, through the file's own imports, to a name ending in one
    of
    :func:`candidate_names` (or a ``getattr(nn, "Linear")`` spelling it in a string), so text that contains
    none of them has no layers -- and no layer findings. Such a file is still checked for syntax errors (DC001
    for every file) by CPython's parser, ~10x cheaper than libcst's: when CPython accepts it, the result is
    empty (plus DC900 findings from its suppression comments, when that rule is on). Anything unusual -- a
    decode error, a file over the size limit, CPython rejecting it (it may be newer syntax libcst accepts, or
    a real error whose message must match the full path's) -- takes the full path, so every DC001 is exactly
    what ``api.analyze_source`` reports. The one difference: a file CPython accepts but libcst would reject (a
    libcst bug) gets no DC001 here; it holds no layers either way.
    """
    if len(data) <= api._file_limit(settings):
        try:
            text = api.decode(data)
        except (SyntaxError, UnicodeDecodeError, LookupError):
            text = None
        if text is not None and not any(name in text for name in candidate_names()):
            tree = _cpython_tree(text, path)
            if tree is not None and not (settings.follow_imports and _feeds_project(tree, path, text)):
                from densecheck import suppressions

                return api.FileResult(path, directives=suppressions.directives_of(text))
    return api.analyze_facts(data, path, settings)


def _feeds_project(tree, path: str, text: str) -> bool:
    """Whether a file without layers of its own may still give shapes to the project's other files: it uses a
    framework and imports one of the project's modules that holds layers, or blocks built of them (a model
    assembled from blocks defined elsewhere)."""
    from densecheck.engine.names import package_of
    from densecheck.engine.project import Project, feeds_layers, imported_modules
    from densecheck.plugins.registry import registry

    if not any(root in text for root in registry().roots):
        return False
    project = Project.of(path)
    if project is None:
        return False
    package = package_of(path)
    for module in set(imported_modules(tree, package)):
        found = project.find(module)
        if found is not None and feeds_layers(found, project):
            return True
    return False


def _cpython_tree(text: str, path: str):
    import ast
    import warnings

    try:
        with warnings.catch_warnings():  # SyntaxWarnings about the analysed code are not ours
            warnings.simplefilter("ignore")
            return compile(text, path, "exec", ast.PyCF_ONLY_AST)
    except Exception:  # noqa: BLE001 - SyntaxError, ValueError (NUL), RecursionError, MemoryError: full path
        return None


def _read(path: str, settings: Settings) -> tuple[bytes | None, CheckedFile | None, os.stat_result | None]:
    """(bytes, None, stat before reading) or (None, the CheckedFile reporting why it cannot be read, None)."""
    try:
        st = os.stat(path)
        return api.read_source(path, api._file_limit(settings)), None, st
    except OSError as e:  # worded as api.analyze_file words it
        msg = e.strerror if isinstance(e, api.FileTooLarge) else f"cannot read file: {e.strerror or e}"
        return (
            None,
            CheckedFile(path, api.FileResult(path, notes=[api._file_diagnostic(path, "DC001", msg)])),
            None,
        )


def check_file(path: str, settings: Settings) -> CheckedFile:
    data, failed, _ = _read(path, settings)
    if failed is not None:
        return failed
    assert data is not None  # _read gives the bytes whenever it gives no CheckedFile
    return check_source(data, path, settings)


def _check_file_stamped(path: str, settings: Settings) -> tuple[CheckedFile, Stamp | None]:
    """:func:`check_file` plus the stamp the cache records (None when there is nothing to cache)."""
    data, failed, st = _read(path, settings)
    if failed is not None:
        return failed, None
    assert data is not None and st is not None  # _read gives both whenever it gives no CheckedFile
    out = check_source(data, path, settings)
    if out.notebook is not None or out.result.internal_error or _over_budget(out.result):
        return out, None  # notebooks are not cached; a crash or an overrun is retried next time
    return out, stamp_for(st, data)


def _over_budget(result: api.FileResult) -> bool:
    return any(d.code == "DC003" for d in result.notes)


#: below this many files, worker processes cost more than they save
PARALLEL_MIN_FILES = 16


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def check_files(
    files: list[str],
    settings: Settings,
    jobs: int | None = None,
    cache: Cache | None = None,
    *,
    finish: bool = True,
) -> list[CheckedFile]:
    """Check ``files`` (results in the order given), reusing ``cache`` hits; the rest in worker processes when
    there are enough of them (``jobs``: None = one per CPU). Workers get the largest files first (better
    balance) and return small FileResults (facts), never syntax trees; the order of the output does not depend
    on ``jobs``. Then each file gets the shapes other files' calls gave it, and, with ``finish``, its findings
    (without: the caller merges more facts in, trace, and calls :func:`finish`)."""
    out: list[CheckedFile | None] = [None] * len(files)
    todo: list[int] = []
    for i, path in enumerate(files):
        hit = cache.lookup(path) if cache is not None and not is_notebook(path) else None
        if hit is not None:
            out[i] = CheckedFile(path, hit)
        else:
            todo.append(i)
    jobs = default_jobs() if jobs is None else jobs

    def keep(i: int, checked: CheckedFile, stamp: Stamp | None) -> None:
        out[i] = checked
        if cache is not None:
            cache.store(files[i], stamp, checked.result)

    if jobs > 1 and len(todo) >= PARALLEL_MIN_FILES:
        _check_in_workers(files, todo, settings, jobs, keep)
    else:
        for i in todo:
            if _size(files[i]) >= budget.GUARDED_FILE_BYTES:  # big enough to reach a hard limit: in a worker
                keep(i, *_check_alone(files[i], settings))
            else:
                keep(i, *_check_file_stamped(files[i], settings))
    merge_foreign(out, settings)  # type: ignore[arg-type]
    if finish:
        finish_all(out, settings)  # type: ignore[arg-type]
    return out  # type: ignore[return-value]


def finish_all(checked: Iterable[CheckedFile], settings: Settings) -> None:
    """Every file's findings from its final facts (:mod:`densecheck.findings`): the last step of a run."""
    for f in checked:
        findings.finish(f.result, settings)


def merge_foreign(checked: list[CheckedFile], settings: Settings) -> None:
    """Give each file's layers the shapes that other files' calls gave them (followed imports). A layer whose
    only shapes were the conventional input of its own class run as an entry point takes its callers' shapes
    instead; any other keeps its own and adds theirs, so a site reached with different ranks from different
    callers shows them all. Done in the run's file order: the result does not depend on which worker analysed
    what, or on the cache."""
    by_path = {os.path.realpath(f.path): f for f in checked if f.notebook is None and f.result.layers}
    incoming: dict[str, dict[tuple[int, int], list]] = {}
    for f in checked:
        for rep in f.result.foreign:
            target = os.path.realpath(rep.path)
            if target in by_path and by_path[target] is not f:
                incoming.setdefault(target, {}).setdefault((rep.line, rep.column), []).append(rep)
    for target, sites in incoming.items():
        f = by_path[target]
        for layer in f.result.layers:
            reps = sites.get((layer.line, layer.column))
            if reps:
                _merge_layer(layer, reps)


def _merge_layer(layer, reps) -> bool:
    shapes = [] if layer.assumed_input else list(layer.shapes)
    contexts = [] if layer.assumed_input else list(layer.contexts)
    seen = {(repr(s.json()), s.channel_axis, s.explicit_layout) for s in shapes}
    for rep in reps:
        for s, c in zip(rep.shapes, rep.contexts):
            key = (repr(s.json()), s.channel_axis, s.explicit_layout)
            if key not in seen:
                seen.add(key)
                shapes.append(s)
                contexts.append(c)
    changed = shapes != layer.shapes or layer.assumed_input
    layer.shapes, layer.contexts, layer.assumed_input = shapes, contexts, False
    for attr in ("in_features", "out_features"):
        values = {getattr(r, attr) for r in reps}
        own = getattr(layer, attr)
        if own is None and len(values) == 1:
            setattr(layer, attr, values.pop())
            changed = True
        elif own is not None and values - {own}:
            # the callers built it with other sizes (a block configured differently in each model): no one
            # number, so no finding compares a caller's shape with this file's own default
            setattr(layer, attr, None)
            changed = True
    return changed


def _check_in_workers(files: list[str], todo: list[int], settings: Settings, jobs: int, keep) -> None:
    """Check ``files[i] for i in todo`` in worker processes, largest first.

    A worker that dies (a native crash, the out-of-memory killer, its watchdog ending a file over its budget)
    takes only the file it was working on with it: each worker notes the file it is on in a marker file, so
    after the pool breaks that file is reported (DC003 when the watchdog noted an overrun, else DC002) and the
    files not done yet go to a fresh pool.
    """
    remaining = sorted(todo, key=lambda i: -_size(files[i]))
    limits = budget.Limits.of(settings)
    with tempfile.TemporaryDirectory(prefix="densecheck-workers-") as markers:
        while remaining:
            done: set[int] = set()
            try:
                with (
                    budget.Watchdog(markers, limits),
                    ProcessPoolExecutor(
                        max_workers=min(jobs, len(remaining)),
                        initializer=_worker_init,
                        initargs=(markers, os.getpid()),
                    ) as pool,
                ):
                    stamped = pool.map(
                        _check_file_marked, [files[i] for i in remaining], repeat(settings), chunksize=2
                    )
                    for i, (checked, stamp) in zip(remaining, stamped):
                        keep(i, checked, stamp)
                        done.add(i)
                return
            except BrokenProcessPool:
                ended = _read_markers(markers)
                left = [i for i in remaining if i not in done]
                for i in left:
                    if ended.get(files[i]):  # its watchdog ended it: over budget, not worth a second try
                        keep(i, _over_budget_file(files[i], cast(str, ended[files[i]]), limits), None)
                # the files workers were on when the pool broke; the pool terminates the healthy workers too,
                # so each suspect gets a worker of its own: only a file that kills that one as well is
                # reported
                left = [i for i in left if not ended.get(files[i])]
                suspects = [i for i in left if files[i] in ended] or left[
                    :1
                ]  # never loop on an unknown cause
                for i in suspects:
                    keep(i, *_check_alone(files[i], settings))
                remaining = [i for i in left if i not in suspects]


def _read_markers(markers: str) -> dict[str, str | None]:
    """path -> why its worker was ended (None: it died on its own), from the marker files left behind."""
    out: dict[str, str | None] = {}
    for name in os.listdir(markers):
        try:
            with open(os.path.join(markers, name), encoding="utf-8", errors="surrogateescape") as fh:
                path, why = budget.read_marker(fh.read())
            os.unlink(os.path.join(markers, name))
        except OSError:
            continue
        out[path] = why
    return out


def _over_budget_file(path: str, kind: str, limits: budget.Limits) -> CheckedFile:
    return CheckedFile(path, api.over_budget(path, kind, limits))


def _check_alone(path: str, settings: Settings) -> tuple[CheckedFile, Stamp | None]:
    """``path`` in a guarded worker process of its own."""
    limits = budget.Limits.of(settings)
    with tempfile.TemporaryDirectory(prefix="densecheck-worker-") as markers:
        try:
            with (
                budget.Watchdog(markers, limits),
                ProcessPoolExecutor(
                    max_workers=1, initializer=_worker_init, initargs=(markers, os.getpid())
                ) as pool,
            ):
                return pool.submit(_check_file_marked, path, settings).result()
        except BrokenProcessPool:
            why = _read_markers(markers).get(path)
    if why:
        return _over_budget_file(path, why, limits), None
    return CheckedFile(
        path,
        api.FileResult(
            path,
            notes=[
                api._file_diagnostic(
                    path,
                    "DC002",
                    "internal error: the worker process analysing this file died (a crash or out of "
                    f"memory); please report it at {api.ISSUES_URL}",
                )
            ],
            internal_error=True,
        ),
    ), None


_MARKERS: str | None = None


def _worker_init(markers: str, parent: int) -> None:
    global _MARKERS
    _MARKERS = markers
    die_with_parent(parent)  # a killed run leaves no workers behind


def _check_file_marked(path: str, settings: Settings) -> tuple[CheckedFile, Stamp | None]:
    """In a worker: note which file this process is on while it is on it (for the parent's watchdog)."""
    if _MARKERS is None:
        return _check_file_stamped(path, settings)
    marker = os.path.join(_MARKERS, str(os.getpid()))
    budget.start_marker(marker, path)
    result = _check_file_stamped(path, settings)
    try:
        os.unlink(marker)
    except OSError:
        pass
    return result


def open_cache(settings: Settings) -> Cache | None:
    try:
        return Cache(settings)
    except Exception:  # noqa: BLE001 - no cache is better than no run
        return None


def run(
    paths: list[str],
    settings: Settings,
    *,
    force_exclude: bool = False,
    jobs: int | None = None,
    cache: bool = False,
    finish: bool = True,
) -> Run:
    """Discover, analyse (``cache``: read and write the cache, see :mod:`densecheck.cache`), merge the files'
    facts and, with ``finish``, compute the findings; without, the caller merges trace facts in and calls
    :func:`finish_all` itself."""
    found = discover(paths, settings, force_exclude=force_exclude)
    out = Run(missing=found.missing, skipped=found.skipped)
    for directory, why in found.errors:
        diag = api._file_diagnostic(directory, "DC001", f"cannot read directory: {why}")
        out.files.append(CheckedFile(directory, api.FileResult(directory, notes=[diag])))
    store = open_cache(settings) if cache else None
    out.files.extend(check_files(found.files, settings, jobs, store, finish=False))
    if store is not None:
        store.save()
    out.files.sort(key=lambda f: f.path)
    if finish:
        finish_all(out.files, settings)
    return out


def run_stdin(data: bytes, path: str, settings: Settings, *, finish: bool = True) -> Run:
    """Standard input as the file ``path`` (``-`` when no ``--stdin-filename`` named it: then notebook JSON
    is read as a notebook, anything else as Python)."""
    notebook = True if path == "-" and looks_like_notebook(data) else None
    out = Run(files=[check_source(data, path, settings, keep=True, notebook=notebook)])
    if finish:
        finish_all(out.files, settings)
    return out
