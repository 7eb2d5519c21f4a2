"""Abstract interpreter: runs model code over abstract values instead of tensors.

It never imports or executes the analysed code. It walks libcst trees: module-level statements first (so a
``model = Sequential([...])`` or an ``if __name__ == "__main__": model(torch.randn(2, 3, 32, 32))`` block feeds real
shapes in), then every class that was never instantiated and every function never called, with their parameter
defaults and unknown inputs. Layer knowledge comes only from the tables in :mod:`densecheck.frameworks`.

Each Dense/Linear constructor call site becomes a :class:`~densecheck.layers.LayerReport`; every time an abstract
value built at that site is applied to a tensor, the tensor's shape is recorded on the report.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import os
import re
from typing import Any, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from densecheck import budget
from densecheck.analysis import values as V
from densecheck.analysis.names import ImportTable, dotted, import_bindings, package_of
from densecheck.analysis.project import ParsedModule, Project, parse_module, reexports
from densecheck.analysis.values import (
    UNKNOWN,
    BoundMethod,
    Builtin,
    ClassV,
    Const,
    Dict,
    DimV,
    Function,
    Instance,
    KerasModel,
    Layer,
    Partial,
    Record,
    Ref,
    Scope,
    Seq,
    Sequential,
    Site,
    Super,
    Tensor,
    Union,
    Value,
    join,
    options,
    pyvalue,
)
from densecheck.analysis.walk import children as walk_children
from densecheck.analysis.walk import walk
from densecheck.frameworks import (
    ENTRY_INPUTS,
    ENTRY_OMITTED,
    Args,
    LayerSpec,
    OpSpec,
    canonical,
    is_dense_name,
    lookup_function,
    lookup_layer,
)
from densecheck.frameworks import torch as torch_fw
from densecheck.frameworks import transformers as hf_fw
from densecheck.layers import LayerReport
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Shape, Sym, known

MAX_DEPTH = 24
MAX_STEPS = 400_000
MAX_UNROLL = 32
#: Constant folding refuses integers beyond this (no shape dim is anywhere near it): a bigger one is unknown, so
#: ``s = s * s`` chains, ``2 ** 2 ** 30`` or ``math.prod`` of huge values cost nothing (hostile-input budget)
MAX_INT = 10 ** 18
MAX_INT_DIGITS = 19
#: The longest list/tuple value the interpreter keeps item by item (``s = s + s`` in a loop doubles it)
MAX_ITEMS = 4096
MAX_SHAPES_PER_SITE = 16


class Budget(Exception):
    """The file is too big/deep to finish within the step budget: report what was found so far."""


class _Return(Exception):
    pass


class Frame:
    __slots__ = ("scope", "returns", "self_value", "func")

    def __init__(self, scope: Scope, self_value: Value | None = None, func: Function | None = None) -> None:
        self.scope = scope
        self.returns: list[Value] = []
        self.self_value = self_value
        self.func = func


_BINOPS = {
    cst.Add: operator.add, cst.Subtract: operator.sub, cst.Multiply: operator.mul, cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv, cst.Modulo: operator.mod, cst.Power: operator.pow,
    cst.LeftShift: operator.lshift, cst.RightShift: operator.rshift, cst.BitOr: operator.or_,
    cst.BitAnd: operator.and_, cst.BitXor: operator.xor,
}
_CMPOPS = {
    cst.Equal: operator.eq, cst.NotEqual: operator.ne, cst.LessThan: operator.lt, cst.LessThanEqual: operator.le,
    cst.GreaterThan: operator.gt, cst.GreaterThanEqual: operator.ge,
}
_MODULE_BASES = ("torch.nn.Module", "keras.layers.Layer", "keras.Model", "keras.models.Model", "keras.Layer",
                 "keras.layers.Layer", "torch.nn.Sequential")


def _short_call(code: str) -> str:
    code = re.sub(r"\s+", " ", code).replace("( ", "(").replace(" )", ")").replace(", )", ")")
    if len(code) > 70:
        head = code.split("(", 1)[0]
        return f"{head}(...)"
    return code


class _Pos:
    __slots__ = ("start", "end")

    def __init__(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        self.start = _LineCol(*start)
        self.end = _LineCol(*end)


class _LineCol:
    __slots__ = ("line", "column")

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def parse_ast(source: str) -> ast.Module | None:
    """CPython's tree of ``source``; None where CPython's parser gives up (libcst may still have parsed it)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def call_positions(source: str, calls: list[cst.Call], tree: ast.Module | None) -> dict[cst.Call, _Pos] | None:
    """Start/end of every libcst Call node, from CPython's (much faster) ast ``tree`` of ``source`` instead of
    libcst's PositionProvider.

    libcst visits calls in pre-order, which is source order with an outer call before an inner one starting at the
    same place (``f(x)(y)``); sorting ast's Call nodes the same way pairs them one to one. None when there is no
    tree or the two parsers disagree (then the caller falls back to PositionProvider).
    """
    if tree is None:
        return None
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    if len(nodes) != len(calls):
        return None
    nodes.sort(key=lambda n: (n.lineno, n.col_offset, -(n.end_lineno or 0), -(n.end_col_offset or 0)))
    lines = _LINE_BREAK.split(source)  # CPython's line numbering: not str.splitlines (form feed is no line break)

    def char_col(line: int, byte_col: int) -> int:
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    out: dict[cst.Call, _Pos] = {}
    for cnode, anode in zip(calls, nodes):
        out[cnode] = _Pos((anode.lineno, char_col(anode.lineno, anode.col_offset)),
                          (anode.end_lineno or anode.lineno,
                           char_col(anode.end_lineno or anode.lineno, anode.end_col_offset or 0)))
    return out


class SiteFinder(ImportTable):
    """The one syntactic pass (a read-only :func:`~densecheck.analysis.walk.walk`): the import table, every Call
    node in visiting order (for :func:`call_positions`), and, once the pass is over and every import is known, the
    calls whose callee resolves to a Dense/Linear, with their context (:attr:`found`)."""

    def __init__(self, package: str | None = None) -> None:
        super().__init__(package)
        self.calls: list[cst.Call] = []
        self._contexts: list[tuple[cst.Call, str | None, str | None]] = []  # every call: node, model, target
        self._ctx: list[str] = []
        self._stmt_target: list[str | None] = []

    def run(self, module: cst.Module) -> SiteFinder:
        enter = {cst.Module: self.visit_Module, cst.Import: self.visit_Import, cst.ImportFrom: self.visit_ImportFrom,
                 cst.ClassDef: self.visit_ClassDef, cst.FunctionDef: self.visit_FunctionDef,
                 cst.SimpleStatementLine: self.visit_SimpleStatementLine, cst.Call: self.visit_Call}
        leave = {cst.ClassDef: self._ctx.pop, cst.FunctionDef: self._ctx.pop,
                 cst.SimpleStatementLine: self._stmt_target.pop}

        def on_enter(node: cst.CSTNode) -> None:
            handler = enter.get(type(node))
            if handler is not None:
                handler(node)

        def on_leave(node: cst.CSTNode) -> None:
            handler = leave.get(type(node))
            if handler is not None:
                handler()

        walk(module, on_enter, on_leave)
        return self

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        super().visit_ClassDef(node)
        self._ctx.append(node.name.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._ctx.append("" if self._ctx else node.name.value)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        target = None
        for small in node.body:
            if isinstance(small, cst.Assign) and small.targets:
                target = dotted(small.targets[0].target)
            elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                target = dotted(small.target)
            elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and \
                    isinstance(small.value.func, cst.Attribute):
                target = dotted(small.value.func.value)  # model.add(Dense(...))
        self._stmt_target.append(target)

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)
        if isinstance(node.func, (cst.Name, cst.Attribute)):
            model = next((c for c in reversed(self._ctx) if c), None)
            target = self._stmt_target[-1] if self._stmt_target else None
            if model is None and target is not None:
                model = target.split(".")[0]
            self._contexts.append((node, model, target))

    @functools.cached_property
    def found(self) -> list[tuple[cst.Call, str, str | None, str | None]]:
        """(node, canonical layer name, model, bound name) of every Dense/Linear constructor call."""
        out = []
        for node, model, target in self._contexts:
            qual = self.resolve(node.func)
            if qual is not None:
                canon = canonical(qual)
                if is_dense_name(canon):
                    out.append((node, canon, model, target))
        return out


class ModuleContext:
    """One module of an analysis: the analysed file, or a project module it imports (followed imports)."""

    def __init__(self, path: str, module: cst.Module, source: str | None, tree: Any) -> None:
        self.path = path
        self.module = module
        self.source = source  # the text ``module`` was parsed from (regenerating it from the tree is costly)
        self.tree = tree  # CPython's ast of ``source``, when already parsed
        self.globals = Scope(module=self)
        self.package = package_of(path) if not path.startswith("<") else None
        self.positions: Any = None
        self.reports: list[LayerReport] = []
        #: followed modules run their top level lazily: name -> the top-level statements binding it, not yet run
        self.pending: dict[str, list[cst.CSTNode]] | None = None
        self.done: set[int] = set()

    def find_sites(self, parsed: ParsedModule | None = None) -> SiteFinder:
        """Imports and Dense/Linear call sites (one walk), and the positions of its calls; for a followed module
        (``parsed``), computed once per process."""
        if parsed is not None and parsed.syntax is not None:
            finder, self.positions = parsed.syntax
            return finder
        finder = SiteFinder(self.package).run(self.module)
        source = self.source if self.source is not None else self.module.code
        if self.tree is None:
            self.tree = parse_ast(source)
        self.positions = call_positions(source, finder.calls, self.tree)
        if self.positions is None:
            self.positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        if parsed is not None:
            parsed.syntax = (finder, self.positions)
        return finder


class AnalysisResult(list):
    """The analysed file's LayerReports, then those of the project's other files its code reached (their shapes as
    seen from this file's calls: ``path`` tells them apart); ``dependencies``: every other file the analysis
    read."""

    dependencies: list[str]


#: how many project modules one file's analysis may follow imports into (bounds the cost per file)
MAX_FOLLOWED_MODULES = 16
#: a dict read with a key not known statically is one of its values when it has at most this many
_MAX_DICT_JOIN = 8
#: steps a call of another file's function may take before it counts as unknown
MAX_FOLLOWED_STEPS = 2_000


