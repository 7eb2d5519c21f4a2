"""Merge trace results into the static report.

A traced site (path, line, column of the constructor call) is matched with the static :class:`LayerReport` at
the same position (column only used to tell apart several layers on one line). The matched report gets:

* ``source = "trace"`` and ``shapes`` = the traced input shapes (the layout — channel axis, explicit permute —
  is kept from the static shape when the ranks agree: a torch tensor's NCHW layout is a static fact the trace
  cannot see; otherwise it is unknown);
* ``trace`` = ``{"input_shapes", "input_rank", "ranks", "params", "params_total", "instances", "calls",
  "macs", "mult_adds", "agrees", "disagreement", "static_input_shape", "static_input_ranks", "targets",
  "layer"}``. ``agrees`` is ``true`` / ``false``, or ``null`` when static analysis had no shape to compare (or
  the layer was built but never called);
* ``in_features`` / ``out_features`` / ``bias`` from the framework (torch) when known.

A disagreement becomes DC105 (a layer rule reading ``layer.trace``); the layer rules are re-run on every
merged layer so DC101/DC102/DC103 reflect the traced shapes. Traced sites without a static record become new
reports from the trace alone (in files outside the analysed paths they are listed, but not linted). A failed
trace becomes DC106 at the innermost user frame. Nothing here runs user code.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from densecheck.diagnostics import Diagnostic
from densecheck.layers import LayerReport
from densecheck.shapes import Shape

if TYPE_CHECKING:
    from densecheck.rules.dc106_trace_failed import TraceFailed


def _result(item):
    """FileResult, from a FileResult or a runner.CheckedFile."""
    return getattr(item, "result", item)


def _display_path(path: str, root: str) -> str:
    ap = os.path.abspath(path)
    rel = os.path.relpath(ap, root)
    return ap if rel.startswith(os.pardir) else rel


# -- combining the records of several targets
# ------------------------------------------------------------------
def combine(results) -> dict[tuple[str, int, int | None], dict]:
    """site (realpath, line, column) -> combined trace facts over every successful target."""
    out: dict[tuple, dict] = {}
    for res in results:
        if not res.ok:
            continue
        for r in res.records:
            key = (os.path.realpath(r.path), r.line, r.column)
            c = out.get(key)
            if c is None:
                out[key] = {
                    "record": r,
                    "targets": [res.target.target],
                    "shapes": list(r.input_shapes),
                    "layouts": _layouts(r),
                    "macs": list(r.macs),
                    "calls": r.calls,
                    "instances": r.instances,
                    "mult_adds": r.mult_adds,
                    "params_total": r.params_total,
                }
                continue
            c["targets"].append(res.target.target)
            for s, m, lay in zip(r.input_shapes, r.macs, _layouts(r)):
                if s not in c["shapes"]:
                    c["shapes"].append(s)
                    c["macs"].append(m)
                    c["layouts"].append(lay)
            c["calls"] += r.calls
            c["instances"] += r.instances
            c["mult_adds"] = (
                (c["mult_adds"] + r.mult_adds) if None not in (c["mult_adds"], r.mult_adds) else None
            )
            c["params_total"] = (
                (c["params_total"] + r.params_total)
                if None not in (c["params_total"], r.params_total)
                else None
            )
            base = c["record"]
            for f in ("in_features", "out_features", "params", "bias"):
                if getattr(base, f) != getattr(r, f):
                    c["record"] = base = replace(base, **{f: None})
    return out


def _layouts(r) -> list:
    """A record's layout per input shape (None where the trace could not tell, or an older record)."""
    lays = list(getattr(r, "input_layouts", None) or [])
    return (lays + [None] * len(r.input_shapes))[: len(r.input_shapes)]


