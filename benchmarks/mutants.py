#!/usr/bin/env python
"""Seeded-bug recall benchmark (issue 20): delete the flatten / pool / token pool / class-token pick feeding
a model's head, confirm by running the mutated model that the bug is real, count how many densecheck catches.

    python benchmarks/mutants.py [--corpus beginner,transformers,keras-applications,tf-models-official]
                                 [--limit N] [--jobs 2] [--timeout 120] [--json out.json] [--markdown]
                                 [--show 40] [--from-json saved.json]

Corpora (the source of installed packages, never vendored; the beginner models are in
``benchmarks/mutant_models/{torch,keras}``):
  beginner            hand-written beginner models, both frameworks. Each file builds a module-level
                      ``model``; a ``# mutants-input: 2x3x32x32`` comment gives a torch model's input
                      (``int64 2x20`` for token ids) or the input of a Keras model that declares none.
  transformers        the model classes of the image / audio / video classification mappings and the sequence
                      classification mapping of encoder models (those whose modeling file has a ``Pooler``),
                      built from their default config on the meta device (CPU when meta fails), run on the
                      dummy inputs of benchmarks/accuracy.py.
  keras-applications  every ``keras.applications`` builder, ``weights=None`` (``include_top=True``), symbolic.
  tf-models-official  the tf-models-official models and heads of benchmarks/accuracy.py (tf_keras,
                      TF_USE_LEGACY_KERAS=1), symbolic.

Steps
  1. baseline: every model of the corpus is built and run once in a worker process (``--jobs`` of them),
     recording with densecheck.trace.record every Linear / Dense call site and the input shapes it gets, and
     which lines of the corpus' files ran (sys.settrace, on the corpus' frames only).
  2. mutants: every file that ran is parsed with libcst and every site of each operator on a line that ran is
     one mutant (file, site, operator); its models are the ones that ran that line (at most MAX_TARGETS).
       flatten       delete ``torch.flatten(x, 1)``, ``x.flatten(1)``, ``x.view(x.size(0), -1)`` /
                     ``x.reshape(n, -1)`` / ``tf.reshape(x, [-1, n])``, ``nn.Flatten()`` /
                     ``layers.Flatten()`` (a Sequential element, ``model.add(...)``, ``Flatten()(x)``, or a
                     call of the attribute / variable it was bound to)
       pool          delete a global spatial pool: ``x.mean((2, 3))`` / ``x.mean([-2, -1])`` /
                     ``tf.reduce_mean(x, [1, 2])``, ``F.adaptive_avg_pool2d(x, 1)``, ``nn.AdaptiveAvgPool2d``,
                     ``GlobalAveragePooling2D`` / ``GlobalMaxPooling2D`` (and 3-D), in the same forms
       pool_flatten  delete a pool and the flatten after it in the same scope (within 16 lines), or the pool
                     inside a flatten (``torch.flatten(self.avgpool(x), 1)``)
       token_pool    delete a pool over the sequence: ``x.mean(dim=1)`` / ``x.mean(-2)`` /
                     ``tf.reduce_mean(x, axis=1)``, ``GlobalAveragePooling1D``, ``nn.AdaptiveAvgPool1d``
       cls_pick      delete a position pick ``x[:, 0]`` / ``x[:, 0, :]`` (and the last-step pick ``x[:, -1]``
                     of a recurrent classifier), the expression replaced by ``x``
  3. confirm: the mutated file is loaded under its real module name (so its relative imports resolve against
     the installed package) and its models are built and run again. A mutant is *confirmed* when a Linear /
     Dense that got a rank-2 input in the baseline now gets rank > 2 (the head receives rank > 2), or the run
     fails with an error raised inside a Linear / Dense or in the mutated function at or after the mutated
     line (a shape error at or before the head). Unconfirmed mutants are dropped.
  4. check: densecheck static mode (``densecheck.api.analyze_source``, default settings, the real path) on the
     mutated source. *Caught*: a warning / error shape finding (DC101, DC102, DC103, DC107) on the mutated
     file that the original does not have. False alarms: warning / error shape findings on the unmutated
     files of the corpus (every file that ran in the baseline, and every beginner model).

Output: recall per operator x framework (torch / keras), per corpus, the false alarms, and every missed mutant
with what densecheck inferred at its head (input rank, shape, verdict). ``--markdown`` prints the table as
markdown, ``--json`` writes everything.
This executes the models it mutates (it is a benchmark); densecheck itself only reads them.
Not part of the pytest suite (tests/test_mutants_harness.py tests the mutation operators).
"""

from __future__ import annotations

import argparse
import collections
import difflib
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

CORPORA = ("beginner", "transformers", "keras-applications", "tf-models-official")
OPERATORS = ("flatten", "pool", "pool_flatten", "token_pool", "cls_pick")
SHAPE_CODES = ("DC101", "DC102", "DC103", "DC107")
MODELS_DIR = os.path.join(HERE, "mutant_models")
MAX_TARGETS = 3  # models run per mutant
PAIR_WINDOW = 16  # lines between a pool and the flatten after it (pool_flatten; MobileNetV3 has 15)

# ------------------------------------------------------------------------------------------------------------
# mutation operators (pure: source text in, sites / mutated text out)
# ------------------------------------------------------------------------------------------------------------

FLATTEN_CTORS = {"Flatten"}
SPATIAL_POOL_CTORS = {
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool3d",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling3D",
    "GlobalAvgPool3D",
    "GlobalMaxPool3D",
}
TOKEN_POOL_CTORS = {
    "AdaptiveAvgPool1d",
    "AdaptiveMaxPool1d",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
}
SPATIAL_POOL_FUNCS = {
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool3d",
}
TOKEN_POOL_FUNCS = {"adaptive_avg_pool1d", "adaptive_max_pool1d"}
MEAN_FUNCS = {"mean", "reduce_mean", "reduce_max", "amax"}
ARRAY_MODULES = {"torch", "tf", "np", "numpy", "ops", "keras.ops", "K", "jnp", "math", "tf.math"}


def ctor_category(name: str) -> str | None:
    if name in FLATTEN_CTORS:
        return "flatten"
    if name in SPATIAL_POOL_CTORS:
        return "pool"
    if name in TOKEN_POOL_CTORS:
        return "token_pool"
    return None


def dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def last_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def int_value(node: cst.BaseExpression) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value)
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer)
    ):
        return -int(node.expression.value)
    return None


def int_axes(node: cst.BaseExpression) -> tuple[int, ...] | None:
    v = int_value(node)
    if v is not None:
        return (v,)
    if isinstance(node, (cst.Tuple, cst.List)):
        out = []
        for e in node.elements:
            if not isinstance(e, cst.Element):
                return None
            v = int_value(e.value)
            if v is None:
                return None
            out.append(v)
        return tuple(out) if out else None
    return None


def axes_category(axes: tuple[int, ...] | None) -> str | None:
    if axes is None:
        return None
    s = set(axes)
    if s in ({1}, {-2}):
        return "token_pool"
    if len(axes) == 2 and s in ({2, 3}, {-1, -2}, {1, 2}, {-2, -3}):
        return "pool"
    if len(axes) == 3 and s in ({2, 3, 4}, {1, 2, 3}, {-1, -2, -3}):
        return "pool"
    return None


def _kw(call: cst.Call, *names: str) -> cst.BaseExpression | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value in names:
            return a.value
    return None


def _positional(call: cst.Call) -> list[cst.BaseExpression]:
    return [a.value for a in call.args if a.keyword is None and not a.star]


def _is_full_slice(e: cst.BaseSlice) -> bool:
    return isinstance(e, cst.Slice) and e.lower is None and e.upper is None and e.step is None


