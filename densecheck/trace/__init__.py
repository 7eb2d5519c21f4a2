"""Trace mode: opt-in runtime confirmation of the static shapes (torch meta device, Keras symbolic).

Trace mode *executes the user's model code*, always in a subprocess (:mod:`densecheck.trace.runner`) with a timeout
and downloads disabled. The static linter never imports this package's ``record`` / ``runner`` modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from densecheck.trace.spec import (
    DEFAULT_MEMORY_LIMIT_MB,
    DEFAULT_TIMEOUT,
    InputSpec,
    TraceSpecError,
    TraceTarget,
    config_section_validator,
    parse_input,
    parse_trace_cli,
    parse_trace_config,
)

if TYPE_CHECKING:  # pragma: no cover
    from densecheck.diagnostics import Diagnostic
    from densecheck.trace.launch import TraceResult


def run_trace(targets: list[TraceTarget], file_results: list, settings=None, timeout: float | None = None, *,
              root: str | None = None, memory_limit_mb: int | None = None, device: str = "meta",
              results_out: list[TraceResult] | None = None) -> list[Diagnostic]:
    """Trace every target (each in its own subprocess) and merge what it saw into ``file_results``.

    ``file_results``: the static results, a list of :class:`densecheck.api.FileResult` or
    :class:`densecheck.runner.CheckedFile` — mutated in place (layers get ``source="trace"`` and a ``trace``
    record, layer-rule findings are recomputed from the traced shapes, entries are appended for files that were not
    analysed). Returns the trace diagnostics it added (DC105 disagreements, DC106 failures); they are already in
    ``file_results``. ``results_out``, when given, receives the raw :class:`~densecheck.trace.launch.TraceResult` s
    (timings, peak memory). ``root``: the project root (targets and ``src/`` resolve against it; default: the
    settings' root, else the current directory).
    """
    import os

    from densecheck.trace.launch import run_target
    from densecheck.trace.merge import merge_results

    root = os.path.abspath(root or getattr(settings, "root", None) or os.getcwd())
    results = [run_target(t, timeout=timeout, memory_limit_mb=memory_limit_mb, root=root, device=device)
               for t in targets]
    if results_out is not None:
        results_out.extend(results)
    return merge_results(results, file_results, settings, root)


__all__ = [
    "DEFAULT_MEMORY_LIMIT_MB",
    "DEFAULT_TIMEOUT",
    "InputSpec",
    "TraceSpecError",
    "TraceTarget",
    "config_section_validator",
    "parse_input",
    "parse_trace_cli",
    "parse_trace_config",
    "run_trace",
]
