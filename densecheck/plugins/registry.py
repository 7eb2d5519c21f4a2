"""The plugin registry: every plugin under ``densecheck/plugins/``, their tables merged, read by the engine.

A plugin is found by being there: each module or package of this package (other than ``base`` and
``registry``) that exports ``PLUGIN``. Nothing outside densecheck's own folder is loaded, so what a checked
tree or the Python environment holds cannot change results. Two plugins claiming one name is an error at load
time (a test loads them all), so the merge order never matters.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from densecheck.plugins.base import (
    AnnotationHook,
    AttributeHook,
    CallHook,
    LayerSpec,
    MethodImpl,
    OpSpec,
    Plugin,
    SpecialCall,
)
from densecheck.shapes import Shape

if TYPE_CHECKING:
    from densecheck.engine.values import Value

_NOT_PLUGINS = frozenset({"base", "registry"})
T = TypeVar("T")


class PluginConflict(Exception):
    """Two plugins claim the same name in one table."""


def _merged(plugins: Iterable[Plugin], table: Callable[[Plugin], Mapping[str, T]], what: str) -> dict[str, T]:
    out: dict[str, T] = {}
    owner: dict[str, str] = {}
    for p in plugins:
        for k, v in table(p).items():
            if k in out and out[k] is not v:
                raise PluginConflict(f"{what} {k!r} is claimed by plugins {owner[k]!r} and {p.name!r}")
            out[k] = v
            owner[k] = p.name
    return out


@dataclass(frozen=True)
class Registry:
    """The plugins' tables, merged. Built once per process (:func:`registry`)."""

    plugins: tuple[Plugin, ...]

    @functools.cached_property
    def by_name(self) -> dict[str, Plugin]:
        return {p.name: p for p in self.plugins}

    @functools.cached_property
    def layers(self) -> dict[str, LayerSpec]:
        return _merged(self.plugins, lambda p: p.layers, "layer")

    @functools.cached_property
    def functions(self) -> dict[str, OpSpec]:
        return _merged(self.plugins, lambda p: p.functions, "function")

    @functools.cached_property
    def tensor_methods(self) -> dict[str, OpSpec]:
        return _merged(self.plugins, lambda p: p.tensor_methods, "tensor method")

    @functools.cached_property
    def tensor_results(self) -> frozenset[str]:
        return frozenset().union(*(p.tensor_results for p in self.plugins))

    @functools.cached_property
    def calls(self) -> dict[str, SpecialCall]:
        return _merged(self.plugins, lambda p: p.calls, "call")

    @functools.cached_property
    def subscripts(self) -> dict[str, Callable[[], Value]]:
        return _merged(self.plugins, lambda p: p.subscripts, "subscript")

    @functools.cached_property
    def module_methods(self) -> dict[str, MethodImpl | None]:
        return _merged(self.plugins, lambda p: p.module_methods, "module method")

    @functools.cached_property
    def layer_methods(self) -> dict[str, MethodImpl]:
        return _merged(self.plugins, lambda p: p.layer_methods, "layer method")

    @functools.cached_property
    def containers(self) -> dict[str, SpecialCall]:
        return _merged(self.plugins, lambda p: p.containers, "container base")

    @functools.cached_property
    def entry_inputs(self) -> dict[str, Shape]:
        return _merged(self.plugins, lambda p: p.entry_inputs, "entry input")

    @functools.cached_property
    def entry_omitted(self) -> frozenset[str]:
        return frozenset().union(*(p.entry_omitted for p in self.plugins))

    @functools.cached_property
    def module_bases(self) -> frozenset[str]:
        return frozenset(b for p in self.plugins for b in p.module_bases)

    @functools.cached_property
    def call_methods(self) -> tuple[str, ...]:
        """The methods that run a model, in lookup order; ``__call__`` (plain Python) last."""
        return (*(m for p in self.plugins for m in p.call_methods), "__call__")

    @functools.cached_property
    def layer_attributes(self) -> frozenset[str]:
        return frozenset().union(*(p.layer_attributes for p in self.plugins))

    @functools.cached_property
    def record_bases(self) -> tuple[str, ...]:
        return tuple(b for p in self.plugins for b in p.record_bases)

    @functools.cached_property
    def record_roots(self) -> tuple[str, ...]:
        return tuple(b for p in self.plugins for b in p.record_roots)

    @functools.cached_property
    def tensor_types(self) -> frozenset[str]:
        return frozenset().union(*(p.tensor_types for p in self.plugins))

    @functools.cached_property
    def roots(self) -> frozenset[str]:
        return frozenset(r for p in self.plugins for r in p.roots)

    @functools.cached_property
    def libraries(self) -> frozenset[str]:
        return frozenset(lib for p in self.plugins for lib in p.libraries)

    @functools.cached_property
    def attribute_hooks(self) -> tuple[AttributeHook, ...]:
        return tuple(p.attribute for p in self.plugins if p.attribute is not None)

    @functools.cached_property
    def inherited_hooks(self) -> tuple[AttributeHook, ...]:
        return tuple(p.inherited for p in self.plugins if p.inherited is not None)

    @functools.cached_property
    def resolve_hooks(self) -> tuple[CallHook, ...]:
        return tuple(p.resolve for p in self.plugins if p.resolve is not None)

    @functools.cached_property
    def annotation_hooks(self) -> tuple[AnnotationHook, ...]:
        return tuple(p.annotation for p in self.plugins if p.annotation is not None)

    @functools.cached_property
    def candidate_names(self) -> tuple[str, ...]:
        """Names one of which a file must contain to hold a reported layer: the last part of every
        Dense/Linear name (``Dense``, ``Linear``; ``LazyLinear`` contains ``Linear``)."""
        names = {spec.short for spec in self.layers.values() if spec.dense}
        return tuple(sorted(n for n in names if not any(m != n and m in n for m in names)))

    def canonical(self, qualname: str) -> str:
        """The name the tables use for one of an API's many spellings (each plugin normalises its own)."""
        for p in self.plugins:
            if p.canonical is not None:
                c = p.canonical(qualname)
                if c is not None:
                    return c
        return qualname

    def plugin(self, framework: str) -> Plugin | None:
        return self.by_name.get(framework)


def discover() -> tuple[Plugin, ...]:
    """Every plugin of this package, by ``order`` then name."""
    import densecheck.plugins as package

    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name in _NOT_PLUGINS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        plugin = getattr(module, "PLUGIN", None)
        if isinstance(plugin, Plugin):
            found.append(plugin)
    return tuple(sorted(found, key=lambda p: p.order))


@functools.lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry(discover())


# --- the engine's lookups
# ----------------------------------------------------------------------------------------


def canonical(qualname: str) -> str:
    return registry().canonical(qualname)


def lookup_layer(canonical_name: str) -> LayerSpec | None:
    return registry().layers.get(canonical_name)


def lookup_function(canonical_name: str) -> OpSpec | None:
    return registry().functions.get(canonical_name)


def is_dense_name(canonical_name: str) -> bool:
    spec = lookup_layer(canonical_name)
    return spec is not None and spec.dense


def candidate_names() -> tuple[str, ...]:
    return registry().candidate_names