def _is_minus_one(node: cst.BaseExpression) -> bool:
    return int_value(node) == -1


def call_operator(call: cst.Call, bound: dict[str, str]) -> tuple[str, str] | None:
    """(operator, kind) when deleting ``call`` (replacing it by its input) is a mutation. ``bound``: names /
    ``self.`` attributes bound to a Flatten / pool layer (name -> operator)."""
    func = call.func
    name = last_name(func)
    pos = _positional(call)
    # a layer built and called at once: Flatten()(x)
    if isinstance(func, cst.Call) and len(pos) == 1:
        cat = ctor_category(last_name(func.func) or "")
        if cat:
            return cat, "layer_call"
    # a bound layer: self.flatten(x), gap(x)
    d = dotted(func)
    if d is not None and d in bound and len(pos) == 1 and len(call.args) == 1:
        return bound[d], "bound_call"
    if not isinstance(func, (cst.Attribute, cst.Name)) or name is None:
        return None
    receiver = dotted(func.value) if isinstance(func, cst.Attribute) else None
    is_module_fn = (
        isinstance(func, cst.Name)
        or receiver in ARRAY_MODULES
        or (receiver or "").endswith(("functional", ".F", "ops"))
    )
    if receiver == "F":
        is_module_fn = True
    if name == "flatten":
        if is_module_fn and receiver in ("torch",):
            start = _kw(call, "start_dim")
            if start is None and len(pos) >= 2:
                start = pos[1]
            if start is not None and int_value(start) == 1 and pos:
                return "flatten", "flatten_fn"
            return None
        if not is_module_fn:
            start = _kw(call, "start_dim")
            if start is None and pos:
                start = pos[0]
            if start is not None and int_value(start) == 1 and len(pos) <= 2:
                if len(pos) == 2 and int_value(pos[1]) != -1:
                    return None
                return "flatten", "flatten_method"
        return None
    if name in ("view", "reshape"):
        if not is_module_fn:  # x.view(x.size(0), -1), x.view(-1, 16 * 5 * 5)
            if len(pos) == 2 and not call.args[0].star and (_is_minus_one(pos[0]) or _is_minus_one(pos[1])):
                if _is_minus_one(pos[0]) and _is_minus_one(pos[1]):
                    return None
                return "flatten", "view"
            return None
        # torch.reshape(x, (n, -1)), tf.reshape(x, [-1, n])
        if len(pos) == 2 and isinstance(pos[1], (cst.Tuple, cst.List)) and len(pos[1].elements) == 2:
            els = [e.value for e in pos[1].elements if isinstance(e, cst.Element)]
            if len(els) == 2 and (_is_minus_one(els[0]) != _is_minus_one(els[1])):
                return "flatten", "reshape_fn"
        return None
    if name in SPATIAL_POOL_FUNCS and is_module_fn and pos:
        return "pool", "pool_fn"
    if name in TOKEN_POOL_FUNCS and is_module_fn and pos:
        return "token_pool", "pool_fn"
    if name in MEAN_FUNCS:
        if is_module_fn:
            if not pos:
                return None
            axes = _kw(call, "dim", "axis")
            if axes is None and len(pos) >= 2:
                axes = pos[1]
        else:
            axes = _kw(call, "dim", "axis")
            if axes is None and pos:
                axes = pos[0]
        if axes is None:
            return None
        cat = axes_category(int_axes(axes))
        if cat:
            return cat, "mean_fn" if is_module_fn else "mean_method"
    return None


def call_input(call: cst.Call, kind: str) -> cst.BaseExpression:
    """What a deleted call is replaced by: its input."""
    if kind in ("layer_call", "bound_call", "flatten_fn", "reshape_fn", "pool_fn", "mean_fn"):
        return _positional(call)[0]
    assert isinstance(call.func, cst.Attribute)
    return call.func.value


def is_position_pick(node: cst.Subscript) -> bool:
    """x[:, 0], x[:, 0, :], x[:, -1] (the rest full slices or ...)."""
    els = node.slice
    if len(els) < 2 or not _is_full_slice(els[0].slice):
        return False
    second = els[1].slice
    if not isinstance(second, cst.Index) or int_value(second.value) not in (0, -1):
        return False
    for e in els[2:]:
        s = e.slice
        if not (_is_full_slice(s) or (isinstance(s, cst.Index) and isinstance(s.value, cst.Ellipsis))):
            return False
    return True


@dataclass
class Site:
    op: str
    line: int
    column: int  # 1-based, of the node replaced / removed
    end_line: int
    kind: str
    text: str
    scope: str
    #: pool_flatten: the two (line, column) positions deleted together
    parts: list[tuple[int, int]] = field(default_factory=list)
    stmt_line: int = 0  # first line of the statement holding the site

    @property
    def id(self) -> str:
        return f"{self.op}@{self.line}:{self.column}"

    def positions(self) -> list[tuple[int, int]]:
        return self.parts or [(self.line, self.column)]


class _Collector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, bound: dict[str, dict[str, str]]):
        self.bound = bound
        self.classes: list[str] = []
        self.sites: list[Site] = []
        self.scope: list[str] = []
        self.in_target = 0
        self.stmts: list[int] = []

    def _pos(self, node):
        return self.get_metadata(PositionProvider, node)

    def _add(self, op, node, kind, text_node=None):
        p = self._pos(node)
        code = cst.Module([]).code_for_node(text_node or node)
        code = " ".join(code.split())
        self.sites.append(
            Site(
                op,
                p.start.line,
                p.start.column + 1,
                p.end.line,
                kind,
                code[:120],
                ".".join(self.scope),
                stmt_line=self.stmts[-1] if self.stmts else p.start.line,
            )
        )

    def visit_SimpleStatementLine(self, node):
        self.stmts.append(self._pos(node).start.line)

    def leave_SimpleStatementLine(self, node):
        self.stmts.pop()

    def visit_ClassDef(self, node):
        self.scope.append(node.name.value)
        self.classes.append(node.name.value)

    def leave_ClassDef(self, node):
        self.scope.pop()
        self.classes.pop()

    def visit_FunctionDef(self, node):
        self.scope.append(node.name.value)

    def leave_FunctionDef(self, node):
        self.scope.pop()

    def visit_AssignTarget(self, node):
        self.in_target += 1

    def leave_AssignTarget(self, node):
        self.in_target -= 1

    def visit_AugAssign(self, node):
        self.in_target += 1

    def leave_AugAssign(self, node):
        self.in_target -= 1

    def visit_Subscript(self, node):
        if not self.in_target and is_position_pick(node):
            self._add("cls_pick", node, "subscript")

    def visit_Call(self, node):
        found = call_operator(node, _bound_view(self.bound, self.classes))
        if found:
            self._add(found[0], node, found[1])
        # a Flatten / pool layer listed in a Sequential, or added with model.add(...)
        fn = last_name(node.func) or ""
        if fn.endswith("Sequential") or fn == "add" or fn == "append":
            for a in node.args:
                self._element(a.value, "sequential_arg" if fn != "append" else "append")
                if isinstance(a.value, (cst.List, cst.Tuple)):
                    for e in a.value.elements:
                        self._element(e.value, "sequential_list")

    def visit_List(self, node):
        # layers = [nn.Conv2d(...), ..., nn.Flatten(), nn.Linear(...)] handed to a Sequential later
        if self.in_target:
            return
        for e in node.elements:
            if isinstance(e.value, cst.Call) and ctor_category(last_name(e.value.func) or ""):
                self._element(e.value, "list_element", dedupe=True)

    def _element(self, value, kind, dedupe=False):
        if not isinstance(value, cst.Call):
            return
        cat = ctor_category(last_name(value.func) or "")
        if not cat:
            return
        p = self._pos(value)
        if any(s.line == p.start.line and s.column == p.start.column + 1 for s in self.sites):
            return
        self._add(cat, value, kind)