# -- shapes
# ---------------------------------------------------------------------------------------------------------
def traced_shapes(
    shapes: list[list[int | None]], static: list[Shape], layouts: list | None = None
) -> list[Shape]:
    """The traced input shapes as Shapes: the layout the trace saw when it saw one (a convolution's NCHW
    output), else what static analysis knows of it when the ranks agree."""
    static_known = [s for s in static if s.rank is not None]
    static_ranks = {s.rank for s in static_known}
    out = []
    for dims, lay in zip(shapes, layouts or [None] * len(shapes)):
        ca, explicit, spatial = None, False, False
        if _valid_layout(lay, len(dims)):
            ca, spatial, explicit = lay
        elif static_ranks == {len(dims)}:  # the trace confirms the rank: keep what static knows of the layout
            cas = {s.channel_axis for s in static_known}
            if len(cas) == 1:
                ca = cas.pop()
                explicit = all(s.explicit_layout for s in static_known)
            spatial = all(s.spatial for s in static_known)
        out.append(Shape.of(dims, ca, explicit and ca is not None, spatial))
    return out


def _valid_layout(lay, rank: int) -> bool:
    return (
        isinstance(lay, list)
        and len(lay) == 3
        and isinstance(lay[0], int)
        and not isinstance(lay[0], bool)
        and 0 <= lay[0] < rank
        and all(isinstance(v, bool) for v in lay[1:])
    )


def compare(static: LayerReport, facts: dict) -> tuple[bool | None, list[str]]:
    """(agrees, reasons). None when there is nothing to compare."""
    rec = facts["record"]
    shapes = facts["shapes"]
    reasons = []
    known = [s for s in static.shapes if s.rank is not None]
    if known and shapes:
        s_ranks = sorted({cast(int, s.rank) for s in known})  # known: the shapes of known rank
        t_ranks = sorted({len(s) for s in shapes})
        if s_ranks != t_ranks:
            reasons.append("rank")
        else:
            s_last = {s.last for s in known if isinstance(s.last, int)}
            t_last = {s[-1] for s in shapes if s and s[-1] is not None}
            if s_last and t_last and s_last != t_last:
                reasons.append("features")
    if (
        static.in_features is not None
        and rec.in_features is not None
        and static.in_features != rec.in_features
        and static.framework == "torch"
    ):
        reasons.append("in_features")
    if (
        static.out_features is not None
        and rec.out_features is not None
        and static.out_features != rec.out_features
    ):
        reasons.append("out_features")
    if reasons:
        return False, reasons
    if not known or not shapes:
        return None, []
    return True, []


def trace_dict(facts: dict, static: LayerReport | None, agrees: bool | None, reasons: list[str]) -> dict:
    rec = facts["record"]
    shapes = facts["shapes"]
    ranks = sorted({len(s) for s in shapes})
    s_in = static.input if static is not None else None
    return {
        "targets": facts["targets"],
        "layer": rec.layer,
        "input_shapes": shapes,
        "input_rank": ranks[0] if len(ranks) == 1 else None,
        "ranks": ranks,
        "in_features": rec.in_features,
        "out_features": rec.out_features,
        "params": rec.params,
        "params_total": facts["params_total"],
        "instances": facts["instances"],
        "calls": facts["calls"],
        "macs": facts["macs"],  # per sample, per input shape: positions x in x out (bias excluded)
        "mult_adds": facts[
            "mult_adds"
        ],  # whole batch, all calls: prod(shape[:-1]) x in x out (bias excluded)
        "agrees": agrees,
        "disagreement": reasons,
        "static_input_shape": s_in.json() if s_in is not None else None,
        "static_input_shapes": [s.json() for s in static.shapes if s.rank is not None]
        if static is not None
        else [],
        "static_input_ranks": static.ranks if static is not None else [],
        "static_in_features": static.in_features if static is not None else None,
        "static_out_features": static.out_features if static is not None else None,
    }


