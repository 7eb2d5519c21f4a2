"""Name resolution without executing anything: which qualified name does an expression refer to?

``import torch.nn as nn`` makes ``nn.Linear`` mean ``torch.nn.Linear``; ``from tensorflow.keras.layers import
Dense as D`` makes ``D`` mean ``tensorflow.keras.layers.Dense``. A class defined in the file shadows an import
of the same name, so a local ``class Linear`` is never mistaken for ``torch.nn.Linear``.
"""

from __future__ import annotations

import functools
import os

import libcst as cst


@functools.lru_cache(maxsize=4096)
def _package_of_dir(directory: str) -> str | None:
    if not os.path.isfile(os.path.join(directory, "__init__.py")):
        return None
    parent = os.path.dirname(directory)
    outer = _package_of_dir(parent) if parent != directory else None
    name = os.path.basename(directory)
    return f"{outer}.{name}" if outer else name


def package_of(path: str) -> str | None:
    """The dotted package a file belongs to (``.../transformers/models/bert/x.py`` ->
    ``transformers.models.bert``), found from ``__init__.py`` files on disk; None outside a package. Used to
    resolve relative imports."""
    try:
        return _package_of_dir(os.path.dirname(os.path.abspath(path)))
    except (OSError, ValueError):
        return None


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` -> "a.b.c"; None for anything that is not a plain dotted name."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def import_module_name(node: cst.ImportFrom, package: str | None = None) -> str | None:
    mod = dotted(node.module) if node.module is not None else ""
    if mod is None:
        return None
    dots = len(node.relative)
    if dots:
        base = (package or "").split(".")
        base = base[: len(base) - (dots - 1)] if dots > 1 else base
        prefix = ".".join(p for p in base if p)
        return f"{prefix}.{mod}".strip(".") if prefix else ("." * dots + mod)
    return mod


def import_bindings(node: cst.Import | cst.ImportFrom, package: str | None = None) -> list[tuple[str, str]]:
    """(local name, qualified name) pairs bound by an import statement; star imports bind nothing."""
    out: list[tuple[str, str]] = []
    if isinstance(node, cst.Import):
        for alias in node.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                out.append((alias.asname.name.value, full))
            else:
                top = full.split(".", 1)[0]
                out.append((top, top))
        return out
    mod = import_module_name(node, package)
    if mod is None or isinstance(node.names, cst.ImportStar):
        return out
    for alias in node.names:
        name = dotted(alias.name)
        if name is None:
            continue
        local = (
            alias.asname.name.value
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
            else name
        )
        out.append((local, f"{mod}.{name}" if mod else name))
    return out


class ImportTable:
    """All import bindings anywhere in a module (function-local ones included) and the names it defines.

    Filled by a walk (:mod:`densecheck.engine.walk`) calling its ``visit_<NodeType>`` methods."""

    def __init__(self, package: str | None = None) -> None:
        self.names: dict[str, str] = {}
        self.defined: set[str] = set()
        self.package = package

    def visit_Import(self, node: cst.Import) -> None:
        for local, qual in import_bindings(node, self.package):
            self.names.setdefault(local, qual)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        for local, qual in import_bindings(node, self.package):
            self.names.setdefault(local, qual)

    def visit_Module(self, node: cst.Module) -> None:
        for stmt in node.body:
            if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
                self.defined.add(stmt.name.value)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.defined.add(node.name.value)

    def resolve(self, expr: cst.BaseExpression) -> str | None:
        name = dotted(expr)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self.defined:  # a class/function of this file shadows the import: not the framework's
            return None
        qual = self.names.get(head)
        if qual is None:
            return None
        return f"{qual}.{rest}" if rest else qual
