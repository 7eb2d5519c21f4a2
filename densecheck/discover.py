"""Paths on the command line -> the files to check.

* A file named on the command line is always checked, whatever its name (unless ``--force-exclude`` and it
  matches ``exclude``/``extend-exclude``, which is what a pre-commit hook wants).
* A directory is walked recursively for ``*.py``, ``*.pyi`` and ``*.ipynb`` files. Inside it, entries matching
  ``exclude`` + ``extend-exclude`` (gitignore-style globs, anchored at the project root) are skipped, as are
  virtual environments (directories holding a ``pyvenv.cfg``) and, with ``respect-gitignore``, everything the
  ``.gitignore`` files (of the walked directory, its subdirectories, and its ancestors up to the git root) and
  ``.git/info/exclude`` ignore. The directory named on the command line is itself never excluded.
* Symbolic links to directories are not followed (no loops, no escaping the tree); links to files are checked
  only when the file they resolve to is inside the directory being walked: a link to ``/proc/self/environ``,
  to ``~/.ssh`` or to another project is skipped with a note (:attr:`Discovery.skipped`), never read.
* The result is sorted and free of duplicates; a directory called ``x.py`` is a directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pathspec

from densecheck.config import Settings

EXTENSIONS = (".py", ".pyi", ".ipynb")


@dataclass
class Discovery:
    files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # paths named on the command line that do not exist
    errors: list[tuple[str, str]] = field(default_factory=list)  # (directory, why it could not be read)
    skipped: list[tuple[str, str]] = field(
        default_factory=list
    )  # (file, why it was not read): links leaving the tree


def relative_to(path: str, base: str) -> str | None:
    """``path`` relative to ``base`` with forward slashes, or None when it is not under ``base``."""
    rel = os.path.relpath(os.path.abspath(path), base)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


class _Patterns:
    """Gitignore-syntax patterns that judge each path by itself.

    A pattern excludes the entry it names, not (by itself) the contents of a directory it names: the walk
    never enters an excluded directory anyway, and a directory named on the command line must be checked in
    full even when it lies inside an excluded or git-ignored tree (ruff's and ripgrep's semantics:
    ``densecheck ~/.pyenv/versions/3.11/lib/python3.11/site-packages/pkg`` works).
    """

    def __init__(self, lines: list[str]) -> None:
        self.patterns = [
            p
            for p in pathspec.GitIgnoreSpec.from_lines(lines).patterns
            if p.include is not None and p.regex is not None
        ]

    def match(self, key: str) -> bool | None:
        """True (excluded), False (re-included by a ``!pattern``) or None (no pattern names it)."""
        verdict = None
        for p in self.patterns:  # the last matching pattern decides
            assert p.regex is not None  # patterns without a regex are left out in __init__
            m = p.regex.match(key)
            # a match through a parent directory ("build" matching "build/x.py") leaves the rest of the key
            # unread; pathspec compiles a lone ``*`` or ``**`` to the regex ``.``, "everything", which names
            # every entry
            if m and (
                p.regex.pattern == "."
                or m.end() == len(key)
                or m.groupdict().get("ps_d") is not None
                and m.end("ps_d") == len(key)
            ):
                verdict = bool(p.include)
        return verdict


class _Excluder:
    """``exclude`` + ``extend-exclude`` globs, matched relative to the project root."""

    def __init__(self, settings: Settings) -> None:
        self.root = settings.root_dir
        self.patterns = _Patterns([*settings.exclude, *settings.extend_exclude])

    def _key(self, abspath: str) -> str:
        return relative_to(abspath, self.root) or abspath.replace(os.sep, "/").lstrip("/")

    def excluded(self, abspath: str, is_dir: bool) -> bool:
        return bool(self.patterns.match(self._key(abspath) + ("/" if is_dir else "")))

    def excluded_with_parents(self, abspath: str) -> bool:
        """For a path named on the command line (``--force-exclude``): it or any directory above it."""
        parts = self._key(abspath).split("/")
        keys = ["/".join(parts[:i]) + "/" for i in range(1, len(parts))] + ["/".join(parts)]
        return any(self.patterns.match(k) for k in keys)


_GitIgnores = tuple  # tuple of (base directory, _Patterns), outermost first


def _load_gitignore(path: str, base: str) -> tuple[str, _Patterns] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return base, _Patterns(fh.read().splitlines())
    except OSError:
        return None


def _gitignores_above(directory: str) -> _GitIgnores:
    """The .gitignore files from the enclosing git root down to (not including) ``directory``."""
    chain = []
    d = directory
    while True:
        chain.append(d)
        if os.path.exists(os.path.join(d, ".git")):
            break
        parent = os.path.dirname(d)
        if parent == d:  # not in a git repository: only the walked tree's own .gitignore files apply
            return ()
        d = parent
    git_root = chain[-1]
    out = []
    info = _load_gitignore(os.path.join(git_root, ".git", "info", "exclude"), git_root)
    if info:
        out.append(info)
    for d in reversed(chain[1:]):
        gi = _load_gitignore(os.path.join(d, ".gitignore"), d)
        if gi:
            out.append(gi)
    return tuple(out)


def _gitignored(abspath: str, is_dir: bool, ignores: _GitIgnores) -> bool:
    for base, patterns in reversed(ignores):  # the deepest .gitignore that has an opinion decides
        rel = relative_to(abspath, base)
        if rel is None:
            continue
        verdict = patterns.match(rel + ("/" if is_dir else ""))
        if verdict is not None:
            return verdict
    return False


def _walk(top: str, settings: Settings, excluder: _Excluder, out: Discovery) -> list[str]:
    files: list[str] = []
    real_top = os.path.realpath(top)  # a link is checked only when what it resolves to is in here
    use_git = settings.respect_gitignore
    stack: list[tuple[str, _GitIgnores]] = [(top, _gitignores_above(os.path.abspath(top)) if use_git else ())]
    while stack:
        directory, ignores = stack.pop()
        absdir = os.path.abspath(directory)
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            out.errors.append((directory, e.strerror or str(e)))
            continue
        if use_git and any(e.name == ".gitignore" for e in entries):
            gi = _load_gitignore(os.path.join(directory, ".gitignore"), absdir)
            if gi:
                ignores = ignores + (gi,)
        subdirs = []
        for entry in entries:
            path = entry.name if directory == os.curdir else os.path.join(directory, entry.name)
            abspath = os.path.join(absdir, entry.name)
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_link = entry.is_symlink()
            except OSError:
                continue
            if is_dir:
                if (
                    excluder.excluded(abspath, True)
                    or (use_git and _gitignored(abspath, True, ignores))
                    or os.path.exists(os.path.join(path, "pyvenv.cfg"))
                ):
                    continue
                subdirs.append((path, ignores))
                continue
            if not entry.name.endswith(EXTENSIONS):
                continue
            try:
                regular = entry.is_file()  # follows a symlink to a file
            except OSError:
                regular = False
            if not (
                regular or is_link
            ):  # a FIFO, socket, ... ; a dangling link is kept: reading it reports it
                continue
            if is_link and os.path.isdir(path):
                continue
            if is_link and relative_to(os.path.realpath(path), real_top) is None:
                out.skipped.append((path, "a symbolic link to a file outside the checked tree"))
                continue
            if excluder.excluded(abspath, False) or (use_git and _gitignored(abspath, False, ignores)):
                continue
            files.append(path)
        stack.extend(reversed(subdirs))
    return files


def discover(paths: list[str], settings: Settings, *, force_exclude: bool = False) -> Discovery:
    out = Discovery()
    excluder = _Excluder(settings)
    found: dict[str, str] = {}  # absolute path -> path as shown
    for raw in paths:
        path = os.path.normpath(raw)
        if not os.path.lexists(path):
            out.missing.append(raw)
            continue
        if force_exclude and excluder.excluded_with_parents(os.path.abspath(path)):
            continue
        if os.path.isdir(path):
            for f in _walk(path, settings, excluder, out):
                found.setdefault(os.path.abspath(f), f)
        elif (
            os.path.islink(path) and relative_to(os.path.realpath(path), os.path.realpath(os.curdir)) is None
        ):
            # pre-commit names every changed file, links too: one leaving the checkout is not read
            out.skipped.append((path, "a symbolic link to a file outside the current directory"))
        else:
            found.setdefault(os.path.abspath(path), path)
    out.files = sorted(found.values(), key=lambda p: (os.path.abspath(p), p))
    return out
