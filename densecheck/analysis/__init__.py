"""Static analysis: libcst visitors that find models and infer the shapes reaching each Dense/Linear."""

from __future__ import annotations

import libcst as cst

from densecheck.layers import LayerReport


def analyze_module(module: cst.Module, path: str) -> list[LayerReport]:
    """Every Dense/Linear constructor call site in ``module``, with the shapes inferred for it."""
    from densecheck.analysis.interpreter import analyze

    return analyze(module, path)
