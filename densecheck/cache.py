"""The result cache: a file's results are reused while its content, the settings and densecheck stay the same.

Where: ``.densecheck_cache/`` in the project root (the configuration file's directory, else the current
directory), or ``$DENSECHECK_CACHE_DIR``. The directory carries a ``CACHEDIR.TAG`` (so backup tools skip it)
and a ``.gitignore`` containing ``*``. ``--no-cache`` neither reads nor writes it.

What: one index file per *run key* — densecheck's version, a hash of densecheck's own source (so editing the
engine invalidates the cache during development), the Python and libcst versions, and a hash of every setting
that can change a file's results (rule selection, severities, budgets, per-file ignores and the root they are
relative to; not the output format, the fail level or discovery options). A different run key is a different
index, so a configuration or version change never sees old results. In the index, each file (by absolute path)
has ``[shown path, mtime_ns, size, sha256 of the content, result]``:

* mtime and size unchanged: the result is used without reading the file (a warm run reads one index file);
* mtime or size changed: the file is read and hashed; the same content still reuses the result (``git
  checkout``, ``touch``), other content is analysed again;
* a stamp taken within :data:`RACY_SECONDS` of the write is not trusted (a later edit in the same timestamp
  tick could keep mtime and size): that file is verified by its hash next time, as git does for "racily clean"
  entries.

Writes are atomic (a temporary file, then ``os.replace``); a missing, unreadable or corrupt index or entry is
a cache miss, never an error. Only the most recent :data:`KEEP_INDEXES` indexes are kept.

Trust: the cache directory can arrive with the checked tree (committed in a pull request), so nothing in it is
believed unless this user wrote it. Each index is signed with a per-user random key kept outside the tree
(:func:`machine_secret`); an unsigned or wrongly signed index is ignored. A symlinked cache directory is
neither read nor written, the index is opened without following symlinks and without blocking (a FIFO is
skipped), and a file that is no longer readable is analysed again instead of being served its old result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import stat
import sys
import tempfile
import time
from typing import Any

from densecheck import __version__
from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic
from densecheck.layers import LayerReport
from densecheck.shapes import Shape, Sym
from densecheck.suppressions import Directive

CACHE_DIR_NAME = ".densecheck_cache"
ENV_VAR = "DENSECHECK_CACHE_DIR"
FORMAT = 4  # bump when the index layout changes (2: facts -- notes and directives -- instead of findings;
# 3: the context of each shape; 4: per_sample_output)
CACHEDIR_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by densecheck.\n"
    "# For information about cache directory tags, see https://bford.info/cachedir/\n"
)
RACY_SECONDS = 2.0
KEEP_INDEXES = 8

#: Settings fields that cannot change a file's results (discovery, exit status, where settings came from)
#: (the per-file budgets are not among them: a file over its budget is never cached, any other result holds
# for any
#: budget)
_NOT_RESULT_FIELDS = {
    "exclude",
    "extend_exclude",
    "respect_gitignore",
    "fail_level",
    "trace",
    "config_file",
    "file_timeout",
    "file_memory",
}


# -- the key
# -----------------------------------------------------------------------------------------------------
_source_hash: str | None = None


def source_hash() -> str:
    """sha256 over densecheck's own ``.py`` files (the engine, rules, suppressions, ...), computed once."""
    global _source_hash
    if _source_hash is None:
        root = os.path.dirname(os.path.abspath(__file__))
        h = hashlib.sha256()
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    h.update(os.path.relpath(path, root).encode() + b"\0")
                    try:
                        with open(path, "rb") as fh:
                            h.update(fh.read())
                    except OSError:
                        pass
                    h.update(b"\0")
        _source_hash = h.hexdigest()
    return _source_hash


def settings_fingerprint(settings: Settings) -> dict[str, Any]:
    """The settings that can change a file's results, as plain JSON data."""
    out = {}
    for f in dataclasses.fields(settings):
        if f.name in _NOT_RESULT_FIELDS:
            continue
        value = getattr(settings, f.name)
        out[f.name] = settings.root_dir if f.name == "root" else value
    # settings other modules hang on the object (e.g. api's max_file_bytes) count too
    for name, value in sorted(vars(settings).items()):
        if name not in out and name not in _NOT_RESULT_FIELDS and not name.startswith("_"):
            out[name] = value
    return out


