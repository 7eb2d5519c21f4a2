"""The analysed project's own modules: which import names a file of the project, and that file parsed.

Cross-file inference follows an import only into the project the analysed file belongs to, never into an
installed library (the frameworks are known from their tables, not from their source):

* a file inside a package (``src/pkg/models/net.py``, with ``__init__.py`` files) belongs to its top-level
  package (``pkg``); imports of ``pkg.*`` (relative imports included) are followed into ``src/pkg/``, and so
  are imports of sibling top-level packages and modules in ``src/`` -- unless that directory is an
  installation directory (``site-packages``), where other top-level names are other distributions;
* a file outside any package follows imports of the modules and packages next to it (``from blocks import
  Block``).

Each followed module is parsed once per process (an LRU of parsed trees), never executed.
"""

from __future__ import annotations

import ast
import functools
import gc
import os
import re
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import libcst as cst

from densecheck.engine.names import package_of
from densecheck.plugins.registry import candidate_names, registry

if TYPE_CHECKING:
    from densecheck.engine.sites import SiteFinder

#: never followed, even when their source sits in the project's directory: the plugins' libraries (their
#: layers come from the tables) and these
NEVER_FOLLOWED = frozenset({"jax", "flax", "numpy", "typing", "typing_extensions"})


@functools.lru_cache(maxsize=1)
def framework_packages() -> frozenset[str]:
    return NEVER_FOLLOWED | registry().libraries


@functools.lru_cache(maxsize=1)
def _framework_import() -> re.Pattern[str]:
    """A top-level import of a framework (a mention in a string or a guarded import does not make a shape
    helper)."""
    roots = "|".join(sorted(map(re.escape, registry().roots)))
    return re.compile(rf"^(?:import|from)[ \t]+(?:{roots})\b", re.MULTILINE)


#: a followed module larger than this is not parsed (library machinery or generated tables, not a model's
# blocks)
MAX_MODULE_BYTES = 256 * 1024
#: a module that holds no Dense/Linear is still followed when it is this small and uses a framework (a shape
# helper)
MAX_HELPER_BYTES = 32 * 1024
#: parsed modules kept per process, in source bytes (a libcst tree takes ~80 bytes of memory per source byte)
CACHE_BYTES = 2 * 1024 * 1024
_INSTALL_DIRS = ("site-packages", "dist-packages")


@dataclass(frozen=True)
class Project:
    """Where the modules importable by one analysed file live."""

    root: str  # the directory holding the file's top-level package (or the file itself, outside packages)
    own: str | None  # the file's top-level package, None outside packages
    installed: bool  # root is an installation directory: follow only ``own``

    @classmethod
    def of(cls, path: str) -> Project | None:
        if path.startswith("<"):
            return None
        path = os.path.abspath(path)
        package = package_of(path)
        if package is None:
            root, own = os.path.dirname(path), None
        else:
            own = package.split(".")[0]
            root = os.path.dirname(path)
            for _ in package.split("."):
                root = os.path.dirname(root)
        return cls(root, own, os.path.basename(root) in _INSTALL_DIRS)

    def find(self, module: str) -> str | None:
        """The file of project module ``module`` (dotted), or None when it is not the project's."""
        top = module.split(".")[0]
        if top in framework_packages() or (self.installed and top != self.own) or not top.isidentifier():
            return None
        return _find(self.root, module)


@functools.lru_cache(maxsize=4096)
def _find(root: str, module: str) -> str | None:
    base = os.path.join(root, *module.split("."))
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return None


@dataclass
class ParsedModule:
    path: str
    source: str
    module: cst.Module
    tree: Any  # CPython's ast of the same text
    #: what the analysis derives from the tree alone (its call sites and their positions), computed once per
    #: process by whoever first needs it
    syntax: tuple[SiteFinder, Any] | None = None
    bindings: Any = None


def holds_layers(source: str) -> bool:
    return any(name in source for name in candidate_names())


@functools.lru_cache(maxsize=1)
def _block_class() -> re.Pattern[str]:
    """A class deriving from a framework's module base by its usual spelling (``class Encoder(nn.Module)``,
    ``(keras.layers.Layer)``): the module defines model blocks."""
    names = sorted({b.rpartition(".")[2] for b in registry().module_bases})
    return re.compile(rf"^class[ \t]+\w+\([^)]*\b(?:{'|'.join(map(re.escape, names))})\b", re.MULTILINE)


def followable(source: str) -> bool:
    """Whether a project module is worth running for the files that import it: it holds Dense/Linear layers,
    it defines model blocks and imports a framework (a VAE's Encoder built from blocks of a third file that
    hold the Linears), or it is a small module importing a framework (shape helpers). Others (logging,
    configuration, import machinery) are not followed: calling into them stays unknown, as it would without
    cross-file inference."""
    if holds_layers(source):
        return True
    if _framework_import().search(source) is None:
        return False
    return len(source) <= MAX_HELPER_BYTES or _block_class().search(source) is not None


