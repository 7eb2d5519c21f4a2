"""Expressions: literals, names, operators, subscripts, comprehensions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import libcst as cst

from densecheck.engine.base import EngineBase
from densecheck.engine.helpers import (
    BINOPS,
    CMPOPS,
    GlobalRef,
    feasible,
    has_sym,
    is_none,
    is_one,
    is_tuple,
    may_be_none,
    module_of,
)
from densecheck.engine.layercalls import carry_origin
from densecheck.engine.limits import MAX_DICT_JOIN, MAX_INT, MAX_INT_DIGITS, MAX_ITEMS, MAX_UNROLL, Frame
from densecheck.engine.pybuiltins import PY_BUILTINS
from densecheck.engine.values import (
    UNKNOWN,
    BoundMethod,
    Builtin,
    ClassV,
    Const,
    Dict,
    DimV,
    Function,
    Instance,
    Layer,
    Record,
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
from densecheck.plugins.registry import canonical, registry
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import Dim, Shape, Sym, known, matmul


class ExpressionsMixin(EngineBase):
    """Evaluating expressions to abstract values."""

    # =========================================================================================== expressions
    def eval(self, node: cst.BaseExpression | None, frame: Frame) -> Value:
        if node is None:
            return UNKNOWN
        self.tick()
        meth: Callable[[cst.BaseExpression, Frame], Value] | None = getattr(
            self, "eval_" + type(node).__name__, None
        )
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

    def eval_Ellipsis(self, node: cst.Ellipsis, frame: Frame) -> Value:
        return Const(Ellipsis)

    def eval_Name(self, node: cst.Name, frame: Frame) -> Value:
        name = node.value
        v = frame.scope.lookup(name)
        # a followed module's globals are defined when first read; misses elsewhere (builtins, None) stay
        # cheap
        if isinstance(v, GlobalRef) or (v is None and self.modules):
            ctx = module_of(frame.scope)
            v = self.module_global(ctx, name) if ctx.pending else ctx.globals.vars.get(name)
        if v is not None:
            return v
        if name in ("True", "False", "None"):
            return Const({"True": True, "False": False, "None": None}[name])
        if name in PY_BUILTINS:
            return Builtin(name)
        return self.guess.int_name(name)

    def eval_Attribute(self, node: cst.Attribute, frame: Frame) -> Value:
        v = self.getattr(self.eval(node.value, frame), node.attr.value)
        if v is not UNKNOWN:
            return v
        # ``config.hidden_act`` / ``self.act_fn`` unknown: an activation, applied element-wise
        return self.guess.activation(node.attr.value) or self.guess.int_name(node.attr.value)

    def eval_Tuple(self, node: cst.Tuple, frame: Frame) -> Value:
        return self.elements(node.elements, frame, "tuple")

    def eval_List(self, node: cst.List, frame: Frame) -> Value:
        return self.elements(node.elements, frame, "list")

    def eval_Set(self, node: cst.Set, frame: Frame) -> Value:
        return self.elements(node.elements, frame, "list")

    def elements(self, elts: Sequence[cst.BaseElement], frame: Frame, kind: str) -> Seq:
        """A display's items; unpacking something of unknown length (``(*shape, -1, d)`` with ``shape``
        unknown) makes the whole sequence one of unknown length -- never a guessed length."""
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
        defaults = {
            p.name.value: self.eval(p.default, frame) for p in node.params.params if p.default is not None
        }
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
            if (
                len(node.comparisons) == 1
                and type(comp.operator) in CMPOPS
                and (isinstance(left, Tensor) or isinstance(right, Tensor))
            ):
                return self.binop(
                    cst.Add, left, right
                )  # ``x == y`` of tensors: element-wise, broadcast like ``+``
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
        fn = CMPOPS.get(type(op))
        pa, pb = pyvalue(a), pyvalue(b)
        if fn is not None and isinstance(a, (Const, Seq)) and isinstance(b, (Const, Seq)):
            if pa is None and not (isinstance(a, Const)) or pb is None and not isinstance(b, Const):
                return None
            if has_sym(pa) or has_sym(pb):
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
                    r = a.value in [cast(Const, x).value for x in b.items]
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

    def binop(self, opcls: type[cst.BaseBinaryOp], a: Value, b: Value) -> Value:
        if isinstance(a, Union) or isinstance(b, Union):
            out: Value | None = None
            for x in feasible(options(a)):
                for y in feasible(options(b)):
                    r = self.binop(opcls, x, y)
                    out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if opcls is cst.MatrixMultiply:
            if isinstance(a, Tensor) and isinstance(b, Tensor):
                return Tensor(matmul(a.shape, b.shape))
            return UNKNOWN
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            if isinstance(a, Tensor) and isinstance(b, Tensor):
                from densecheck.shapes import broadcast

                out = Tensor(broadcast(a.shape, b.shape))
                carry_origin([a, b], out, adds=opcls in (cst.Add, cst.Subtract))
                return out
            t = cast(Tensor, a if isinstance(a, Tensor) else b)
            other = b if t is a else a
            if isinstance(other, (Const, DimV)) or other is UNKNOWN:
                return Tensor(t.shape, origin=t.origin)
            return UNKNOWN
        if (
            isinstance(a, Seq)
            and isinstance(b, Seq)
            and opcls is cst.Add
            and not a.repeated
            and not b.repeated
        ):
            if len(a.items) + len(b.items) > MAX_ITEMS:  # ``s = s + s`` in a loop: bounded, of unknown length
                return Seq(
                    [self.join_all(a.items[:MAX_UNROLL] + b.items[:MAX_UNROLL])], a.kind, repeated=True
                )
            return Seq(a.items + b.items, a.kind)
        if opcls is cst.Add and (is_tuple(a) or isinstance(a, Record)) and not isinstance(b, (Const, DimV)):
            # ``(sequence_output, pooled_output) + encoder_outputs[1:]``: a tuple known up to where the part
            # of unknown length starts -- indexed like a ModelOutput (a Record), whose fields that may be None
            # end the known prefix (a None kept in a tuple is a present item, unknown here rather than
            # dropped)
            def fields(v: Value) -> list[Value]:
                if isinstance(v, Record):
                    return list(v.fields.values())
                if is_tuple(v):
                    return [UNKNOWN if is_none(x) else x for x in v.items]
                return [Union([UNKNOWN, Const(None)])]  # more items, how many unknown

            return Record({f"[{i}]": v for i, v in enumerate(fields(a) + fields(b))})
        if isinstance(a, Seq) and isinstance(b, Seq) and opcls is cst.Add and a.kind == b.kind:
            # ``[first] + [block(i) for i in range(n)]``: of unknown length, each item one of either side's
            return Seq([self.join_all(a.items + b.items)], a.kind, repeated=True) if a.items or b.items else a
        if (
            isinstance(a, Seq)
            and isinstance(b, Const)
            and opcls is cst.Multiply
            and isinstance(b.value, int)
            and not a.repeated
            and 0 <= b.value * len(a.items) <= 256
        ):
            return Seq(a.items * b.value, a.kind)
        fn = BINOPS.get(opcls)
        if fn is None:
            return UNKNOWN
        if isinstance(a, Const) and isinstance(b, Const):
            x, y = a.value, b.value
            if opcls is cst.Power and isinstance(y, (int, float)) and abs(y) > 64:
                return UNKNOWN
            if opcls in (cst.LeftShift,) and isinstance(y, int) and y > 64:
                return UNKNOWN
            if isinstance(x, str) or isinstance(y, str):
                if (
                    opcls is cst.Add
                    and isinstance(x, str)
                    and isinstance(y, str)
                    and len(x) + len(y) < 10_000
                ):
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
            if opcls is cst.Multiply and (is_one(a) or is_one(b)):
                return b if is_one(a) else a
            return DimV(Sym("?"))
        return UNKNOWN

    def eval_Subscript(self, node: cst.Subscript, frame: Frame) -> Value:
        base = self.eval(node.value, frame)
        elems = node.slice
        if isinstance(base, Tensor):
            return self.index_tensor(base, elems, frame)
        if isinstance(base, Union):
            out: Value | None = None
            for b in feasible(base.options):  # ``None[...]`` raises: that path gives no value
                r = self.subscript(b, elems, frame)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        return self.subscript(base, elems, frame)

    def subscript(self, base: Value, elems: Sequence[cst.SubscriptElement], frame: Frame) -> Value:
        if isinstance(base, Tensor):
            return self.index_tensor(base, elems, frame)
        if isinstance(base, Ref):
            make = registry().subscripts.get(
                canonical(base.qualname)
            )  # a library's registry: ``ACT2FN[name]``
            return make() if make is not None else UNKNOWN
        if len(elems) != 1:
            if base is UNKNOWN and any(isinstance(e.slice, cst.Slice) for e in elems):
                # ``outs[-1][:, 0, :]``: only an array takes a tuple of slices (a list, a dict do not)
                return self.index_tensor(Tensor(UNKNOWN_SHAPE), elems, frame)
            return UNKNOWN
        s = elems[0].slice
        if isinstance(base, Sequential):
            base = Seq(base.layers, "list")
        if isinstance(base, Record):  # ModelOutput indexing skips fields that are None
            present = [v for v in base.fields.values() if not is_none(v)]
            first_maybe = next((i for i, v in enumerate(present) if may_be_none(v)), len(present))
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
                parts = [
                    pyvalue(self.eval(p, frame)) if p is not None else None
                    for p in (s.lower, s.upper, s.step)
                ]
                if all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in parts):
                    return Seq(base.items[slice(*parts)], base.kind)
            return UNKNOWN
        if isinstance(base, Dict) and isinstance(s, cst.Index):
            k = pyvalue(self.eval(s.value, frame))
            if k is None or isinstance(k, Sym):
                # a key not known here (``LAYER_TYPES[config.layer_types[i]]``): one of the values, or a
                # KeyError
                return (
                    self.join_all(list(base.items.values()))
                    if 0 < len(base.items) <= MAX_DICT_JOIN
                    else UNKNOWN
                )
            try:
                return base.items.get(k, UNKNOWN)
            except TypeError:
                return UNKNOWN
        return UNKNOWN

    def _known_prefix(self, items: list[Value], s: cst.BaseSlice, frame: Frame) -> Value:
        """``seq[k]`` / ``seq[a:b]`` when only ``items`` are known to start the sequence (what follows them
        may shift): a non-negative index or slice that stays inside them, else unknown."""
        if isinstance(s, cst.Index):
            k = pyvalue(self.eval(s.value, frame))
            return items[k] if type(k) is int and 0 <= k < len(items) else UNKNOWN
        if isinstance(s, cst.Slice):  # ``outputs[:2]``
            lower, upper, step = (
                pyvalue(self.eval(p, frame)) if p is not None else None for p in (s.lower, s.upper, s.step)
            )
            if (
                all(p is None or (type(p) is int and p >= 0) for p in (lower, upper, step))
                and upper is not None
                and upper <= len(items)
                and step in (None, 1)
            ):
                return Seq(items[lower:upper], "tuple")
        return UNKNOWN

    def index_tensor(self, t: Tensor, elems: Sequence[cst.SubscriptElement], frame: Frame) -> Value:
        s = t.shape
        kinds: list[tuple[str, Any]] = []
        for el in elems:
            sl = el.slice
            if isinstance(sl, cst.Slice):
                parts = [
                    pyvalue(self.eval(p, frame)) if p is not None else None
                    for p in (sl.lower, sl.upper, sl.step)
                ]
                kinds.append(("slice", parts))
                continue
            v = self.eval(cast(cst.Index, sl).value, frame)  # a BaseSlice is an Index or a Slice
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
        consumed = sum(1 for k, _ in kinds if k in ("slice", "int", "adv"))
        if s.rank is None:
            closing = kinds[-1] if kinds else None
            full_last = closing is not None and closing[0] == "slice" and closing[1] == [None, None, None]
            if any(k == "ellipsis" for k, _ in kinds) or not self.guess.index_rank(consumed, full_last):
                return Tensor(UNKNOWN_SHAPE)
            s = Shape.of((None,) * consumed)
        assert s.dims is not None and s.rank is not None  # the rank is known
        advs = [i for i, (k, _) in enumerate(kinds) if k == "adv"]
        adv_seen = False
        if consumed > s.rank:
            return Tensor(UNKNOWN_SHAPE)
        dims: list[Dim] = []
        src_axes: list[int | None] = []
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
        ca = (
            src_axes.index(s.channel_axis)
            if s.channel_axis is not None and s.channel_axis in src_axes
            else None
        )
        if advs and (advs != list(range(advs[0], advs[-1] + 1)) or any(k == "int" for k, _ in kinds)):
            # index tensors (integers too, then) apart: their axis goes first -- the same rank, not order
            ca = None
        return Tensor(
            Shape(tuple(dims), ca, s.explicit_layout, s.spatial and len(dims) == s.rank and not advs)
        )

    def comprehension(
        self, node: cst.BaseSimpleComp, frame: Frame
    ) -> tuple[list[Value], bool, list[bool] | None]:
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

    def _comp_for(
        self, comp: cst.CompFor, elt: cst.BaseExpression, frame: Frame, out: list[Value], maybe: list[bool]
    ) -> tuple[bool, bool]:
        """(exact, looped): ``looped`` when the loop ran over all its known items (only filters may be
        unsure)."""
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

    def _comp_seq(self, node: cst.BaseSimpleComp, frame: Frame, kind: str) -> Value:
        items, exact, maybe = self.comprehension(node, frame)
        if exact:
            return Seq(items, kind)
        if kind == "tuple" and maybe is not None and not any(is_none(v) for v in items):
            # ``tuple(v for v in [hidden, cache, attentions] if v is not None)``, the tuple form of a model's
            # output: like a ModelOutput, known up to the first item a filter might drop
            return Record(
                {f"[{i}]": Union([v, Const(None)]) if m else v for i, (v, m) in enumerate(zip(items, maybe))}
            )
        return Seq([self.join_all(items)], kind, repeated=True)

    def eval_ListComp(self, node: cst.ListComp, frame: Frame) -> Value:
        return self._comp_seq(node, frame, "list")

    def eval_GeneratorExp(self, node: cst.GeneratorExp, frame: Frame) -> Value:
        return self._comp_seq(node, frame, "tuple")

    def eval_SetComp(self, node: cst.SetComp, frame: Frame) -> Value:
        return self._comp_seq(node, frame, "list")

    def eval_DictComp(self, node: cst.DictComp, frame: Frame) -> Value:
        return UNKNOWN