def run_key(settings: Settings) -> str:
    try:
        import libcst

        libcst_version = getattr(libcst, "__version__", None) or getattr(libcst, "LIBCST_VERSION", "?")
    except Exception:  # noqa: BLE001 - the key only needs to be stable
        libcst_version = "?"
    material = {
        "format": FORMAT,
        "densecheck": __version__,
        "source": source_hash(),
        "python": list(sys.version_info[:2]),
        "libcst": str(libcst_version),
        "settings": settings_fingerprint(settings),
    }
    blob = json.dumps(material, sort_keys=True, default=repr).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def cache_dir(settings: Settings) -> str:
    return os.environ.get(ENV_VAR) or os.path.join(settings.root_dir, CACHE_DIR_NAME)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- results <-> JSON
# --------------------------------------------------------------------------------------------
def shape_to_json(shape: Shape, syms: dict[int, int]) -> Any:
    """A Shape as JSON; symbolic dims become ``{"s": k, "n": name}`` with ``k`` shared by the same Sym object
    in one file's results, so joins after loading (``LayerReport.input``) behave exactly as before."""
    dims: list[object] | None = None
    if shape.dims is not None:
        dims = []
        for d in shape.dims:
            if isinstance(d, Sym):
                dims.append({"s": syms.setdefault(id(d), len(syms)), "n": d.name})
            elif isinstance(d, bool):  # a dim computed from a bool (``x.view(True, -1)``): kept as it was
                dims.append({"b": d})
            else:
                dims.append(d)
    return [dims, shape.channel_axis, shape.explicit_layout, shape.spatial, shape.declared]


def shape_from_json(data: Any, syms: dict[int, Sym]) -> Shape:
    dims, channel_axis, explicit, spatial, declared = data
    if dims is not None:
        out = []
        for d in dims:
            if isinstance(d, dict) and isinstance(d.get("b"), bool):
                out.append(d["b"])
            elif isinstance(d, dict):
                k = d["s"]
                if k not in syms:
                    syms[k] = Sym(d.get("n", "?"))
                out.append(syms[k])
            elif d is None or (isinstance(d, int) and not isinstance(d, bool)):
                out.append(d)
            else:
                raise ValueError(f"bad dim {d!r}")
        dims = tuple(out)
    return Shape(dims, channel_axis, bool(explicit), bool(spatial), bool(declared))


_LAYER_FIELDS = [f.name for f in dataclasses.fields(LayerReport) if f.name != "shapes"]
_DIAG_FIELDS = [f.name for f in dataclasses.fields(Diagnostic)]


def layer_to_json(layer: LayerReport, syms: dict[int, int]) -> dict:
    out = {name: getattr(layer, name) for name in _LAYER_FIELDS}
    out["shapes"] = [shape_to_json(s, syms) for s in layer.shapes]
    return out


def layer_from_json(data: dict, syms: dict[int, Sym]) -> LayerReport:
    layer = LayerReport(**{name: data[name] for name in _LAYER_FIELDS})
    layer.shapes = [shape_from_json(s, syms) for s in data["shapes"]]
    return layer


def diagnostic_to_json(d: Diagnostic) -> dict:
    return {name: getattr(d, name) for name in _DIAG_FIELDS}


def diagnostic_from_json(data: dict) -> Diagnostic:
    return Diagnostic(**{name: data[name] for name in _DIAG_FIELDS})


def directive_to_json(d: Directive) -> list:
    return [d.line, d.column, d.end_column, d.kind, None if d.codes is None else list(d.codes)]


def directive_from_json(data: list) -> Directive:
    line, column, end_column, kind, codes = data
    if not (
        all(isinstance(x, int) and not isinstance(x, bool) for x in (line, column, end_column))
        and kind in ("noqa", "ignore", "ignore-file")
        and (codes is None or (isinstance(codes, list) and all(isinstance(c, str) for c in codes)))
    ):
        raise ValueError("not a directive")
    return Directive(line, column, end_column, kind, None if codes is None else tuple(codes))


def result_to_json(result) -> dict:
    syms: dict[int, int] = {}
    return {
        "path": result.path,
        "layers": [layer_to_json(x, syms) for x in result.layers],
        "notes": [diagnostic_to_json(d) for d in result.notes],
        "directives": None
        if result.directives is None
        else [directive_to_json(d) for d in result.directives],
        "internal_error": bool(result.internal_error),
        "foreign": [layer_to_json(x, syms) for x in result.foreign],
    }