# -- new reports from the trace alone
# ------------------------------------------------------------------------------
def _call_extent(path: str, line: int, column: int | None) -> tuple[int, int, int, str | None]:
    """(column, end_line, end_column, call text) of the Call node at line:column, by parsing (not running)
    the file; falls back to a point location."""
    try:
        import libcst as cst
        from libcst.metadata import MetadataWrapper, PositionProvider

        with open(path, "rb") as fh:
            module = cst.parse_module(fh.read())
        wrapper = MetadataWrapper(module)
        positions = wrapper.resolve(PositionProvider)
        best = None
        for node, pos in positions.items():
            if not isinstance(node, cst.Call) or pos.start.line != line:
                continue
            if column is not None and pos.start.column + 1 != column:
                continue
            if best is None or pos.start.column < best[1].start.column:
                best = (node, pos)
        if best is not None:
            node, pos = best
            text = " ".join(module.code_for_node(node).split())
            if len(text) > 60:
                text = text[:57] + "..."
            return pos.start.column + 1, pos.end.line, pos.end.column + 1, text
    except Exception:  # noqa: BLE001 - an unreadable or unparsable file: point location
        return column or 1, line, column or 1, None
    return column or 1, line, column or 1, None


def new_report(facts: dict, display: str) -> LayerReport:
    rec = facts["record"]
    col, end_line, end_col, text = _call_extent(rec.path, rec.line, rec.column)
    short = rec.layer.rsplit(".", 1)[-1]
    rep = LayerReport(
        path=display,
        line=rec.line,
        column=col,
        end_line=end_line,
        end_column=end_col,
        framework=rec.framework,
        layer=rec.layer,
        call=text or f"{short}(...)",
        in_features=rec.in_features if rec.framework == "torch" else None,
        out_features=rec.out_features,
        bias=rec.bias,
    )
    rep.shapes = traced_shapes(facts["shapes"], [], facts.get("layouts"))
    rep.contexts = [None] * len(rep.shapes)
    rep.source = "trace"
    rep.trace = trace_dict(facts, None, None, [])
    return rep


def apply_record(layer: LayerReport, facts: dict) -> None:
    agrees, reasons = compare(layer, facts)
    rec = facts["record"]
    layer.trace = trace_dict(facts, layer, agrees, reasons)
    if facts["shapes"]:
        layer.shapes = traced_shapes(facts["shapes"], layer.shapes, facts.get("layouts"))
        layer.contexts = [None] * len(layer.shapes)
        layer.source = "trace"
    if rec.framework == "torch" and rec.in_features is not None:
        layer.in_features = rec.in_features
    if rec.out_features is not None:
        layer.out_features = rec.out_features
    if rec.bias is not None:
        layer.bias = rec.bias


# -- the merge
# -------------------------------------------------------------------------------------------------------
def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    from densecheck.api import decode

    try:
        return decode(data)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return None


def _new_item(file_results: list, path: str):
    """An entry for a file the static run did not check (a traced model's helper module): its layers are
    shown, the layer rules are not run on it; its suppression comments still apply to the trace's notes."""
    from densecheck import suppressions
    from densecheck.api import FileResult

    text = _read_text(path)
    res = FileResult(
        path, linted=False, directives=suppressions.directives_of(text) if text is not None else None
    )
    if file_results and hasattr(file_results[0], "result"):
        from densecheck.runner import CheckedFile

        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError:
            data = None
        item: CheckedFile | FileResult = CheckedFile(path, res, data)
    else:
        item = res
    file_results.append(item)
    return res


def failure_diagnostic(result, settings, root: str) -> Diagnostic | None:
    from densecheck.rules import RULES

    rule = cast("TraceFailed", RULES["DC106"])
    if not settings.rule_enabled(rule.code, rule.default_enabled):
        return None
    err = result.error or {}
    frame = err.get("frame")
    kind = err.get("kind")
    msg = err.get("message") or "trace failed"
    target = result.target.target
    if kind == "exception":
        where = ""
        if frame:
            fn = f" in {frame['function']}()" if frame.get("function") else ""
            where = f" at {os.path.basename(frame['path'])}:{frame['line']}{fn}"
        text = f"trace of {target} failed{where}: {msg}"
    else:
        text = msg if target in msg else f"trace of {target}: {msg}"
    if frame:
        path, line, col = frame["path"], frame["line"], frame.get("column")
    elif result.target_path:
        path, line, col = result.target_path, result.target_line or 1, 1
    else:
        path, line, col = (
            (
                result.target.module_part
                if result.target.module_part.endswith(".py")
                else result.target.target
            ),
            1,
            1,
        )
    fix = {
        "timeout": "raise the timeout (--trace-timeout / timeout = ...) or trace a smaller configuration",
        "memory": "trace a smaller configuration, or build the model inside the factory so it lands on the "
        "meta "
        "device",
        "exception": "make the traced factory only build the model: no checkpoints, data files or downloads",
    }.get(kind or "")
    d = rule.failure(
        _display_path(path, root) if not path.startswith("<") and os.path.exists(path) else path,
        line,
        col,
        text,
        fix,
    )
    sev = settings.severity.get(d.code)
    return replace(d, severity=sev) if sev else d


