"""Findings: the one place where facts become diagnostics.

Static analysis, the cross-file merge and trace all produce *facts* about a file: its layer reports, its notes
(a file that could not be read, parsed or analysed: DC001/DC002/DC003; a trace that failed: DC106) and its
suppression directives. Nothing on the way computes a finding. When every fact is in, :func:`finish` runs each
file's layer rules once on its final layer reports, adds its notes, and applies per-file ignores, suppression
comments and DC900 once -- so what trace or another file taught a layer is what its findings say, and no
finding can be left over from an earlier stage.

A file's notes about itself (DC001, DC002, DC003) are always reported: a file that was not analysed must say
so, whatever its comments say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from densecheck import suppressions
from densecheck.diagnostics import Diagnostic
from densecheck.rules import LAYER_RULES

if TYPE_CHECKING:
    from densecheck.api import FileResult
    from densecheck.config import Settings
    from densecheck.layers import LayerReport

#: notes a file gives about itself: never suppressed
FILE_NOTES = frozenset({"DC001", "DC002", "DC003"})


def run_rules(layers: Iterable[LayerReport], settings: Settings) -> list[Diagnostic]:
    """The enabled layer rules over ``layers``, with the configured severities."""
    layers = list(layers)
    out: list[Diagnostic] = []
    for rule in LAYER_RULES:
        if not settings.rule_enabled(rule.code, rule.default_enabled):
            continue
        for layer in layers:
            for d in rule.check(layer, settings):
                sev = settings.severity.get(d.code)
                out.append(replace(d, severity=sev) if sev else d)
    return out


def compute(result: FileResult, settings: Settings) -> list[Diagnostic]:
    """``result``'s diagnostics from its facts; the facts are not changed."""
    fixed = [d for d in result.notes if d.code in FILE_NOTES]
    found = [d for d in result.notes if d.code not in FILE_NOTES]
    if result.linted:
        found += run_rules(result.layers, settings)
    if result.directives is None:  # the source was never read as text: no comments to honour
        return fixed + found
    return fixed + suppressions.apply(found, result.directives, settings, result.path)


def finish(result: FileResult, settings: Settings) -> FileResult:
    """Set ``result.diagnostics`` from its final facts (a result already finished where its facts were final,
    a notebook's, is left as it is)."""
    if result.final:
        return result
    try:
        result.diagnostics = compute(result, settings)
    except Exception as e:  # noqa: BLE001 - a bug in a rule or in suppressions costs this file, not the run
        from densecheck.api import _internal_error

        result.internal_error = True
        result.diagnostics = [d for d in result.notes if d.code in FILE_NOTES] + [
            _internal_error(result.path, e)
        ]
    return result
