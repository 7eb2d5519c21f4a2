"""Per-file budgets: how long and how much memory one file's analysis may take (``file-timeout``,
``file-memory``).

A file from a stranger's pull request can be built to be expensive (a 4 MB generated module takes libcst alone
~26 s and ~2.7 GB to parse). Past its budget a file gets one DC003 note and the run goes on with the others;
nothing else is lost. The defaults are far beyond what any real model file needs (the largest file of
transformers 5.24.0 takes well under a second and ~200 MB).

Two guards enforce the budget:

* **cooperative**, in whatever process analyses the file: :func:`check` (called by the interpreter every few
  thousand steps) raises :class:`OverBudget` once the file's time is up, and a ``MemoryError`` during the
  analysis is reported the same way;
* **hard**, for worker processes (:class:`Watchdog`, in their parent): a worker is killed when the file it is
  on runs past its time (plus a grace period: a native parse cannot be interrupted) or its resident memory
  grows past the budget, after noting why in the worker's marker file; the parent reports the file and goes
  on. Files that could reach a hard limit (large files) are always analysed in a worker, also in a serial run.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Self

DEFAULT_FILE_TIMEOUT = 60.0  # seconds
DEFAULT_FILE_MEMORY_MB = 4096

#: files at least this big are analysed in a guarded worker process even in a serial run: parsing ~256 KiB of
#: Python takes libcst ~1.5 s and ~170 MB, so below it the cooperative guard is enough
GUARDED_FILE_BYTES = 256 * 1024

#: the hard time limit gives the cooperative one this much head start (seconds, plus 10%)
GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Limits:
    seconds: float = DEFAULT_FILE_TIMEOUT
    memory_mb: int = DEFAULT_FILE_MEMORY_MB

    @classmethod
    def of(cls, settings: object) -> Limits:
        return cls(
            getattr(settings, "file_timeout", DEFAULT_FILE_TIMEOUT),
            getattr(settings, "file_memory", DEFAULT_FILE_MEMORY_MB),
        )


class OverBudget(BaseException):
    """The file's analysis ran past its budget; ``kind`` is ``"time"`` or ``"memory"``. A BaseException, so
    that no ``except Exception`` on the way (odd literals, unreadable followed modules) can swallow it."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def message(kind: str, limits: Limits) -> str:
    """The DC003 note for a file that ran past its budget."""
    if kind == "memory":
        spent, key = f"more than {limits.memory_mb:,} MB of memory", f"file-memory = {limits.memory_mb}"
    else:
        spent, key = f"more than {limits.seconds:g} s", f"file-timeout = {limits.seconds:g}"
    return (
        f"not analysed: this file took {spent}, past its per-file budget ({key} in [tool.densecheck]); "
        "raise the budget, or exclude the file if it is generated"
    )


# -- the cooperative guard
# ---------------------------------------------------------------------------------------
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "densecheck_file_deadline", default=None
)


@contextlib.contextmanager
def clock(limits: Limits) -> Iterator[None]:
    """Start the file's clock: :func:`check` raises :class:`OverBudget` once ``limits.seconds`` have
    passed."""
    token = _deadline.set(time.monotonic() + limits.seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def check() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise OverBudget("time")


# -- the hard guard (worker processes, watched from the parent)
# ---------------------------------------------------
def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of process ``pid``, in MB (0 when it cannot be read: not Linux, or the process is
    gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return 0.0


def start_marker(marker: str, path: str) -> None:
    """In a worker: note in its marker file which file it is on, since when, and its memory then."""
    with open(marker, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(f"{path}\n{time.time():.3f}\n{rss_mb():.1f}")


def read_marker(text: str) -> tuple[str, str | None]:
    """(path, why the watchdog ended its worker, or None) from a worker's marker file."""
    parts = text.split("\n")
    return parts[0], (parts[3] if len(parts) > 3 and parts[3] else None)


class Watchdog:
    """In the parent of worker processes: ends a worker whose current file overruns its hard limits.

    The watchdog cannot live in the worker: libcst's native parser holds the GIL for the whole parse (tens of
    seconds on a big file), so a thread there would never get to run. Workers note the file they are on in
    their marker file (:func:`start_marker`; named after the worker's pid, in ``markers``); the watchdog polls
    them, and on an overrun appends the reason (``time`` or ``memory``) and kills the worker. Use as a context
    manager.
    """

    POLL = 0.05

    def __init__(self, markers: str, limits: Limits) -> None:
        self.markers = markers
        self.limits = limits
        self.hard_seconds = limits.seconds * 1.1 + GRACE_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="densecheck-watchdog", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.POLL):
            try:
                names = os.listdir(self.markers)
            except OSError:
                return
            for name in names:
                if name.isdigit():
                    self._check(os.path.join(self.markers, name), int(name))

    def _check(self, marker: str, pid: int) -> None:
        try:
            with open(marker, encoding="utf-8", errors="surrogateescape") as fh:
                text = fh.read()
            _, started, base = text.split("\n")[:3]
            elapsed, grown = time.time() - float(started), rss_mb(pid) - float(base)
        except (OSError, ValueError):
            return  # gone, or being written: the next poll sees it
        kind = "time" if elapsed > self.hard_seconds else "memory" if grown > self.limits.memory_mb else None
        if kind is None:
            return
        with contextlib.suppress(OSError):
            with open(marker, "a", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(f"\n{kind}")
            os.kill(pid, signal.SIGKILL)