class Interpreter:
    def __init__(self, module: cst.Module, path: str, source: str | None = None, tree: Any = None,
                 follow_imports: bool = True) -> None:
        self.main = ModuleContext(path, module, source, tree)
        self.module = module
        self.path = path
        self.project = Project.of(path) if follow_imports else None
        self.modules: dict[str, ModuleContext | None] = {}  # followed imports, by dotted name
        self.sites: dict[cst.Call, LayerReport] = {}
        self.owners: dict[int, ModuleContext] = {}  # id(Call node) -> its module, for sites found while running
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
        # memo tables: the same class built with the same abstract arguments is the same abstract instance, and a
        # method called with the same abstract arguments returns the same thing (observations are already recorded)
        self.instance_cache: dict[tuple, Instance] = {}
        self.call_cache: dict[tuple, Value] = {}

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
        except (Budget, RecursionError):
            pass
        out.extend(sorted(self.main.reports, key=lambda r: (r.line, r.column)))
        for ctx in self.modules.values():
            if ctx is not None:
                out.dependencies.append(ctx.path)
                out.extend(sorted((r for r in ctx.reports if r.shapes), key=lambda r: (r.line, r.column)))
        return out

    def _entry_order(self) -> list[ClassV]:
        """The classes to run as entry points: first those no other class names (the models: the blocks they
        build are then run with their real shapes, and not again as entry points with conventional inputs), then
        the rest; each group last-defined first."""
        tree = self.main.tree  # parsed by find_sites
        named: set[str] = set()  # the names used inside another class (``self.head = Head(config)``)
        for cls in ast.walk(tree) if tree is not None else ():
            if isinstance(cls, ast.ClassDef):
                named.update(n.id for n in ast.walk(cls) if isinstance(n, ast.Name) and n.id != cls.name)
        last_first = list(reversed(self.classes))
        return [c for c in last_first if c.node.name.value not in named] + \
               [c for c in last_first if c.node.name.value in named]

    def _register_sites(self, ctx: ModuleContext, finder: SiteFinder, report: bool = True) -> None:
        """Note ``ctx``'s Dense/Linear call sites; ``report`` them all now (the analysed file: every site is
        reported, called or not) or only once reached (a followed module: only what this file's code reaches)."""
        for node, canon, model, name in finder.found:
            self.context[node] = (model, name)
            self.owners[id(node)] = ctx
            if report:
                self._report_for(node, lookup_layer(canon))

    # --------------------------------------------------------------------------- followed imports (project)
    def load_module(self, name: str) -> ModuleContext | None:
        """Project module ``name``, its top level run (definitions, imports, constants), or None when it is not
        the project's, cannot be parsed, or the per-file limit of followed modules is reached."""
        if name in self.modules:
            return self.modules[name]
        self.modules[name] = None
        path = self.project.find(name) if self.project is not None else None
        if path is None or os.path.abspath(path) == os.path.abspath(self.path) or \
                sum(c is not None for c in self.modules.values()) >= MAX_FOLLOWED_MODULES:
            return None
        parsed = parse_module(path)
        if parsed is None:
            return None
        ctx = ModuleContext(path, parsed.module, parsed.source, parsed.tree)
        self.modules[name] = ctx
        self._register_sites(ctx, ctx.find_sites(parsed), report=False)
        ctx.globals.vars["__name__"] = Const(name)
        if parsed.bindings is None:
            parsed.bindings = top_level_bindings(ctx.module)
        ctx.pending = {k: list(v) for k, v in parsed.bindings.items()}
        return ctx

    def module_global(self, ctx: ModuleContext, name: str) -> Value | None:
        """``name`` in ``ctx``'s globals; for a followed module, first running the top-level statements that bind
        it (a module whose one class is used costs that class's definition, not the whole file's top level)."""
        stmts = ctx.pending.pop(name, None) if ctx.pending else None
        if stmts:
            frame = Frame(ctx.globals)
            self.frames.append(frame)
            try:
                for stmt in stmts:
                    if id(stmt) not in ctx.done:
                        ctx.done.add(id(stmt))
                        self.exec_stmt(stmt, frame)
            finally:
                self.frames.pop()
        return ctx.globals.vars.get(name)

    def project_value(self, qualname: str) -> Value | None:
        """What an imported name of the project is (a class or function of another of its files), or None."""
        if self.project is None:
            return None
        parts = qualname.split(".")
        for i in range(len(parts) - 1, 0, -1):
            if self.project.find(".".join(parts[:i])) is None:
                continue
            module = ".".join(parts[:i])
            ctx = self.load_module(module)
            if ctx is None:  # not followed; what it re-exports still is
                path = self.project.find(module)
                target = reexports(path, module if path.endswith("__init__.py") else module.rpartition(".")[0]
                                   ).get(parts[i]) if path else None
                if target is None or self.depth >= MAX_DEPTH:
                    return None
                self.depth += 1
                try:
                    return self.project_value(".".join([target, *parts[i + 1:]]))
                finally:
                    self.depth -= 1
            v: Value | None = self.module_global(ctx, parts[i])
            for attr in parts[i + 1:]:
                v = self.getattr(v, attr) if v is not None else None
            if isinstance(v, Ref) and v.qualname != qualname and self.depth < MAX_DEPTH:
                self.depth += 1  # a re-export (``from .blocks import Block`` in an __init__.py)
                try:
                    v = self.project_value(v.qualname)
                finally:
                    self.depth -= 1
            return v if isinstance(v, (ClassV, Function, Partial, Instance, Layer, Sequential)) else None
        return None

    @staticmethod
    def _mentions_frameworks(imports: ImportTable) -> bool:
        return any(q.split(".")[0] in ("torch", "keras", "tensorflow", "tf_keras") for q in imports.names.values())

    def _report_for(self, node: cst.Call, spec: LayerSpec | None) -> LayerReport | None:
        rep = self.sites.get(node)
        if rep is not None or spec is None:
            return rep
        ctx = self.owners.get(id(node))
        if ctx is None:  # a Dense/Linear only known as such while running (``getattr(nn, "Linear")(...)``)
            ctx = next((c for c in (self.main, *self.modules.values())
                        if c is not None and c.positions is not None and node in c.positions), None)
        pos = ctx.positions.get(node) if ctx is not None else None
        if pos is None:
            return None
        model, name = self.context.get(node, (None, None))
        rep = LayerReport(
            path=ctx.path, line=pos.start.line, column=pos.start.column + 1, end_line=pos.end.line,
            end_column=pos.end.column + 1, framework=spec.framework, layer=spec.name,
            call=_short_call(ctx.module.code_for_node(node)), model=model, name=name,
            in_features=None, out_features=None, bias=None,
        )
        rep._configs = 0  # type: ignore[attr-defined]
        self.sites[node] = rep
        ctx.reports.append(rep)
        return rep

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.limit:
            raise Budget()
        if not self.steps & 1023:
            budget.check()  # the file's time budget (a wall clock, unlike the step budget)

    def bounded(self, run, steps: int) -> Value:
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

    # ============================================================================================ statements
    def exec_block(self, body: Sequence[cst.CSTNode], frame: Frame) -> bool:
        """Execute statements; True when the block certainly ends (return/raise/break/continue)."""
        for stmt in body:
            if self.exec_stmt(stmt, frame):
                return True
        return False

    def exec_stmt(self, stmt: cst.CSTNode, frame: Frame) -> bool:
        self.tick()
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if self.exec_small(small, frame):
                    return True
            return False
        if isinstance(stmt, cst.FunctionDef):
            self.define_function(stmt, frame)
            return False
        if isinstance(stmt, cst.ClassDef):
            self.define_class(stmt, frame)
            return False
        if isinstance(stmt, cst.If):
            return self.exec_if(stmt, frame)
        if isinstance(stmt, cst.For):
            return self.exec_for(stmt, frame)
        if isinstance(stmt, cst.While):
            self.exec_block(stmt.body.body, frame)
            return False
        if isinstance(stmt, (cst.Try, cst.TryStar)):
            ended = self.exec_block(stmt.body.body, frame)
            for h in stmt.handlers:
                self.branch(frame, lambda h=h: self.exec_block(h.body.body, frame))
            if stmt.orelse is not None and not ended:
                ended = self.exec_block(stmt.orelse.body.body, frame)
            if stmt.finalbody is not None:
                self.exec_block(stmt.finalbody.body.body, frame)
            return ended
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                v = self.eval(item.item, frame)
                if item.asname is not None:
                    self.assign(item.asname.name, UNKNOWN if not isinstance(v, Tensor) else v, frame)
            return self.exec_block(stmt.body.body, frame)
        if isinstance(stmt, cst.IndentedBlock):
            return self.exec_block(stmt.body, frame)
        return False

    def exec_small(self, small: cst.CSTNode, frame: Frame) -> bool:
        if isinstance(small, cst.Assign):
            v = self.eval(small.value, frame)
            for t in small.targets:
                self.assign(t.target, v, frame)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.assign(small.target, self.eval(small.value, frame), frame)
            else:
                hint = self.annotation_value(small.annotation.annotation, frame)
                if hint is not None and isinstance(small.target, cst.Name):
                    frame.scope.vars[small.target.value] = hint
        elif isinstance(small, cst.AugAssign):
            cur = self.eval(small.target, frame)
            rhs = self.eval(small.value, frame)
            op = type(small.operator).__name__.replace("Assign", "")
            opcls = getattr(cst, op, None)
            self.assign(small.target, self.binop(opcls, cur, rhs), frame)
        elif isinstance(small, cst.Expr):
            self.eval(small.value, frame)
        elif isinstance(small, cst.Return):
            frame.returns.append(self.eval(small.value, frame) if small.value is not None else Const(None))
            return True
        elif isinstance(small, (cst.Raise, cst.Break, cst.Continue)):
            return True
        elif isinstance(small, cst.Global) and frame.scope.parent is not None:
            for n in small.names:  # reads and writes of these names go to the module scope
                frame.scope.vars.pop(n.name.value, None)
                frame.scope.vars[n.name.value] = _GlobalRef(n.name.value)
        elif isinstance(small, (cst.Import, cst.ImportFrom)):
            for local, qual in import_bindings(small, _module_of(frame.scope).package):
                frame.scope.vars[local] = Ref(qual)
        return False

    def branch(self, frame: Frame, run) -> tuple[dict, dict | None, bool]:
        """Run ``run`` on a copy of the frame's variables (and self's attributes); return the resulting state."""
        saved = dict(frame.scope.vars)
        inst = frame.self_value if isinstance(frame.self_value, Instance) else None
        saved_attrs = dict(inst.attrs) if inst else None
        ended = run()
        out_vars, out_attrs = frame.scope.vars, (dict(inst.attrs) if inst else None)
        frame.scope.vars = saved
        if inst is not None:
            inst.attrs.clear()
            inst.attrs.update(saved_attrs)
        return out_vars, out_attrs, ended

    def merge(self, frame: Frame, states: list[tuple[dict, dict | None, bool]]) -> bool:
        live = [s for s in states if not s[2]]
        if not live:
            return True
        inst = frame.self_value if isinstance(frame.self_value, Instance) else None

        def join_maps(maps: list[dict]) -> dict:
            # a name (or attribute) bound on some paths only: wherever it is used without raising, it has one of
            # the values it was given, so the paths that never bound it add nothing
            keys = set().union(*maps)
            out = {}
            for k in keys:
                v: Value | None = None
                for m in maps:
                    if k in m:
                        v = join(v, m[k]) if v is not None else m[k]
                out[k] = v
            return out

        frame.scope.vars = join_maps([s[0] for s in live])
        if inst is not None and all(s[1] is not None for s in live):
            inst.attrs.clear()
            inst.attrs.update(join_maps([s[1] for s in live]))
        return False

    def exec_if(self, stmt: cst.If, frame: Frame) -> bool:
        truth = self.truth(self.eval(stmt.test, frame))
        orelse = stmt.orelse
        if truth is True:
            return self.exec_block(stmt.body.body, frame)
        if truth is False:
            return self._exec_orelse(orelse, frame)
        narrow = self.narrowing(stmt.test, frame)

        def run(branch_taken: bool, body):
            if narrow is not None:
                name, when_true, when_false = narrow
                frame.scope.vars[name] = when_true if branch_taken else when_false
            return body()

        a = self.branch(frame, lambda: run(True, lambda: self.exec_block(stmt.body.body, frame)))
        b = self.branch(frame, lambda: run(False, lambda: self._exec_orelse(orelse, frame)))
        return self.merge(frame, [a, b])

    def narrowing(self, test: cst.BaseExpression, frame: Frame) -> tuple[str, Value, Value] | None:
        """``if x is None`` / ``if x is not None`` with x a maybe-None union: x's value in each branch."""
        if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.left, cst.Name)):
            return None
        comp = test.comparisons[0]
        if not (isinstance(comp.comparator, cst.Name) and comp.comparator.value == "None"):
            return None
        if not isinstance(comp.operator, (cst.Is, cst.IsNot)):
            return None
        name = test.left.value
        v = frame.scope.vars.get(name)
        if not isinstance(v, Union):
            return None
        nones = [o for o in v.options if isinstance(o, Const) and o.value is None]
        rest = [o for o in v.options if not (isinstance(o, Const) and o.value is None)]
        if not nones or not rest:
            return None
        not_none = rest[0] if len(rest) == 1 else Union(rest)
        if isinstance(comp.operator, cst.Is):
            return name, nones[0], not_none
        return name, not_none, nones[0]

    def _exec_orelse(self, orelse, frame: Frame) -> bool:
        if orelse is None:
            return False
        if isinstance(orelse, cst.If):
            return self.exec_if(orelse, frame)
        return self.exec_block(orelse.body.body, frame)

    def iteration(self, it: Value) -> tuple[list[Value], bool]:
        """(items, exact): exact means these are all the items, in order."""
        if isinstance(it, Seq):
            if it.repeated:
                return [self.join_all(it.items)], False
            if len(it.items) <= MAX_UNROLL:
                return list(it.items), True
            return [self.join_all(it.items)], False
        if isinstance(it, Dict):
            keys = [Const(k) for k in it.items]
            return (keys, True) if len(keys) <= MAX_UNROLL else ([UNKNOWN], False)
        if isinstance(it, Sequential):
            return (list(it.layers), True) if len(it.layers) <= MAX_UNROLL else ([UNKNOWN], False)
        if isinstance(it, Tensor):
            return [Tensor(_drop_first_axis(it.shape))], False
        return [UNKNOWN], False

    @staticmethod
    def join_all(items: list[Value]) -> Value:
        out: Value | None = None
        for x in items:
            out = join(out, x) if out is not None else x
        return out if out is not None else UNKNOWN

    def exec_for(self, stmt: cst.For, frame: Frame) -> bool:
        items, exact = self.iteration(self.eval(stmt.iter, frame))
        if exact:
            for item in items:
                self.assign(stmt.target, item, frame)
                if self.exec_block(stmt.body.body, frame):
                    break
        else:
            for _ in range(2):  # twice: values that flow around the loop settle (or are joined below)
                self.assign(stmt.target, items[0], frame)
                state = self.branch(frame, lambda: self.exec_block(stmt.body.body, frame))
                if state[2]:
                    break
                frame.scope.vars = state[0]
                if state[1] is not None and isinstance(frame.self_value, Instance):
                    frame.self_value.attrs.update(state[1])
        if stmt.orelse is not None:
            self.exec_block(stmt.orelse.body.body, frame)
        return False

    # ----------------------------------------------------------------------------------------- definitions
    def define_function(self, node: cst.FunctionDef, frame: Frame, cls: ClassV | None = None) -> Function:
        defaults: dict[str, Value] = {}
        p = node.params
        for param in list(p.posonly_params) + list(p.params) + list(p.kwonly_params):
            if param.default is not None:
                defaults[param.name.value] = self.eval(param.default, frame)
        decorators = {dotted(d.decorator) for d in node.decorators}
        scope = frame.scope if cls is None else cls.scope
        fn = Function(node, scope, defaults, node.name.value, cls)
        fn.decorators = decorators  # type: ignore[attr-defined]
        if cls is None:
            frame.scope.vars[node.name.value] = fn
            if frame.scope is self.globals:
                self.functions.append(fn)
        return fn

    def define_class(self, node: cst.ClassDef, frame: Frame) -> ClassV:
        bases = []
        for arg in node.bases:
            b = self.eval(arg.value, frame)
            if isinstance(b, Ref):
                b = Ref(canonical(b.qualname))
            bases.append(b)
        cls = ClassV(node, node.name.value, bases, frame.scope)
        frame.scope.vars[node.name.value] = cls
        if frame.scope is self.globals:
            self.classes.append(cls)
        body_scope = Scope(parent=frame.scope)
        body_frame = Frame(body_scope)
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef):
                fn = self.define_function(stmt, frame, cls)
                body_scope.vars[stmt.name.value] = fn
            else:
                self.exec_stmt(stmt, body_frame)
        cls.attrs.update(body_scope.vars)
        return cls

    def _is_module_class(self, cls: ClassV) -> bool:
        ext = cls.external_bases()
        if any(b in _MODULE_BASES or lookup_layer(b) is not None for b in ext):
            return True
        return cls.lookup("forward") is not None or cls.lookup("call") is not None

    # ============================================================================================ assignment
    def assign(self, target: cst.BaseExpression, value: Value, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            if isinstance(frame.scope.vars.get(target.value), _GlobalRef):
                _module_of(frame.scope).globals.vars[target.value] = value
            else:
                frame.scope.vars[target.value] = value
        elif isinstance(target, cst.Attribute):
            base = self.eval(target.value, frame)
            for b in options(base):
                if isinstance(b, (Instance, ClassV)):
                    b.attrs[target.attr.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elts = target.elements
            items = self.unpack(value, len(elts))
            star = next((i for i, e in enumerate(elts) if isinstance(e, cst.StarredElement)), None)
            if star is not None and isinstance(value, Seq) and not value.repeated:
                n_after = len(elts) - star - 1
                vals = value.items
                for i in range(star):
                    self.assign(elts[i].value, vals[i] if i < len(vals) else UNKNOWN, frame)
                self.assign(elts[star].value, Seq(vals[star:len(vals) - n_after]), frame)
                for j in range(n_after):
                    idx = len(vals) - n_after + j
                    self.assign(elts[star + 1 + j].value, vals[idx] if 0 <= idx < len(vals) else UNKNOWN, frame)
                return
            for e, v in zip(elts, items):
                self.assign(e.value, v if not isinstance(e, cst.StarredElement) else UNKNOWN, frame)
        elif isinstance(target, cst.Subscript):
            base = self.eval(target.value, frame)
            if isinstance(base, (Seq, Dict)) and len(target.slice) == 1 and \
                    isinstance(target.slice[0].slice, cst.Index):
                key = pyvalue(self.eval(target.slice[0].slice.value, frame))
                if isinstance(base, Dict) and key is not None:
                    base.items[key] = value
                elif isinstance(base, Seq) and isinstance(key, int) and -len(base.items) <= key < len(base.items):
                    base.items[key] = value

    def unpack(self, value: Value, n: int) -> list[Value]:
        if isinstance(value, Union) and all(isinstance(o, Seq) and not o.repeated and len(o.items) == n
                                            for o in value.options):
            # one of several sequences of n items: each target is one of their items there
            return [self.join_all([o.items[i] for o in value.options]) for i in range(n)]
        if isinstance(value, Seq):
            if value.repeated:
                return [self.join_all(value.items)] * n
            if len(value.items) == n:
                return list(value.items)
        if isinstance(value, Tensor) and value.shape.rank:
            return [Tensor(_drop_first_axis(value.shape))] * n
        return [UNKNOWN] * n

    # =========================================================================================== expressions
    def eval(self, node: cst.BaseExpression | None, frame: Frame) -> Value:
        if node is None:
            return UNKNOWN
        self.tick()
        meth = getattr(self, "eval_" + type(node).__name__, None)
        if meth is None:
            return UNKNOWN
        return meth(node, frame)

    def eval_Integer(self, node: cst.Integer, frame: Frame) -> Value:
        text = node.value.replace("_", "")
        if len(text) > MAX_INT_DIGITS:  # no shape dim is that big; int() of 4,300+ digits would even raise
            return DimV(Sym("?"))
        try:
            value = int(text, 0)
        except ValueError:
            value = int(text)  # a literal with leading zeros ("007") is no valid base-0 literal
        return Const(value) if abs(value) <= MAX_INT else DimV(Sym("?"))

    def eval_Float(self, node: cst.Float, frame: Frame) -> Value:
        try:
            return Const(float(node.value.replace("_", "")))
        except ValueError:
            return UNKNOWN

    def eval_SimpleString(self, node: cst.SimpleString, frame: Frame) -> Value:
        try:
            return Const(node.evaluated_value)
        except Exception:  # noqa: BLE001 - odd literal: value unknown
            return UNKNOWN

    def eval_ConcatenatedString(self, node: cst.ConcatenatedString, frame: Frame) -> Value:
        try:
            v = node.evaluated_value
            return Const(v) if v is not None else UNKNOWN
        except Exception:  # noqa: BLE001
            return UNKNOWN

    def eval_Ellipsis(self, node, frame: Frame) -> Value:
        return Const(Ellipsis)

    def eval_Name(self, node: cst.Name, frame: Frame) -> Value:
        name = node.value
        v = frame.scope.lookup(name)
        # a followed module's globals are defined when first read; misses elsewhere (builtins, None) stay cheap
        if isinstance(v, _GlobalRef) or (v is None and self.modules):
            ctx = _module_of(frame.scope)
            v = self.module_global(ctx, name) if ctx.pending else ctx.globals.vars.get(name)
        if v is not None:
            return v
        if name in ("True", "False", "None"):
            return Const({"True": True, "False": False, "None": None}[name])
        if name in _BUILTINS:
            return Builtin(name)
        return _int_by_name(name)

    def eval_Attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        v = self.getattr(self.eval(node.value, frame), node.attr.value)
        if v is UNKNOWN and _ACTIVATION_NAME.search(node.attr.value):
            # ``config.hidden_act`` / ``self.act_fn`` unknown: an activation, applied element-wise
            return _bare_layer("torch.nn.GELU", guessed=True)
        return _int_by_name(node.attr.value) if v is UNKNOWN else v

    def eval_Tuple(self, node: cst.Tuple, frame: Frame) -> Value:
        return self.elements(node.elements, frame, "tuple")

    def eval_List(self, node: cst.List, frame: Frame) -> Value:
        return self.elements(node.elements, frame, "list")

    def eval_Set(self, node: cst.Set, frame: Frame) -> Value:
        return self.elements(node.elements, frame, "list")

    def elements(self, elts: Sequence[cst.BaseElement], frame: Frame, kind: str) -> Seq:
        """A display's items; unpacking something of unknown length (``(*shape, -1, d)`` with ``shape`` unknown)
        makes the whole sequence one of unknown length -- never a guessed length."""
        out: list[Value] = []
        known_length = True
        for e in elts:
            v = self.eval(e.value, frame)
            if isinstance(e, cst.StarredElement):
                if isinstance(v, Seq) and not v.repeated:
                    out.extend(v.items)
                else:
                    known_length = False
                    out.extend(v.items if isinstance(v, Seq) else [UNKNOWN])
            else:
                out.append(v)
        if not known_length:
            return Seq([self.join_all(out) if out else UNKNOWN], kind, repeated=True)
        return Seq(out, kind)

    def eval_Dict(self, node: cst.Dict, frame: Frame) -> Value:
        items: dict[Any, Value] = {}
        for e in node.elements:
            if isinstance(e, cst.DictElement):
                k = pyvalue(self.eval(e.key, frame))
                v = self.eval(e.value, frame)
                if k is not None and not isinstance(k, Sym):
                    try:
                        items[k] = v
                    except TypeError:
                        pass
        return Dict(items)

    def eval_Lambda(self, node: cst.Lambda, frame: Frame) -> Value:
        defaults = {p.name.value: self.eval(p.default, frame) for p in node.params.params if p.default is not None}
        return Function(node, frame.scope, defaults, "<lambda>")

    def eval_NamedExpr(self, node: cst.NamedExpr, frame: Frame) -> Value:
        v = self.eval(node.value, frame)
        self.assign(node.target, v, frame)
        return v

    def eval_IfExp(self, node: cst.IfExp, frame: Frame) -> Value:
        t = self.truth(self.eval(node.test, frame))
        if t is True:
            return self.eval(node.body, frame)
        if t is False:
            return self.eval(node.orelse, frame)
        return join(self.eval(node.body, frame), self.eval(node.orelse, frame))

    def eval_UnaryOperation(self, node: cst.UnaryOperation, frame: Frame) -> Value:
        v = self.eval(node.expression, frame)
        if isinstance(node.operator, cst.Not):
            t = self.truth(v)
            return Const(not t) if t is not None else UNKNOWN
        if isinstance(v, Const) and isinstance(v.value, (int, float)) and not isinstance(v.value, bool):
            if isinstance(node.operator, cst.Minus):
                return Const(-v.value)
            if isinstance(node.operator, cst.Plus):
                return v
            if isinstance(node.operator, cst.BitInvert) and isinstance(v.value, int):
                return Const(~v.value)
        if isinstance(v, Tensor):
            return v
        return UNKNOWN

    def eval_BooleanOperation(self, node: cst.BooleanOperation, frame: Frame) -> Value:
        left = self.eval(node.left, frame)
        t = self.truth(left)
        is_and = isinstance(node.operator, cst.And)
        if t is not None:
            if is_and:
                return self.eval(node.right, frame) if t else left
            return left if t else self.eval(node.right, frame)
        right = self.eval(node.right, frame)
        # `unknown and <false>` is false whatever the left side is; `unknown or <true>` is true
        if self.truth(right) is (not is_and):
            return Const(not is_and)
        return join(left, right)

    def eval_Comparison(self, node: cst.Comparison, frame: Frame) -> Value:
        left = self.eval(node.left, frame)
        result: bool | None = True
        for comp in node.comparisons:
            right = self.eval(comp.comparator, frame)
            if len(node.comparisons) == 1 and type(comp.operator) in _CMPOPS and (
                    isinstance(left, Tensor) or isinstance(right, Tensor)):
                return self.binop(cst.Add, left, right)  # ``x == y`` of tensors: element-wise, broadcast like ``+``
            r = self.compare(comp.operator, left, right)
            if r is False:
                return Const(False)
            if r is None:
                result = None
            left = right
        return Const(result) if result is not None else UNKNOWN

    def compare(self, op: cst.BaseCompOp, a: Value, b: Value) -> bool | None:
        if isinstance(op, (cst.Is, cst.IsNot)):
            if isinstance(b, Const) and b.value is None:
                if isinstance(a, Const):
                    r = a.value is None
                elif isinstance(a, (Tensor, Layer, Instance, Seq, Dict, Sequential, Function, DimV)):
                    r = False
                else:
                    return None
                return r if isinstance(op, cst.Is) else not r
            return None
        fn = _CMPOPS.get(type(op))
        pa, pb = pyvalue(a), pyvalue(b)
        if fn is not None and isinstance(a, (Const, Seq)) and isinstance(b, (Const, Seq)):
            if pa is None and not (isinstance(a, Const)) or pb is None and not isinstance(b, Const):
                return None
            if _has_sym(pa) or _has_sym(pb):
                return None
            try:
                return bool(fn(pa, pb))
            except Exception:  # noqa: BLE001
                return None
        if isinstance(op, (cst.In, cst.NotIn)) and isinstance(a, Const) and isinstance(b, (Seq, Dict, Const)):
            try:
                if isinstance(b, Dict):
                    r = a.value in b.items
                elif isinstance(b, Seq):
                    if b.repeated or any(not isinstance(x, Const) for x in b.items):
                        return None
                    r = a.value in [x.value for x in b.items]
                else:
                    r = a.value in b.value
                return r if isinstance(op, cst.In) else not r
            except Exception:  # noqa: BLE001
                return None
        return None

    def truth(self, v: Value) -> bool | None:
        if isinstance(v, Const):
            try:
                return bool(v.value)
            except Exception:  # noqa: BLE001
                return None
        if isinstance(v, Seq) and not v.repeated:
            return bool(v.items)
        if isinstance(v, Layer) and v.guessed:
            return None  # ``if config.is_gated_act:``: an activation only by its name's guess, maybe a flag
        if isinstance(v, (Layer, Instance, Function, ClassV, Sequential, BoundMethod)):
            return True
        return None

    def eval_BinaryOperation(self, node: cst.BinaryOperation, frame: Frame) -> Value:
        return self.binop(type(node.operator), self.eval(node.left, frame), self.eval(node.right, frame))

    def binop(self, opcls, a: Value, b: Value) -> Value:
        if isinstance(a, Union) or isinstance(b, Union):
            out: Value | None = None
            for x in _feasible(options(a)):
                for y in _feasible(options(b)):
                    r = self.binop(opcls, x, y)
                    out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if opcls is cst.MatrixMultiply:
            if isinstance(a, Tensor) and isinstance(b, Tensor):
                return self.to_value(torch_fw.f_matmul(Args({}, {"input": a.shape, "other": b.shape})))
            return UNKNOWN
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            if isinstance(a, Tensor) and isinstance(b, Tensor):
                from densecheck.shapes import broadcast
                return Tensor(broadcast(a.shape, b.shape))
            t = a if isinstance(a, Tensor) else b
            other = b if t is a else a
            if isinstance(other, (Const, DimV)):
                return Tensor(t.shape)
            return Tensor(t.shape) if other is UNKNOWN else UNKNOWN
        if isinstance(a, Seq) and isinstance(b, Seq) and opcls is cst.Add and not a.repeated and not b.repeated:
            if len(a.items) + len(b.items) > MAX_ITEMS:  # ``s = s + s`` in a loop: bounded, of unknown length
                return Seq([self.join_all(a.items[:MAX_UNROLL] + b.items[:MAX_UNROLL])], a.kind, repeated=True)
            return Seq(a.items + b.items, a.kind)
        if opcls is cst.Add and (_is_tuple(a) or isinstance(a, Record)) and not isinstance(b, (Const, DimV)):
            # ``(sequence_output, pooled_output) + encoder_outputs[1:]``: a tuple known up to where the part of
            # unknown length starts -- indexed like a ModelOutput (a Record), whose fields that may be None end
            # the known prefix (a None kept in a tuple is a present item, unknown here rather than dropped)
            def fields(v: Value) -> list[Value]:
                if isinstance(v, Record):
                    return list(v.fields.values())
                if _is_tuple(v):
                    return [UNKNOWN if _is_none(x) else x for x in v.items]
                return [Union([UNKNOWN, Const(None)])]  # more items, how many unknown
            return Record({f"[{i}]": v for i, v in enumerate(fields(a) + fields(b))})
        if isinstance(a, Seq) and isinstance(b, Seq) and opcls is cst.Add and a.kind == b.kind:
            # ``[first] + [block(i) for i in range(n)]``: of unknown length, each item one of either side's
            return Seq([self.join_all(a.items + b.items)], a.kind, repeated=True) if a.items or b.items else a
        if isinstance(a, Seq) and isinstance(b, Const) and opcls is cst.Multiply and isinstance(b.value, int) \
                and not a.repeated and 0 <= b.value * len(a.items) <= 256:
            return Seq(a.items * b.value, a.kind)
        fn = _BINOPS.get(opcls)
        if fn is None:
            return UNKNOWN
        if isinstance(a, Const) and isinstance(b, Const):
            x, y = a.value, b.value
            if opcls is cst.Power and isinstance(y, (int, float)) and abs(y) > 64:
                return UNKNOWN
            if opcls in (cst.LeftShift,) and isinstance(y, int) and y > 64:
                return UNKNOWN
            if isinstance(x, str) or isinstance(y, str):
                if opcls is cst.Add and isinstance(x, str) and isinstance(y, str) and len(x) + len(y) < 10_000:
                    return Const(x + y)
                return UNKNOWN
            try:
                r = fn(x, y)
            except Exception:  # noqa: BLE001 - ZeroDivision, type errors: value unknown
                return UNKNOWN
            if isinstance(r, int) and not isinstance(r, bool) and abs(r) > MAX_INT:
                return UNKNOWN
            return Const(r)
        if isinstance(a, (Const, DimV)) and isinstance(b, (Const, DimV)):
            if opcls is cst.Multiply and (_is_one(a) or _is_one(b)):
                return b if _is_one(a) else a
            return DimV(Sym("?"))
        return UNKNOWN

    def eval_Subscript(self, node: cst.Subscript, frame: Frame) -> Value:
        base = self.eval(node.value, frame)
        elems = node.slice
        if isinstance(base, Tensor):
            return self.index_tensor(base, elems, frame)
        if isinstance(base, Union):
            out: Value | None = None
            for b in _feasible(base.options):  # ``None[...]`` raises: that path gives no value
                r = self.subscript(b, elems, frame)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        return self.subscript(base, elems, frame)

    def library_call(self, behaviour: str, args: list[Value], kwargs: dict[str, Value]) -> Value:
        """Behaviours of library helpers described in the framework tables (frameworks/transformers.py)."""
        kind, _, arg = behaviour.partition(":")
        if kind == "layer":
            return _bare_layer(arg)
        if kind == "call_first_on_rest" and len(args) > int(arg):
            return self.call(args[0], list(args[int(arg):]), {})
        if kind == "default_arg":
            i = int(arg)
            return args[i] if len(args) > i else kwargs.get("default", UNKNOWN)
        if kind == "attention":
            query = args[1] if len(args) > 1 else kwargs.get("query", UNKNOWN)
            value = args[3] if len(args) > 3 else kwargs.get("value", UNKNOWN)
            if isinstance(query, Tensor) and query.shape.rank == 4:
                from densecheck.shapes import transpose
                out = transpose(query.shape, 1, 2)
                if isinstance(value, Tensor) and value.shape.rank == 4:
                    out = out.with_last(value.shape.last)
                return Seq([Tensor(Shape(out.dims, None, False)), Tensor(UNKNOWN_SHAPE)])
            return Seq([Tensor(UNKNOWN_SHAPE), Tensor(UNKNOWN_SHAPE)])
        return UNKNOWN

    def subscript(self, base: Value, elems, frame: Frame) -> Value:
        if isinstance(base, Tensor):
            return self.index_tensor(base, elems, frame)
        if isinstance(base, Ref):
            q = canonical(base.qualname)
            if q in hf_fw.SUBSCRIPT:
                target = hf_fw.SUBSCRIPT[q]
                return Builtin("library.attention") if target == "attention" else _bare_layer(target)
            if q in hf_fw.CLASS_SUBSCRIPT:
                return Ref(hf_fw.CLASS_SUBSCRIPT[q])
            return UNKNOWN
        if len(elems) != 1:
            return UNKNOWN
        s = elems[0].slice
        if isinstance(base, Sequential):
            base = Seq(base.layers, "list")
        if isinstance(base, Record):  # ModelOutput indexing skips fields that are None
            present = [v for v in base.fields.values() if not _is_none(v)]
            first_maybe = next((i for i, v in enumerate(present) if _may_be_none(v)), len(present))
            if first_maybe < len(present):
                # a field that may be None shifts every later position: known only up to the first such field
                return self._known_prefix(present[:first_maybe], s, frame)
            base = Seq(present)
        if isinstance(base, Seq):
            if base.repeated:
                return self.join_all(base.items) if isinstance(s, cst.Index) else base
            if isinstance(s, cst.Index):
                k = pyvalue(self.eval(s.value, frame))
                if isinstance(k, int) and not isinstance(k, bool):
                    # out of range: an IndexError, or a sequence filled in where we do not see it -- never
                    # another of its items
                    return base.items[k] if -len(base.items) <= k < len(base.items) else UNKNOWN
                return self.join_all(base.items) if base.items else UNKNOWN
            if isinstance(s, cst.Slice):
                parts = [pyvalue(self.eval(p, frame)) if p is not None else None for p in (s.lower, s.upper, s.step)]
                if all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in parts):
                    return Seq(base.items[slice(*parts)], base.kind)
            return UNKNOWN
        if isinstance(base, Dict) and isinstance(s, cst.Index):
            k = pyvalue(self.eval(s.value, frame))
            if k is None or isinstance(k, Sym):
                # a key not known here (``LAYER_TYPES[config.layer_types[i]]``): one of the values, or a KeyError
                return self.join_all(list(base.items.values())) if 0 < len(base.items) <= _MAX_DICT_JOIN else UNKNOWN
            try:
                return base.items.get(k, UNKNOWN)
            except TypeError:
                return UNKNOWN
        return UNKNOWN

    def _known_prefix(self, items: list[Value], s, frame: Frame) -> Value:
        """``seq[k]`` / ``seq[a:b]`` when only ``items`` are known to start the sequence (what follows them may
        shift): a non-negative index or slice that stays inside them, else unknown."""
        if isinstance(s, cst.Index):
            k = pyvalue(self.eval(s.value, frame))
            return items[k] if type(k) is int and 0 <= k < len(items) else UNKNOWN
        if isinstance(s, cst.Slice):  # ``outputs[:2]``
            lower, upper, step = (pyvalue(self.eval(p, frame)) if p is not None else None
                                  for p in (s.lower, s.upper, s.step))
            if all(p is None or (type(p) is int and p >= 0) for p in (lower, upper, step)) and upper is not None \
                    and upper <= len(items) and step in (None, 1):
                return Seq(items[lower:upper], "tuple")
        return UNKNOWN

    def index_tensor(self, t: Tensor, elems, frame: Frame) -> Value:
        s = t.shape
        kinds: list[tuple[str, Any]] = []
        for el in elems:
            sl = el.slice
            if isinstance(sl, cst.Slice):
                parts = [pyvalue(self.eval(p, frame)) if p is not None else None for p in (sl.lower, sl.upper, sl.step)]
                kinds.append(("slice", parts))
                continue
            v = self.eval(sl.value, frame)
            if isinstance(v, Const) and v.value is None:
                kinds.append(("new", None))
            elif isinstance(v, Const) and v.value is Ellipsis:
                kinds.append(("ellipsis", None))
            elif isinstance(v, (Const, DimV)) and (isinstance(v, DimV) or isinstance(v.value, int)):
                kinds.append(("int", None))
            elif isinstance(v, Const) and isinstance(v.value, slice):  # ``x[:, slice(-n, None), :]``
                kinds.append(("slice", [v.value.start, v.value.stop, v.value.step]))
            elif isinstance(v, Tensor) and v.shape.rank == 1:
                # a 1-d index tensor, integer or boolean alike, takes one axis and gives one (all 1-d index
                # tensors of one subscript broadcast to a single axis)
                kinds.append(("adv", None))
            else:
                return Tensor(UNKNOWN_SHAPE)  # advanced indexing
        if s.rank is None:
            if any(k == "ellipsis" for k, _ in kinds):
                return Tensor(UNKNOWN_SHAPE)
            return Tensor(UNKNOWN_SHAPE)
        consumed = sum(1 for k, _ in kinds if k in ("slice", "int", "adv"))
        advs = [i for i, (k, _) in enumerate(kinds) if k == "adv"]
        adv_seen = False
        if consumed > s.rank:
            return Tensor(UNKNOWN_SHAPE)
        dims: list = []
        src_axes: list = []
        axis = 0
        for k, parts in kinds:
            if k == "ellipsis":
                n = s.rank - consumed
                for _ in range(n):
                    dims.append(s.dims[axis])
                    src_axes.append(axis)
                    axis += 1
            elif k == "new":
                dims.append(1)
                src_axes.append(None)
            elif k == "int":
                axis += 1
            elif k == "adv":
                if not adv_seen:
                    dims.append(None)
                    src_axes.append(None)
                    adv_seen = True
                axis += 1
            else:
                d = s.dims[axis]
                lo, hi, st = parts
                if lo is None and hi is None and st is None:
                    dims.append(d)
                elif known(d) and all(p is None or isinstance(p, int) for p in parts):
                    dims.append(len(range(d)[slice(lo, hi, st)]))
                else:
                    dims.append(None)
                src_axes.append(axis)
                axis += 1
        while axis < s.rank:
            dims.append(s.dims[axis])
            src_axes.append(axis)
            axis += 1
        ca = src_axes.index(s.channel_axis) if s.channel_axis is not None and s.channel_axis in src_axes else None
        if advs and (advs != list(range(advs[0], advs[-1] + 1)) or any(k == "int" for k, _ in kinds)):
            ca = None  # index tensors (integers too, then) apart: their axis goes first -- the same rank, not order
        return Tensor(Shape(tuple(dims), ca, s.explicit_layout, s.spatial and len(dims) == s.rank and not advs))

    def comprehension(self, node, frame: Frame) -> tuple[list[Value], bool, list[bool] | None]:
        """Evaluate a comprehension: (items, exact, maybe). ``exact``: the items are all of them, in order.
        ``maybe`` (one loop over known items, only its filters unsure): which items a filter might drop."""
        inner = Frame(Scope(parent=frame.scope), frame.self_value, frame.func)
        self.frames.append(inner)
        try:
            results: list[Value] = []
            maybe: list[bool] = []
            exact, looped = self._comp_for(node.for_in, node.elt, inner, results, maybe)
            return results, exact, maybe if looped and node.for_in.inner_for_in is None else None
        finally:
            self.frames.pop()

    def _comp_for(self, comp: cst.CompFor, elt, frame: Frame, out: list, maybe: list) -> tuple[bool, bool]:
        """(exact, looped): ``looped`` when the loop ran over all its known items (only filters may be unsure)."""
        items, exact = self.iteration(self.eval(comp.iter, frame))
        looped = exact
        for item in items:
            self.assign(comp.target, item, frame)
            skip = unsure = False
            for cond in comp.ifs:
                t = self.truth(self.eval(cond.test, frame))
                if t is False:
                    skip = True
                elif t is None:
                    unsure = True
                    narrow = self.narrowing(cond.test, frame)  # ``... for v in vs if v is not None``
                    if narrow is not None:
                        frame.scope.vars[narrow[0]] = narrow[1]
            if skip:
                continue
            exact = exact and not unsure
            if comp.inner_for_in is not None:
                exact = self._comp_for(comp.inner_for_in, elt, frame, out, maybe)[0] and exact
            else:
                out.append(self.eval(elt, frame))
                maybe.append(unsure)
        return exact, looped

    def _comp_seq(self, node, frame: Frame, kind: str) -> Value:
        items, exact, maybe = self.comprehension(node, frame)
        if exact:
            return Seq(items, kind)
        if kind == "tuple" and maybe is not None and not any(_is_none(v) for v in items):
            # ``tuple(v for v in [hidden, cache, attentions] if v is not None)``, the tuple form of a model's
            # output: like a ModelOutput, known up to the first item a filter might drop
            return Record({f"[{i}]": Union([v, Const(None)]) if m else v for i, (v, m) in enumerate(zip(items, maybe))})
        return Seq([self.join_all(items)], kind, repeated=True)

    def eval_ListComp(self, node: cst.ListComp, frame: Frame) -> Value:
        return self._comp_seq(node, frame, "list")

    def eval_GeneratorExp(self, node: cst.GeneratorExp, frame: Frame) -> Value:
        return self._comp_seq(node, frame, "tuple")

    def eval_SetComp(self, node: cst.SetComp, frame: Frame) -> Value:
        return self._comp_seq(node, frame, "list")

    def eval_DictComp(self, node: cst.DictComp, frame: Frame) -> Value:
        return UNKNOWN

    # ================================================================================================ calls
    def eval_Call(self, node: cst.Call, frame: Frame) -> Value:
        func = self.eval(node.func, frame)
        args: list[Value] = []
        kwargs: dict[str, Value] = {}
        for a in node.args:
            v = self.eval(a.value, frame)
            if a.star == "*":
                if isinstance(v, Seq) and not v.repeated:
                    args.extend(v.items)
                elif isinstance(v, Sequential):
                    args.extend(v.layers)
                else:
                    args.append(_VarArgs(v))
            elif a.star == "**":
                if isinstance(v, Dict):
                    kwargs.update({str(k): x for k, x in v.items.items()})
                elif isinstance(v, Record):  # ``Output(**outputs)``: a ModelOutput spreads its fields
                    kwargs.update(v.fields)
            elif a.keyword is not None:
                kwargs[a.keyword.value] = v
            else:
                args.append(v)
        return self.call(func, args, kwargs, node)

    def call(self, fn: Value, args: list[Value], kwargs: dict[str, Value], node: cst.Call | None = None) -> Value:
        if isinstance(fn, Union):
            out: Value | None = None
            for f in _feasible(fn.options):  # calling ``None`` raises: that path gives no value
                r = self.call(f, args, kwargs, node)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if isinstance(fn, Ref):
            return self.call_ref(canonical(fn.qualname), args, kwargs, node)
        if isinstance(fn, Layer):
            return self.apply_layer(fn, args, kwargs)
        if isinstance(fn, Sequential):
            return self.apply_sequential(fn, args[0] if args else UNKNOWN)
        if isinstance(fn, KerasModel):
            return fn.outputs
        if isinstance(fn, Function):
            return self.invoke(fn, args, kwargs)
        if isinstance(fn, BoundMethod):
            return self.invoke(fn.func, args, kwargs, self_value=fn.self)
        if isinstance(fn, Builtin):
            return self.call_builtin(fn, args, kwargs, node)
        if isinstance(fn, Partial):
            return self.call(fn.func, fn.args + args, {**fn.kwargs, **kwargs}, node)
        if isinstance(fn, ClassV):
            return self.instantiate(fn, args, kwargs)
        if isinstance(fn, Instance):
            return self.call_instance(fn, args, kwargs)
        return UNKNOWN

    # --- external names: layers, containers, functions ----------------------------------------------------
    def call_ref(self, q: str, args, kwargs, node) -> Value:
        spec = lookup_layer(q)
        if spec is not None:
            return self.make_layer(spec, args, kwargs, node)
        special = _SPECIAL_CALLS.get(q)
        if special is not None:
            return special(self, args, kwargs, node)
        op = lookup_function(q)
        if op is not None:
            return self.apply_op(op, args, kwargs)
        behaviour = hf_fw.CALLS.get(q)
        if behaviour is not None:
            return self.library_call(behaviour, args, kwargs)
        text_model = _auto_text_model(q, node)
        if text_model is not None:
            return Builtin("hf.text_model", Record({f: UNKNOWN for f in text_model}))
        if q.startswith(hf_fw.RECORD_PREFIXES):
            target = self.project_value(q)  # the library's own definition, when the project includes it
            if isinstance(target, ClassV):
                return self.make_record(target, args, kwargs)
            return Record(dict(kwargs))
        if q.startswith("einops."):
            return self.einops(q.rsplit(".", 1)[-1], args, kwargs)
        target = self.project_value(q)
        if target is None:
            return UNKNOWN
        if isinstance(target, ClassV):
            if self._is_module_class(target):
                return self.call(target, args, kwargs, node)  # a model block: as much budget as local code
            # another file's plain class (a cache, a config, a data holder): machinery, whose state would only
            # stand in for what the model's own code says (a cache's flags steer branches the model code guards)
            return UNKNOWN
        # a function of the project's (a shape helper, a decorator factory) gets a bounded number of steps: a
        # helper fits, library-sized machinery returns unknown instead of costing seconds
        return self.bounded(lambda: self.call(target, args, kwargs, node), MAX_FOLLOWED_STEPS)

    def bind(self, params: Sequence[str], args: list[Value], kwargs: dict[str, Value],
             varargs: str | None = None) -> dict[str, Value]:
        bound: dict[str, Value] = {}
        if varargs is not None and params and params[0] == varargs:
            if len(args) == 1 and isinstance(args[0], (Seq, _VarArgs)):
                bound[varargs] = args[0].value if isinstance(args[0], _VarArgs) else args[0]
            elif len(args) == 1 and not isinstance(args[0], (Const, DimV)):
                bound[varargs] = UNKNOWN  # x.view(shape) with a shape we cannot see: not a 1-d shape
            elif args:
                if any(isinstance(a, _VarArgs) for a in args):
                    bound[varargs] = UNKNOWN
                else:
                    bound[varargs] = Seq(list(args))
            rest_params = params[1:]
            rest_args: list[Value] = []
        else:
            rest_params, rest_args = params, args
        for i, a in enumerate(rest_args):
            if isinstance(a, _VarArgs):
                break
            if i < len(rest_params):
                bound[rest_params[i]] = a
        for k, v in kwargs.items():
            bound[k] = v
        return bound

    def layer_args(self, spec_params, defaults, bound: dict[str, Value], keep_syms: bool = False) -> Args:
        vals: dict[str, Any] = dict(defaults)
        shapes: dict[str, Any] = {}
        for k, v in bound.items():
            pv = pyvalue(v)
            if not keep_syms:
                pv = _strip_syms(pv)
            vals[k] = pv
            if isinstance(v, Tensor):
                shapes[k] = v.shape
            elif isinstance(v, Seq) and v.items and all(isinstance(x, Tensor) for x in v.items):
                shapes[k] = [x.shape for x in v.items]
        return Args(vals, shapes)

    def make_layer(self, spec: LayerSpec, args, kwargs, node) -> Value:
        bound = self.bind(spec.params, args, kwargs)
        layer = Layer(spec, bound)
        for key in ("input_shape", "batch_input_shape", "input_dim"):
            if key in kwargs:
                v = pyvalue(kwargs[key])
                if key == "input_dim" and isinstance(v, int):
                    layer.built_shape = Shape.of((None, v), -1)
                elif isinstance(v, tuple):
                    dims = tuple(d if known(d) else None for d in v)
                    dims = ((None,) + dims) if key == "input_shape" else dims
                    layer.built_shape = Shape.of(dims, -1, spatial=len(dims) >= 4)
        if spec.dense and node is not None:
            rep = self._report_for(node, spec)
            if rep is not None:
                owner = self.frames[-1].self_value if self.frames else None
                layer.site = Site(node, rep, owner.cls if isinstance(owner, Instance) else None)
                a = self.layer_args(spec.params, spec.defaults, bound)
                in_f = a["in_features"]
                out_f = a["out_features"] if spec.framework == "torch" else a["units"]
                bias = a.get("bias", True) if spec.framework == "torch" else a.get("use_bias", True)
                bias = bias if isinstance(bias, bool) else None
                first = rep._configs == 0  # type: ignore[attr-defined]
                rep._configs += 1  # type: ignore[attr-defined]
                rep.in_features = in_f if first or rep.in_features == in_f else None
                rep.out_features = out_f if first or rep.out_features == out_f else None
                rep.bias = bias if first or rep.bias == bias else None
                if not isinstance(rep.in_features, int) or isinstance(rep.in_features, bool):
                    rep.in_features = None
                if not isinstance(rep.out_features, int) or isinstance(rep.out_features, bool):
                    rep.out_features = None
        return layer

    def record(self, layer: Layer, shape: Shape) -> None:
        if layer.site is None:
            return
        rep = layer.site.report
        if not (self.entries and layer.site.owner is self.entries[-1]):
            rep.assumed_input = False  # a caller's input, not the conventional one given to an entry point
        if len(rep.shapes) >= MAX_SHAPES_PER_SITE:
            return
        key = (shape.json(), shape.channel_axis, shape.explicit_layout)
        for s in rep.shapes:
            if (s.json(), s.channel_axis, s.explicit_layout) == key:
                return
        rep.shapes.append(shape)

    def apply_layer(self, layer: Layer, args: list[Value], kwargs: dict[str, Value]) -> Value:
        spec = layer.spec
        x = args[0] if args else next(iter(kwargs.values()), UNKNOWN)
        if isinstance(x, Union):
            out: Value | None = None
            for o in _feasible(x.options):
                r = self.apply_layer(layer, [o] + list(args[1:]), kwargs)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if spec.wraps:
            return self.apply_wrapper(layer, x)
        a = self.layer_args(spec.params, spec.defaults, layer.args)
        if spec.multi_input:
            shapes = [t.shape if isinstance(t, Tensor) else UNKNOWN_SHAPE for t in options_seq(x)]
            return self.to_value(_safe(spec.rule, shapes, a))
        shape = x.shape if isinstance(x, Tensor) else UNKNOWN_SHAPE
        if spec.dense:
            self.record(layer, shape)
        if spec.rule is None:
            return Tensor(UNKNOWN_SHAPE)
        return self.to_value(_safe(spec.rule, shape, a))

    def apply_wrapper(self, layer: Layer, x: Value) -> Value:
        inner = layer.args.get("layer")
        if not isinstance(inner, Layer) or not isinstance(x, Tensor):
            if isinstance(inner, Layer) and inner.spec.dense:
                self.record(inner, UNKNOWN_SHAPE)
            return Tensor(UNKNOWN_SHAPE)
        s = x.shape
        if layer.spec.short == "TimeDistributed":
            if s.rank is None or s.rank < 3:
                return self.apply_layer(inner, [Tensor(UNKNOWN_SHAPE)], {})
            ca = s.channel_axis - 1 if s.channel_axis is not None and s.channel_axis > 1 else s.channel_axis
            inner_in = Shape(s.dims[:1] + s.dims[2:], ca, s.explicit_layout)
            out = self.apply_layer(inner, [Tensor(inner_in)], {})
            if isinstance(out, Tensor) and out.shape.rank is not None:
                o = out.shape
                oca = o.channel_axis + 1 if o.channel_axis is not None and o.channel_axis >= 1 else o.channel_axis
                return Tensor(Shape(o.dims[:1] + (s.dims[1],) + o.dims[1:], oca, o.explicit_layout))
            return Tensor(UNKNOWN_SHAPE)
        out = self.apply_layer(inner, [x], {})  # Bidirectional
        merge = pyvalue(layer.args.get("merge_mode")) if "merge_mode" in layer.args else "concat"
        if merge == "concat":
            def double(v):
                if isinstance(v, Tensor) and v.shape.rank and known(v.shape.last):
                    return Tensor(v.shape.with_last(v.shape.last * 2))
                return v
            if isinstance(out, Seq):
                return Seq([double(i) for i in out.items])
            return double(out)
        return out

    def apply_sequential(self, seq: Sequential, x: Value) -> Value:
        for layer in seq.layers:
            x = self.call(layer, [x], {})
        return x

    def to_value(self, r: Any) -> Value:
        if isinstance(r, Shape):
            return Tensor(r)
        if isinstance(r, tuple):
            if len(r) == 3 and r[0] == "repeat":
                piece = Tensor(r[1]) if isinstance(r[1], Shape) else UNKNOWN
                n = r[2]
                if isinstance(n, int) and 0 < n <= MAX_UNROLL:
                    return Seq([piece] * n)
                return Seq([piece], repeated=True)
            return Seq([self.to_value(x) for x in r])
        return Tensor(UNKNOWN_SHAPE) if r is None else UNKNOWN

    def apply_op(self, op: OpSpec, args: list[Value], kwargs: dict[str, Value], self_value: Value | None = None,
                 self_param: str = "input") -> Value:
        params = op.params
        if self_value is not None:
            bound = self.bind(params, args, kwargs, op.varargs)
            bound[self_param] = self_value
        else:
            bound = self.bind(params, args, kwargs, op.varargs)
        for k, v in list(bound.items()):
            if v is UNKNOWN and k in ("input", "x"):
                bound[k] = Tensor(UNKNOWN_SHAPE)
        a = self.layer_args(params, op.defaults, bound, keep_syms=True)
        return self.to_value(_safe(op.rule, a))

    # --- user code --------------------------------------------------------------------------------------
    def invoke(self, fn: Function, args: list[Value], kwargs: dict[str, Value], self_value: Value | None = None,
               entry: bool = False) -> Value:
        self.invoked.add(id(fn))
        if self.depth >= MAX_DEPTH or sum(1 for f in self.frames if f.func is fn) >= 2:
            return UNKNOWN
        key = None
        if fn.qualname != "__init__":
            key = _signature((fn.node, self_value, entry), args, kwargs)
            if key is not None:
                hit = self.call_cache.get(key)
                if hit is not None:
                    return hit
        result = self._invoke(fn, args, kwargs, self_value, entry)
        if key is not None:
            self.call_cache[key] = result
        return result

    def _invoke(self, fn: Function, args: list[Value], kwargs: dict[str, Value], self_value: Value | None,
                entry: bool) -> Value:
        node = fn.node
        scope = Scope(parent=fn.scope)
        frame = Frame(scope, self_value, fn)
        params = node.params
        positional = list(params.posonly_params) + list(params.params)
        args = list(args)
        decorators = getattr(fn, "decorators", set())
        if self_value is not None and positional and "staticmethod" not in decorators:
            scope.vars[positional[0].name.value] = self_value
            positional = positional[1:]
        tensor_default = entry and fn.qualname in _CALL_METHODS
        extra: list[Value] = []
        for i, a in enumerate(args):
            if isinstance(a, _VarArgs):
                break
            if i < len(positional):
                scope.vars[positional[i].name.value] = a
            else:
                extra.append(a)
        names = {p.name.value for p in positional} | {p.name.value for p in params.kwonly_params}
        extra_kw: dict[str, Value] = {}
        for k, v in kwargs.items():
            if k in names:
                scope.vars[k] = v
            else:
                extra_kw[k] = v
        for p in positional + list(params.kwonly_params):
            n = p.name.value
            if n not in scope.vars:
                if n in fn.defaults:
                    d = fn.defaults[n]
                    if tensor_default and isinstance(d, Const) and d.value is None and n not in ENTRY_OMITTED:
                        # an optional input of an entry point: None, or a tensor the caller passes
                        d = Union([d, Tensor(_conventional_input(n))])
                    scope.vars[n] = d
                else:
                    hint = self.annotation_value(p.annotation.annotation, frame) if p.annotation else None
                    if hint is not None:
                        scope.vars[n] = hint
                    elif tensor_default:
                        scope.vars[n] = Tensor(_conventional_input(n))
                    else:
                        scope.vars[n] = _int_by_name(n)
        if isinstance(params.star_arg, cst.Param):
            scope.vars[params.star_arg.name.value] = Seq(extra) if not any(
                isinstance(a, _VarArgs) for a in args) else Seq([UNKNOWN], repeated=True)
        if params.star_kwarg is not None:
            scope.vars[params.star_kwarg.name.value] = Dict(dict(extra_kw))
        self.depth += 1
        self.frames.append(frame)
        try:
            if isinstance(node, cst.Lambda):
                return self.eval(node.body, frame)
            self.exec_block(node.body.body, frame)
        finally:
            self.frames.pop()
            self.depth -= 1
        if not frame.returns:
            return Const(None)
        return self.join_all(frame.returns)

    def annotation_value(self, ann: cst.BaseExpression, frame: Frame) -> Value | None:
        """Shape hints from annotations: jaxtyping ``Float[Tensor, "b c h w"]`` and plain ``torch.Tensor``."""
        if isinstance(ann, cst.Subscript) and len(ann.slice) == 2:
            head = self.eval(ann.value, frame)
            spec = ann.slice[1].slice
            if isinstance(head, Ref) and head.qualname.startswith("jaxtyping.") and isinstance(spec, cst.Index):
                s = pyvalue(self.eval(spec.value, frame))
                if isinstance(s, str):
                    return Tensor(_jaxtyping_shape(s))
        if isinstance(ann, (cst.Name, cst.Attribute)):
            v = self.eval(ann, frame)
            if isinstance(v, Ref) and canonical(v.qualname) in ("torch.Tensor", "torch.FloatTensor",
                                                                 "tf.Tensor", "keras.KerasTensor"):
                return Tensor(UNKNOWN_SHAPE)
        return None

    def instantiate(self, cls: ClassV, args, kwargs, entry: bool = False) -> Value:
        self.instantiated.add(id(cls))
        # a subclass of a framework layer without its own forward/call behaves as that layer
        if cls.lookup("forward") is None and cls.lookup("call") is None:
            for b in cls.external_bases():
                spec = lookup_layer(b)
                if spec is not None and not spec.dense:
                    return self.make_layer(spec, args, kwargs, None)
        if cls.lookup("__init__") is None and (
                any(b.startswith(hf_fw.RECORD_PREFIXES) for b in cls.external_bases()) or
                any("dataclass" in (dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator)
                                    or "") for d in cls.node.decorators)):
            return self.make_record(cls, args, kwargs)
        key = _signature((cls,), args, kwargs)
        if key is not None and key in self.instance_cache:
            return self.instance_cache[key]
        inst = Instance(cls)
        if key is not None:
            self.instance_cache[key] = inst
        init = cls.lookup("__init__")
        if isinstance(init, Function):
            self.invoke(init, args, kwargs, self_value=inst, entry=entry)
        elif init is None:
            # no __init__ of the project's: the framework base's own __init__ gets the arguments (as
            # ``super().__init__(*args, **kwargs)`` would), so ``super().forward(x)`` is that layer
            _b_super_init(self, Builtin("super.__init__", inst), args, kwargs)
        return inst

    def declared_fields(self, cls: ClassV) -> list[str] | None:
        """A dataclass's fields in declaration order, its bases' first (as ``dataclasses`` orders them); None when
        a base's fields cannot be read (a library output class the project does not include)."""
        out: list[str] = []
        for c in reversed(cls.mro()):
            for b in c.bases:
                if isinstance(b, Ref) and b.qualname.startswith(hf_fw.RECORD_PREFIXES) and \
                        not b.qualname.endswith(".ModelOutput") and self.depth < MAX_DEPTH:
                    base = self.project_value(b.qualname)
                    if not isinstance(base, ClassV):
                        return None
                    self.depth += 1
                    try:
                        inherited = self.declared_fields(base)
                    finally:
                        self.depth -= 1
                    if inherited is None:
                        return None
                    out.extend(f for f in inherited if f not in out)
            for st in c.node.body.body:
                if isinstance(st, cst.SimpleStatementLine) and isinstance(st.body[0], cst.AnnAssign) \
                        and isinstance(st.body[0].target, cst.Name) and st.body[0].target.value not in out:
                    out.append(st.body[0].target.value)
        return out

    def make_record(self, cls: ClassV, args, kwargs) -> Record:
        """An output record of ``cls``: its fields in declaration order (what ``out[i]`` / ``to_tuple()`` index),
        whatever order the call gave them in; a field not given keeps its default, None."""
        fields = self.declared_fields(cls)
        if fields is None:
            return Record(dict(kwargs))
        given = dict(zip(fields, args))
        given.update(kwargs)
        rec = {f: given.pop(f, Const(None)) for f in fields}
        rec.update(given)
        return Record(rec)

    def call_instance(self, inst: Instance, args, kwargs, entry: bool = False) -> Value:
        self.called.add(id(inst.cls))
        method = inst.cls.lookup("forward") or inst.cls.lookup("call") or inst.cls.lookup("__call__")
        build = inst.cls.lookup("build")
        if isinstance(build, Function) and not inst.built:
            inst.built = True
            x = args[0] if args else UNKNOWN
            shape_v = Seq([Const(d) if known(d) else UNKNOWN for d in x.shape.dims]) \
                if isinstance(x, Tensor) and x.shape.dims is not None else UNKNOWN
            self.invoke(build, [shape_v], {}, self_value=inst)
        if isinstance(method, Function):
            return self.invoke(method, args, kwargs, self_value=inst, entry=entry)
        seq = inst.attrs.get("__sequential__")
        if isinstance(seq, Sequential):
            return self.apply_sequential(seq, args[0] if args else UNKNOWN)
        return Tensor(UNKNOWN_SHAPE) if args else UNKNOWN

    # --- attributes -------------------------------------------------------------------------------------
    def getattr(self, v: Value, name: str) -> Value:
        if isinstance(v, Union):
            out: Value | None = None
            for o in _feasible(v.options):
                r = self.getattr(o, name)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if isinstance(v, Ref):
            return Ref(f"{v.qualname}.{name}")
        if name in hf_fw.CACHE_METHODS and (v is UNKNOWN or isinstance(v, Tensor) or (
                isinstance(v, Instance) and v.cls.qualname.endswith("Cache"))):  # (tensors have no .update)
            return Builtin("hf.cache_update", v)
        if isinstance(v, Tensor) or (v is UNKNOWN and name in _TENSORISH):
            t = v if isinstance(v, Tensor) else Tensor(UNKNOWN_SHAPE)
            return self.tensor_attr(t, name)
        if isinstance(v, Instance):
            if name in v.attrs:
                return v.attrs[name]
            c = v.cls.lookup(name)
            if isinstance(c, Function):
                decorators = getattr(c, "decorators", set())
                if "property" in decorators:
                    return self.invoke(c, [], {}, self_value=v)
                if "staticmethod" in decorators:
                    return c
                return BoundMethod(c, v)
            if c is not None:
                return c
            if name in _MODULE_METHODS:
                return Builtin("module." + name, v)
            if name in hf_fw.MODEL_METHODS:  # ``self.get_input_embeddings()``: inherited from the library's model
                return Builtin("library." + hf_fw.MODEL_METHODS[name], v)
            return UNKNOWN
        if isinstance(v, ClassV):
            c = v.lookup(name)
            if c is None and name == "apply" and _AUTOGRAD_FUNCTION.intersection(v.external_bases()):
                return Builtin("autograd.apply", v)  # ``MyFn.apply(x)`` runs the static ``MyFn.forward(ctx, x)``
            if c is None and name in hf_fw.FROM_CONFIG and self._is_module_class(v):
                return Builtin("class." + name, v)
            return c if c is not None else UNKNOWN
        if isinstance(v, Record):
            if name == "to_tuple" and name not in v.fields:
                return Builtin("record.to_tuple", v)
            return v.fields.get(name, Const(None))
        if isinstance(v, Super):
            mro = v.instance.cls.mro() if isinstance(v.instance, Instance) else []
            after = mro[mro.index(v.cls) + 1:] if v.cls in mro else []
            for c in after:
                if name in c.attrs:
                    f = c.attrs[name]
                    return BoundMethod(f, v.instance) if isinstance(f, Function) else f
            return Builtin("super." + name, v.instance)
        if isinstance(v, Layer):
            if name in ("in_features", "out_features", "units", "filters", "out_channels", "in_channels",
                        "embedding_dim", "num_embeddings", "hidden_size"):
                return v.args.get(name, UNKNOWN)
            if name in ("weight", "bias", "kernel"):
                return self._layer_weight(v)
            if name in _MODULE_RETURNS_SELF:
                return Builtin("module." + name, v)  # ``nn.Linear(16, 2).to(dtype)``: the layer itself
            return UNKNOWN
        if isinstance(v, Sequential):
            if name in ("add", "append", "build", "extend", "insert", "add_module"):
                return Builtin("seq." + name, v)
            if name == "layers":
                return Seq(v.layers, "list")
            return UNKNOWN
        if isinstance(v, Seq) and v.kind == "list" and name in ("append", "extend", "insert"):
            return Builtin("list." + name, v)
        if isinstance(v, Dict) and name in ("items", "values", "keys", "get", "update", "setdefault"):
            return Builtin("dict." + name, v)
        return UNKNOWN

    def _layer_weight(self, layer: Layer) -> Value:
        a = self.layer_args(layer.spec.params, layer.spec.defaults, layer.args)
        if layer.spec.short in ("Linear",):
            return Tensor(Shape.of((a["out_features"], a["in_features"])))
        if layer.spec.short == "Embedding":
            return Tensor(Shape.of((a["num_embeddings"], a["embedding_dim"])))
        return Tensor(UNKNOWN_SHAPE)

    def tensor_attr(self, t: Tensor, name: str) -> Value:
        s = t.shape
        if name == "shape":
            return self.shape_seq(t)
        if name in ("ndim",):
            return Const(s.rank) if s.rank is not None else UNKNOWN
        if name in ("T", "mT"):
            if s.rank is None:
                return Tensor(UNKNOWN_SHAPE)
            from densecheck.shapes import transpose
            return Tensor(transpose(s, -2, -1) if name == "mT" or s.rank == 2 else
                          Shape.of(tuple(reversed(s.dims))))
        if name in ("data", "real", "imag"):
            return t
        return Builtin("tensor." + name, t)

    def shape_seq(self, t: Tensor) -> Value:
        s = t.shape
        if s.dims is None:
            return Seq([DimV(Sym("?"))], repeated=True)
        dims = list(s.dims)
        changed = False
        for i, d in enumerate(dims):
            if d is None:
                dims[i] = Sym(f"d{i}")
                changed = True
        if changed:
            t.shape = Shape(tuple(dims), s.channel_axis, s.explicit_layout)
        return Seq([Const(d) if known(d) else DimV(d) for d in dims], "tuple")

    # --- builtins ---------------------------------------------------------------------------------------
    def call_builtin(self, b: Builtin, args, kwargs, node) -> Value:
        name = b.name
        if name.startswith("tensor."):
            return self.tensor_method(b.self, name[7:], args, kwargs)
        if name.startswith("library."):  # a behaviour of frameworks/transformers.py's tables
            return self.library_call(name[len("library."):], args, kwargs)
        handler = _BUILTIN_IMPL.get(name)
        if handler is not None:
            return handler(self, b, args, kwargs)
        return UNKNOWN

    def tensor_method(self, t: Tensor, name: str, args, kwargs) -> Value:
        s = t.shape
        if name == "size":
            full = self.shape_seq(t)
            if not args and "dim" not in kwargs:
                return full
            d = pyvalue(args[0] if args else kwargs["dim"])
            if isinstance(d, int) and isinstance(full, Seq) and not full.repeated and -len(full.items) <= d < len(
                    full.items):
                return full.items[d]
            return DimV(Sym("?"))
        if name in ("dim", "ndimension"):
            return Const(s.rank) if s.rank is not None else UNKNOWN
        if name == "numel":
            from densecheck.shapes import dim_product
            n = dim_product(s.dims) if s.dims is not None else None
            return Const(n) if n is not None else UNKNOWN
        if name == "item":
            return UNKNOWN
        if name in ("view_as", "reshape_as", "expand_as"):
            other = args[0] if args else UNKNOWN
            return Tensor(other.shape) if isinstance(other, Tensor) else Tensor(UNKNOWN_SHAPE)
        if name == "unbind":
            dim = pyvalue(args[0]) if args else 0
            if s.rank is not None and isinstance(dim, int):
                a = s.axis(dim)
                if a is not None:
                    dims = s.dims[:a] + s.dims[a + 1:]
                    ca = s.channel_axis if s.channel_axis is None or s.channel_axis < a else (
                        None if s.channel_axis == a else s.channel_axis - 1)
                    return Seq([Tensor(Shape(dims, ca, s.explicit_layout))], repeated=True)
            return Seq([Tensor(UNKNOWN_SHAPE)], repeated=True)
        spec = torch_fw.METHODS.get(name)
        if spec is None:
            return Tensor(UNKNOWN_SHAPE) if name in _TENSOR_RESULT else UNKNOWN
        return self.apply_op(spec, args, kwargs, self_value=t)

    # --- einops -----------------------------------------------------------------------------------------
    def einops(self, fn: str, args, kwargs) -> Value:
        if fn not in ("rearrange", "reduce", "repeat") or len(args) < 2:
            return Tensor(UNKNOWN_SHAPE) if fn in ("rearrange", "reduce", "repeat") else UNKNOWN
        x = args[0]
        pattern = pyvalue(args[1])
        if not isinstance(pattern, str) or "->" not in pattern:
            return Tensor(UNKNOWN_SHAPE)
        sizes = {k: pyvalue(v) for k, v in kwargs.items()}
        return Tensor(_einops_shape(x.shape if isinstance(x, Tensor) else UNKNOWN_SHAPE, pattern, sizes))