def layers_file(path: str) -> bool:
    """Whether a file on disk is followed and holds Dense/Linear layers (can receive shapes from its
    importers)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_size <= MAX_MODULE_BYTES and _layers_file(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4096)
def _layers_file(path: str, mtime_ns: int, size: int) -> bool:
    source = _read(path)
    return source is not None and holds_layers(source)


def feeds_layers(path: str, project: Project) -> bool:
    """Whether a project module on disk can take shapes to layers: it holds Dense/Linear layers, or it is a
    module of blocks (:func:`followable` without layers of its own) that imports one that does (a U-Net's
    blocks file, whose attention blocks hold the Linears)."""
    if layers_file(path):
        return True
    try:
        st = os.stat(path)
    except OSError:
        return False
    return st.st_size <= MAX_MODULE_BYTES and _feeds_layers(path, st.st_mtime_ns, st.st_size, project)


@functools.lru_cache(maxsize=4096)
def _feeds_layers(path: str, mtime_ns: int, size: int, project: Project) -> bool:
    source = _read(path)
    if source is None or not followable(source):
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    from densecheck.engine.names import package_of

    package = package_of(path)
    for module in set(imported_modules(tree, package)):
        found = project.find(module)
        if found is not None and layers_file(found):
            return True
    return False


def _absolute(node: ast.ImportFrom, package: str | None) -> str | None:
    """The absolute module a ``from ... import`` names ("" for ``from . import x`` at the top of a package);
    None when a relative import climbs above the top-level package."""
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None
    return ".".join(p for p in [*parts[: len(parts) - (node.level - 1)], node.module or ""] if p)


def imported_modules(tree: ast.Module, package: str | None) -> Iterator[str]:
    """The absolute names of the modules a CPython tree imports from (``from .blocks import X`` in package
    ``pkg`` -> ``pkg.blocks``, ``pkg.blocks.X``: the name may be a submodule), anywhere in the file."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            if base is None:
                continue
            if base:
                yield base
            for alias in node.names:
                if alias.name != "*":
                    yield f"{base}.{alias.name}" if base else alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name


def parse_module(path: str) -> ParsedModule | None:
    """``path`` parsed (cached per process while its size and modification time stay the same); None when it
    cannot be read or parsed, or is not :func:`followable` -- an import that is not followed, never an error
    of the importing file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_size > MAX_MODULE_BYTES:
        return None
    key = (path, st.st_mtime_ns, st.st_size)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    parsed = _parse(path)
    _CACHE[key] = parsed
    global _cached_bytes
    _cached_bytes += st.st_size if parsed is not None else 0
    while _cached_bytes > CACHE_BYTES and len(_CACHE) > 1:
        (_, _, size), old = _CACHE.popitem(last=False)
        _cached_bytes -= size if old is not None else 0
    return parsed


_CACHE: OrderedDict[tuple[str, int, int], ParsedModule | None] = OrderedDict()
_cached_bytes = 0


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


def _parse(path: str) -> ParsedModule | None:
    source = _read(path)
    if source is None or not followable(source):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)  # bounds the nesting libcst's native parser is handed
        parsed = ParsedModule(path, source, cst.parse_module(source), tree)
    except Exception:  # noqa: BLE001 - any failure: the import is simply not followed
        return None
    global _unsettled
    _unsettled = True
    return parsed


_unsettled = False


def settle() -> None:
    """Between two files' analyses: move the parsed trees cached since the last call out of the cyclic garbage
    collector's sight (``gc.freeze``). A cached tree lives for many analyses, and every full collection would
    walk its ~100k objects again, slowing down every later analysis in the process. Called when nothing of an
    analysis is alive any more, so only the caches are frozen."""
    global _unsettled
    if _unsettled:
        _unsettled = False
        gc.collect()
        gc.freeze()


@functools.lru_cache(maxsize=1024)
def reexports(path: str, package: str | None) -> dict[str, str]:
    """The names a module binds by importing them at its top level (``from .layers import Block`` in a
    package's ``__init__.py``): local name -> qualified name. Read with CPython's parser, so a module that is
    not followed (:func:`followable`) still passes on what it re-exports."""
    source = _read(path)
    if source is None:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except Exception:  # noqa: BLE001 - unreadable: nothing re-exported
        return {}
    out: dict[str, str] = {}
    stack = list(tree.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            if base is None:
                continue
            for alias in node.names:
                if alias.name != "*":
                    out.setdefault(alias.asname or alias.name, f"{base}.{alias.name}" if base else alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    out.setdefault(alias.asname, alias.name)
        elif isinstance(node, (ast.If, ast.Try)):
            stack.extend(node.body)
            stack.extend(getattr(node, "orelse", []))
    return out
