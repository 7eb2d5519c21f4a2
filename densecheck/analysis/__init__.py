"""Static analysis: a walk of the libcst tree and an abstract interpreter that find models and infer the shapes reaching each Dense/Linear."""

from __future__ import annotations

from typing import Any

import libcst as cst

from densecheck.layers import LayerReport


def analyze_module(module: cst.Module, path: str, source: str | None = None, tree: Any = None,
                   follow_imports: bool = True) -> list[LayerReport]:
    """Every Dense/Linear constructor call site in ``module`` (parsed from ``source``; ``tree``, when given, is
    CPython's ``ast`` of the same text), with its inferred shapes; then, with ``follow_imports``, the call sites of
    the project's other files that this file's code reached (see :class:`~densecheck.analysis.interpreter.AnalysisResult`)."""
    from densecheck.analysis.interpreter import analyze

    return analyze(module, path, source, tree, follow_imports)