class _GlobalRef(Value):
    """A name declared ``global`` in a function: it lives in the module scope."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _VarArgs(Value):
    """``*args`` whose contents are unknown."""

    __slots__ = ("value",)

    def __init__(self, value: Value) -> None:
        self.value = value


def _drop_first_axis(s: Shape) -> Shape:
    """The shape of one item when iterating over (or unpacking) a tensor along its first axis."""
    if not s.rank:
        return UNKNOWN_SHAPE
    ca = s.channel_axis - 1 if s.channel_axis is not None and s.channel_axis > 0 else None
    return Shape(s.dims[1:], ca, s.explicit_layout)


def _feasible(opts: list[Value]) -> list[Value]:
    """Drop ``None`` from alternatives used as a tensor: that path would raise at run time, so it does not exist."""
    rest = [o for o in opts if not (isinstance(o, Const) and o.value is None)]
    return rest or opts


def options_seq(x: Value) -> list[Value]:
    if isinstance(x, Seq):
        return list(x.items)
    return [x]


def _sig(v: Value):
    """A hashable summary of an abstract value for the memo tables; None when it must not be memoised."""
    if isinstance(v, Tensor):
        s = v.shape
        return ("T", tuple(d if known(d) else (id(d) if isinstance(d, Sym) else None) for d in s.dims)
                if s.dims is not None else None, s.channel_axis, s.explicit_layout)
    if isinstance(v, Const):
        try:
            hash(v.value)
        except TypeError:
            return None
        return ("C", type(v.value).__name__, v.value)
    if v is UNKNOWN:
        return "U"
    if isinstance(v, Seq):
        if v.kind == "list":
            return None  # mutable: a callee may append to it
        items = tuple(_sig(x) for x in v.items)
        return None if any(i is None for i in items) else ("S", v.repeated, items)
    if isinstance(v, (Instance, Layer, Sequential, Function, ClassV, Ref, DimV, BoundMethod, KerasModel)):
        return ("O", id(v))
    return None


def _signature(head: tuple, args: list[Value], kwargs: dict[str, Value]):
    parts = []
    for a in args:
        s = _sig(a)
        if s is None:
            return None
        parts.append(s)
    for k in sorted(kwargs):
        s = _sig(kwargs[k])
        if s is None:
            return None
        parts.append((k, s))
    return tuple(id(h) if not isinstance(h, bool) else h for h in head) + tuple(parts)


def _safe(rule, *a):
    try:
        return rule(*a)
    except (TypeError, ValueError, ZeroDivisionError, IndexError, KeyError, AttributeError, OverflowError):
        return None


def _is_one(v: Value) -> bool:
    return isinstance(v, Const) and v.value == 1


def _has_sym(v: Any) -> bool:
    if isinstance(v, Sym):
        return True
    if isinstance(v, tuple):
        return any(_has_sym(x) for x in v)
    return False


def _strip_syms(v: Any) -> Any:
    if isinstance(v, Sym):
        return None
    if isinstance(v, tuple):
        return tuple(_strip_syms(x) for x in v)
    return v


_INT_NAME = re.compile(r"(?:^|_)(?:size|dim|channels|features|heads|width|height|depth|length|len|rank|units)$"
                       r"|^(?:num|n)_|^(?:dim|hidden|channels|features|heads|depth|width)$")


#: attribute names that hold an activation (a callable that keeps its input's shape) in model code
_ACTIVATION_NAME = re.compile(r"(^|_)(act|act_fn|activation|activation_fn|activation_function|hidden_act|act_layer)$")


def _int_by_name(name: str) -> Value:
    """An unknown value whose name says it is an integer (``hidden_size``, ``num_heads``, ``dim``): an unknown
    dimension rather than an unknown anything, so ``torch.ones(hidden_size)`` is known to be 1-d. Plural and
    shape-like names (``dims``, ``image_shape``, ``size``) are not taken to be integers."""
    if _INT_NAME.search(name) and not name.endswith(("shape", "dims", "sizes")):
        return DimV(Sym(name))
    return UNKNOWN


def _conventional_input(name: str) -> Shape:
    """What an entry point's parameter holds when nobody calls it, by the framework's naming convention."""
    return ENTRY_INPUTS.get(name, UNKNOWN_SHAPE)


def _jaxtyping_shape(spec: str) -> Shape:
    dims: list = []
    for tok in spec.split():
        if tok.startswith("*") or tok == "...":
            return UNKNOWN_SHAPE
        tok = tok.lstrip("#_")
        dims.append(int(tok) if tok.isdigit() else Sym(tok))
    names = [t.lower() for t in spec.split()]
    ca = None
    for i, n in enumerate(names):
        if n in ("c", "channels", "ch", "d", "dim", "hidden", "embed", "features", "e"):
            ca = i
            break
    return Shape(tuple(dims), ca, False)


def _einops_groups(side: str) -> list[list[str]] | None:
    groups: list[list[str]] = []
    cur: list[str] | None = None
    for tok in side.replace("(", " ( ").replace(")", " ) ").split():
        if tok == "(":
            cur = []
        elif tok == ")":
            if cur is None:
                return None
            groups.append(cur)
            cur = None
        elif cur is not None:
            cur.append(tok)
        else:
            groups.append([tok])
    return groups


def _einops_shape(s: Shape, pattern: str, sizes: dict[str, Any]) -> Shape:
    lhs, _, rhs = pattern.partition("->")
    left, right = _einops_groups(lhs), _einops_groups(rhs)
    if left is None or right is None or any(g == ["..."] for g in left + right):
        return UNKNOWN_SHAPE
    axis_size: dict[str, Any] = {k: v for k, v in sizes.items() if isinstance(v, int)}
    channel_name = None
    if s.dims is not None and len(s.dims) == len(left):
        for g, d in zip(left, s.dims):
            if len(g) == 1 and known(d):
                axis_size[g[0]] = d
            elif len(g) > 1 and known(d):
                unknown = [n for n in g if n not in axis_size]
                if len(unknown) == 1:
                    rest = 1
                    for n in g:
                        if n != unknown[0]:
                            rest *= axis_size[n]
                    axis_size[unknown[0]] = d // rest if rest else None
        if s.channel_axis is not None and len(left[s.channel_axis]) == 1:
            channel_name = left[s.channel_axis][0]
    dims = []
    ca = None
    for i, g in enumerate(right):
        total = 1
        for n in g:
            v = axis_size.get(n, 1 if n == "1" else None)
            if v is None:
                total = None
                break
            total *= v
        dims.append(total)
        if channel_name is not None and g == [channel_name]:
            ca = i
    if ca is None and channel_name is None and right and len(right[-1]) == 1 and \
            right[-1][0] in ("c", "d", "dim", "channels", "e"):
        ca = len(right) - 1
    return Shape(tuple(dims), ca, True)


# ---------------------------------------------------------------------------------------------------------
# Special external callables: containers, inputs, models
# ---------------------------------------------------------------------------------------------------------

def _torch_sequential(it: Interpreter, args, kwargs, node) -> Value:
    layers: list[Value] = []
    for a in args:
        if isinstance(a, Dict):
            layers.extend(a.items.values())
        elif isinstance(a, _VarArgs):
            inner = a.value
            if isinstance(inner, Seq):
                layers.extend(inner.items if not inner.repeated else [inner.items[0]])
            else:
                layers.append(UNKNOWN)
        else:
            layers.append(a)
    return Sequential("torch", layers)


def _keras_sequential(it: Interpreter, args, kwargs, node) -> Value:
    items = args[0] if args else kwargs.get("layers")
    seq = Sequential("keras", [])
    if isinstance(items, Seq):
        for layer in items.items:
            _keras_add(it, seq, layer)
    return seq


def _keras_add(it: Interpreter, seq: Sequential, layer: Value) -> None:
    if isinstance(layer, Tensor):  # keras.Input(...) as the first "layer"
        seq.current = layer.shape
        return
    if isinstance(layer, Layer) and layer.spec.short in ("InputLayer",):
        return
    seq.layers.append(layer)
    if seq.current is None and isinstance(layer, Layer) and layer.built_shape is not None:
        seq.current = layer.built_shape
    if seq.current is not None:
        out = it.call(layer, [Tensor(seq.current)], {})
        seq.current = out.shape if isinstance(out, Tensor) else UNKNOWN_SHAPE


def _keras_input(it: Interpreter, args, kwargs, node) -> Value:
    shape = pyvalue(args[0]) if args else pyvalue(kwargs.get("shape"))
    batch = pyvalue(kwargs.get("batch_size"))
    if shape is None and "batch_shape" in kwargs:
        bs = pyvalue(kwargs["batch_shape"])
        if isinstance(bs, tuple):
            return Tensor(Shape.of(tuple(d if known(d) else None for d in bs), -1))
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, tuple):
        return Tensor(UNKNOWN_SHAPE)
    dims = ((batch if isinstance(batch, int) else None),) + tuple(d if known(d) else None for d in shape)
    return Tensor(Shape.of(dims, -1, spatial=len(dims) >= 4))  # a rank >= 4 Input is an image / feature map


def _keras_model(it: Interpreter, args, kwargs, node) -> Value:
    outputs = args[1] if len(args) > 1 else kwargs.get("outputs", UNKNOWN)
    return KerasModel(outputs)


def _module_list(it: Interpreter, args, kwargs, node) -> Value:
    items = args[0] if args else kwargs.get("modules")
    if isinstance(items, Seq):
        return Seq(list(items.items), "list", items.repeated)
    if isinstance(items, Sequential):
        return Seq(list(items.layers), "list")
    return Seq([], "list") if items is None else Seq([UNKNOWN], "list", repeated=True)


def _module_dict(it: Interpreter, args, kwargs, node) -> Value:
    items = args[0] if args else None
    if isinstance(items, Dict):
        return Dict(dict(items.items))
    if isinstance(items, Seq):
        return _ordered_dict(it, args, kwargs, node)
    return Dict({})


def _ordered_dict(it: Interpreter, args, kwargs, node) -> Value:
    items = args[0] if args else None
    out: dict[Any, Value] = {}
    if isinstance(items, Seq):
        for i, pair in enumerate(items.items):
            if isinstance(pair, Seq) and len(pair.items) == 2:
                k = pyvalue(pair.items[0])
                out[k if k is not None and not isinstance(k, Sym) else f"<{i}>"] = pair.items[1]
    elif isinstance(items, Dict):
        out.update(items.items)
    out.update(kwargs)
    return Dict(out)


def _partial(it: Interpreter, args, kwargs, node) -> Value:
    if not args:
        return UNKNOWN
    return Partial(args[0], list(args[1:]), dict(kwargs))


def _torch_size(it: Interpreter, args, kwargs, node) -> Value:
    return args[0] if args and isinstance(args[0], Seq) else UNKNOWN


def _first_arg(it: Interpreter, args, kwargs, node) -> Value:
    return args[0] if args else next(iter(kwargs.values()), UNKNOWN)


def _arange(it: Interpreter, args, kwargs, node) -> Value:
    vals = [pyvalue(a) for a in args]
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        try:
            return Tensor(Shape.of((len(range(*vals)),)))
        except (TypeError, ValueError):
            pass
    return Tensor(Shape.of((None,)))


def _literal_shape(v: Value) -> tuple | None:
    if isinstance(v, Seq) and not v.repeated:
        inner = [_literal_shape(x) for x in v.items]
        if inner and all(i is not None and i == inner[0] for i in inner):
            return (len(v.items),) + inner[0]
        return (len(v.items),) if not inner else None
    if isinstance(v, Const) and isinstance(v.value, (int, float, bool)):
        return ()
    return None


def _torch_tensor(it: Interpreter, args, kwargs, node) -> Value:
    shape = _literal_shape(args[0]) if args else None
    return Tensor(Shape.of(shape)) if shape is not None else Tensor(UNKNOWN_SHAPE)


_SPECIAL_CALLS = {
    "torch.nn.Parameter": _first_arg,
    "torch.nn.Buffer": _first_arg,
    "torch.nn.parameter.Parameter": _first_arg,
    "torch.arange": _arange,
    "torch.tensor": _torch_tensor,
    "torch.as_tensor": _torch_tensor,
    "torch.nn.Sequential": _torch_sequential,
    "torch.nn.ModuleList": _module_list,
    "torch.nn.ParameterList": _module_list,
    "torch.nn.ModuleDict": _module_dict,
    "keras.Sequential": _keras_sequential,
    "keras.models.Sequential": _keras_sequential,
    "keras.Input": _keras_input,
    "keras.layers.Input": _keras_input,
    "keras.Model": _keras_model,
    "keras.models.Model": _keras_model,
    "keras.Functional": _keras_model,
    "collections.OrderedDict": _ordered_dict,
    "typing.OrderedDict": _ordered_dict,
    "functools.partial": _partial,
    "torch.Size": _torch_size,
    # weight/spectral normalisation re-parametrises a module's weight and returns that same module
    # (``torch.nn.utils[.parametrizations].weight_norm``, canonical)
    "torch.nn.weight_norm": _first_arg,
    "torch.nn.spectral_norm": _first_arg,
}


# ---------------------------------------------------------------------------------------------------------
# Python builtins and methods implemented by the interpreter
# ---------------------------------------------------------------------------------------------------------

def _b_len(it, b, args, kwargs):
    x = args[0] if args else UNKNOWN
    if isinstance(x, Seq) and not x.repeated:
        return Const(len(x.items))
    if isinstance(x, Dict):
        return Const(len(x.items))
    if isinstance(x, Sequential):
        return Const(len(x.layers))
    if isinstance(x, Const) and isinstance(x.value, (str, tuple)):
        return Const(len(x.value))
    if isinstance(x, Tensor) and x.shape.rank:
        d = x.shape.dims[0]
        return Const(d) if known(d) else DimV(d if isinstance(d, Sym) else Sym("?"))
    return UNKNOWN


def _b_range(it, b, args, kwargs):
    vals = [pyvalue(a) for a in args]
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        try:
            r = range(*vals)
        except (TypeError, ValueError):
            return Seq([UNKNOWN], "list", repeated=True)
        if all(abs(v) <= MAX_INT for v in vals) and len(r) <= MAX_UNROLL:
            return Seq([Const(i) for i in r], "list")
    return Seq([DimV(Sym("i"))], "list", repeated=True)


def _b_numeric(kind):
    def impl(it, b, args, kwargs):
        x = args[0] if args else Const(0)
        if isinstance(x, Const) and isinstance(x.value, (int, float, str, bool)):
            try:
                return Const(kind(x.value))
            except (TypeError, ValueError, OverflowError):
                return UNKNOWN
        if isinstance(x, DimV) and kind is int:
            return x
        return UNKNOWN
    return impl


def _b_seq(kind):
    def impl(it, b, args, kwargs):
        x = args[0] if args else Seq([], kind)
        if isinstance(x, Record) and kind == "tuple":
            return x  # a ModelOutput's tuple, or a filtered generator's items: indexed the same way
        if isinstance(x, Seq):
            return Seq(list(x.items), kind, x.repeated)
        if isinstance(x, Dict):
            return Seq([Const(k) for k in x.items], kind)
        if isinstance(x, Sequential):
            return Seq(list(x.layers), kind)
        return Seq([UNKNOWN], kind, repeated=True)
    return impl


def _b_minmax(fn):
    def impl(it, b, args, kwargs):
        vals = [pyvalue(a) for a in args]
        if len(vals) == 1 and isinstance(vals[0], tuple):
            vals = list(vals[0])
        if vals and all(isinstance(v, (int, float)) for v in vals):
            return Const(fn(vals))
        return UNKNOWN
    return impl


def _b_sum(it, b, args, kwargs):
    v = pyvalue(args[0]) if args else None
    if isinstance(v, tuple) and all(isinstance(x, (int, float)) for x in v):
        return Const(sum(v))
    return UNKNOWN


def _b_math(fn):
    def impl(it, b, args, kwargs):
        vals = [pyvalue(a) for a in args]
        if len(vals) == 1 and isinstance(vals[0], tuple):
            vals = list(vals[0]) if fn is math.prod else vals
        if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            if any(isinstance(v, int) and abs(v) > MAX_INT for v in vals) or len(vals) > MAX_ITEMS:
                return UNKNOWN
            try:
                r = fn(vals) if fn is math.prod else fn(*vals)
            except (ValueError, OverflowError, TypeError):
                return UNKNOWN
            return UNKNOWN if isinstance(r, int) and abs(r) > MAX_INT else Const(r)
        return UNKNOWN
    return impl


def _b_getattr(it, b, args, kwargs):
    if len(args) >= 2:
        name = pyvalue(args[1])
        if isinstance(name, str):
            r = it.getattr(args[0], name)
            if r is UNKNOWN and len(args) > 2:
                return args[2]
            return r
    return UNKNOWN


def _b_setattr(it, b, args, kwargs):
    if len(args) == 3:
        name = pyvalue(args[1])
        if isinstance(name, str) and isinstance(args[0], (Instance, ClassV)):
            args[0].attrs[name] = args[2]
    return Const(None)


def _b_super(it, b, args, kwargs):
    frame = it.frame
    fn = frame.func
    if fn is not None and fn.cls is not None and frame.self_value is not None:
        return Super(frame.self_value, fn.cls)
    if len(args) == 2 and isinstance(args[0], ClassV):
        return Super(args[1], args[0])
    return UNKNOWN


def _b_enumerate(it, b, args, kwargs):
    x = args[0] if args else UNKNOWN
    items, exact = it.iteration(x)
    if exact:
        return Seq([Seq([Const(i), v]) for i, v in enumerate(items)], "list")
    return Seq([Seq([DimV(Sym("i")), items[0]])], "list", repeated=True)


def _b_zip(it, b, args, kwargs):
    cols = [it.iteration(a) for a in args]
    if cols and all(exact for _, exact in cols):
        n = min(len(items) for items, _ in cols)
        return Seq([Seq([items[i] for items, _ in cols]) for i in range(n)], "list")
    return Seq([Seq([items[0] if items else UNKNOWN for items, _ in cols])], "list", repeated=True)


def _b_reversed(it, b, args, kwargs):
    x = args[0] if args else UNKNOWN
    if isinstance(x, Seq):
        return Seq(list(reversed(x.items)), x.kind, x.repeated)
    return UNKNOWN


def _b_slice(it, b, args, kwargs):
    """``slice(a, b, c)``: a slice object (bounds not known statically stand as unknown dimensions)."""
    if not 1 <= len(args) <= 3 or kwargs:
        return UNKNOWN
    parts = [pyvalue(a) if not (isinstance(a, Const) and a.value is None) else None for a in args]
    parts = [p if p is None or (type(p) is int) else Sym("?") for p in parts]
    return Const(slice(*parts))


def _b_isinstance(it, b, args, kwargs):
    """``isinstance(x, tuple)`` where the answer is sure: a tensor is a ``torch.Tensor`` and no tuple, list, dict,
    number or string (``layer_outputs[0] if isinstance(layer_outputs, tuple) else layer_outputs``); a constant is
    what it is; an instance of a class of the analysed code is an instance of the classes in its MRO only."""
    if len(args) != 2 or kwargs:
        return UNKNOWN
    kinds = args[1].items if _is_tuple(args[1]) else [args[1]]
    answers = [_isinstance(args[0], k) for k in kinds]
    if True in answers:
        return Const(True)
    return Const(False) if answers and all(a is False for a in answers) else UNKNOWN


_PY_TYPES = {"tuple": tuple, "list": list, "dict": dict, "int": int, "float": float, "str": str, "bool": bool}


def _isinstance(v: Value, kind: Value) -> bool | None:
    if isinstance(v, Union):
        answers = {_isinstance(o, kind) for o in v.options}
        return answers.pop() if len(answers) == 1 else None
    name = kind.name if isinstance(kind, Builtin) and kind.self is None else \
        canonical(kind.qualname) if isinstance(kind, Ref) else None
    if isinstance(v, Tensor):
        if name == "torch.Tensor":
            return True
        return False if name in _PY_TYPES or name == "torch.nn.Module" else None
    if isinstance(v, Const) and name in _PY_TYPES:
        return isinstance(v.value, _PY_TYPES[name])
    if isinstance(v, Instance) and isinstance(kind, ClassV):
        return kind in v.cls.mro()  # a framework base cannot derive from a class of the analysed code
    return None


def _b_print(it, b, args, kwargs):
    return Const(None)


def _b_seq_add(it, b, args, kwargs):
    seq = b.self
    if isinstance(seq, Sequential) and args:
        if seq.framework == "keras":
            _keras_add(it, seq, args[-1])
        else:
            seq.layers.append(args[-1])
    return Const(None)


def _b_seq_add_module(it, b, args, kwargs):
    if isinstance(b.self, Sequential) and len(args) == 2:
        b.self.layers.append(args[1])
    return Const(None)


def _b_module_build(it, b, args, kwargs):
    """model.build((None, 32, 32, 3)) on a subclassed Keras model: call it on that symbolic input."""
    shape = pyvalue(args[0]) if args else pyvalue(kwargs.get("input_shape"))
    if isinstance(b.self, Instance) and isinstance(shape, tuple):
        it.call_instance(b.self, [Tensor(Shape.of(tuple(d if known(d) else None for d in shape), -1))], {})
    return Const(None)


def _summary(batch_missing: bool):
    """torchinfo.summary(model, input_size=(1, 3, 224, 224)) / torchsummary.summary(model, (3, 224, 224))."""
    def impl(it, args, kwargs, node):
        model = args[0] if args else kwargs.get("model", UNKNOWN)
        size = pyvalue(args[1]) if len(args) > 1 else pyvalue(kwargs.get("input_size"))
        if isinstance(size, tuple) and size and all(isinstance(d, int) for d in size):
            dims = ((None,) if batch_missing else ()) + size
            it.call(model, [Tensor(Shape.of(dims))], {})
        return UNKNOWN
    return impl


def _keras_input_layer(it: Interpreter, args, kwargs, node) -> Value:
    if "input_shape" in kwargs and "shape" not in kwargs:
        kwargs = dict(kwargs, shape=kwargs["input_shape"])
    return _keras_input(it, args, kwargs, node)


def _b_seq_build(it, b, args, kwargs):
    seq = b.self
    shape = pyvalue(args[0]) if args else pyvalue(kwargs.get("input_shape"))
    if isinstance(seq, Sequential) and isinstance(shape, tuple):
        cur = Shape.of(tuple(d if known(d) else None for d in shape), -1)
        for layer in seq.layers:
            out = it.call(layer, [Tensor(cur)], {})
            cur = out.shape if isinstance(out, Tensor) else UNKNOWN_SHAPE
        seq.current = cur
    return Const(None)


def _b_list_append(it, b, args, kwargs):
    if isinstance(b.self, Seq) and args:
        if b.self.repeated:
            b.self.items[0] = join(b.self.items[0], args[0])
        elif len(b.self.items) < 256:
            b.self.items.append(args[0])
    return Const(None)


def _b_list_extend(it, b, args, kwargs):
    if isinstance(b.self, Seq) and args:
        x = args[0]
        if isinstance(x, Seq) and not x.repeated and not b.self.repeated:
            b.self.items.extend(x.items)
        elif isinstance(x, Seq) and x.items:
            b.self.items[:] = [it.join_all(b.self.items + x.items)]
            b.self.repeated = True
    return Const(None)


def _b_list_insert(it, b, args, kwargs):
    if isinstance(b.self, Seq) and len(args) == 2:
        idx = pyvalue(args[0])
        if isinstance(idx, int) and not b.self.repeated:
            b.self.items.insert(idx, args[1])
    return Const(None)


def _b_dict_items(it, b, args, kwargs):
    d = b.self
    return Seq([Seq([Const(k), v]) for k, v in d.items.items()], "list") if isinstance(d, Dict) else UNKNOWN


def _b_dict_values(it, b, args, kwargs):
    d = b.self
    return Seq(list(d.items.values()), "list") if isinstance(d, Dict) else UNKNOWN


def _b_dict_keys(it, b, args, kwargs):
    d = b.self
    return Seq([Const(k) for k in d.items], "list") if isinstance(d, Dict) else UNKNOWN


def _b_dict_get(it, b, args, kwargs):
    d = b.self
    if isinstance(d, Dict) and args:
        k = pyvalue(args[0])
        try:
            if k in d.items:
                return d.items[k]
        except TypeError:
            return UNKNOWN
        return args[1] if len(args) > 1 else Const(None)
    return UNKNOWN


def _b_dict_update(it, b, args, kwargs):
    d = b.self
    if isinstance(d, Dict):
        if args and isinstance(args[0], Dict):
            d.items.update(args[0].items)
        d.items.update(kwargs)
    return Const(None)


def _b_add_module(it, b, args, kwargs):
    if len(args) == 2 and isinstance(b.self, Instance):
        name = pyvalue(args[0])
        if isinstance(name, str):
            b.self.attrs[name] = args[1]
    return Const(None)


def _b_super_init(it, b, args, kwargs):
    """super().__init__(...) of an external base: nn.Sequential subclasses keep their layers, subclasses of a
    framework layer (``class ScaledEmbedding(nn.Embedding)``) keep the layer their base builds."""
    inst = b.self
    if not isinstance(inst, Instance):
        return Const(None)
    for base in inst.cls.external_bases():
        if base == "torch.nn.Sequential":
            inst.attrs["__sequential__"] = _torch_sequential(it, args, kwargs, None)
            break
        spec = lookup_layer(base)
        if spec is not None:
            inst.attrs["__layer__"] = it.make_layer(spec, args, kwargs, None)
            break
    return Const(None)


def _b_super_forward(it, b, args, kwargs):
    """super().forward(x) / super().call(x) where the base is a framework layer."""
    inst = b.self
    layer = inst.attrs.get("__layer__") if isinstance(inst, Instance) else None
    if isinstance(layer, Layer):
        return it.apply_layer(layer, args, kwargs)
    return Tensor(UNKNOWN_SHAPE) if args else UNKNOWN


def _auto_text_model(q: str, node: cst.Call | None) -> tuple[str, ...] | None:
    """The record fields of ``transformers.AutoModel*.from_config(config.text_config)``'s output, or None."""
    head, _, method = q.rpartition(".")
    if method != "from_config" or not q.startswith("transformers.") or node is None or not node.args:
        return None
    fields = hf_fw.AUTO_TEXT_MODELS.get(head.rpartition(".")[2])
    config = dotted(node.args[0].value)
    if fields is None or config is None or config.rpartition(".")[2] not in hf_fw.TEXT_CONFIGS:
        return None
    return fields


