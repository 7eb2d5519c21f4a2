"""The typed base the interpreter's mixins share.

:class:`~densecheck.engine.driver.Interpreter` is composed of mixins (statements, expressions, calls, layers,
attributes, imports), each calling methods another one defines. ``EngineBase`` declares, for the type
checker only, the interpreter's state and the methods one mixin uses from another; the real definitions in
the mixins and the driver override these declarations (mypy checks that their signatures agree). At run time
it is an empty class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import libcst as cst

    from densecheck.engine.heuristics import Heuristics
    from densecheck.engine.limits import Frame
    from densecheck.engine.project import Project
    from densecheck.engine.sites import ModuleContext, SiteFinder
    from densecheck.engine.values import ClassV, Function, Instance, Layer, Scope, Sequential, Value
    from densecheck.layers import LayerReport
    from densecheck.plugins.base import LayerSpec, OpSpec
    from densecheck.shapes.rules import Args


class EngineBase:
    """The interpreter's state and cross-mixin methods, as the type checker sees them."""

    # -- state (set by Interpreter.__init__) ----------------------------------------------------------------
    main: ModuleContext
    guess: Heuristics
    module: cst.Module
    path: str
    project: Project | None
    modules: dict[str, ModuleContext | None]
    sites: dict[cst.Call, LayerReport]
    owners: dict[int, ModuleContext]
    steps: int
    limit: int
    depth: int
    frames: list[Frame]
    classes: list[ClassV]
    functions: list[Function]
    instantiated: set[int]
    called: set[int]
    invoked: set[int]
    context: dict[cst.Call, tuple[str | None, str | None]]
    globals: Scope
    entries: list[ClassV]
    instance_cache: dict[tuple[Any, ...], Instance]
    call_cache: dict[tuple[Any, ...], Value]
    model_outputs: list[Value]
    loose_models: list[Sequential]
    call_node: cst.Call | None

    if TYPE_CHECKING:
        # -- driver
        def tick(self) -> None: ...

        def bounded(self, run: Callable[[], Value], steps: int) -> Value: ...

        def _register_sites(self, ctx: ModuleContext, finder: SiteFinder, report: bool = True) -> None: ...

        def _report_for(self, node: cst.Call, spec: LayerSpec | None) -> LayerReport | None: ...

        def where(self, node: cst.CSTNode) -> str | None: ...

        # -- statements
        def exec_block(self, body: Sequence[cst.CSTNode], frame: Frame) -> bool: ...

        def exec_stmt(self, stmt: cst.CSTNode, frame: Frame) -> bool: ...

        def narrowing(self, test: cst.BaseExpression, frame: Frame) -> tuple[str, Value, Value] | None: ...

        def iteration(self, it: Value) -> tuple[list[Value], bool]: ...

        @staticmethod
        def join_all(items: list[Value]) -> Value: ...

        def _is_module_class(self, cls: ClassV, seen: frozenset[int] = frozenset()) -> bool: ...

        def assign(self, target: cst.BaseExpression, value: Value, frame: Frame) -> None: ...

        # -- expressions
        def eval(self, node: cst.BaseExpression | None, frame: Frame) -> Value: ...

        def truth(self, v: Value) -> bool | None: ...

        def binop(self, opcls: type[cst.BaseBinaryOp], a: Value, b: Value) -> Value: ...

        # -- calls
        def call(
            self,
            fn: Value,
            args: list[Value],
            kwargs: dict[str, Value],
            node: cst.Call | None = None,
        ) -> Value: ...

        def bind(
            self,
            params: Sequence[str],
            args: list[Value],
            kwargs: dict[str, Value],
            varargs: str | None = None,
        ) -> dict[str, Value]: ...

        def layer_args(
            self,
            spec_params: Sequence[str],
            defaults: Mapping[str, Any],
            bound: dict[str, Value],
            keep_syms: bool = False,
        ) -> Args: ...

        def invoke(
            self,
            fn: Function,
            args: list[Value],
            kwargs: dict[str, Value],
            self_value: Value | None = None,
            entry: bool = False,
        ) -> Value: ...

        def annotation_value(self, ann: cst.BaseExpression, frame: Frame) -> Value | None: ...

        # -- layers
        def make_layer(
            self, spec: LayerSpec, args: list[Value], kwargs: dict[str, Value], node: cst.Call | None
        ) -> Value: ...

        def apply_layer(self, layer: Layer, args: list[Value], kwargs: dict[str, Value]) -> Value: ...

        def apply_sequential(self, seq: Sequential, x: Value) -> Value: ...

        def apply_op(
            self,
            op: OpSpec,
            args: list[Value],
            kwargs: dict[str, Value],
            self_value: Value | None = None,
            self_param: str = "input",
        ) -> Value: ...

        # -- attributes
        def getattr(self, v: Value, name: str) -> Value: ...

        # -- imports
        def module_global(self, ctx: ModuleContext, name: str) -> Value | None: ...

        def project_value(self, qualname: str) -> Value | None: ...
