"""Followed imports: the project's other modules, loaded lazily and run binding by binding."""

from __future__ import annotations

import os

from densecheck.engine.base import EngineBase
from densecheck.engine.limits import MAX_DEPTH, MAX_FOLLOWED_MODULES, Frame
from densecheck.engine.project import parse_module, reexports
from densecheck.engine.sites import ModuleContext, top_level_bindings
from densecheck.engine.values import (
    ClassV,
    Const,
    Function,
    Instance,
    Layer,
    Partial,
    Ref,
    Sequential,
    Value,
)


class ImportsMixin(EngineBase):
    """Loading the project's other modules."""

    # --------------------------------------------------------------------------- followed imports (project)
    def load_module(self, name: str) -> ModuleContext | None:
        """Project module ``name``, its top level run (definitions, imports, constants), or None when it is
        not the project's, cannot be parsed, or the per-file limit of followed modules is reached."""
        if name in self.modules:
            return self.modules[name]
        self.modules[name] = None
        path = self.project.find(name) if self.project is not None else None
        if (
            path is None
            or os.path.abspath(path) == os.path.abspath(self.path)
            or sum(c is not None for c in self.modules.values()) >= MAX_FOLLOWED_MODULES
        ):
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
        """``name`` in ``ctx``'s globals; for a followed module, first running the top-level statements that
        bind it (a module whose one class is used costs that class's definition, not the whole file's top
        level)."""
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
                target = (
                    reexports(
                        path, module if path.endswith("__init__.py") else module.rpartition(".")[0]
                    ).get(parts[i])
                    if path
                    else None
                )
                if target is None or self.depth >= MAX_DEPTH:
                    return None
                self.depth += 1
                try:
                    return self.project_value(".".join([target, *parts[i + 1 :]]))
                finally:
                    self.depth -= 1
            v: Value | None = self.module_global(ctx, parts[i])
            for attr in parts[i + 1 :]:
                v = self.getattr(v, attr) if v is not None else None
            if isinstance(v, Ref) and v.qualname != qualname and self.depth < MAX_DEPTH:
                self.depth += 1  # a re-export (``from .blocks import Block`` in an __init__.py)
                try:
                    v = self.project_value(v.qualname)
                finally:
                    self.depth -= 1
            return v if isinstance(v, (ClassV, Function, Partial, Instance, Layer, Sequential)) else None
        return None