def _b_text_model(it: Interpreter, b: Builtin, args, kwargs) -> Value:
    """A language model's call: its first output field is (batch, tokens, features), channels last."""
    fields = list(b.self.fields) if isinstance(b.self, Record) else []
    return Record({f: Tensor(Shape.of((None, None, None), -1)) if i == 0 else UNKNOWN for i, f in enumerate(fields)})


def _b_autograd_apply(it: Interpreter, b: Builtin, args, kwargs) -> Value:
    forward = b.self.lookup("forward") if isinstance(b.self, ClassV) else None
    if not isinstance(forward, Function):
        return UNKNOWN
    return it.invoke(forward, [UNKNOWN, *args], kwargs)  # ``ctx``: the autograd context, opaque here


def _b_cache_update(it: Interpreter, b: Builtin, args, kwargs) -> Value:
    if len(args) >= 2 and isinstance(args[0], Tensor) and isinstance(args[1], Tensor):
        return Seq([args[0], args[1]])
    return UNKNOWN


def _b_from_config(it, b, args, kwargs):
    """``Cls._from_config(config)`` and the like (frameworks/transformers.py's ``FROM_CONFIG``) build ``Cls(config)``;
    ``from_pretrained(path)`` builds it from a config read from disk, unknown here."""
    config = args[0] if args and hf_fw.FROM_CONFIG[b.name.partition(".")[2]] else UNKNOWN
    return it.instantiate(b.self, [config], {})


