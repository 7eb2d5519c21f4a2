"""Statements: blocks, assignments, branches, loops, definitions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import libcst as cst

from densecheck.engine.base import EngineBase
from densecheck.engine.helpers import GlobalRef, drop_first_axis, module_of
from densecheck.engine.limits import MAX_UNROLL, Frame
from densecheck.engine.names import dotted, import_bindings
from densecheck.engine.values import (
    UNKNOWN,
    ClassV,
    Const,
    Dict,
    Function,
    Instance,
    Ref,
    Scope,
    Seq,
    Sequential,
    Tensor,
    Union,
    Value,
    join,
    options,
    pyvalue,
)
from densecheck.plugins.registry import canonical, lookup_layer, registry


class StatementsMixin(EngineBase):
    """Executing statements over abstract values."""

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
            # every augmented operator has its binary one (``AddAssign`` -> ``Add``)
            opcls = cast("type[cst.BaseBinaryOp]", getattr(cst, op, None))
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
                frame.scope.vars[n.name.value] = GlobalRef(n.name.value)
        elif isinstance(small, (cst.Import, cst.ImportFrom)):
            for local, qual in import_bindings(small, module_of(frame.scope).package):
                frame.scope.vars[local] = Ref(qual)
        return False

    def branch(
        self, frame: Frame, run: Callable[..., bool]
    ) -> tuple[dict[str, Value], dict[str, Value] | None, bool]:
        """Run ``run`` on a copy of the frame's variables (and self's attributes); return the resulting
        state."""
        saved = dict(frame.scope.vars)
        inst = frame.self_value if isinstance(frame.self_value, Instance) else None
        saved_attrs = dict(inst.attrs) if inst else None
        ended = run()
        out_vars, out_attrs = frame.scope.vars, (dict(inst.attrs) if inst else None)
        frame.scope.vars = saved
        if inst is not None:
            assert saved_attrs is not None  # saved from inst
            inst.attrs.clear()
            inst.attrs.update(saved_attrs)
        return out_vars, out_attrs, ended

    def merge(
        self, frame: Frame, states: list[tuple[dict[str, Value], dict[str, Value] | None, bool]]
    ) -> bool:
        live = [s for s in states if not s[2]]
        if not live:
            return True
        inst = frame.self_value if isinstance(frame.self_value, Instance) else None

        def join_maps(maps: list[dict[str, Value]]) -> dict[str, Value]:
            # a name (or attribute) bound on some paths only: wherever it is used without raising, it has one
            # of the values it was given, so the paths that never bound it add nothing
            keys: set[str] = set().union(*maps)
            out: dict[str, Value] = {}
            for k in keys:
                v: Value | None = None
                for m in maps:
                    if k in m:
                        v = join(v, m[k]) if v is not None else m[k]
                assert v is not None  # k is in one of the maps
                out[k] = v
            return out

        frame.scope.vars = join_maps([s[0] for s in live])
        if inst is not None and all(s[1] is not None for s in live):
            inst.attrs.clear()
            inst.attrs.update(join_maps([cast("dict[str, Value]", s[1]) for s in live]))
        return False

    def exec_if(self, stmt: cst.If, frame: Frame) -> bool:
        truth = self.truth(self.eval(stmt.test, frame))
        orelse = stmt.orelse
        if truth is True:
            return self.exec_block(stmt.body.body, frame)
        if truth is False:
            return self._exec_orelse(orelse, frame)
        narrow = self.narrowing(stmt.test, frame)

        def run(branch_taken: bool, body: Callable[[], bool]) -> bool:
            if narrow is not None:
                name, when_true, when_false = narrow
                frame.scope.vars[name] = when_true if branch_taken else when_false
            return body()

        a = self.branch(frame, lambda: run(True, lambda: self.exec_block(stmt.body.body, frame)))
        b = self.branch(frame, lambda: run(False, lambda: self._exec_orelse(orelse, frame)))
        return self.merge(frame, [a, b])

    def narrowing(self, test: cst.BaseExpression, frame: Frame) -> tuple[str, Value, Value] | None:
        """``if x is None`` / ``if x is not None`` with x a maybe-None union: x's value in each branch."""
        if not (
            isinstance(test, cst.Comparison)
            and len(test.comparisons) == 1
            and isinstance(test.left, cst.Name)
        ):
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

    def _exec_orelse(self, orelse: cst.If | cst.Else | None, frame: Frame) -> bool:
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
            keys: list[Value] = [Const(k) for k in it.items]
            return (keys, True) if len(keys) <= MAX_UNROLL else ([UNKNOWN], False)
        if isinstance(it, Sequential):
            return (list(it.layers), True) if len(it.layers) <= MAX_UNROLL else ([UNKNOWN], False)
        if isinstance(it, Tensor):
            return [Tensor(drop_first_axis(it.shape))], False
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
        if any(b in registry().module_bases or lookup_layer(b) is not None for b in ext):
            return True
        return cls.lookup("forward") is not None or cls.lookup("call") is not None

    # ============================================================================================ assignment
    def assign(self, target: cst.BaseExpression, value: Value, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            if isinstance(frame.scope.vars.get(target.value), GlobalRef):
                module_of(frame.scope).globals.vars[target.value] = value
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
                self.assign(elts[star].value, Seq(vals[star : len(vals) - n_after]), frame)
                for j in range(n_after):
                    idx = len(vals) - n_after + j
                    self.assign(
                        elts[star + 1 + j].value, vals[idx] if 0 <= idx < len(vals) else UNKNOWN, frame
                    )
                return
            for e, v in zip(elts, items):
                self.assign(e.value, v if not isinstance(e, cst.StarredElement) else UNKNOWN, frame)
        elif isinstance(target, cst.Subscript):
            base = self.eval(target.value, frame)
            if (
                isinstance(base, (Seq, Dict))
                and len(target.slice) == 1
                and isinstance(target.slice[0].slice, cst.Index)
            ):
                key = pyvalue(self.eval(target.slice[0].slice.value, frame))
                if isinstance(base, Dict) and key is not None:
                    base.items[key] = value
                elif (
                    isinstance(base, Seq)
                    and isinstance(key, int)
                    and -len(base.items) <= key < len(base.items)
                ):
                    base.items[key] = value

    def unpack(self, value: Value, n: int) -> list[Value]:
        if isinstance(value, Union) and all(
            isinstance(o, Seq) and not o.repeated and len(o.items) == n for o in value.options
        ):
            # one of several sequences of n items: each target is one of their items there
            return [self.join_all([cast(Seq, o).items[i] for o in value.options]) for i in range(n)]
        if isinstance(value, Seq):
            if value.repeated:
                return [self.join_all(value.items)] * n
            if len(value.items) == n:
                return list(value.items)
        if isinstance(value, Tensor) and value.shape.rank:
            return [Tensor(drop_first_axis(value.shape))] * n
        return [UNKNOWN] * n
