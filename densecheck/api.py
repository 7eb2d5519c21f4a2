"""The programmatic entry point: source text or paths in, layer reports and diagnostics out.

Flow: read -> parse (libcst) -> analysis (names, models, shapes) -> LayerReports -> rules -> suppressions.
Nothing here imports or executes the analysed code.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

import libcst as cst

from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic
from densecheck.layers import LayerReport
from densecheck.rules import LAYER_RULES, RULES
from densecheck import suppressions

ISSUES_URL = "https://github.com/densecheck/densecheck/issues"


@dataclass
class FileResult:
    path: str
    layers: list[LayerReport] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    internal_error: bool = False


def _file_diagnostic(path: str, code: str, message: str, line: int = 1, column: int = 1) -> Diagnostic:
    rule = RULES[code]
    return Diagnostic(path, line, column, line, column, code, rule.severity, message, rule.name)


def decode(data: bytes) -> str:
    """Decode Python source bytes the way the interpreter does (PEP 263 cookie, BOM), for suppressions/snippets."""
    import io
    import tokenize

    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def run_rules(layers: list[LayerReport], settings: Settings) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for rule in LAYER_RULES:
        if not settings.rule_enabled(rule.code, rule.default_enabled):
            continue
        for layer in layers:
            for d in rule.check(layer, settings):
                sev = settings.severity.get(d.code)
                out.append(replace(d, severity=sev) if sev else d)
    return out


def analyze_source(source: str | bytes, path: str = "<stdin>", settings: Settings | None = None) -> FileResult:
    """Analyse one file's source. Never raises: parse failures and internal errors become diagnostics."""
    from densecheck.analysis import analyze_module

    settings = settings or Settings()
    result = FileResult(path)
    try:
        text = decode(source) if isinstance(source, bytes) else source
    except (SyntaxError, UnicodeDecodeError, LookupError) as e:
        result.diagnostics.append(_file_diagnostic(path, "DC001", f"cannot decode file: {e}"))
        return result
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else "syntax error"
        result.diagnostics.append(
            _file_diagnostic(path, "DC001", f"syntax error: {msg}", e.raw_line or 1, (e.raw_column or 0) + 1))
        return result
    except Exception as e:  # libcst raises a few other things on odd input (e.g. NUL bytes)
        result.diagnostics.append(_file_diagnostic(path, "DC001", f"cannot parse file: {type(e).__name__}: {e}"))
        return result
    try:
        result.layers = analyze_module(module, path)
        diags = run_rules(result.layers, settings)
        result.diagnostics.extend(suppressions.apply(diags, text, settings, path))
    except RecursionError:
        result.internal_error = True
        result.diagnostics.append(_file_diagnostic(
            path, "DC002", "internal error: expression nesting too deep to analyse; please report it at "
            f"{ISSUES_URL}"))
    except Exception as e:  # noqa: BLE001 - one bad file must not stop the run
        result.internal_error = True
        where = traceback.extract_tb(e.__traceback__)[-1]
        result.diagnostics.append(_file_diagnostic(
            path, "DC002",
            f"internal error: {type(e).__name__}: {e} (at {os.path.basename(where.filename)}:{where.lineno}); "
            f"please report it at {ISSUES_URL}"))
    return result


def analyze_file(path: str, settings: Settings | None = None) -> FileResult:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        return FileResult(path, diagnostics=[_file_diagnostic(path, "DC001", f"cannot read file: {e.strerror or e}")])
    return analyze_source(data, path, settings)


def analyze_paths(paths: Iterable[str], settings: Settings | None = None) -> Iterator[FileResult]:
    settings = settings or Settings()
    for p in paths:
        yield analyze_file(p, settings)
