"""Site finding: every Dense/Linear constructor call of a module, with its position and enclosing model, and
the per-module context the interpreter runs in."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from densecheck.engine.names import ImportTable, dotted, import_bindings, package_of
from densecheck.engine.project import ParsedModule
from densecheck.engine.values import (
    Scope,
)
from densecheck.engine.walk import children as walk_children
from densecheck.engine.walk import walk
from densecheck.layers import LayerReport
from densecheck.plugins.registry import canonical, is_dense_name


def short_call(code: str) -> str:
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
    """CPython's tree of ``source``; None where CPython's parser gives up (libcst may still have parsed
    it)."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def call_positions(
    source: str, calls: list[cst.Call], tree: ast.Module | None
) -> dict[cst.Call, _Pos] | None:
    """Start/end of every libcst Call node, from CPython's (much faster) ast ``tree`` of ``source`` instead of
    libcst's PositionProvider.

    libcst visits calls in pre-order, which is source order with an outer call before an inner one starting at
    the same place (``f(x)(y)``); sorting ast's Call nodes the same way pairs them one to one. None when there
    is no tree or the two parsers disagree (then the caller falls back to PositionProvider).
    """
    if tree is None:
        return None
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    if len(nodes) != len(calls):
        return None
    nodes.sort(key=lambda n: (n.lineno, n.col_offset, -(n.end_lineno or 0), -(n.end_col_offset or 0)))
    lines = _LINE_BREAK.split(
        source
    )  # CPython's line numbering: not str.splitlines (form feed is no line break)

    def char_col(line: int, byte_col: int) -> int:
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    out: dict[cst.Call, _Pos] = {}
    for cnode, anode in zip(calls, nodes):
        out[cnode] = _Pos(
            (anode.lineno, char_col(anode.lineno, anode.col_offset)),
            (
                anode.end_lineno or anode.lineno,
                char_col(anode.end_lineno or anode.lineno, anode.end_col_offset or 0),
            ),
        )
    return out


class SiteFinder(ImportTable):
    """The one syntactic pass (a read-only :func:`~densecheck.engine.walk.walk`): the import table, every Call
    node in visiting order (for :func:`call_positions`), and, once the pass is over and every import is known,
    the calls whose callee resolves to a Dense/Linear, with their context (:attr:`found`)."""

    def __init__(self, package: str | None = None) -> None:
        super().__init__(package)
        self.calls: list[cst.Call] = []
        self._contexts: list[tuple[cst.Call, str | None, str | None]] = []  # every call: node, model, target
        self._ctx: list[str] = []
        self._stmt_target: list[str | None] = []

    def run(self, module: cst.Module) -> SiteFinder:
        enter: dict[type[cst.CSTNode], Callable[[Any], object]] = {
            cst.Module: self.visit_Module,
            cst.Import: self.visit_Import,
            cst.ImportFrom: self.visit_ImportFrom,
            cst.ClassDef: self.visit_ClassDef,
            cst.FunctionDef: self.visit_FunctionDef,
            cst.SimpleStatementLine: self.visit_SimpleStatementLine,
            cst.Call: self.visit_Call,
        }
        leave: dict[type[cst.CSTNode], Callable[[], object]] = {
            cst.ClassDef: self._ctx.pop,
            cst.FunctionDef: self._ctx.pop,
            cst.SimpleStatementLine: self._stmt_target.pop,
        }

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
            elif (
                isinstance(small, cst.Expr)
                and isinstance(small.value, cst.Call)
                and isinstance(small.value.func, cst.Attribute)
            ):
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
        #: followed modules run their top level lazily: name -> the top-level statements binding it, not yet
        # run
        self.pending: dict[str, list[cst.CSTNode]] | None = None
        self.done: set[int] = set()

    def find_sites(self, parsed: ParsedModule | None = None) -> SiteFinder:
        """Imports and Dense/Linear call sites (one walk), and the positions of its calls; for a followed
        module (``parsed``), computed once per process."""
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


def top_level_bindings(module: cst.Module) -> dict[str, list[cst.CSTNode]]:
    """name -> the module's top-level statements that bind it (a compound statement binds every name bound in
    it, at any depth outside nested functions and classes), in source order."""
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