def merge_facts(
    results: list,
    file_results: list,
    settings=None,
    root: str | None = None,
    added_notes: list[Diagnostic] | None = None,
) -> list:
    """Merge what the traces in ``results`` saw (:class:`~densecheck.trace.launch.TraceResult` s) into the
    facts of ``file_results`` (a list of FileResult or runner.CheckedFile, mutated in place): traced layers
    get their trace records, layers only the trace found are added, a failed trace becomes a DC106 note on the
    file it points at, and entries are appended for files that were not analysed (facts only: the layer rules
    are not run on files outside the paths checked). Returns the FileResults touched (``added_notes``, when
    given, receives the DC106 notes, in the order of ``results``). No finding is computed here:
    :func:`densecheck.findings.finish` does that once, when every fact is in."""
    from densecheck.config import Settings

    settings = settings or Settings()
    root = os.path.abspath(root or getattr(settings, "root", None) or os.getcwd())
    by_path: dict[str, Any] = {}
    for item in file_results:
        res = _result(item)
        by_path.setdefault(os.path.realpath(res.path), res)

    touched: dict[int, Any] = {}
    for (rpath, line, col), facts in combine(results).items():
        res = by_path.get(rpath)
        if res is None:
            res = _new_item(file_results, _display_path(facts["record"].path, root))
            by_path[rpath] = res
        candidates = [lay for lay in res.layers if lay.line == line]
        if len(candidates) > 1 and col is not None:
            exact = [lay for lay in candidates if lay.column == col]
            candidates = exact or candidates
        if len(candidates) > 1:  # several layers on one line and no column: only when the facts fit one
            candidates = [
                lay for lay in candidates if lay.out_features in (None, facts["record"].out_features)
            ]
        if len(candidates) == 1:
            apply_record(candidates[0], facts)
        else:
            res.layers.append(new_report(facts, res.path))
            res.layers.sort(key=lambda lay: (lay.line, lay.column))
        touched[id(res)] = res

    for r in results:
        if r.ok:
            continue
        d = failure_diagnostic(r, settings, root)
        if d is None:
            continue
        rpath = os.path.realpath(d.path) if os.path.exists(d.path) else d.path
        res = by_path.get(rpath)
        if res is None:
            res = _new_item(file_results, d.path)
            by_path[rpath] = res
        res.notes.append(d)
        if added_notes is not None:
            added_notes.append(d)
        touched[id(res)] = res
    for res in touched.values():
        if (
            res.directives is None
        ):  # a result made without its source's comments: the trace's findings honour them
            text = _read_text(res.path)
            if text is not None:
                from densecheck import suppressions

                res.directives = suppressions.directives_of(text)
    return list(touched.values())


def merge_results(
    results: list, file_results: list, settings=None, root: str | None = None
) -> list[Diagnostic]:
    """:func:`merge_facts`, then the findings of the files it touched (for callers that trace after a finished
    static run: the command line merges facts and finishes once). Returns the trace's own findings among them
    (DC105 disagreements, DC106 failures) -- they are in ``file_results`` already; do not add them again."""
    from densecheck import findings
    from densecheck.config import Settings

    settings = settings or Settings()
    notes: list[Diagnostic] = []
    touched = merge_facts(results, file_results, settings, root, notes)
    for res in touched:
        findings.finish(res, settings)
    kept = {id(d) for res in touched for d in res.diagnostics}
    disagreements = [d for res in touched for d in res.diagnostics if d.code == "DC105"]
    return disagreements + [d for d in notes if id(d) in kept]  # the failures in the order of ``results``
