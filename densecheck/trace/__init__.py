"""Trace mode: opt-in runtime confirmation of the static shapes (torch meta device, Keras symbolic).

Trace mode *executes the user's model code*, always in a subprocess (:mod:`densecheck.trace.runner`) with a
timeout and downloads disabled. The static linter never imports this package's ``record`` / ``runner``
modules.
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


def run_trace(
    targets: list[TraceTarget],
    file_results: list,
    settings=None,
    timeout: float | None = None,
    *,
    root: str | None = None,
    memory_limit_mb: int | None = None,
    device: str = "meta",
    results_out: list[TraceResult] | None = None,
    finish: bool = True,
) -> list[Diagnostic]:
    """Trace every target (each in its own subprocess) and merge what it saw into ``file_results``.

    ``file_results``: the static results, a list of :class:`densecheck.api.FileResult` or
    :class:`densecheck.runner.CheckedFile` — mutated in place (layers get ``source="trace"`` and a ``trace``
    record, layer-rule findings are recomputed from the traced shapes, entries are appended for files that
    were not analysed). Returns the trace diagnostics it added (DC105 disagreements, DC106 failures); they are
    already in ``file_results``. With ``finish=False`` only the facts are merged and nothing is returned: the
    caller computes the findings (:func:`densecheck.runner.finish_all`). ``results_out``, when given, receives
    the raw :class:`~densecheck.trace.launch.TraceResult` s (timings, peak memory). ``root``: where targets
    (and ``src/``) resolve; default: the current directory for ``--trace`` targets, the configuration file's
    directory (``settings.root``) for configured ones.
    """
    import os

    from densecheck.trace.launch import run_target
    from densecheck.trace.merge import merge_facts, merge_results

    cfg_root = os.path.abspath(root or getattr(settings, "root", None) or os.getcwd())
    cli_root = os.path.abspath(root or os.getcwd())
    # command-line targets resolve against the current directory, configured ones against the config's
    # directory
    results = [
        run_target(
            t,
            timeout=timeout,
            memory_limit_mb=memory_limit_mb,
            device=device,
            root=cli_root if t.origin.startswith("--") else cfg_root,
        )
        for t in targets
    ]
    root = cli_root
    if results_out is not None:
        results_out.extend(results)
    if not finish:  # the caller computes every file's findings once, after this
        merge_facts(results, file_results, settings, root)
        return []
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