def _bare_layer(qualname: str, guessed: bool = False) -> Value:
    """A layer of the framework class ``qualname`` whose constructor arguments are not known."""
    spec = lookup_layer(qualname)
    return Layer(spec, {}, guessed=guessed) if spec is not None else UNKNOWN


_BUILTIN_IMPL = {
    **{"class." + n: _b_from_config for n in hf_fw.FROM_CONFIG},
    "len": _b_len, "range": _b_range, "int": _b_numeric(int), "float": _b_numeric(float),
    "bool": _b_numeric(bool), "round": _b_numeric(round), "abs": _b_numeric(abs),
    "tuple": _b_seq("tuple"), "list": _b_seq("list"), "min": _b_minmax(min), "max": _b_minmax(max),
    "sum": _b_sum, "getattr": _b_getattr, "setattr": _b_setattr, "super": _b_super, "enumerate": _b_enumerate,
    "zip": _b_zip, "reversed": _b_reversed, "slice": _b_slice, "isinstance": _b_isinstance, "print": _b_print,
    "seq.add": _b_seq_add, "seq.append": _b_seq_add, "seq.build": _b_seq_build, "seq.add_module": _b_seq_add_module,
    "module.build": _b_module_build,
    "list.append": _b_list_append, "list.extend": _b_list_extend, "list.insert": _b_list_insert,
    "dict.items": _b_dict_items, "dict.values": _b_dict_values, "dict.keys": _b_dict_keys, "dict.get": _b_dict_get,
    "dict.update": _b_dict_update,
    "module.add_module": _b_add_module, "module.register_module": _b_add_module,
    "super.__init__": _b_super_init, "super.forward": _b_super_forward, "super.call": _b_super_forward,
    "super.__call__": _b_super_forward,
    "hf.text_model": _b_text_model, "hf.cache_update": _b_cache_update, "autograd.apply": _b_autograd_apply,
}
_AUTOGRAD_FUNCTION = {"torch.autograd.Function", "torch.autograd.function.Function"}
_SPECIAL_CALLS.update({
    "keras.layers.InputLayer": _keras_input_layer,
    "torchinfo.summary": _summary(batch_missing=False),
    "torchsummary.summary": _summary(batch_missing=True),
})
_BUILTINS = set(n for n in _BUILTIN_IMPL if "." not in n) | {"str", "dict", "set", "hasattr", "callable", "iter",
                                                              "next", "map", "filter", "sorted", "any", "all"}