class _BoundNames(cst.CSTVisitor):
    """Names and self-attributes bound to a Flatten / pool layer, per class (``""``: outside classes):
    ``self.pool = nn.AdaptiveAvgPool2d(1)`` in class Net gives ``bound["Net"]["self.pool"] = "pool"``."""

    def __init__(self):
        self.bound: dict[str, dict[str, str]] = collections.defaultdict(dict)
        self.classes: list[str] = []

    def visit_ClassDef(self, node):
        self.classes.append(node.name.value)

    def leave_ClassDef(self, node):
        self.classes.pop()

    def visit_Assign(self, node):
        if not isinstance(node.value, cst.Call):
            return
        cat = ctor_category(last_name(node.value.func) or "")
        if not cat:
            return
        for t in node.targets:
            d = dotted(t.target)
            if d is not None:
                self.bound[self.classes[-1] if self.classes else ""][d] = cat


def _bound_view(bound: dict[str, dict[str, str]], classes: list[str]) -> dict[str, str]:
    view = dict(bound.get("", {}))
    if classes:
        view.update(bound.get(classes[-1], {}))
    return view


def find_sites(source: str) -> list[Site]:
    """Every mutation site of every operator in ``source``, in source order; pool_flatten sites pair a pool
    with the flatten that follows it in the same scope."""
    module = cst.parse_module(source)
    bn = _BoundNames()
    module.visit(bn)
    col = _Collector(bn.bound)
    MetadataWrapper(module, unsafe_skip_copy=True).visit(col)
    sites = sorted(col.sites, key=lambda s: (s.line, s.column, s.op))
    pools = [s for s in sites if s.op == "pool"]
    flats = [s for s in sites if s.op == "flatten"]
    pairs = []
    for p in pools:
        after = [
            f
            for f in flats
            if f.scope == p.scope
            and (f.line, f.column) != (p.line, p.column)
            and (
                (f.line, f.column) > (p.line, p.column)
                and f.line - p.end_line <= PAIR_WINDOW
                or (f.line, f.column) < (p.line, p.column)
                and f.end_line >= p.end_line  # pool inside flatten
            )
        ]
        if not after:
            continue
        f = min(after, key=lambda f: (abs(f.line - p.line), f.column))
        pairs.append(
            Site(
                "pool_flatten",
                p.line,
                p.column,
                max(p.end_line, f.end_line),
                f"{p.kind}+{f.kind}",
                f"{p.text} + {f.text}",
                p.scope,
                parts=[(p.line, p.column), (f.line, f.column)],
                stmt_line=min(p.stmt_line, f.stmt_line),
            )
        )
    return sorted(sites + pairs, key=lambda s: (s.line, s.column, s.op))


class _Mutator(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, targets: set[tuple[int, int]], bound: dict[str, dict[str, str]]):
        self.targets = targets
        self.bound = bound
        self.classes: list[str] = []
        self.done: set[tuple[int, int]] = set()

    def visit_ClassDef(self, node):
        self.classes.append(node.name.value)

    def leave_ClassDef(self, original, updated):
        self.classes.pop()
        return updated

    def _hit(self, node) -> tuple[int, int] | None:
        p = self.get_metadata(PositionProvider, node)
        key = (p.start.line, p.start.column + 1)
        return key if key in self.targets else None

    def leave_Subscript(self, original, updated):
        key = self._hit(original)
        if key and is_position_pick(original):
            self.done.add(key)
            return (
                updated.value.with_changes(lpar=updated.lpar, rpar=updated.rpar)
                if updated.lpar
                else updated.value
            )
        return updated

    def leave_Call(self, original, updated):
        key = self._hit(original)
        if not key:
            return updated
        found = call_operator(original, _bound_view(self.bound, self.classes))
        if found:
            self.done.add(key)
            repl = call_input(updated, found[1])
            if updated.lpar:
                repl = repl.with_changes(lpar=updated.lpar, rpar=updated.rpar)
            return repl
        return updated  # a layer constructor: removed by its parent (leave_Arg / leave_Element)

    def _removable(self, value) -> tuple[int, int] | None:
        if isinstance(value, cst.Call) and ctor_category(last_name(value.func) or ""):
            return self._hit(value)
        return None

    def leave_Arg(self, original, updated):
        key = self._removable(original.value)
        if key:
            self.done.add(key)
            return cst.RemoveFromParent()
        return updated

    def leave_Element(self, original, updated):
        key = self._removable(original.value)
        if key:
            self.done.add(key)
            return cst.RemoveFromParent()
        return updated

    def leave_SimpleStatementLine(self, original, updated):
        # model.add(layers.Flatten()) lost its argument: drop the statement
        if len(updated.body) == 1 and isinstance(updated.body[0], cst.Expr):
            call = updated.body[0].value
            if isinstance(call, cst.Call) and last_name(call.func) in ("add", "append") and not call.args:
                if len(original.body[0].value.args) == 1:
                    return cst.RemoveFromParent()
        return updated


def mutate(source: str, site: Site) -> str:
    """``source`` with ``site`` deleted (every position of a pool_flatten site)."""
    module = cst.parse_module(source)
    bn = _BoundNames()
    module.visit(bn)
    targets = set(site.positions())
    m = _Mutator(targets, bn.bound)
    out = MetadataWrapper(module, unsafe_skip_copy=True).visit(m)
    missing = targets - m.done
    if missing:
        raise ValueError(f"{site.id}: nothing deleted at {sorted(missing)}")
    code = out.code
    if code == source:
        raise ValueError(f"{site.id}: the source did not change")
    compile(code, "<mutant>", "exec")
    return code


def line_map(old: str, new: str) -> dict[int, int]:
    """new line -> old line (1-based) for the lines the mutation left as they were."""
    a, b = old.splitlines(), new.splitlines()
    out = {}
    for tag, i1, i2, j1, _j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                out[j1 + k + 1] = i1 + k + 1
    return out


def old_line(lmap: dict[int, int], line: int) -> int:
    """The original line of a mutant's line (a changed line: the nearest unchanged one before it + offset)."""
    if line in lmap:
        return lmap[line]
    prev = [k for k in lmap if k < line]
    if not prev:
        return line
    k = max(prev)
    return lmap[k] + (line - k)


# ------------------------------------------------------------------------------------------------------------
# corpora: the models to run (targets) and how to load a (mutated) file
# ------------------------------------------------------------------------------------------------------------


def _acc():
    import accuracy  # benchmarks/accuracy.py: builders and dummy inputs of the corpora

    return accuracy


def corpus_root(corpus: str) -> str:
    """Paths of a corpus are relative to this directory."""
    if corpus == "beginner":
        return MODELS_DIR
    acc = _acc()
    pkg = {"transformers": "transformers", "keras-applications": "keras", "tf-models-official": "official"}[
        corpus
    ]
    return acc.site_root(pkg)


def corpus_prefix(corpus: str) -> str:
    return {
        "beginner": "",
        "transformers": "transformers/",
        "keras-applications": "keras/src/applications/",
        "tf-models-official": "official/",
    }[corpus]


def beginner_files() -> list[str]:
    out = []
    for fw in ("torch", "keras"):
        d = os.path.join(MODELS_DIR, fw)
        if os.path.isdir(d):
            out += [f"{fw}/{f}" for f in sorted(os.listdir(d)) if f.endswith(".py") and not f.startswith("_")]
    return out


