"""Calls and argument binding: external names, user functions and classes, instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import libcst as cst

from densecheck.engine.base import EngineBase
from densecheck.engine.helpers import VarArgs, feasible, signature, strip_syms
from densecheck.engine.layercalls import _feature_map, carry_origin
from densecheck.engine.limits import MAX_DEPTH, MAX_FOLLOWED_STEPS, Frame
from densecheck.engine.names import dotted
from densecheck.engine.pybuiltins import BUILTIN_IMPL, STDLIB_CALLS, b_super_init
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
    KerasModel,
    Layer,
    Partial,
    Record,
    Ref,
    Scope,
    Seq,
    Sequential,
    Tensor,
    Union,
    Value,
    join,
    pyvalue,
)
from densecheck.plugins.base import Args
from densecheck.plugins.registry import canonical, lookup_layer, registry
from densecheck.shapes import UNKNOWN as UNKNOWN_SHAPE
from densecheck.shapes import known

if TYPE_CHECKING:
    from densecheck.engine.driver import Interpreter


class CallsMixin(EngineBase):
    """Calling abstract values."""

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
                    args.append(VarArgs(v))
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

    def call(
        self,
        fn: Value,
        args: list[Value],
        kwargs: dict[str, Value],
        node: cst.Call | None = None,
    ) -> Value:
        if isinstance(fn, Union):
            out: Value | None = None
            for f in feasible(fn.options):  # calling ``None`` raises: that path gives no value
                r = self.call(f, args, kwargs, node)
                out = join(out, r) if out is not None else r
            return out or UNKNOWN
        if isinstance(fn, Ref):
            return self.call_ref(canonical(fn.qualname), args, kwargs, node)
        if isinstance(fn, Layer):
            saved, self.call_node = self.call_node, node or self.call_node
            try:
                return self.apply_layer(fn, args, kwargs)
            finally:
                self.call_node = saved
        if isinstance(fn, Sequential):
            saved, self.call_node = self.call_node, node or self.call_node
            try:
                return self.apply_sequential(fn, args[0] if args else UNKNOWN)
            finally:
                self.call_node = saved
        if isinstance(fn, KerasModel):
            return fn.outputs
        if isinstance(fn, Function):
            return self._or_attention(fn, args, kwargs, self.invoke(fn, args, kwargs))
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
    def call_ref(self, q: str, args: list[Value], kwargs: dict[str, Value], node: cst.Call | None) -> Value:
        """A call of an external name: a plugin's layer, callable or function, the standard library's, a
        plugin hook for a family of names, or else the project's own definition of it."""
        reg = registry()
        spec = reg.layers.get(q)
        if spec is not None:
            return self.make_layer(spec, args, kwargs, node)
        special = reg.calls.get(q) or STDLIB_CALLS.get(q)
        if special is not None:
            return special(cast("Interpreter", self), args, kwargs, node)
        op = reg.functions.get(q)
        if op is not None:
            return self.apply_op(op, args, kwargs)
        for hook in reg.resolve_hooks:
            v = hook(cast("Interpreter", self), q, args, kwargs, node)
            if v is not None:
                return v
        target = self.project_value(q)
        if target is None:  # not followed (a library's, or a module of the project's not worth running)
            return self.guess.attention_result(q.rpartition(".")[2], True, args, kwargs) or UNKNOWN
        if isinstance(target, ClassV):
            if self._is_module_class(target):
                return self.call(target, args, kwargs, node)  # a model block: as much budget as local code
            # another file's plain class (a cache, a config, a data holder): machinery, whose state would only
            # stand in for what the model's own code says (a cache's flags steer branches the model code
            # guards)
            return UNKNOWN
        # a function of the project's (a shape helper, a decorator factory) gets a bounded number of steps: a
        # helper fits, library-sized machinery returns unknown instead of costing seconds
        out = self.bounded(lambda: self.call(target, args, kwargs, node), MAX_FOLLOWED_STEPS)
        return self._or_attention(target, args, kwargs, out) if isinstance(target, Function) else out

    def _or_attention(self, fn: Function, args: list[Value], kwargs: dict[str, Value], out: Value) -> Value:
        """What an attention function the analysis could not follow gives (``attention-names``)."""
        if out is not UNKNOWN or not isinstance(fn.node, cst.FunctionDef):
            return out
        returns = fn.node.returns
        hint = self.annotation_value(returns.annotation, Frame(fn.scope)) if returns is not None else None
        tensor = isinstance(hint, Tensor)
        return self.guess.attention_result(fn.node.name.value, tensor, args, kwargs) or out

    def bind(
        self,
        params: Sequence[str],
        args: list[Value],
        kwargs: dict[str, Value],
        varargs: str | None = None,
    ) -> dict[str, Value]:
        bound: dict[str, Value] = {}
        if varargs is not None and params and params[0] == varargs:
            if len(args) == 1 and isinstance(args[0], (Seq, VarArgs)):
                bound[varargs] = args[0].value if isinstance(args[0], VarArgs) else args[0]
            elif len(args) == 1 and not isinstance(args[0], (Const, DimV)):
                bound[varargs] = UNKNOWN  # x.view(shape) with a shape we cannot see: not a 1-d shape
            elif args:
                if any(isinstance(a, VarArgs) for a in args):
                    bound[varargs] = UNKNOWN
                else:
                    bound[varargs] = Seq(list(args))
            rest_params = params[1:]
            rest_args: list[Value] = []
        else:
            rest_params, rest_args = params, args
        for i, a in enumerate(rest_args):
            if isinstance(a, VarArgs):
                break
            if i < len(rest_params):
                bound[rest_params[i]] = a
        for k, v in kwargs.items():
            bound[k] = v
        return bound

    def layer_args(
        self,
        spec_params: Sequence[str],
        defaults: Mapping[str, Any],
        bound: dict[str, Value],
        keep_syms: bool = False,
    ) -> Args:
        vals: dict[str, Any] = dict(defaults)
        shapes: dict[str, Any] = {}
        for k, v in bound.items():
            pv = pyvalue(v)
            if not keep_syms:
                pv = strip_syms(pv)
            vals[k] = pv
            if isinstance(v, Tensor):
                shapes[k] = v.shape
            elif isinstance(v, Seq) and v.items and all(isinstance(x, Tensor) for x in v.items):
                shapes[k] = [cast(Tensor, x).shape for x in v.items]
        return Args(vals, shapes)

    @staticmethod
    def _reused(hit: Value, args: list[Value]) -> Value:
        """A memoised result given to a new call: the same shape, but made from this call's inputs (the memo
        key is shapes only; which Dense/Linear made an input is not part of it)."""
        if isinstance(hit, Tensor) and hit.origin is None:
            out = Tensor(hit.shape, rank_from=hit.rank_from)
            carry_origin(args, out)
            return out if out.origin is not None else hit
        return hit

    def _entry_tensor(self, name: str, fn: Function, optional: bool = False) -> Tensor:
        """An entry point's input nobody passes: its rank as its docstring gives it, else by the naming
        convention, if either says. An optional input (None by default) takes no shape from the docstring:
        what it documents is the input one passes, not what the code does with it when none is passed
        (a documented (batch, choices, tokens) extra input the code never reshapes)."""
        node = fn.node
        doc = node.get_docstring() if isinstance(node, cst.FunctionDef) and not optional else None
        shape = self.guess.docstring_input(doc, name)
        if shape.rank is not None:
            return Tensor(shape, rank_from=f"the docstring of {fn.qualname}")
        shape = self.guess.entry_input(name)
        return Tensor(shape, rank_from=f"the conventional input {name!r}" if shape.rank is not None else None)

    # --- user code --------------------------------------------------------------------------------------
    def invoke(
        self,
        fn: Function,
        args: list[Value],
        kwargs: dict[str, Value],
        self_value: Value | None = None,
        entry: bool = False,
    ) -> Value:
        self.invoked.add(id(fn))
        if self.depth >= MAX_DEPTH or sum(1 for f in self.frames if f.func is fn) >= 2:
            return UNKNOWN
        key = None
        if fn.qualname != "__init__":
            key = signature((fn.node, self_value, entry), args, kwargs)
            if key is not None:
                hit = self.call_cache.get(key)
                if hit is not None:
                    return self._reused(hit, args)
        result = self._invoke(fn, args, kwargs, self_value, entry)
        if key is not None:
            self.call_cache[key] = result
        return result

    def _invoke(
        self,
        fn: Function,
        args: list[Value],
        kwargs: dict[str, Value],
        self_value: Value | None,
        entry: bool,
    ) -> Value:
        node = fn.node
        scope = Scope(parent=fn.scope)
        frame = Frame(scope, self_value, fn)
        params = node.params
        positional = list(params.posonly_params) + list(params.params)
        args = list(args)
        decorators: set[str] = getattr(fn, "decorators", set())
        if self_value is not None and positional and "staticmethod" not in decorators:
            scope.vars[positional[0].name.value] = self_value
            positional = positional[1:]
        tensor_default = entry and fn.qualname in registry().call_methods
        extra: list[Value] = []
        for i, a in enumerate(args):
            if isinstance(a, VarArgs):
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
                    if (
                        tensor_default
                        and isinstance(d, Const)
                        and d.value is None
                        and n not in registry().entry_omitted
                    ):
                        # an optional input of an entry point: None, or a tensor the caller passes
                        d = Union([d, self._entry_tensor(n, fn, optional=True)])
                    elif entry and fn.qualname == "__init__" and isinstance(d, Const) and d.value is None:
                        d = self.guess.optional_setting(d)
                    scope.vars[n] = d
                else:
                    hint = self.annotation_value(p.annotation.annotation, frame) if p.annotation else None
                    vague = hint is None or (isinstance(hint, Tensor) and hint.shape.rank is None)
                    if tensor_default and vague:
                        entry_t = self._entry_tensor(n, fn)
                        hint = entry_t if hint is None or entry_t.shape.rank is not None else hint
                    if hint is not None:
                        scope.vars[n] = hint
                    else:
                        scope.vars[n] = self.guess.int_name(n)
        if isinstance(params.star_arg, cst.Param):
            scope.vars[params.star_arg.name.value] = (
                Seq(extra) if not any(isinstance(a, VarArgs) for a in args) else Seq([UNKNOWN], repeated=True)
            )
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
        """Shape hints from annotations: a plugin's ``Head[Tensor, spec]`` (jaxtyping) and a plain tensor
        type."""
        if isinstance(ann, cst.Subscript) and len(ann.slice) == 2:
            head = self.eval(ann.value, frame)
            spec = ann.slice[1].slice
            if isinstance(head, Ref) and isinstance(spec, cst.Index):
                for hook in registry().annotation_hooks:
                    hint = hook(
                        cast("Interpreter", self), head.qualname, lambda: self.eval(spec.value, frame)
                    )
                    if hint is not None:
                        return hint
        if isinstance(ann, (cst.Name, cst.Attribute)):
            v = self.eval(ann, frame)
            if isinstance(v, Ref) and canonical(v.qualname) in registry().tensor_types:
                return Tensor(UNKNOWN_SHAPE)
        return None

    def instantiate(
        self, cls: ClassV, args: list[Value], kwargs: dict[str, Value], entry: bool = False
    ) -> Value:
        self.instantiated.add(id(cls))
        # a subclass of a framework layer without its own forward/call behaves as that layer
        if cls.lookup("forward") is None and cls.lookup("call") is None:
            for b in cls.external_bases():
                spec = lookup_layer(b)
                if spec is not None and not spec.dense:
                    return self.make_layer(spec, args, kwargs, None)
        if cls.lookup("__init__") is None and (
            any(b.startswith(registry().record_bases) for b in cls.external_bases())
            or any(
                "dataclass"
                in (dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "")
                for d in cls.node.decorators
            )
        ):
            return self.make_record(cls, args, kwargs)
        key = signature((cls,), args, kwargs)
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
            b_super_init(cast("Interpreter", self), Builtin("super.__init__", inst), args, kwargs)
        return inst

    def declared_fields(self, cls: ClassV) -> list[str] | None:
        """A dataclass's fields in declaration order, its bases' first (as ``dataclasses`` orders them); None
        when a base's fields cannot be read (a library output class the project does not include)."""
        out: list[str] = []
        for c in reversed(cls.mro()):
            for b in c.bases:
                if (
                    isinstance(b, Ref)
                    and b.qualname.startswith(registry().record_bases)
                    and not b.qualname.endswith(registry().record_roots)
                    and self.depth < MAX_DEPTH
                ):
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
                if (
                    isinstance(st, cst.SimpleStatementLine)
                    and isinstance(st.body[0], cst.AnnAssign)
                    and isinstance(st.body[0].target, cst.Name)
                    and st.body[0].target.value not in out
                ):
                    out.append(st.body[0].target.value)
        return out

    def make_record(self, cls: ClassV, args: list[Value], kwargs: dict[str, Value]) -> Record:
        """An output record of ``cls``: its fields in declaration order (what ``out[i]`` / ``to_tuple()``
        index), whatever order the call gave them in; a field not given keeps its default, None."""
        fields = self.declared_fields(cls)
        if fields is None:
            return Record(dict(kwargs))
        given = dict(zip(fields, args))
        given.update(kwargs)
        rec = {f: given.pop(f, Const(None)) for f in fields}
        rec.update(given)
        return Record(rec)

    def call_instance(
        self, inst: Instance, args: list[Value], kwargs: dict[str, Value], entry: bool = False
    ) -> Value:
        self.called.add(id(inst.cls))
        method = next((m for m in map(inst.cls.lookup, registry().call_methods) if m is not None), None)
        build = inst.cls.lookup("build")
        if isinstance(build, Function) and not inst.built:
            inst.built = True
            x = args[0] if args else UNKNOWN
            shape_v = (
                Seq([Const(d) if known(d) else UNKNOWN for d in x.shape.dims])
                if isinstance(x, Tensor) and x.shape.dims is not None
                else UNKNOWN
            )
            self.invoke(build, [shape_v], {}, self_value=inst)
        # a model called by its user: at a module's top level or as an entry point (a block or a Keras layer
        # called from a function, as functional code does, is not a model's output)
        outermost = entry or not any(f.func is not None for f in self.frames)
        if isinstance(method, Function):
            out = self.invoke(method, args, kwargs, self_value=inst, entry=entry)
        else:
            seq = inst.attrs.get("__sequential__")
            if isinstance(seq, Sequential):
                out = self.apply_sequential(seq, args[0] if args else UNKNOWN)
            else:
                out = Tensor(UNKNOWN_SHAPE) if args else UNKNOWN
        if (
            outermost
        ):  # a model called by its user, not a block called by a model: what it gives is its output
            self.model_outputs.append(out)
        elif isinstance(out, Tensor) and out.origin is not None and out.origin.residual and _feature_map(out):
            # a block that gives back its input plus a per-position branch (a ConvNeXt block): the branch's
            # Denses are inside the network, whatever the caller does next (another block, an endpoint)
            for rep in out.origin.chain:
                rep.feeds_feature_map = True
        return out

    # --- builtins ---------------------------------------------------------------------------------------
    def call_builtin(
        self, b: Builtin, args: list[Value], kwargs: dict[str, Value], node: cst.Call | None
    ) -> Value:
        if b.impl is not None:  # a plugin's method, or a tensor method
            return b.impl(cast("Interpreter", self), b, args, kwargs)
        handler = BUILTIN_IMPL.get(b.name)
        if handler is not None:
            return handler(cast("Interpreter", self), b, args, kwargs)
        return UNKNOWN
