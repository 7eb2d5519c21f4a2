"""Statements: blocks, assignments, branches, loops, definitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import cast

import libcst as cst

from densecheck.engine.base import EngineBase
from densecheck.engine.helpers import GlobalRef, drop_first_axis, module_of
from densecheck.engine.limits import MAX_UNROLL, Frame, LoopExits, State
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
from densecheck.engine.walk import children as walk_children
from densecheck.plugins.registry import canonical, lookup_layer, registry
from densecheck.shapes import Shape


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
            return self.exec_while(stmt, frame)
        if isinstance(stmt, (cst.Try, cst.TryStar)):
            return self.exec_try(stmt, frame)
        if isinstance(stmt, cst.Match):
            return self.exec_match(stmt, frame)
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                v = self.eval(item.item, frame)
                if item.asname is not None:
                    self.assign(item.asname.name, UNKNOWN if not isinstance(v, Tensor) else v, frame)
            return self.exec_block(stmt.body.body, frame)
        if isinstance(stmt, cst.IndentedBlock):
            return self.exec_block(stmt.body, frame)
        return False

    def _unpacked_shape(self, small: cst.Assign, frame: Frame) -> None:
        """``b, c, h, w = x.shape`` (or ``x.size()``) on a tensor of unknown rank: it has as many axes as
        there are names, or Python raises. The variable is that tensor from now on."""
        target = small.targets[0].target if len(small.targets) == 1 else None
        if not isinstance(target, (cst.Tuple, cst.List)) or any(
            isinstance(e, cst.StarredElement) for e in target.elements
        ):
            return
        v = small.value
        if (
            isinstance(v, cst.Call)
            and not v.args
            and isinstance(v.func, cst.Attribute)
            and v.func.attr.value == "size"
        ):
            v = v.func
        elif not (isinstance(v, cst.Attribute) and v.attr.value == "shape"):
            return
        if not isinstance(v.value, cst.Name):
            return
        name = v.value.value
        t = frame.scope.vars.get(name)
        if isinstance(t, Tensor) and t.shape.rank is None:
            frame.scope.vars[name] = Tensor(
                Shape.of((None,) * len(target.elements)),
                origin=t.origin,
                rank_from=f"the unpacking of {name}.{v.attr.value}",
            )

    def exec_small(self, small: cst.CSTNode, frame: Frame) -> bool:
        if isinstance(small, cst.Assign):
            self._unpacked_shape(small, frame)
            v = self.eval(small.value, frame)
            for t in small.targets:
                self.assign(t.target, v, frame)
                if isinstance(t.target, cst.Name):
                    of = _rank_read(small.value)
                    if of is not None:
                        frame.rank_of[t.target.value] = of
                    else:
                        frame.rank_of.pop(t.target.value, None)
        elif isinstance(small, cst.Assert):
            narrow = self.rank_narrowing(small.test, frame)
            if narrow is not None:
                frame.scope.vars[narrow[0]] = narrow[1]
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
        elif isinstance(small, (cst.Break, cst.Continue)):
            if frame.loops:  # this path leaves the loop body here: its state goes where CPython goes next
                exits = frame.loops[-1]
                (exits.breaks if isinstance(small, cst.Break) else exits.continues).append(
                    self.snapshot(frame)
                )
            return True
        elif isinstance(small, cst.Raise):
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

    def rank_narrowing(self, test: cst.BaseExpression, frame: Frame) -> tuple[str, Value, Value] | None:
        """``x.ndim == 4`` (``x.dim()``, ``len(x.shape)``, ``len(x.size())``, a name bound to one of them;
        ``!=``; either side) with x a tensor of unknown rank: x's value where the test holds and where it
        does not (Python went that way, so the rank is that where it holds)."""
        if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
            return None
        comp = test.comparisons[0]
        if not isinstance(comp.operator, (cst.Equal, cst.NotEqual)):
            return None
        left, right = test.left, comp.comparator
        if isinstance(left, cst.Integer):
            left, right = right, left
        if not isinstance(right, cst.Integer):
            return None
        name = _rank_read(left)
        if name is None and isinstance(left, cst.Name):
            name = frame.rank_of.get(left.value)
        t = frame.scope.vars.get(name) if name is not None else None
        if name is None or not isinstance(t, Tensor) or t.shape.rank is not None:
            return None
        k = int(right.evaluated_value)
        if not 0 <= k <= 8:
            return None
        known = Tensor(Shape.of((None,) * k), origin=t.origin, rank_from=f"the test of {name}'s rank")
        return (name, known, t) if isinstance(comp.operator, cst.Equal) else (name, t, known)

    def narrowing(self, test: cst.BaseExpression, frame: Frame) -> tuple[str, Value, Value] | None:
        """``if x is None`` / ``if x is not None`` with x a maybe-None union: x's value in each branch;
        a test of a tensor's rank (:meth:`rank_narrowing`)."""
        rank = self.rank_narrowing(test, frame)
        if rank is not None:
            return rank
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

    # --- loops, try, match: CPython's control flow --------------------------------------------------------
    # A path that leaves a loop body by ``break``/``continue`` leaves its state in the loop's LoopExits; after
    # each iteration the next one starts from the join of the states that reach it (the body's end and every
    # ``continue``), and the statement after the loop from the join of every way out (the loop's normal end,
    # then its ``else``, and every ``break``). Loops over items known one by one are unrolled exactly; any
    # other loop (unknown items, an unknown ``while`` condition, more than MAX_UNROLL iterations) may run any
    # number of times, so what follows it is the join of running it zero, one or two times (values flowing
    # around the loop settle or become unknown), never one of those possibilities.

    def snapshot(self, frame: Frame) -> State:
        inst = frame.self_value if isinstance(frame.self_value, Instance) else None
        return dict(frame.scope.vars), (dict(inst.attrs) if inst is not None else None)

    def restore(self, frame: Frame, states: list[State]) -> None:
        """Continue from the join of ``states`` (at least one)."""
        if len(states) == 1:
            vars_, attrs = states[0]
            frame.scope.vars = dict(vars_)
            inst = frame.self_value if isinstance(frame.self_value, Instance) else None
            if inst is not None and attrs is not None:
                inst.attrs.clear()
                inst.attrs.update(attrs)
            return
        self.merge(frame, [(v, a, False) for v, a in states])

    def _iterate(self, frame: Frame, exits: LoopExits, step: Callable[[], bool]) -> bool:
        """Run one iteration (``step()`` runs the body and says whether it certainly ended); then continue
        from the join of the states that reach the next iteration. False when no path does."""
        ended = step()
        if not exits.continues:  # the body's end is where the next iteration starts (nothing to join)
            return not ended
        nxt = exits.continues + ([] if ended else [self.snapshot(frame)])
        exits.continues = []
        if not nxt:
            return False
        self.restore(frame, nxt)
        return True

    def _leave_loop(self, frame: Frame, exits: LoopExits, normal: bool, orelse: cst.Else | None) -> bool:
        """After a loop: ``normal``: the loop may end without ``break`` (its ``else`` runs then). True when no
        path gets past the loop (every one returned or raised)."""
        outs: list[State] = []
        if normal:
            if orelse is None or not self.exec_block(orelse.body.body, frame):
                outs.append(self.snapshot(frame))
        outs.extend(exits.breaks)
        if not outs:
            return True
        self.restore(frame, outs)
        return False

    def _unknown_count_loop(
        self,
        frame: Frame,
        exits: LoopExits,
        step: Callable[[], bool],
        before: Callable[[], None] | None = None,
        nonempty: bool = False,
    ) -> bool:
        """A loop that runs an unknown number of times: the join of running it 0, 1 and 2 times (1 and 2 when
        it is ``nonempty``). ``before()`` runs before each iteration (a ``for`` loop's target assignment).
        False when no path ends it normally."""
        ends = [] if nonempty else [self.snapshot(frame)]  # zero iterations
        for _ in range(2):
            if before is not None:
                before()
            if not self._iterate(frame, exits, step):
                break
            ends.append(self.snapshot(frame))
        if not ends:
            return False
        self.restore(frame, ends)
        return True

    def exec_for(self, stmt: cst.For, frame: Frame) -> bool:
        iterable = self.eval(stmt.iter, frame)
        items, exact = self.iteration(iterable)
        exits = LoopExits()
        frame.loops.append(exits)
        try:
            normal = True
            if exact:
                for item in items:
                    self.assign(stmt.target, item, frame)
                    if not self._iterate(frame, exits, lambda: self.exec_block(stmt.body.body, frame)):
                        normal = False  # every path left by break, return or raise
                        break
            else:
                normal = self._unknown_count_loop(
                    frame,
                    exits,
                    lambda: self.exec_block(stmt.body.body, frame),
                    before=lambda: self.assign(stmt.target, items[0], frame),
                    nonempty=self.guess.nonempty_loop(iterable),
                )
        finally:
            frame.loops.pop()
        return self._leave_loop(frame, exits, normal, stmt.orelse)

    def exec_while(self, stmt: cst.While, frame: Frame) -> bool:
        exits = LoopExits()
        frame.loops.append(exits)
        try:
            normal = True
            for _ in range(MAX_UNROLL + 1):
                truth = self.truth(self.eval(stmt.test, frame))
                if truth is False:
                    break
                if truth is None or _ == MAX_UNROLL:  # no known bound: any number of further iterations
                    normal = self._unknown_count_loop(
                        frame, exits, lambda: self.exec_block(stmt.body.body, frame)
                    )
                    break
                if not self._iterate(frame, exits, lambda: self.exec_block(stmt.body.body, frame)):
                    normal = False
                    break
        finally:
            frame.loops.pop()
        return self._leave_loop(frame, exits, normal, stmt.orelse)

    def exec_try(self, stmt: cst.Try | cst.TryStar, frame: Frame) -> bool:
        """The body (then ``else``) on the normal path; each handler from the state before the body (the
        exception may come from its first statement); after the statement, the join of the paths that get
        past it; ``finally`` on that state."""
        before = self.snapshot(frame)
        outs: list[State] = []
        ended = self.exec_block(stmt.body.body, frame)
        if not ended and stmt.orelse is not None:
            ended = self.exec_block(stmt.orelse.body.body, frame)
        if not ended:
            outs.append(self.snapshot(frame))
        for h in stmt.handlers:
            self.restore(frame, [before])
            if h.name is not None:
                self.assign(h.name.name, UNKNOWN, frame)
            if not self.exec_block(h.body.body, frame):
                outs.append(self.snapshot(frame))
        self.restore(frame, outs or [before])
        if stmt.finalbody is not None and self.exec_block(stmt.finalbody.body.body, frame):
            return True
        return not outs

    def exec_match(self, stmt: cst.Match, frame: Frame) -> bool:
        """Cases in order: a case that certainly matches runs and ends the search; one that may match runs on
        a copy; after the statement, the join of every case run (and of no case matching, unless one certainly
        did)."""
        subject = self.eval(stmt.subject, frame)
        states: list[tuple[dict[str, Value], dict[str, Value] | None, bool]] = []
        certain = False
        for case in stmt.cases:
            verdict, binds = self.match_pattern(case.pattern, subject, frame)
            if verdict is False:
                continue

            def run(case: cst.MatchCase = case, binds: dict[str, Value] = binds) -> bool:
                for name, value in binds.items():
                    frame.scope.vars[name] = value
                if case.guard is not None:
                    self.eval(case.guard, frame)
                return self.exec_block(case.body.body, frame)

            guard_known = case.guard is None or self.truth(self.eval(case.guard, frame)) is True
            states.append(self.branch(frame, run))
            if verdict is True and guard_known:
                certain = True
                break
        if not certain:
            states.append((*self.snapshot(frame), False))  # no case matched
        return self.merge(frame, states)

    def _match_sequence(
        self, pattern: cst.MatchSequence, subject: Seq, frame: Frame
    ) -> tuple[bool | None, dict[str, Value]]:
        """``case ("conv", out_ch):`` / ``case [first, *rest]:`` against a sequence whose items are known one
        by one (a str subject never matches a sequence pattern; it is a Const here, not a Seq)."""
        elems = list(pattern.patterns)
        stars = [i for i, e in enumerate(elems) if isinstance(e, cst.MatchStar)]
        items = subject.items
        if len(stars) > 1:
            return None, {}
        if stars:
            k = stars[0]
            before, after = elems[:k], elems[k + 1 :]
            if len(items) < len(before) + len(after):
                return False, {}
            star = elems[k]
            middle = items[len(before) : len(items) - len(after)]
            tail = items[len(items) - len(after) :]
            pairs = list(zip(before, items[: len(before)])) + list(zip(after, tail))
            binds: dict[str, Value] = {}
            if isinstance(star, cst.MatchStar) and star.name is not None:
                binds[star.name.value] = Seq(list(middle), "list")
        else:
            if len(items) != len(elems):
                return False, {}
            pairs = list(zip(elems, items))
            binds = {}
        verdict: bool | None = True
        for elem, item in pairs:
            assert isinstance(elem, cst.MatchSequenceElement)
            v, b = self.match_pattern(elem.value, item, frame)
            binds.update(b)
            if v is False:
                return False, binds
            if v is None:
                verdict = None
        return verdict, binds

    def match_pattern(
        self, pattern: cst.MatchPattern, subject: Value, frame: Frame
    ) -> tuple[bool | None, dict[str, Value]]:
        """(whether ``subject`` matches: True, False or None for unknown; the names the pattern binds)."""
        if isinstance(pattern, cst.MatchAs):
            if pattern.pattern is None:  # ``case x:`` / ``case _:``
                return True, ({pattern.name.value: subject} if pattern.name is not None else {})
            verdict, binds = self.match_pattern(pattern.pattern, subject, frame)
            if pattern.name is not None:
                binds = {**binds, pattern.name.value: subject}
            return verdict, binds
        if isinstance(pattern, (cst.MatchValue, cst.MatchSingleton)):
            value = self.eval(pattern.value, frame)
            if isinstance(value, Const) and isinstance(subject, Const):
                same = (
                    subject.value is value.value
                    if isinstance(pattern, cst.MatchSingleton)
                    else (subject.value == value.value)
                )
                return bool(same), {}
            return None, {}
        if isinstance(pattern, cst.MatchOr):
            verdicts = []
            alts: dict[str, Value] = {}
            for alt in pattern.patterns:
                v, b = self.match_pattern(alt.pattern, subject, frame)
                verdicts.append(v)
                alts.update(b)
            if any(v is True for v in verdicts):
                return True, alts
            return (False if all(v is False for v in verdicts) else None), alts
        if isinstance(pattern, cst.MatchSequence) and isinstance(subject, Seq) and not subject.repeated:
            return self._match_sequence(pattern, subject, frame)
        # other sequence, mapping and class patterns: may match; the names they bind are unknown
        names = {n.value for n in walk_names(pattern)}
        return None, dict.fromkeys(names, UNKNOWN)

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

    def _is_module_class(self, cls: ClassV, seen: frozenset[int] = frozenset()) -> bool:
        """A model or block: a framework base, a model method, or a base from another of the project's files
        that is one (``class VGGImageClassifier(ImageClassifier)``, whose chain reaches ``keras.Model``)."""
        ext = cls.external_bases()
        if any(b in registry().module_bases or lookup_layer(b) is not None for b in ext):
            return True
        if cls.lookup("forward") is not None or cls.lookup("call") is not None:
            return True
        for b in ext:
            base = self.project_value(b) if id(cls) not in seen else None
            if isinstance(base, ClassV) and self._is_module_class(base, seen | {id(cls)}):
                return True
        return False

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
                elif isinstance(b, Sequential):  # ``self.head.fc = nn.Linear(...)``: replaces that child
                    old = b.named.get(target.attr.value)
                    b.layers = [value if x is old else x for x in b.layers] if old is not None else b.layers
                    if old is None:
                        b.layers.append(value)
                    b.named[target.attr.value] = value
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