def _has_pooler(model_type: str) -> bool:
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    acc = _acc()
    mod = model_type_to_module_name(model_type)
    path = os.path.join(acc.package_dir("transformers"), "models", mod, f"modeling_{mod}.py")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return False
    return (
        re.search(r"^class \w*(Pooler|ClassificationHead)\(", text, re.MULTILINE) is not None
        or re.search(r"pooled_output = \w+\[:, 0", text) is not None
    )


def list_targets(corpus: str) -> list[str]:
    """Model ids of a corpus (run in a child: imports the frameworks)."""
    if corpus == "beginner":
        return beginner_files()
    acc = _acc()
    if corpus == "transformers":
        import transformers.models.auto.modeling_auto as ma

        out = []
        for n in (
            "MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES",
            "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES",
            "MODEL_FOR_VIDEO_CLASSIFICATION_MAPPING_NAMES",
            "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
        ):
            for mt, cls in sorted(getattr(ma, n).items()):
                if n.startswith("MODEL_FOR_SEQUENCE") and not _has_pooler(mt):
                    continue
                for c in cls if isinstance(cls, (list, tuple)) else [cls]:
                    key = f"{mt}:{c}"
                    if key not in out:
                        out.append(key)
        return out
    if corpus == "keras-applications":
        return acc.keras_models()
    return list(acc.tf_models())


