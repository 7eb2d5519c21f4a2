"""Static analysis: libcst visitors that find models and infer the shapes reaching each Dense/Linear."""

from __future__ import annotations

import libcst as cst

from densecheck.layers import LayerReport


def analyze_module(module: cst.Module, path: str, source: str | None = None) -> list[LayerReport]:
    """Every Dense/Linear constructor call site in ``module`` (parsed from ``source``), with its inferred shapes."""
    from densecheck.analysis.interpreter import analyze

    return analyze(module, path, source)
