"""Child processes that end with their parent: analysis workers and the trace child never outlive
densecheck."""

from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no C library to call
        return None


def die_with_parent(parent: int | None = None) -> None:
    """Ask the kernel (Linux) to SIGKILL this process when its parent dies -- a SIGKILLed or SIGTERMed
    ``densecheck`` takes its workers with it. ``parent``: the pid the caller expects as parent; if it is
    already gone (it died before the request was made), end now."""
    c = libc()
    if c is None or not hasattr(c, "prctl"):  # pragma: no cover - not Linux
        return
    c.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)