_MATH = {"prod": math.prod, "sqrt": math.sqrt, "ceil": math.ceil, "floor": math.floor, "log2": math.log2,
         "log": math.log, "gcd": math.gcd}
_TENSORISH = set(torch_fw.METHODS) | {"size", "shape", "dim", "ndim", "view_as", "reshape_as", "unbind",
                                      "expand_as", "numel"}
_TENSOR_RESULT = {"scatter", "gather", "index_fill", "sort", "topk", "argmax", "argmin",
                  "cumprod", "diff", "narrow", "unfold", "roll"}
#: the methods that run a model (an entry point's inputs are tensors)
_CALL_METHODS = ("forward", "call", "__call__")
#: nn.Module methods that return the module itself (``Block(config).to(dtype=torch.float32)``)
_MODULE_RETURNS_SELF = ("apply", "eval", "train", "to", "float", "half", "double", "bfloat16", "cuda", "cpu",
                        "requires_grad_", "share_memory", "to_empty")
_MODULE_METHODS = {"add_module", "register_module", "build", "register_buffer",
                   "register_parameter", "parameters", "modules", "children", "named_modules", *_MODULE_RETURNS_SELF}
_BUILTIN_IMPL.update({f"module.{_n}": (lambda it, b, args, kwargs: b.self) for _n in _MODULE_RETURNS_SELF})
_BUILTIN_IMPL["record.to_tuple"] = lambda it, b, args, kwargs: b.self  # indexed as the record is: None fields skipped


