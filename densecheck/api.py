"""The programmatic entry point: source text or paths in, layer reports and diagnostics out.

Flow: read -> parse (libcst) -> engine (names, models, shapes) -> facts (LayerReports, notes, directives) ->
findings (rules, suppressions; :mod:`densecheck.findings`).
Nothing here imports or executes the analysed code.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
import sys
import threading
import traceback
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from densecheck import budget, findings, suppressions
from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic
from densecheck.layers import LayerReport
from densecheck.rules import RULES
from densecheck.suppressions import Directive

run_rules = findings.run_rules  # the layer rules over some reports (findings.py is where they run)

ISSUES_URL = "https://github.com/densecheck/densecheck/issues"


@dataclass
class FileResult:
    """What densecheck knows about one file. *Facts*: ``layers`` (a report per Dense/Linear site), ``notes``
    (the file could not be read/parsed/analysed, a trace of it failed), ``directives`` (its suppression
    comments; None when its text was never read), ``foreign``/``dependencies``. *Findings*: ``diagnostics``,
    computed from the final facts once, by :func:`densecheck.findings.finish` -- never edited in place."""

    path: str
    layers: list[LayerReport] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_error: bool = False
    notes: list[Diagnostic] = field(default_factory=list)
    directives: list[Directive] | None = None
    #: the layer rules run on this file (False: a file only trace reached, outside the paths checked)
    linted: bool = True
    #: ``diagnostics`` are final already (a notebook's, computed in cell coordinates when it was analysed)
    final: bool = False
    #: the project's other files this analysis followed imports into: the shapes their layers got from this
    # file's
    #: calls (merged into those files' own results by the runner), and every such file read (for the cache)
    foreign: list[LayerReport] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)


def _file_diagnostic(path: str, code: str, message: str, line: int = 1, column: int = 1) -> Diagnostic:
    rule = RULES[code]
    return Diagnostic(path, line, column, line, column, code, rule.severity, message, rule.name)


#: Files larger than this are reported (DC001) instead of analysed: libcst needs ~700 bytes of memory and ~10
# us
#: per source byte, so a 10 MB file would take ~7 GB and two minutes. The largest file in the standard
# library,
#: torch, tensorflow and transformers is 1.4 MB. (``Settings.max_file_bytes``, when present, overrides it.)
MAX_FILE_BYTES = 4 * 1024 * 1024
#: CPython's own limit on nested brackets (its tokenizer's MAXLEVEL); libcst's native parser overflows its
# stack
#: (a segfault, which would take the whole run down) somewhere past ~1,000 levels, so deeper never reaches it.
MAX_BRACKET_DEPTH = 200
#: A statement with more tokens than this is only handed to libcst when CPython's own parser accepted the file
#: (which bounds its nesting); otherwise a long enough chain of operators could overflow libcst's stack.
MAX_UNCHECKED_STATEMENT_TOKENS = 5000
#: The analysis recurses over the syntax tree, and some ordinary code nests deeply in libcst's tree: an
# implicit
#: concatenation of 2,000 string literals (pydoc_data/topics.py) is a chain 2,000 levels deep. When the
# recursion
#: limit is hit, the file is analysed again in a thread with a large stack and a recursion limit to match;
# trees
#: deeper than this are reported (DC001 "too deeply nested") instead.
MAX_ANALYSED_DEPTH = 10_000
#: the stack of that thread (virtual memory: only what the recursion touches is used)
DEEP_STACK_BYTES = 512 * 1024 * 1024
#: Python frames allowed per level of the tree in that thread
FRAMES_PER_LEVEL = 8


def decode(data: bytes) -> str:
    """Decode Python source bytes the way the interpreter does (PEP 263 cookie, BOM), for
    suppressions/snippets."""
    import io
    import tokenize

    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def _decode_error(data: bytes, e: Exception) -> tuple[str, int, int]:
    """A one-line reason for a file that cannot be decoded, and where (line, column) when known."""
    if isinstance(e, UnicodeDecodeError):
        before = data[: e.start]
        line = before.count(b"\n") + 1
        column = e.start - (before.rfind(b"\n") + 1) + 1
        return (
            f"cannot decode file as {e.encoding}: {e.reason} (byte 0x{data[e.start]:02x} at line {line}, "
            f"column {column}); not a Python source file, or add an encoding declaration (PEP 263)",
            line,
            column,
        )
    if isinstance(e, SyntaxError) and "invalid or missing encoding declaration" in str(e):
        try:  # no declaration, and the first lines are not UTF-8: say where
            data.decode("utf-8")
        except UnicodeDecodeError as u:
            return _decode_error(data, u)
    msg = str(e).split(" for '", 1)[0]  # tokenize's "invalid or missing encoding declaration for '<path>'"
    return f"cannot decode file: {msg}", 1, 1


def _file_limit(settings: Settings | None) -> int:
    limit = getattr(settings, "max_file_bytes", None)
    return limit if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0 else MAX_FILE_BYTES


def _too_large(size: int, limit: int) -> str:
    return (
        f"file too large to analyse: {size / 2**20:.1f} MiB (the limit is {limit / 2**20:.0f} MiB); "
        "exclude it (extend-exclude) or split it"
    )


def _first_line(text: str | BaseException) -> str:
    text = str(text).strip()
    return text.splitlines()[0] if text else ""


def _unchecked_statement_risk(text: str) -> str | None:
    """Why handing ``text`` to libcst's native parser could overflow its stack, or None.

    Only used when CPython's parser rejected the file (so nothing bounds its nesting): bracket depth beyond
    CPython's own limit, or a statement long enough to chain thousands of operators.
    """
    import io
    import tokenize

    depth = max_depth = tokens = max_tokens = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.OP:
                if tok.string in "([{":
                    depth += 1
                    max_depth = max(max_depth, depth)
                elif tok.string in ")]}":
                    depth = max(depth - 1, 0)
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                tokens = 0
            elif tok.type not in (tokenize.NL, tokenize.COMMENT):
                tokens += 1
                max_tokens = max(max_tokens, tokens)
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass  # tokenize gave up part-way: judge the rest by its raw brackets, counting those in strings too
    else:
        text = ""
    for ch in text:
        if ch in "([{":
            depth += 1
            max_depth = max(max_depth, depth)
        elif ch in ")]}":
            depth = max(depth - 1, 0)
    if max_depth > MAX_BRACKET_DEPTH:
        return f"brackets nested {max_depth} deep"
    if max_tokens > MAX_UNCHECKED_STATEMENT_TOKENS:
        return f"a statement of {max_tokens} tokens"
    return None


def _cst_depth(module: cst.CSTNode) -> int:
    """How deeply the syntax tree nests (iteratively: no recursion on the trees that are too deep to recurse
    on)."""
    depth = 0
    stack = [(module, 1)]
    while stack:
        node, d = stack.pop()
        depth = max(depth, d)
        stack.extend((child, d + 1) for child in node.children)
    return depth


#: CPython's syntax errors about nesting rather than grammar
_TOO_DEEP_MESSAGES = (
    "too many nested parentheses",
    "too many levels of indentation",
    "too many indentation levels",
    "too deeply nested",
    "too many statically nested blocks",
)


def parse(text: str, path: str = "<stdin>") -> tuple[cst.Module | None, Diagnostic | None]:
    """Parse source text with libcst, safely: ``(module, None)`` or ``(None, DC001 diagnostic)``. Never
    raises."""
    module, _tree, problem = _parse(text, path)
    return module, problem


def _parse(text: str, path: str) -> tuple[cst.Module | None, Any, Diagnostic | None]:
    """:func:`parse`, also returning CPython's tree of the text (None when CPython rejects it), which the
    analysis reuses for call positions rather than parsing the text a third time.

    CPython's own parser looks at the text first. It is fast, and it bounds how deeply the text can nest,
    which keeps libcst's native parser (which overflows its stack, crashing the process, past ~1,000 nested
    levels) safe. When CPython rejects the text, libcst still gets a go -- it knows newer syntax (``type X =
    ...``, ``def f[T]()``) than an older running Python -- unless the text could be deep enough to crash it;
    when both reject it, CPython's message (the one users know) is reported.
    """
    import ast

    if text.startswith("\ufeff"):  # a BOM left in already-decoded text
        text = text[1:]
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        column = nul - (text.rfind("\n", 0, nul) + 1) + 1
        return (
            None,
            None,
            _file_diagnostic(
                path,
                "DC001",
                f"cannot parse file: it contains NUL bytes (first at line {line}, column {column}); "
                "not a Python source file",
                line,
                column,
            ),
        )
    py_error: SyntaxError | None = None
    tree = None
    try:
        with (
            warnings.catch_warnings()
        ):  # SyntaxWarning / DeprecationWarning about the analysed code: not ours
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except SyntaxError as e:
        py_error = e
        msg = _first_line(e.msg)
        if any(m in msg for m in _TOO_DEEP_MESSAGES):
            return (
                None,
                None,
                _file_diagnostic(
                    path, "DC001", f"too deeply nested to parse: {msg}", e.lineno or 1, e.offset or 1
                ),
            )
    except (RecursionError, MemoryError) as e:  # CPython's parser gives up on nesting this deep
        kind = "nested too deeply" if isinstance(e, RecursionError) or not str(e) else str(e)
        return (
            None,
            None,
            _file_diagnostic(
                path, "DC001", f"too deeply nested to parse: Python's own parser gives up ({kind})"
            ),
        )
    except (UnicodeError, ValueError) as e:  # e.g. lone surrogates in text given as str
        return (
            None,
            None,
            _file_diagnostic(path, "DC001", f"cannot parse file: {type(e).__name__}: {_first_line(e)}"),
        )

    def syntax_error(fallback_msg: str, line: int, column: int) -> tuple[None, None, Diagnostic]:
        if py_error is not None:
            msg = _first_line(py_error.msg) or "invalid syntax"
            line, column = py_error.lineno or 1, py_error.offset or 1
        else:
            msg = fallback_msg
        return (
            None,
            None,
            _file_diagnostic(path, "DC001", f"syntax error: {msg}", max(line, 1), max(column, 1)),
        )

    if py_error is not None:
        risk = _unchecked_statement_risk(text)
        if risk is not None:
            return syntax_error("", 1, 1)
    try:
        return cst.parse_module(text), tree, None
    except cst.ParserSyntaxError as e:
        msg = _first_line(e.message) or "invalid syntax"
        if py_error is None:  # libcst's grammar has gaps and limits: `(x): int`, ~3,500 concatenated strings
            return (
                None,
                None,
                _file_diagnostic(
                    path,
                    "DC001",
                    f"cannot parse file: densecheck's parser (libcst) rejects this valid Python: {msg}",
                    max(e.raw_line or 1, 1),
                    max((e.raw_column or 0) + 1, 1),
                ),
            )
        return syntax_error(msg, 1, 1)
    except RecursionError:
        return None, None, _file_diagnostic(path, "DC001", "too deeply nested to parse")
    except Exception as e:  # noqa: BLE001 - libcst raises a few other things on odd input
        if py_error is not None:
            return syntax_error("", 1, 1)
        return (
            None,
            None,
            _file_diagnostic(path, "DC001", f"cannot parse file: {type(e).__name__}: {_first_line(e)}"),
        )


def analyze_source(
    source: str | bytes, path: str = "<stdin>", settings: Settings | None = None
) -> FileResult:
    """Analyse one file's source, with its findings. Never raises: parse failures and internal errors become
    diagnostics.

    * the file cannot be decoded, is too large, cannot be parsed (syntax error, Python 2, binary, NUL bytes)
      or nests too deeply to analyse: one DC001 diagnostic, no layers;
    * densecheck fails on it (a bug): one DC002 diagnostic pointing at the issue tracker, ``internal_error``.
    """
    settings = settings or Settings()
    return findings.finish(analyze_facts(source, path, settings), settings)


def analyze_facts(source: str | bytes, path: str = "<stdin>", settings: Settings | None = None) -> FileResult:
    """:func:`analyze_source` without the findings: the file's facts, for a run that merges more facts in
    (other files' calls, trace) before :func:`densecheck.findings.finish`."""
    settings = settings or Settings()
    result = FileResult(path)
    limit = _file_limit(settings)
    if len(source) > limit:
        result.notes.append(_file_diagnostic(path, "DC001", _too_large(len(source), limit)))
        return result
    if isinstance(source, bytes):
        try:
            text = decode(source)
        except (SyntaxError, UnicodeDecodeError, LookupError) as e:
            msg, line, column = _decode_error(source, e)
            result.notes.append(_file_diagnostic(path, "DC001", msg, line, column))
            return result
    else:
        text = source
    limits = budget.Limits.of(settings)
    with budget.clock(limits):
        try:
            module, tree, problem = _parse(text, path)
            if module is None:
                assert problem is not None  # _parse gives a diagnostic whenever it gives no module
                result.notes.append(problem)
                return result
            try:
                budget.check()
                return _analyze_parsed(result, module, tree, text, path, settings)
            finally:
                from densecheck.engine.project import settle

                del module, tree
                settle()
        except budget.OverBudget as e:
            return over_budget(path, e.kind, limits)
        except MemoryError:
            return over_budget(path, "memory", limits)


def over_budget(path: str, kind: str, limits: budget.Limits) -> FileResult:
    """The result of a file whose analysis ran past its budget: one DC003 note, no layers."""
    return FileResult(path, notes=[_file_diagnostic(path, "DC003", budget.message(kind, limits))])


def _analyze_parsed(
    result: FileResult, module: cst.Module, tree: Any, text: str, path: str, settings: Settings
) -> FileResult:
    from densecheck.engine import analyze_module

    try:
        try:
            with _quiet_source_warnings():
                layers = analyze_module(
                    module, path, text, tree, settings.follow_imports, frozenset(settings.disable_heuristics)
                )
        except RecursionError:
            depth = _cst_depth(module)
            layers = None
            if depth <= MAX_ANALYSED_DEPTH:
                with _quiet_source_warnings():
                    layers = _deep_call(
                        analyze_module,
                        depth,
                        module,
                        path,
                        text,
                        tree,
                        settings.follow_imports,
                        frozenset(settings.disable_heuristics),
                    )
            if layers is None:
                result.notes.append(
                    _file_diagnostic(
                        path,
                        "DC001",
                        f"too deeply nested to analyse: the syntax tree is {depth:,} levels deep "
                        f"(densecheck analyses up to {MAX_ANALYSED_DEPTH:,})",
                    )
                )
                return result
        assert layers is not None  # analyze_module's list, or the deep call's (None returned above)
        result.layers = [r for r in layers if r.path == path]
        result.foreign = [r for r in layers if r.path != path]
        result.dependencies = list(getattr(layers, "dependencies", []))
        result.directives = suppressions.directives_of(text)
    except MemoryError:
        raise  # over the file's memory budget (see analyze_source), not a bug
    except (Exception, SystemExit) as e:  # noqa: BLE001 - one bad file must not stop the run
        # (SystemExit too: the analysed code never runs, so only a bug in densecheck can raise it here)
        result.layers = []
        result.internal_error = True
        result.notes.append(_internal_error(path, e))
    return result


@contextlib.contextmanager
def _quiet_source_warnings():
    """Compiling the analysed code's literals (ast.parse, literal_eval) warns about *its* invalid escapes and
    literals (SyntaxWarning, DeprecationWarning before 3.12): not densecheck's business, and noise on
    stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=SyntaxWarning)
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, message=r"invalid (escape|octal|decimal)"
        )
        yield


def _deep_call(fn, depth: int, *args):
    """``fn(*args)`` again, in a thread whose stack and recursion limit fit a tree ``depth`` levels deep.

    Raises what ``fn`` raises (a RecursionError even then is a bug: recursion that the tree's depth does not
    explain); None when no such thread can be made here.
    """
    out: dict = {}
    context = contextvars.copy_context()  # the file's clock (densecheck.budget) goes on running in the thread

    def target() -> None:
        try:
            out["value"] = context.run(fn, *args)
        except BaseException as e:  # noqa: BLE001 - handed to the calling thread
            out["error"] = e

    with _DEEP_LOCK:
        old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
        try:
            threading.stack_size(DEEP_STACK_BYTES)
        except (ValueError, RuntimeError):  # pragma: no cover - a platform without settable thread stacks
            return None
        try:
            sys.setrecursionlimit(max(old_limit, 1000 + FRAMES_PER_LEVEL * depth))
            worker = threading.Thread(target=target, name="densecheck-deep-analysis", daemon=True)
            try:
                worker.start()
            except RuntimeError:  # pragma: no cover - no memory for that stack (a low RLIMIT_AS)
                return None
            worker.join()
        finally:
            sys.setrecursionlimit(old_limit)
            threading.stack_size(old_stack)
    if "error" in out:
        raise out["error"]
    return out["value"]


_DEEP_LOCK = threading.Lock()  # one deep analysis at a time: the recursion limit is process-wide


def _internal_error(path: str, e: BaseException) -> Diagnostic:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
    return _file_diagnostic(
        path,
        "DC002",
        f"internal error: {type(e).__name__}: {_first_line(e)}{where}; this is a bug in densecheck, "
        f"please report it at {ISSUES_URL}",
    )


def read_source(path: str, limit: int = MAX_FILE_BYTES, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of the file ``path``; OSError (with a readable ``strerror``) when it cannot or should not be
    read.

    Only regular files are read: a FIFO named ``x.py`` would block forever and a device could never end. A
    file larger than ``limit`` is not read at all (the caller reports it as too large: see
    :func:`analyze_file`). ``follow_symlinks=False``: a symbolic link is not read either (the cache's own
    files).
    """
    nofollow = 0 if follow_symlinks else getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0) | nofollow)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        if st.st_size > limit:
            raise FileTooLarge(st.st_size, limit, path)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class FileTooLarge(OSError):
    strerror: str  # always given: see __init__

    def __init__(self, size: int, limit: int, path: str) -> None:
        super().__init__(errno.EFBIG, _too_large(size, limit), path)
        self.size, self.limit = size, limit


def analyze_file(path: str, settings: Settings | None = None) -> FileResult:
    """Analyse the file ``path``. Never raises: an unreadable file is a DC001 diagnostic (see
    analyze_source)."""
    settings = settings or Settings()
    try:
        data = read_source(path, _file_limit(settings))
    except FileTooLarge as e:
        return findings.finish(
            FileResult(path, notes=[_file_diagnostic(path, "DC001", e.strerror)]), settings
        )
    except OSError as e:
        return findings.finish(
            FileResult(path, notes=[_file_diagnostic(path, "DC001", f"cannot read file: {e.strerror or e}")]),
            settings,
        )
    return analyze_source(data, path, settings)


def analyze_paths(paths: Iterable[str], settings: Settings | None = None) -> Iterator[FileResult]:
    """:func:`analyze_file` of each path, streamed. Each result's ``foreign`` holds the shapes it gave the
    project's other files; merging them into those files' results (as the command line does) is
    :func:`densecheck.runner.run`'s job, which needs every result first."""
    settings = settings or Settings()
    for p in paths:
        yield analyze_file(p, settings)
