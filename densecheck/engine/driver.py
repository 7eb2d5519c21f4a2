"""Abstract interpreter: runs model code over abstract values instead of tensors.

It never imports or executes the analysed code. It walks libcst trees: module-level statements first (so a
``model = Sequential([...])`` or an ``if __name__ == "__main__": model(torch.randn(2, 3, 32, 32))`` block
feeds real shapes in), then every class that was never instantiated and every function never called, with
their parameter defaults and unknown inputs. Framework knowledge comes only from the plugins
(:mod:`densecheck.plugins.registry`).

Each Dense/Linear constructor call site becomes a :class:`~densecheck.layers.LayerReport`; every time an
abstract value built at that site is applied to a tensor, the tensor's shape is recorded on the report.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import libcst as cst

from densecheck import budget
from densecheck.engine.attrs import AttributesMixin
from densecheck.engine.calls import CallsMixin
from densecheck.engine.exprs import ExpressionsMixin
from densecheck.engine.heuristics import Heuristics
from densecheck.engine.imports import ImportsMixin
from densecheck.engine.layercalls import LayersMixin, _feature_map
from densecheck.engine.limits import MAX_STEPS, Budget, Frame
from densecheck.engine.names import ImportTable
from densecheck.engine.project import Project
from densecheck.engine.sites import ModuleContext, SiteFinder, short_call
from densecheck.engine.stmts import StatementsMixin
from densecheck.engine.values import (
    UNKNOWN,
    ClassV,
    Function,
    Instance,
    KerasModel,
    Sequential,
    Tensor,
    Value,
)
from densecheck.layers import LayerReport
from densecheck.plugins.base import LayerSpec
from densecheck.plugins.registry import lookup_layer, registry
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE


class AnalysisResult(list[LayerReport]):
    """The analysed file's LayerReports, then those of the project's other files its code reached (their
    shapes as seen from this file's calls: ``path`` tells them apart); ``dependencies``: every other file the
    analysis read."""

    dependencies: list[str]


class Interpreter(StatementsMixin, ExpressionsMixin, CallsMixin, LayersMixin, AttributesMixin, ImportsMixin):
    def __init__(
        self,
        module: cst.Module,
        path: str,
        source: str | None = None,
        tree: Any = None,
        follow_imports: bool = True,
        heuristics: Heuristics | None = None,
    ) -> None:
        self.main = ModuleContext(path, module, source, tree)
        self.guess = heuristics or Heuristics()  # the name-based guesses this analysis may make
        self.module = module
        self.path = path
        self.project = Project.of(path) if follow_imports else None
        self.modules: dict[str, ModuleContext | None] = {}  # followed imports, by dotted name
        self.sites: dict[cst.Call, LayerReport] = {}
        self.owners: dict[
            int, ModuleContext
        ] = {}  # id(Call node) -> its module, for sites found while running
        self.steps = 0
        self.limit = MAX_STEPS
        self.depth = 0
        self.frames: list[Frame] = []
        self.classes: list[ClassV] = []
        self.functions: list[Function] = []
        self.instantiated: set[int] = set()
        self.called: set[int] = set()
        self.invoked: set[int] = set()
        self.context: dict[cst.Call, tuple[str | None, str | None]] = {}
        self.globals = self.main.globals
        self.entries: list[ClassV] = []  # the classes run as entry points, innermost last
        # memo tables: the same class built with the same abstract arguments is the same abstract instance,
        # and a method called with the same abstract arguments returns the same thing (observations are
        # already recorded)
        self.instance_cache: dict[tuple[Any, ...], Instance] = {}
        self.call_cache: dict[tuple[Any, ...], Value] = {}
        #: what models gave their callers (a model called from outside any model, a Keras Sequential or
        #: functional Model): the Dense/Linear that made such a value is a model's head
        self.model_outputs: list[Value] = []
        #: containers built outside any model (``model = nn.Sequential(nn.Conv2d(...), ..., nn.Linear(...))``
        #: at module level or returned by a factory): run, if nothing called them, on an input whose rank
        #: their first layer says
        self.loose_models: list[Sequential] = []
        self.call_node: cst.Call | None = None  # the call expression applying a layer now (for rank_from)

    # ================================================================================================ driver
    def run(self) -> AnalysisResult:
        out = AnalysisResult()
        out.dependencies = []
        finder = self.main.find_sites()
        if not finder.found and not self._mentions_frameworks(finder):
            return out
        self._register_sites(self.main, finder)
        if not self.sites and not self._mentions_frameworks(finder):
            return out
        try:
            frame = Frame(self.globals)
            self.frames.append(frame)
            self.exec_block(self.module.body, frame)
            for cls in self._entry_order():
                if id(cls) not in self.called and self._is_module_class(cls):
                    self.entries.append(cls)
                    try:
                        inst = self.instantiate(cls, [], {}, entry=True)
                        if isinstance(inst, Instance) and id(cls) not in self.called:
                            self.call_instance(inst, [], {}, entry=True)
                    finally:
                        self.entries.pop()
            for fn in self.functions:
                if id(fn) not in self.invoked:
                    self.invoke(fn, [], {}, entry=True)
            for seq in self.loose_models:
                if not seq.applied:  # each layer's rule reads an input of unknown rank as what it takes
                    given = self.apply_sequential(seq, Tensor(UNKNOWN_SHAPE))
                    if seq.output is None:
                        seq.output = given
                    self.model_outputs.append(given)
        except (Budget, RecursionError):
            pass
        self._mark_heads()
        out.extend(sorted(self.main.reports, key=lambda r: (r.line, r.column)))
        for ctx in self.modules.values():
            if ctx is not None:
                out.dependencies.append(ctx.path)
                out.extend(sorted((r for r in ctx.reports if r.shapes), key=lambda r: (r.line, r.column)))
        return out

    def _mark_heads(self) -> None:
        """Note on each Dense/Linear whose output a model gave back (maybe through an activation) that it is
        a model's output, and the classifier activation applied to it."""
        for m in self.model_outputs:
            v, targets = m, None
            if isinstance(m, Sequential):
                v, targets = (m.output if m.output is not None else UNKNOWN), m.targets
            elif isinstance(m, KerasModel):
                v, targets = m.outputs, m.targets
            if isinstance(v, Tensor) and v.origin is not None and v.origin.residual and _feature_map(v):
                # a residual block's sum given back as a feature map (a backbone's endpoint, for a decoder or
                # a detection head): its branch's Denses are inside the network, not a head
                for rep in v.origin.chain:
                    rep.feeds_feature_map = True
            elif isinstance(v, Tensor) and v.origin is not None:
                rep = v.origin.report
                rep.model_output = True
                rep.squashed = rep.squashed or v.origin.squashed
                if targets is not None and targets.rank is not None:
                    rep.targets = targets.json()

    def _entry_order(self) -> list[ClassV]:
        """The classes to run as entry points: first those no other class names (the models: the blocks they
        build are then run with their real shapes, and not again as entry points with conventional inputs),
        then the rest; each group last-defined first."""
        tree = self.main.tree  # parsed by find_sites
        named: set[str] = set()  # the names used inside another class (``self.head = Head(config)``)
        for cls in ast.walk(tree) if tree is not None else ():
            if isinstance(cls, ast.ClassDef):
                named.update(n.id for n in ast.walk(cls) if isinstance(n, ast.Name) and n.id != cls.name)
        last_first = list(reversed(self.classes))
        return [c for c in last_first if c.node.name.value not in named] + [
            c for c in last_first if c.node.name.value in named
        ]

    def _register_sites(self, ctx: ModuleContext, finder: SiteFinder, report: bool = True) -> None:
        """Note ``ctx``'s Dense/Linear call sites; ``report`` them all now (the analysed file: every site is
        reported, called or not) or only once reached (a followed module: only what this file's code
        reaches)."""
        for node, canon, model, name in finder.found:
            self.context[node] = (model, name)
            self.owners[id(node)] = ctx
            if report:
                self._report_for(node, lookup_layer(canon))

    @staticmethod
    def _mentions_frameworks(imports: ImportTable) -> bool:
        roots = registry().roots
        return any(q.split(".")[0] in roots for q in imports.names.values())

    def _report_for(self, node: cst.Call, spec: LayerSpec | None) -> LayerReport | None:
        rep = self.sites.get(node)
        if rep is not None or spec is None:
            return rep
        ctx = self.owners.get(id(node))
        if ctx is None:  # a Dense/Linear only known as such while running (``getattr(nn, "Linear")(...)``)
            ctx = next(
                (
                    c
                    for c in (self.main, *self.modules.values())
                    if c is not None and c.positions is not None and node in c.positions
                ),
                None,
            )
        pos = ctx.positions.get(node) if ctx is not None else None
        if pos is None:
            return None
        assert ctx is not None  # pos was found in it
        model, name = self.context.get(node, (None, None))
        rep = LayerReport(
            path=ctx.path,
            line=pos.start.line,
            column=pos.start.column + 1,
            end_line=pos.end.line,
            end_column=pos.end.column + 1,
            framework=spec.framework,
            layer=spec.name,
            call=short_call(ctx.module.code_for_node(node)),
            model=model,
            name=name,
            in_features=None,
            out_features=None,
            bias=None,
        )
        rep._configs = 0  # type: ignore[attr-defined]
        self.sites[node] = rep
        ctx.reports.append(rep)
        return rep

    def where(self, node: cst.CSTNode) -> str | None:
        """``path:line`` of a call of the analysed file or of a followed module."""
        for ctx in (self.main, *self.modules.values()):
            if ctx is not None and ctx.positions is not None:
                pos = ctx.positions.get(node)
                if pos is not None:
                    return f"{ctx.path}:{pos.start.line}"
        return None

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.limit:
            raise Budget()
        if not self.steps & 1023:
            budget.check()  # the file's time budget (a wall clock, unlike the step budget)

    def bounded(self, run: Callable[[], Value], steps: int) -> Value:
        """``run()`` within ``steps`` more steps; UNKNOWN when they run out (the whole analysis's own budget
        running out still ends it)."""
        saved = self.limit
        self.limit = min(saved, self.steps + steps)
        try:
            return run()
        except Budget:
            if self.limit >= saved:
                raise
            return UNKNOWN
        finally:
            self.limit = saved

    @property
    def frame(self) -> Frame:
        return self.frames[-1]


def analyze(
    module: cst.Module,
    path: str,
    source: str | None = None,
    tree: Any = None,
    follow_imports: bool = True,
    disabled_heuristics: frozenset[str] = frozenset(),
) -> AnalysisResult:
    return Interpreter(module, path, source, tree, follow_imports, Heuristics(disabled_heuristics)).run()
