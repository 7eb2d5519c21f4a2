"""The analysed project's own modules: which import names a file of the project, and that file parsed.

Cross-file inference follows an import only into the project the analysed file belongs to, never into an installed
library (the frameworks are known from their tables, not from their source):

* a file inside a package (``src/pkg/models/net.py``, with ``__init__.py`` files) belongs to its top-level package
  (``pkg``); imports of ``pkg.*`` (relative imports included) are followed into ``src/pkg/``, and so are imports of
  sibling top-level packages and modules in ``src/`` -- unless that directory is an installation directory
  (``site-packages``), where other top-level names are other distributions;
* a file outside any package follows imports of the modules and packages next to it (``from blocks import Block``).

Each followed module is parsed once per process (an LRU of parsed trees), never executed.
"""

from __future__ import annotations

import ast
import functools
import os
import warnings
from dataclasses import dataclass
from typing import Any

import libcst as cst

from densecheck.analysis.names import package_of

#: never followed, even when their source sits in the project's directory: their layers come from the tables
FRAMEWORK_PACKAGES = frozenset({"torch", "keras", "tensorflow", "tf_keras", "jax", "flax", "numpy", "einops",
                                "jaxtyping", "typing", "typing_extensions"})
#: a followed module larger than this is not parsed (a generated table, not model code)
MAX_MODULE_BYTES = 1024 * 1024
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
        if top in FRAMEWORK_PACKAGES or (self.installed and top != self.own) or not top.isidentifier():
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


def parse_module(path: str) -> ParsedModule | None:
    """``path`` parsed (cached per process while its size and modification time stay the same); None when it
    cannot be read or parsed -- an import that is not followed, never an error of the importing file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_size > MAX_MODULE_BYTES:
        return None
    return _parse(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _parse(path: str, mtime_ns: int, size: int) -> ParsedModule | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        source = data.decode("utf-8-sig")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)  # bounds the nesting libcst's native parser is handed
        return ParsedModule(path, source, cst.parse_module(source), tree)
    except Exception:  # noqa: BLE001 - any failure: the import is simply not followed
        return None