def result_from_json(data: dict):
    from densecheck.api import FileResult

    syms: dict[int, Sym] = {}
    return FileResult(
        data["path"],
        layers=[layer_from_json(x, syms) for x in data["layers"]],
        notes=[diagnostic_from_json(d) for d in data["notes"]],
        directives=None
        if data["directives"] is None
        else [directive_from_json(d) for d in data["directives"]],
        internal_error=bool(data["internal_error"]),
        foreign=[layer_from_json(x, syms) for x in data.get("foreign", [])],
    )


# -- the store
# ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Stamp:
    """What a result was computed from: the file's stat before it was read and the hash of the bytes read."""

    mtime_ns: int | None
    size: int
    sha: str


def _dependency_stamp(path: str) -> list | None:
    """[path, mtime_ns, size, sha] of a file an analysis followed an import into; None when it cannot be
    read."""
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    return [path, _trusted_mtime(st), st.st_size, content_hash(data)]


def _unchanged(path: str, mtime_ns: int | None, size: int, sha: str) -> bool:
    try:
        st = os.stat(path)
        if mtime_ns is not None and st.st_mtime_ns == mtime_ns and st.st_size == size:
            return True
        with open(path, "rb") as fh:
            return content_hash(fh.read()) == sha
    except OSError:
        return False


class Cache:
    """One run's view of the cache: look results up, record new ones, :meth:`save` once at the end."""

    def __init__(self, settings: Settings, directory: str | None = None) -> None:
        self.directory = directory or cache_dir(settings)
        self.key = run_key(settings)
        self.index_path = os.path.join(self.directory, f"index-{self.key}.json")
        self.entries: dict[str, list] = self._load()
        self.dirty = False
        self.hits = self.misses = 0
        # files that analyses followed imports into, stamped / checked once per run however many files import
        # them
        self._dep_stamps: dict[str, list | None] = {}
        self._dep_unchanged: dict[tuple, bool] = {}

    def _load(self) -> dict[str, list]:
        try:
            secret = machine_secret()
            if secret is None or not _safe_dir(self.directory):
                return {}
            blob = _read_own_file(self.index_path)
            mac, _, body = blob.partition(b"\n")
            if not hmac.compare_digest(mac, _mac(secret, body)):
                return {}  # not written by this user on this machine (e.g. committed in a pull request)
            doc = json.loads(body)
            if isinstance(doc, dict) and doc.get("key") == self.key and isinstance(doc.get("files"), dict):
                return doc["files"]
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            pass
        return {}

    def lookup(self, path: str):
        """The cached FileResult for ``path`` when its content is unchanged, else None. Never raises."""
        try:
            return self._lookup(path)
        except Exception:  # noqa: BLE001 - a bad entry is a miss
            self.entries.pop(os.path.abspath(path), None)
            self.dirty = True
            return None

    def _lookup(self, path: str):
        key = os.path.abspath(path)
        entry = self.entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        shown, mtime_ns, size, sha, result = entry[:5]
        deps = entry[5] if len(entry) > 5 else []
        try:
            st = os.stat(path)
        except OSError:
            self.misses += 1
            return None
        if shown != path or not _regular(st) or not os.access(path, os.R_OK):
            self.misses += (
                1  # an unreadable file is analysed (and reported) again, never served from the cache
            )
            return None
        if mtime_ns is None or st.st_mtime_ns != mtime_ns or st.st_size != size:
            # changed stamp: same content still counts (checked by hash)
            try:
                from densecheck.api import read_source

                data = read_source(path)
            except OSError:
                self.misses += 1
                return None
            if content_hash(data) != sha:
                self.misses += 1
                return None
            entry[1] = _trusted_mtime(st)
            entry[2] = st.st_size
            self.dirty = True
        if not all(
            self._unchanged(dep) for dep in deps
        ):  # a followed import changed: this file's shapes may too
            self.misses += 1
            return None
        out = result_from_json(result)
        out.dependencies = [dep[0] for dep in deps]
        self.hits += 1
        return out

    def store(self, path: str, stamp: Stamp | None, result) -> None:
        if stamp is None:
            return
        try:
            deps = [self._dependency_stamp(dep) for dep in result.dependencies]
            if any(dep is None for dep in deps):
                return
            self.entries[os.path.abspath(path)] = [
                path,
                stamp.mtime_ns,
                stamp.size,
                stamp.sha,
                result_to_json(result),
                deps,
            ]
            self.dirty = True
        except Exception:  # noqa: BLE001, S110 - an unserialisable result is simply not cached
            pass

    def _dependency_stamp(self, path: str) -> list | None:
        if path not in self._dep_stamps:
            self._dep_stamps[path] = _dependency_stamp(path)
        return self._dep_stamps[path]

    def _unchanged(self, dep: list) -> bool:
        key = tuple(dep)
        if key not in self._dep_unchanged:
            self._dep_unchanged[key] = _unchanged(*dep)
        return self._dep_unchanged[key]

    def save(self) -> None:
        """Write the index atomically (only when something changed). Errors are ignored: it is only a
        cache."""
        if not self.dirty:
            return
        try:
            secret = machine_secret()
            if secret is None:
                return
            prepare_dir(self.directory)
            if not _safe_dir(self.directory):
                return
            body = json.dumps(
                {"key": self.key, "version": __version__, "files": self.entries}, separators=(",", ":")
            ).encode()
            blob = _mac(secret, body) + b"\n" + body
            fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(blob)
                os.replace(tmp, self.index_path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            self.dirty = False
            _prune(self.directory, keep=self.index_path)
        except OSError:
            pass


# -- trust: the cache directory may come with the checked tree (a pull request can commit one)
# ---------------------
SECRET_ENV_VAR = "DENSECHECK_SECRET_DIR"
MAX_INDEX_BYTES = 256 * 1024 * 1024
KEY_MAX_BYTES = 4096
_secret: bytes | None = None


def secret_dir() -> str:
    """Where the per-user cache key lives: outside any checked tree (``$XDG_STATE_HOME/densecheck``)."""
    if os.environ.get(SECRET_ENV_VAR):
        return os.environ[SECRET_ENV_VAR]
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "densecheck")