class _Coverage:
    """Lines run in files under ``prefix`` (sys.settrace; other frames are not traced)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.lines: dict[str, set[int]] = collections.defaultdict(set)

    def _global(self, frame, event, arg):
        fn = frame.f_code.co_filename
        if not fn.startswith(self.prefix):
            return None
        lines = self.lines[fn]

        def local(frame, event, arg):
            if event == "line":
                lines.add(frame.f_lineno)
            return local

        lines.add(frame.f_lineno)
        return local

    def __enter__(self):
        sys.settrace(self._global)
        threading.settrace(self._global)
        return self

    def __exit__(self, *exc):
        sys.settrace(None)
        threading.settrace(None)
        return False


def _exec_module(modname: str, path: str, source: str):
    """A module object for ``source`` (compiled with filename ``path``) under its real name ``modname``."""
    import importlib.util
    import linecache
    import types

    mod = types.ModuleType(modname)
    mod.__file__ = path
    mod.__package__ = modname.rpartition(".")[0] if modname.count(".") else ""
    mod.__spec__ = importlib.util.spec_from_loader(modname, loader=None, origin=path)
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    code = compile(source, path, "exec")
    saved = sys.modules.get(modname)
    sys.modules[modname] = mod  # dataclasses, typing and transformers' decorators look the module up
    try:
        exec(code, mod.__dict__)  # noqa: S102 - the benchmark runs the models it mutates
    finally:
        if saved is not None:
            sys.modules[modname] = saved
        else:
            sys.modules.pop(modname, None)
    return mod


def _modname(rel: str) -> str:
    return rel[: -len(".py")].replace("/", ".").removesuffix(".__init__")


class _NoRegister:
    """While active, Keras' serialisation registries accept a second definition of a class (the mutant
    re-executes a module whose classes are registered already)."""

    def __enter__(self):
        self.saved = []

        def ident(*a, **k):
            return lambda obj: obj

        for modname, attr in (
            ("tf_keras.utils", "register_keras_serializable"),
            ("tf_keras.saving", "register_keras_serializable"),
            ("tf_keras.src.saving.object_registration", "register_keras_serializable"),
        ):
            m = sys.modules.get(modname)
            if m is not None and hasattr(m, attr):
                self.saved.append((m, attr, getattr(m, attr)))
                setattr(m, attr, ident)
        return self

    def __exit__(self, *exc):
        for m, attr, v in self.saved:
            setattr(m, attr, v)
        return False


class _Patched:
    """Every attribute of a loaded module (and of the packages re-exporting it) that holds one of the
    original module's objects is pointed at the mutant's object of the same name while active."""

    def __init__(self, modname: str, mutant):
        self.modname = modname
        self.mutant = mutant
        self.saved: list[tuple[object, str, object]] = []

    def __enter__(self):
        orig = sys.modules.get(self.modname)
        if orig is None:
            return self
        swap = {}
        for name, obj in vars(orig).items():
            new = vars(self.mutant).get(name)
            if new is not None and new is not obj and getattr(obj, "__module__", None) == self.modname:
                swap[id(obj)] = new
        top = self.modname.split(".")[0]
        for mname, m in list(sys.modules.items()):
            if m is None or not (mname == top or mname.startswith(top + ".")):
                continue
            try:
                items = list(vars(m).items())
            except TypeError:
                continue
            for name, obj in items:
                if id(obj) in swap:
                    self.saved.append((m, name, obj))
                    setattr(m, name, swap[id(obj)])
        return self

    def __exit__(self, *exc):
        for m, name, obj in reversed(self.saved):
            setattr(m, name, obj)
        return False


def _input_spec(source: str) -> list[tuple[str, list[int]]] | None:
    m = re.search(r"^# mutants-input:\s*(.+)$", source, re.MULTILINE)
    if not m:
        return None
    out = []
    for part in m.group(1).split(";"):
        toks = part.split()
        dtype = toks[0] if len(toks) > 1 else "float32"
        out.append((dtype, [int(x) for x in toks[-1].split("x")]))
    return out


class _RunFailed(Exception):
    """A model run failed; ``records`` holds the Linear / Dense inputs recorded before the failure."""

    def __init__(self, exc: BaseException, records: list):
        super().__init__(str(exc))
        self.exc = exc
        self.records = records


def _record_torch(build, inputs, device: str = "meta") -> list:
    """densecheck.trace.record.record_torch, but a failing run raises _RunFailed with what was recorded."""
    import torch

    from densecheck.trace.record import _describe_torch, _run_torch, torch_sites

    with torch_sites() as rec, torch.device(device):
        model = build()
    try:
        _run_torch(model, inputs, device, rec)
    except Exception as e:  # noqa: BLE001
        raise _RunFailed(e, rec.records(_describe_torch)) from e
    finally:
        for h in getattr(rec, "_handles", []):
            h.remove()
    return rec.records(_describe_torch)


def _record_keras(build, inputs=None) -> list:
    from densecheck.trace.record import _describe_keras, _run_keras, keras_sites

    with keras_sites() as rec:
        try:
            model = build()
            _run_keras(model, inputs, rec)
        except Exception as e:  # noqa: BLE001
            raise _RunFailed(e, rec.records(_describe_keras)) from e
    return rec.records(_describe_keras)


def _run_beginner(target: str, path: str, source: str) -> list:
    fw = target.split("/", 1)[0]
    spec = _input_spec(source)
    name = "mutant_" + os.path.basename(path)[:-3]

    def build():
        return _exec_module(name, path, source).model

    if fw == "torch":
        import torch

        def inputs():
            return [
                torch.zeros(shape, dtype=torch.long) if dt.startswith("int") else torch.randn(shape)
                for dt, shape in spec or []
            ]

        return _record_torch(build, inputs, device="cpu")
    import keras

    ins = [((None, *shape[1:]), dt) for dt, shape in spec] if spec else None
    try:
        return _record_keras(build, ins)
    finally:
        keras.backend.clear_session()


def _transformers_inputs(cls, config, pixels: bool) -> dict:
    """benchmarks/accuracy.py's dummy inputs, with a video (batch, frames, channels, h, w) for the video
    classifiers."""
    import torch

    acc = _acc()
    ins = acc.transformers_inputs(cls, config, pixels)
    if "Video" in cls.__name__:
        frames = acc._cfg_get(config, "num_frames", "frames_per_clip", default=8)
        c = acc._cfg_get(config, "num_channels", "in_chans", default=3)
        h, w = acc._image_hw(config)
        name = getattr(cls, "main_input_name", "pixel_values") or "pixel_values"
        ins.pop("input_ids", None)
        ins.pop("pixel_values", None)
        ins[name if name.startswith("pixel_values") else "pixel_values"] = torch.empty(
            2, int(frames), int(c), h, w
        )
    return ins


#: device each transformers model ran on in the baseline of this worker (a mutant runs on the same one)
_DEVICE: dict[str, str] = {}


def _run_transformers(target: str, mod, device: str | None = None) -> list:
    import inspect

    import transformers
    from transformers import CONFIG_MAPPING
    from transformers.initialization import no_init_weights

    mt, cls_name = target.split(":", 1)
    config = CONFIG_MAPPING[mt]()
    try:
        config._experts_implementation = "batched_mm"
    except Exception:  # noqa: BLE001
        pass
    cls = getattr(mod, cls_name) if mod is not None else getattr(transformers, cls_name)
    modname = cls.__module__
    saved = sys.modules.get(modname)
    if mod is not None:
        sys.modules[modname] = mod
    try:
        fwd = set(inspect.signature(cls.forward).parameters)
        pixels = "pixel_values" in fwd and getattr(cls, "main_input_name", "input_ids") == "input_ids"
        for dev in [device] if device else ["meta", "cpu"]:
            try:
                if dev == "cpu":
                    with no_init_weights():  # shapes are all that matter: skip the (slow) weight init
                        recs = _record_torch(
                            lambda: cls(config),
                            lambda: _transformers_inputs(cls, config, pixels),
                            device="cpu",
                        )
                else:
                    recs = _record_torch(
                        lambda: cls(config), lambda: _transformers_inputs(cls, config, pixels)
                    )
                _DEVICE[target] = dev
                return recs
            except _RunFailed:
                if dev == "cpu" or device:
                    raise
        raise AssertionError("unreachable")
    finally:
        if mod is not None:
            sys.modules[modname] = saved


def _run_keras_app(target: str, mod) -> list:
    import keras

    from densecheck.trace import record

    acc = _acc()
    acc._let_applications_be_user_code(record)
    builder = getattr(keras.applications, target)
    try:
        return _record_keras(lambda: builder(weights=None))
    finally:
        keras.backend.clear_session()


def _run_tf(target: str, mod) -> list:
    import tf_keras

    acc = _acc()
    try:
        with acc._TfKerasAsKeras():
            return _record_keras(lambda: acc._tf_functional(*acc._tf_model_spec(target)))
    finally:
        tf_keras.backend.clear_session()


#: the mutant being confirmed in this worker (for _run_transformers' meta -> cpu retry)
_CURRENT: dict = {}


def _code_qualname(scope: str) -> str:
    """The co_qualname of the code object running a site in ``scope`` (``Net.forward``; ``build.<locals>.f``
    for nested functions is not reconstructed: the class / function path as written)."""
    return scope or "<module>"


def _tb_frames(exc: BaseException) -> list[tuple[str, str, int]]:
    """(filename, qualified function name, line) of every frame of ``exc`` and the exceptions it chains."""
    out, seen, e = [], set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        tb = e.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            out.append(
                (
                    code.co_filename.replace(os.sep, "/"),
                    getattr(code, "co_qualname", code.co_name),
                    tb.tb_lineno,
                )
            )
            tb = tb.tb_next
        e = e.__cause__ or e.__context__
    return out


def _confirming_error(exc: BaseException, job: dict) -> dict | None:
    """Where ``exc`` was raised: inside a Linear / Dense (``head``), in the mutated statement
    (``statement``), or later in the mutated function (``later:LINE``); None elsewhere. ``confirm`` accepts a
    ``later`` error only when a Linear / Dense got a changed input before it."""
    if not job:
        return None
    path, func = job.get("mutant_path"), job.get("qualname") or "<module>"
    line, end = job.get("mutant_line", 0), job.get("mutant_end", 0)
    found = set()
    frames = _tb_frames(exc)
    for i, (fn, qual, lineno) in enumerate(frames):
        if fn.endswith(("torch/nn/modules/linear.py", "layers/core/dense.py")):
            found.add("head")
        if fn == path and qual == func and lineno >= line:
            # the mutated statement: only when a layer it calls raised (the LayerNorm of a pooled vector),
            # not an indexing or view of the statement itself (attention internals)
            in_layer = any(
                "/torch/nn/modules/" in f or "/layers/" in f or "keras/src/" in f
                for f, _, _ in frames[i + 1 :]
            )
            if lineno <= end and in_layer:
                found.add("statement")
            else:
                found.add(f"later:{lineno}")
    text = " | ".join(
        f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}" for e in [exc]
    )
    msg = text.lower()
    if "dense" in msg and ("incompatible" in msg or "expected" in msg):
        found.add("head")
    for kind in ("head", "statement"):
        if kind in found:
            return {"where": kind, "error": text[:300]}
    later = sorted(found)
    return {"where": later[0], "error": text[:300]} if later else None


def _records_json(recs, root: str, tmp_map: dict[str, str]) -> list[dict]:
    out = []
    for r in recs:
        path = tmp_map.get(r.path, r.path)
        rel = os.path.relpath(path, root).replace(os.sep, "/") if not path.startswith("<") else path
        out.append(
            {
                "path": rel,
                "line": r.line,
                "column": r.column,
                "ranks": [len(s) for s in r.input_shapes],
                "shapes": r.input_shapes,
            }
        )
    return out


def worker_job(corpus: str, job: dict) -> dict:
    """Run one job in the worker: a baseline (``job["source"]`` absent: the original models, with coverage) or
    a mutant (``source``: the mutated text of ``rel``)."""
    root = corpus_root(corpus)
    res: dict = {"id": job["id"], "runs": {}}
    mod = None
    tmp_map: dict[str, str] = {}
    rel = job.get("rel")
    if "source" in job:
        tmpdir = tempfile.mkdtemp(prefix="dc-mutant-")
        tmp = os.path.join(tmpdir, os.path.basename(rel))
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(job["source"])
        tmp_map[tmp] = os.path.join(root, rel)
        job["mutant_path"] = tmp.replace(os.sep, "/")
        _CURRENT.clear()
        _CURRENT.update(job)
        if corpus != "beginner":
            try:
                with _NoRegister():
                    mod = _exec_module(_modname(rel), tmp, job["source"])
            except Exception as e:  # noqa: BLE001
                res["load_error"] = f"{type(e).__name__}: {e}"[:300]
                return res
    for target in job["targets"]:
        cov = _Coverage(os.path.join(root, corpus_prefix(corpus))) if "source" not in job else None
        t0 = time.perf_counter()
        run: dict = {}
        try:
            if cov:
                cov.__enter__()
            try:
                if corpus == "beginner":
                    if mod is None and "source" not in job:
                        path = os.path.join(root, target)
                        with open(path, encoding="utf-8") as f:
                            src = f.read()
                    else:
                        path, src = job["mutant_path"], job["source"]
                    recs = _run_beginner(target, path, src)
                elif corpus == "transformers":
                    recs = _run_transformers(target, mod, job.get("devices", {}).get(target))
                elif corpus == "keras-applications":
                    with _Patched(_modname(rel), mod) if mod is not None else _nullctx():
                        recs = _run_keras_app(target, mod)
                else:
                    with _Patched(_modname(rel), mod) if mod is not None else _nullctx():
                        recs = _run_tf(target, mod)
            finally:
                if cov:
                    cov.__exit__(None, None, None)
            run["ok"] = True
            run["sites"] = _records_json(recs, root, tmp_map)
            if target in _DEVICE:
                run["device"] = _DEVICE[target]
        except BaseException as e:  # noqa: BLE001 - a model must not stop the worker
            if isinstance(e, KeyboardInterrupt):
                raise
            run["ok"] = False
            if isinstance(e, _RunFailed):
                run["sites"] = _records_json(e.records, root, tmp_map)
                e = e.exc
            run["error"] = f"{type(e).__name__}: {str(e).strip()[:300]}"
            conf = _confirming_error(e, _CURRENT if "source" in job else {})
            if conf:
                run["confirm_error"] = conf
        if cov:
            run["executed"] = {
                os.path.relpath(fn, root).replace(os.sep, "/"): sorted(ls) for fn, ls in cov.lines.items()
            }
        run["seconds"] = round(time.perf_counter() - t0, 2)
        res["runs"][target] = run
    if "mutant_path" in job:
        try:
            os.remove(job["mutant_path"])
            os.rmdir(os.path.dirname(job["mutant_path"]))
        except OSError:
            pass
    return res


class _nullctx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def worker_main(corpus: str) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if corpus == "tf-models-official":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import warnings

    warnings.filterwarnings("ignore")
    if corpus in ("transformers", "beginner"):
        import torch

        torch.set_num_threads(1)
    if corpus == "transformers":
        import transformers

        transformers.logging.set_verbosity_error()
    if corpus == "keras-applications":
        import keras  # noqa: F401
    if corpus == "tf-models-official":
        import official.nlp.modeling  # noqa: F401
        import official.vision.modeling  # noqa: F401
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        job = json.loads(line)
        try:
            res = worker_job(corpus, job)
        except BaseException as e:  # noqa: BLE001
            if isinstance(e, KeyboardInterrupt):
                raise
            res = {"id": job["id"], "runs": {}, "load_error": f"worker: {type(e).__name__}: {e}"[:300]}
        out.write(json.dumps(res) + "\n")


class _Worker:
    def __init__(self, corpus: str):
        env = dict(
            os.environ,
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONWARNINGS="ignore",
            OMP_NUM_THREADS="1",
            PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
        )
        if corpus == "tf-models-official":
            env["TF_USE_LEGACY_KERAS"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--_worker", corpus],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
            cwd=ROOT,
        )
        self.lines: queue.Queue = queue.Queue()
        self.done = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def ask(self, job: dict, timeout: float) -> dict:
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"id": job["id"], "runs": {}, "load_error": "worker died"}
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                return {"id": job["id"], "runs": {}, "load_error": f"timeout after {timeout:.0f} s"}
            if line is None:
                self.proc.wait()
                return {"id": job["id"], "runs": {}, "load_error": f"worker crashed ({self.proc.returncode})"}
            try:
                res = json.loads(line)
            except json.JSONDecodeError:
                continue
            self.done += 1
            return res

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self):
        try:
            self.proc.kill()  # only the worker this benchmark started, by its handle
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            pass

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.kill()


def run_jobs(corpus: str, jobs: list[dict], n: int, timeout: float, label: str) -> list[dict]:
    todo: queue.Queue = queue.Queue()
    for j in jobs:
        todo.put(j)
    results: list[dict] = []
    lock = threading.Lock()
    t0 = time.monotonic()

    def slot():
        w = None
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                break
            if w is None or not w.alive() or w.done >= 60:
                if w is not None:
                    w.close()
                w = _Worker(corpus)
            res = w.ask(job, timeout * max(1, len(job["targets"])))
            with lock:
                results.append(res)
                k = len(results)
                if k % 20 == 0 or k == len(jobs):
                    print(f"  {label}: {k}/{len(jobs)} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
        if w is not None:
            w.close()

    threads = [threading.Thread(target=slot) for _ in range(max(1, min(n, len(jobs))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    order = {j["id"]: i for i, j in enumerate(jobs)}
    return sorted(results, key=lambda r: order.get(r["id"], 0))


def _list_in_child(corpus: str) -> list[str]:
    if corpus == "beginner":
        return beginner_files()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    if corpus == "tf-models-official":
        env["TF_USE_LEGACY_KERAS"] = "1"
    p = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--_list", corpus],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
        check=True,
    )
    return json.loads(p.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------------------
# static side
# ------------------------------------------------------------------------------------------------------------


def static_check(source: str, path: str) -> dict:
    from densecheck.api import analyze_source

    res = analyze_source(source, path)
    layers = []
    for lr in res.layers:
        j = lr.to_json()
        if os.path.realpath(j.get("path") or path) != os.path.realpath(path):
            continue
        layers.append(
            {
                k: j.get(k)
                for k in (
                    "line",
                    "column",
                    "call",
                    "model",
                    "input_rank",
                    "input_ranks",
                    "input_shape",
                    "behaves_as",
                    "input_rank_from",
                )
            }
        )
    diags = [
        {"line": d.line, "column": d.column, "code": d.code, "severity": d.severity, "message": d.message}
        for d in res.diagnostics
    ]
    return {"layers": layers, "diagnostics": diags}


def shape_findings(diags: list[dict]) -> list[dict]:
    return [d for d in diags if d["code"] in SHAPE_CODES and d["severity"] in ("warning", "error")]


def _finding_key(d: dict, lmap: dict[int, int] | None) -> tuple:
    line = old_line(lmap, d["line"]) if lmap is not None else d["line"]
    msg = re.sub(r"\d[\d,]*", "N", d["message"])
    return (d["code"], line, msg)


# ------------------------------------------------------------------------------------------------------------
# the benchmark
# ------------------------------------------------------------------------------------------------------------


def framework_of(corpus: str, rel: str) -> str:
    if corpus == "beginner":
        return rel.split("/", 1)[0]
    return "torch" if corpus == "transformers" else "keras"


@dataclass
class Mutant:
    id: str
    corpus: str
    framework: str
    rel: str
    op: str
    line: int
    column: int
    kind: str
    text: str
    scope: str
    stmt_line: int
    end_line: int
    targets: list[str]
    source: str = ""
    confirmed: bool = False
    how: str = ""
    evidence: list = field(default_factory=list)
    caught: bool = False
    caught_at_head: bool = False
    new_findings: list = field(default_factory=list)
    heads: list = field(default_factory=list)  # static layer records at the head(s), original line numbers
    note: str = ""

    def brief(self) -> dict:
        d = asdict(self)
        d.pop("source")
        return d


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def make_mutants(corpus: str, baseline: dict[str, dict]) -> tuple[list[Mutant], dict[str, set[int]]]:
    """Mutants of every file that ran in the baseline, on lines that ran; and the lines run per file."""
    root = corpus_root(corpus)
    prefix = corpus_prefix(corpus)
    ran: dict[str, dict[str, set[int]]] = collections.defaultdict(dict)  # rel -> target -> lines
    for target, run in baseline.items():
        if not run.get("ok"):
            continue
        for rel, lines in run.get("executed", {}).items():
            if rel.startswith(prefix) and rel.endswith(".py"):
                ran[rel][target] = set(lines)
    out = []
    for rel in sorted(ran):
        try:
            src = _read(os.path.join(root, rel))
            sites = find_sites(src)
        except (OSError, cst.ParserSyntaxError, UnicodeDecodeError):
            continue
        for s in sites:
            lines = set(range(s.line, s.end_line + 1))
            targets = sorted(t for t, ls in ran[rel].items() if ls & lines)
            if not targets:
                continue
            # heads are usually near the file's own classes: prefer models defined in this file
            targets.sort(key=lambda t: (0 if _target_in_file(corpus, t, rel) else 1, t))
            m = Mutant(
                f"{rel}:{s.id}",
                corpus,
                framework_of(corpus, rel),
                rel,
                s.op,
                s.line,
                s.column,
                s.kind,
                s.text,
                s.scope,
                s.stmt_line,
                s.end_line,
                targets[:MAX_TARGETS],
            )
            try:
                m.source = mutate(src, s)
            except Exception as e:  # noqa: BLE001
                m.note = f"mutation failed: {e}"
            out.append(m)
    return out, {rel: set().union(*v.values()) for rel, v in ran.items()}


def _target_in_file(corpus: str, target: str, rel: str) -> bool:
    if corpus == "beginner":
        return target == rel
    if corpus == "transformers":
        mt = target.split(":", 1)[0].replace("-", "_")
        return f"/{mt}/" in rel or rel.endswith(f"modeling_{mt}.py")
    return False


def _site_key(s: dict, lmap: dict[int, int] | None, rel: str | None) -> tuple:
    line = s["line"]
    if lmap is not None and s["path"] == rel:
        line = old_line(lmap, line)
    return (s["path"], line)


def confirm(m: Mutant, result: dict, baseline: dict[str, dict]) -> None:
    """Confirmed: a site that got rank 2 in the baseline gets rank > 2, or the run failed where it confirms
    the mutant (see _confirming_error). ``m.evidence``: the sites whose input shapes changed."""
    if result.get("load_error"):
        m.note = "load: " + result["load_error"]
        return
    lmap = line_map(baseline_src(m), m.source)
    for target, run in result.get("runs", {}).items():
        base = baseline.get(target)
        if not base or not base.get("ok"):
            continue
        before_ranks = collections.defaultdict(set)
        before_shapes = collections.defaultdict(list)
        for s in base["sites"]:
            before_ranks[(s["path"], s["line"])].update(s["ranks"])
            before_shapes[(s["path"], s["line"])] += s["shapes"]
        for s in run.get("sites", []):
            key = _site_key(s, lmap, m.rel)
            if not any(sh not in before_shapes.get(key, []) for sh in s["shapes"]):
                continue  # nothing this site saw is new (a failed run records fewer calls)
            lost = before_ranks.get(key) == {2} and any(r > 2 for r in s["ranks"])
            if lost:
                m.confirmed = True
                m.how = "head rank > 2"
            m.evidence.append(
                {
                    "target": target,
                    "path": key[0],
                    "line": key[1],
                    "before": before_shapes.get(key, [])[:2],
                    "shapes": s["shapes"][:2],
                    "lost_rank2": lost,
                }
            )
        if not run.get("ok"):
            ce = run.get("confirm_error")
            reached = any(e.get("target") == target and "shapes" in e for e in m.evidence)
            if ce and (not ce["where"].startswith("later") or reached):
                m.confirmed = True
                m.how = m.how or "shape error"
                m.evidence.insert(0, {"target": target, **run["confirm_error"]})
            elif not m.note:
                m.note = "run: " + run.get("error", "")[:200]


_BASE_SRC: dict[tuple[str, str], str] = {}


def baseline_src(m: Mutant) -> str:
    key = (m.corpus, m.rel)
    if key not in _BASE_SRC:
        _BASE_SRC[key] = _read(os.path.join(corpus_root(m.corpus), m.rel))
    return _BASE_SRC[key]


def head_lines(m: Mutant, base_static: dict, baseline: dict[str, dict]) -> list[int]:
    """The head(s) of a confirmed mutant in the original file's lines: the sites that lost rank 2 (in this
    file); for a shape error, the first layer after the mutation that got rank 2 in the baseline (else the
    last before it)."""
    lost = sorted({e["line"] for e in m.evidence if e.get("path") == m.rel and e.get("lost_rank2")})
    if lost:
        return lost
    changed = sorted({e["line"] for e in m.evidence if e.get("path") == m.rel and "line" in e})
    if changed:
        return changed[-1:]  # the last one reached: where the run failed
    rank2 = set()
    for t in m.targets:
        for s in baseline.get(t, {}).get("sites", []):
            if s["path"] == m.rel and s["ranks"] == [2]:
                rank2.add(s["line"])
    static_lines = sorted({lay["line"] for lay in base_static["layers"]})
    cands = sorted(rank2) or static_lines
    after = [ln for ln in cands if ln >= m.line]
    before = [ln for ln in cands if ln < m.line]
    return after[:1] or before[-1:]


def check(m: Mutant, base_static: dict, st: dict) -> None:
    """Fill ``caught`` / ``new_findings`` / ``heads`` of a confirmed mutant from ``st``, densecheck's result
    on its source."""
    lmap = line_map(baseline_src(m), m.source)
    before = collections.Counter(_finding_key(d, None) for d in shape_findings(base_static["diagnostics"]))
    after = collections.Counter(_finding_key(d, lmap) for d in shape_findings(st["diagnostics"]))
    new = after - before
    m.new_findings = [
        {**d, "line": old_line(lmap, d["line"])}
        for d in shape_findings(st["diagnostics"])
        if _finding_key(d, lmap) in new
    ]
    m.caught = bool(m.new_findings)
    heads = set(m._head_lines) if hasattr(m, "_head_lines") else set()
    m.caught_at_head = any(d["line"] in heads for d in m.new_findings)
    for lay in st["layers"]:
        ol = old_line(lmap, lay["line"])
        if ol in heads:
            m.heads.append({**lay, "line": ol})


def _static_job(args: tuple[str, str | None]) -> dict:
    path, source = args
    try:
        return static_check(_read(path) if source is None else source, path)
    except OSError as e:
        return {"layers": [], "diagnostics": [], "error": str(e)}


def static_many(items: list[tuple[str, str | None]], jobs: int) -> list[dict]:
    """static_check over (path, source or None for the file itself), ``jobs`` processes."""
    if jobs <= 1 or len(items) < 4:
        return [_static_job(it) for it in items]
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(jobs) as pool:
        return pool.map(_static_job, items, chunksize=2)


def run_corpus(corpus: str, args) -> dict:
    t0 = time.monotonic()
    print(f"{corpus}: listing models", file=sys.stderr)
    targets = _list_in_child(corpus)
    if args.models:
        want = set(args.models.split(","))
        targets = [t for t in targets if t in want or t.split(":")[-1] in want]
    if args.limit:
        targets = targets[: args.limit]
    jobs = [{"id": f"base:{t}", "targets": [t]} for t in targets]
    res = run_jobs(corpus, jobs, args.jobs, args.timeout, f"{corpus} baseline")
    baseline = {}
    for r in res:
        for t, run in r["runs"].items():
            baseline[t] = run
        if not r["runs"]:
            baseline[r["id"][5:]] = {"ok": False, "error": r.get("load_error", "")}
    ok = sorted(t for t, run in baseline.items() if run.get("ok"))
    failed = {t: run.get("error", "")[:160] for t, run in baseline.items() if not run.get("ok")}
    mutants, ran = make_mutants(corpus, baseline)
    files = sorted(ran)
    if corpus == "beginner":
        files = sorted(set(files) | set(targets))
    print(
        f"{corpus}: {len(ok)}/{len(targets)} models ran; {len(mutants)} mutants in {len(files)} files",
        file=sys.stderr,
    )
    root = corpus_root(corpus)
    base_static = dict(zip(files, static_many([(os.path.join(root, f), None) for f in files], args.jobs)))
    runnable = [m for m in mutants if m.source]
    jobs = [
        {
            "id": m.id,
            "rel": m.rel,
            "source": m.source,
            "targets": m.targets,
            "qualname": _code_qualname(m.scope),
            "mutant_line": m.stmt_line,  # the lines before the site are unchanged
            "mutant_end": m.end_line,
            "devices": {t: baseline[t].get("device") for t in m.targets if baseline[t].get("device")},
        }
        for m in runnable
    ]
    results = {r["id"]: r for r in run_jobs(corpus, jobs, args.jobs, args.timeout, f"{corpus} mutants")}
    for m in runnable:
        confirm(m, results.get(m.id, {"load_error": "no result"}), baseline)
    confirmed = [m for m in runnable if m.confirmed]
    print(f"{corpus}: {len(confirmed)} confirmed; densecheck on them", file=sys.stderr)
    statics = static_many([(os.path.join(root, m.rel), m.source) for m in confirmed], args.jobs)
    for m, st in zip(confirmed, statics):
        m._head_lines = head_lines(m, base_static[m.rel], baseline)  # type: ignore[attr-defined]
        check(m, base_static[m.rel], st)
        if not m.caught and not m.heads:
            hl = m._head_lines  # type: ignore[attr-defined]
            m.heads = [lay for lay in base_static[m.rel]["layers"] if lay["line"] in hl]
    false_alarms = [
        {"path": rel, **d} for rel, st in base_static.items() for d in shape_findings(st["diagnostics"])
    ]
    return {
        "corpus": corpus,
        "models": len(targets),
        "models_ok": len(ok),
        "models_failed": failed,
        "files": len(files),
        "mutants": [m.brief() for m in mutants],
        "false_alarms": false_alarms,
        "seconds": round(time.monotonic() - t0, 1),
    }


def table(corpora: list[dict]) -> list[dict]:
    rows = []
    groups = collections.defaultdict(list)
    for c in corpora:
        for m in c["mutants"]:
            groups[(m["op"], m["framework"])].append(m)
    for op in OPERATORS:
        for fw in ("torch", "keras"):
            ms = groups.get((op, fw), [])
            if not ms:
                continue
            conf = [m for m in ms if m["confirmed"]]
            caught = [m for m in conf if m["caught"]]
            rows.append(
                {
                    "operator": op,
                    "framework": fw,
                    "generated": len(ms),
                    "confirmed": len(conf),
                    "caught": len(caught),
                    "at_head": sum(m["caught_at_head"] for m in caught),
                    "recall": round(len(caught) / len(conf), 3) if conf else None,
                }
            )
    allc = [m for c in corpora for m in c["mutants"] if m["confirmed"]]
    rows.append(
        {
            "operator": "all",
            "framework": "both",
            "generated": sum(len(c["mutants"]) for c in corpora),
            "confirmed": len(allc),
            "caught": sum(m["caught"] for m in allc),
            "at_head": sum(m["caught"] and m["caught_at_head"] for m in allc),
            "recall": round(sum(m["caught"] for m in allc) / len(allc), 3) if allc else None,
        }
    )
    return rows


def print_report(corpora: list[dict], markdown: bool, show: int) -> None:
    rows = table(corpora)
    if markdown:
        print("| operator | framework | generated | confirmed | caught | caught at the head | recall |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for r in rows:
            rec = "—" if r["recall"] is None else f"{r['recall']:.2f}"
            print(
                f"| {r['operator']} | {r['framework']} | {r['generated']} | {r['confirmed']} | {r['caught']} "
                f"| {r['at_head']} | {rec} |"
            )
        print()
        print("| corpus | models run | files | confirmed | caught | recall | false alarms |")
        print("|---|---:|---:|---:|---:|---:|---:|")
    else:
        print(
            f"{'operator':<13} {'fw':<6} {'generated':>9} {'confirmed':>9} {'caught':>6} {'at head':>7} "
            "recall"
        )
        for r in rows:
            rec = "-" if r["recall"] is None else f"{r['recall']:.2f}"
            print(
                f"{r['operator']:<13} {r['framework']:<6} {r['generated']:>9} {r['confirmed']:>9} "
                f"{r['caught']:>6} {r['at_head']:>7} {rec}"
            )
        print()
    for c in corpora:
        conf = [m for m in c["mutants"] if m["confirmed"]]
        caught = sum(m["caught"] for m in conf)
        rec = f"{caught / len(conf):.2f}" if conf else "-"
        if markdown:
            print(
                f"| {c['corpus']} | {c['models_ok']}/{c['models']} | {c['files']} | {len(conf)} | {caught} "
                f"| {rec} | {len(c['false_alarms'])} |"
            )
        else:
            print(
                f"{c['corpus']}: {c['models_ok']}/{c['models']} models ran, {c['files']} files, "
                f"{len(c['mutants'])} mutants, {len(conf)} confirmed, {caught} caught (recall {rec}), "
                f"{len(c['false_alarms'])} false alarms, {c['seconds']} s"
            )
    if markdown:
        print()
    fa = [(c["corpus"], d) for c in corpora for d in c["false_alarms"]]
    print(f"False alarms on the unmutated originals: {len(fa)}")
    for corpus, d in fa:
        print(
            f"  [{corpus}] {d['path']}:{d['line']}:{d['column']}: {d['code']} ({d['severity']}) "
            f"{d['message'][:150]}"
        )
    missed = [m for c in corpora for m in c["mutants"] if m["confirmed"] and not m["caught"]]
    print(f"\nMissed mutants: {len(missed)}")
    for m in missed[:show]:
        heads = (
            "; ".join(
                f"L{h['line']} {h.get('call')} rank={h.get('input_rank')} shape={h.get('input_shape')} "
                f"{h.get('behaves_as')}"
                for h in m["heads"]
            )
            or "no static layer at the head"
        )
        err = next((e["error"] for e in m["evidence"] if "error" in e), None)
        shapes = [e for e in m["evidence"] if "shapes" in e and e.get("path") == m["rel"]]
        evs = "; ".join(f"L{e['line']} {e['before'][:1]} -> {e['shapes'][:1]}" for e in shapes[-2:])
        if err:
            evs = (evs + "; " if evs else "") + err[:110]
        print(f"  [{m['corpus']}] {m['rel']}:{m['line']} {m['op']} `{m['text'][:70]}`")
        print(f"      {m['how']}: {evs}")
        print(f"      densecheck at the head: {heads}")
    if len(missed) > show:
        print(f"  ... {len(missed) - show} more (--show / --json)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default=",".join(CORPORA), help="comma-separated: " + ", ".join(CORPORA))
    ap.add_argument("--limit", type=int, default=0, help="first N models of each corpus")
    ap.add_argument("--models", default="", help="only these model ids (comma-separated)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120, help="seconds per model run")
    ap.add_argument("--json", dest="json_out", help="write every mutant and finding here")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--show", type=int, default=60, help="missed mutants listed")
    ap.add_argument("--from-json", dest="from_json", help="print the report of a saved --json run (no run)")
    ap.add_argument("--_worker")
    ap.add_argument("--_list")
    args = ap.parse_args(argv)
    if args._worker:
        worker_main(args._worker)
        return 0
    if args._list:
        print(json.dumps(list_targets(args._list)))
        return 0
    if args.from_json:
        with open(args.from_json, encoding="utf-8") as f:
            print_report(json.load(f)["corpora"], args.markdown, args.show)
        return 0
    corpora = [c.strip() for c in args.corpus.split(",") if c.strip()]
    bad = [c for c in corpora if c not in CORPORA]
    if bad:
        ap.error(f"unknown corpus {bad[0]!r}")
    results = [run_corpus(c, args) for c in corpora]
    print_report(results, args.markdown, args.show)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(
                {"versions": _acc().versions(), "table": table(results), "corpora": results}, f, indent=1
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
