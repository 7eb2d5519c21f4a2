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
from densecheck.layers import context_name
from densecheck.rules import LAYER_RULES

if TYPE_CHECKING:
    from densecheck.api import FileResult
    from densecheck.config import Settings
    from densecheck.layers import LayerReport
    from densecheck.rules.base import Rule

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
            for d in check_contexts(rule, layer, settings):
                sev = settings.severity.get(d.code)
                out.append(replace(d, severity=sev) if sev else d)
    return out


def check_contexts(rule: Rule, layer: LayerReport, settings: Settings) -> list[Diagnostic]:
    """``rule`` on ``layer`` as each context that applied it saw it. A layer applied from one context, or
    found at fault by the rule from every context (the same finding with other sizes), is reported once, from
    all its shapes; when only some contexts are at fault, each of them is reported on its own, named
    (``from SmallCNN.forward: ...``): one caller's correct use cannot hide another caller's bug (a subclass
    that flattens does not excuse its parent's forward that does not)."""
    seen = layer.by_context()
    if len(seen) <= 1:
        return list(rule.check(layer, settings))
    found = [(context, list(rule.check(sub, settings))) for context, sub in seen]
    at_fault = [(context, ds) for context, ds in found if ds]
    if not at_fault:
        return []
    if len(at_fault) == len(found):
        whole = list(rule.check(layer, settings))
        if whole:
            return whole
    out: list[Diagnostic] = []
    said: set[str] = set()
    for context, ds in at_fault:
        for d in ds:
            if d.message not in said:
                said.add(d.message)
                out.append(replace(d, message=f"from {context_name(context)}: {d.message}"))
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