def machine_secret() -> bytes | None:
    """This user's random cache key (created 0600 on first use); None, so no caching, when it cannot be had.

    Every index is signed with it (HMAC-SHA256), so an index that this user did not write -- one committed to
    the repository, or planted by another user -- is never trusted, whatever it says.
    """
    global _secret
    if _secret is not None:
        return _secret
    import secrets

    directory = secret_dir()
    path = os.path.join(directory, "cache-key")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32))
        st = os.lstat(path)
        if not _regular(st) or not _mine(st) or st.st_mode & 0o077:
            return None  # a key others could read or write is no key
        key = _read_own_file(path, KEY_MAX_BYTES).strip()
    except (OSError, ValueError):
        return None
    if len(key) < 32:
        return None
    _secret = key
    return _secret


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).hexdigest().encode()


def _safe_dir(directory: str) -> bool:
    """The cache directory is a real directory of this user's (a symlinked one could point anywhere)."""
    try:
        st = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and _mine(st)


def _read_own_file(path: str, limit: int = MAX_INDEX_BYTES) -> bytes:
    """A file of the cache's own: regular, never read through a symlink or blocking on a FIFO; OSError
    otherwise."""
    from densecheck.api import read_source

    return read_source(path, limit, follow_symlinks=False)


def _mine(st: os.stat_result) -> bool:
    """Owned by the user running densecheck (always true where there are no user ids)."""
    return not hasattr(os, "getuid") or st.st_uid == os.getuid()


def _regular(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode)


def _trusted_mtime(st: os.stat_result) -> int | None:
    """The mtime to record, or None when it is too recent to rule out a same-tick edit after the read."""
    return st.st_mtime_ns if time.time() - st.st_mtime_ns / 1e9 > RACY_SECONDS else None


def stamp_for(st: os.stat_result, data: bytes) -> Stamp:
    return Stamp(_trusted_mtime(st), st.st_size, content_hash(data))


def prepare_dir(directory: str) -> None:
    """Create the cache directory with its CACHEDIR.TAG and a ``.gitignore`` of ``*`` (never through a
    symlink)."""
    os.makedirs(directory, exist_ok=True)
    if not _safe_dir(directory):
        raise OSError(f"{directory}: not a directory of this user's")
    for name, text in (("CACHEDIR.TAG", CACHEDIR_TAG), (".gitignore", "# created by densecheck\n*\n")):
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            fd, tmp = tempfile.mkstemp(prefix=f".{name}-", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)


def _prune(directory: str, keep: str) -> None:
    """Keep the :data:`KEEP_INDEXES` most recently written indexes; drop stale temporary files."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    now = time.time()
    indexes = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        if name.startswith("index-") and name.endswith(".json"):
            indexes.append((mtime, path))
        elif name.startswith(".index-") and name.endswith(".tmp") and now - mtime > 3600:
            _unlink(path)
    indexes.sort(reverse=True)
    for _, path in indexes[KEEP_INDEXES:]:
        if path != keep:
            _unlink(path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