def walk_names(pattern: cst.CSTNode) -> Iterator[cst.Name]:
    """The names a match pattern binds (``case [x, *rest]``, ``case {"k": v, **kw}``, ``case P(a=b) as
    c``)."""
    stack = [pattern]
    while stack:
        node = stack.pop()
        name = getattr(node, "name", None) if isinstance(node, (cst.MatchAs, cst.MatchStar)) else None
        if isinstance(node, cst.MatchMapping) and isinstance(node.rest, cst.Name):
            name = node.rest
        if isinstance(name, cst.Name):
            yield name
        stack.extend(walk_children(node))


def _rank_read(e: cst.BaseExpression) -> str | None:
    """The variable whose rank ``e`` reads: ``x.ndim``, ``x.dim()``, ``x.ndimension()``, ``len(x.shape)``,
    ``len(x.size())``."""
    if isinstance(e, cst.Attribute) and e.attr.value == "ndim" and isinstance(e.value, cst.Name):
        return e.value.value
    if isinstance(e, cst.Call) and not e.args and isinstance(e.func, cst.Attribute):
        if e.func.attr.value in ("dim", "ndimension") and isinstance(e.func.value, cst.Name):
            return e.func.value.value
    is_len = isinstance(e, cst.Call) and isinstance(e.func, cst.Name) and e.func.value == "len"
    if isinstance(e, cst.Call) and is_len and len(e.args) == 1:
        inner = e.args[0].value
        if isinstance(inner, cst.Call) and not inner.args and isinstance(inner.func, cst.Attribute):
            inner = inner.func if inner.func.attr.value == "size" else inner
        if isinstance(inner, cst.Attribute) and inner.attr.value in ("shape", "size"):
            if isinstance(inner.value, cst.Name):
                return inner.value.value
    return None
