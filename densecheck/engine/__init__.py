"""The engine: an abstract interpreter over libcst trees that finds models and infers the shapes reaching each
Dense/Linear. One concern a module (see ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Any

import libcst as cst

from densecheck.layers import LayerReport


def analyze_module(
    module: cst.Module,
    path: str,
    source: str | None = None,
    tree: Any = None,
    follow_imports: bool = True,
    disabled_heuristics: frozenset[str] = frozenset(),
) -> list[LayerReport]:
    """Every Dense/Linear constructor call site in ``module`` (parsed from ``source``; ``tree``, when given,
    is CPython's ``ast`` of the same text), with its inferred shapes; then, with ``follow_imports``, the call
    sites of the project's other files that this file's code reached (see
    :class:`~densecheck.engine.driver.AnalysisResult`). ``disabled_heuristics``: the name-based guesses
    (:mod:`densecheck.engine.heuristics`) not to make."""
    from densecheck.engine.driver import analyze

    return analyze(module, path, source, tree, follow_imports, disabled_heuristics)