for _n, _f in _MATH.items():
    _SPECIAL_CALLS[f"math.{_n}"] = (lambda f: lambda it, args, kwargs, node: _b_math(f)(it, None, args, kwargs))(_f)
for _n in ("numpy.prod", "np.prod"):
    _SPECIAL_CALLS[_n] = lambda it, args, kwargs, node: _b_math(math.prod)(it, None, args, kwargs)


def analyze(module: cst.Module, path: str, source: str | None = None, tree: Any = None,
            follow_imports: bool = True) -> AnalysisResult:
    return Interpreter(module, path, source, tree, follow_imports).run()


def top_level_bindings(module: cst.Module) -> dict[str, list[cst.CSTNode]]:
    """name -> the module's top-level statements that bind it (a compound statement binds every name bound in it,
    at any depth outside nested functions and classes), in source order."""
    out: dict[str, list[cst.CSTNode]] = {}

    def targets(t: cst.BaseExpression, names: set[str]) -> None:
        if isinstance(t, cst.Name):
            names.add(t.value)
        elif isinstance(t, (cst.Tuple, cst.List)):
            for e in t.elements:
                targets(e.value, names)
        elif isinstance(t, cst.StarredElement):
            targets(t.value, names)

    def bound(stmt: cst.CSTNode, names: set[str]) -> None:
        if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
            names.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign):
                    for t in small.targets:
                        targets(t.target, names)
                elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                    targets(small.target, names)
                elif isinstance(small, (cst.Import, cst.ImportFrom)):
                    names.update(local for local, _ in import_bindings(small))
        else:  # if / try / with / for / while: what their blocks bind
            for child in walk_children(stmt):
                if isinstance(child, cst.BaseSuite):
                    for inner in getattr(child, "body", ()):
                        if isinstance(inner, cst.BaseStatement):
                            bound(inner, names)
                        elif isinstance(inner, cst.BaseSmallStatement):
                            bound(cst.SimpleStatementLine([inner]), names)
                elif isinstance(child, (cst.Else, cst.ExceptHandler, cst.Finally, cst.If)):
                    bound(child, names)
            if isinstance(stmt, (cst.For, cst.With)):
                if isinstance(stmt, cst.For):
                    targets(stmt.target, names)
                else:
                    for item in stmt.items:
                        if item.asname is not None:
                            targets(item.asname.name, names)

    for stmt in module.body:
        names: set[str] = set()
        bound(stmt, names)
        for name in names:
            out.setdefault(name, []).append(stmt)
    return out


def _is_none(v: Value) -> bool:
    return isinstance(v, Const) and v.value is None


def _is_tuple(v: Value) -> bool:
    return isinstance(v, Seq) and v.kind == "tuple" and not v.repeated


def _may_be_none(v: Value) -> bool:
    return isinstance(v, Union) and any(_is_none(o) for o in v.options)


def _module_of(scope: Scope) -> ModuleContext:
    while scope.parent is not None:
        scope = scope.parent
    return scope.module


__all__ = ["Interpreter", "analyze", "V"]
