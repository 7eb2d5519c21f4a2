"""What confines the trace child: applied between ``fork`` and ``exec`` by :mod:`densecheck.trace.launch`.

Trace mode runs a stranger's model code, so the child it runs in is confined as far as the OS allows:

* **its own session** (process group): killed as a group on timeout and after every trace;
* **dies with the linter** (Linux ``PR_SET_PDEATHSIG``): a SIGKILLed ``densecheck`` leaves no trace child
  behind;
* **no network for the whole process tree** (Linux network namespace, unprivileged through a user namespace
  where the kernel allows it): the child and everything it starts -- subprocesses, ``_socket``, UDP, ``curl``
  -- see only a loopback device that is down. Where no namespace can be made, a Python-level guard in the
  child refuses internet connections and datagrams (which its subprocesses do not inherit);
* **its own PID namespace** (Linux, same condition): the trace runs as PID 1 of a fresh namespace, so when it
  ends the kernel kills every process it started, including those that called ``setsid`` to leave the group;
* **rlimits** on CPU time, file size, processes (threads included) and address space, and no core dumps.

:func:`describe` is what the child reports back (the JSON's ``stats.sandbox``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from densecheck.processes import die_with_parent, libc

CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

#: largest file the traced code may write (torch and keras write small caches; a model never needs this)
MAX_FILE_BYTES = 1 << 30
#: processes (Linux counts threads) the traced code may add to what its user already runs
EXTRA_PROCESSES = 1024
#: address space per process: far above what torch/TensorFlow reserve (tens of GB of it never touched); the
# real
#: memory cap is the resident-memory watchdog in launch
MIN_ADDRESS_SPACE = 64 << 30


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    address_space: int
    file_bytes: int = MAX_FILE_BYTES
    processes: int | None = None  # None: leave as is (root ignores RLIMIT_NPROC anyway)

    @classmethod
    def for_trace(cls, timeout: float, memory_limit_mb: int) -> Limits:
        cpus = os.cpu_count() or 1
        return cls(
            cpu_seconds=int(timeout * cpus) + 30,
            address_space=max(MIN_ADDRESS_SPACE, 8 * memory_limit_mb << 20),
            processes=None if os.geteuid() == 0 else _user_processes() + EXTRA_PROCESSES,
        )


def _user_processes() -> int:
    """How many processes (threads included, as RLIMIT_NPROC counts them) this user runs now."""
    uid, count = os.getuid(), 0
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                with contextlib.suppress(OSError):
                    if os.stat(f"/proc/{name}").st_uid == uid:
                        count += len(os.listdir(f"/proc/{name}/task"))
    return count


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _unshare(libc) -> None:
    """A network and PID namespace of its own, through a user namespace when not root; as much as the kernel
    allows (nothing, on a kernel or container that forbids it)."""
    if libc is None or not hasattr(libc, "unshare"):
        return
    uid, gid = os.getuid(), os.getgid()
    for flags in (CLONE_NEWNET | CLONE_NEWPID, CLONE_NEWNET):
        if os.geteuid() == 0 and libc.unshare(flags) == 0:
            return
        if libc.unshare(CLONE_NEWUSER | flags) == 0:
            with contextlib.suppress(OSError):  # keep the same ids inside (files stay the user's own)
                _write("/proc/self/setgroups", "deny")
                _write("/proc/self/uid_map", f"{uid} {uid} 1")
                _write("/proc/self/gid_map", f"{gid} {gid} 1")
            return


def _rlimits(limits: Limits) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    wanted = [
        (resource.RLIMIT_CPU, limits.cpu_seconds),
        (resource.RLIMIT_FSIZE, limits.file_bytes),
        (resource.RLIMIT_AS, limits.address_space),
        (resource.RLIMIT_CORE, 0),
    ]
    if limits.processes is not None:
        wanted.append((resource.RLIMIT_NPROC, limits.processes))
    for which, value in wanted:
        with contextlib.suppress(ValueError, OSError):
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            if soft == resource.RLIM_INFINITY or value < soft:
                resource.setrlimit(which, (value, hard))


def preexec(limits: Limits) -> Callable[[], None] | None:
    """The function ``subprocess.Popen`` runs in the child before ``exec`` (None where there is no fork)."""
    if os.name != "posix":  # pragma: no cover - Windows
        return None

    parent = os.getpid()

    def confine() -> None:
        die_with_parent(parent)
        _unshare(libc())
        _rlimits(limits)

    return confine


def host_namespaces() -> dict[str, str]:
    """The linter's own namespaces, so that the child can tell which ones it was given."""
    out = {}
    for name in ("net", "pid"):
        with contextlib.suppress(OSError):
            out[name] = os.readlink(f"/proc/self/ns/{name}")
    return out


def describe(host: dict[str, str]) -> dict[str, str]:
    """In the child: how it is confined, compared with the linter's namespaces ``host``."""

    def own(name: str, link: str) -> bool:
        try:
            return bool(host.get(name)) and os.readlink(link) != host[name]
        except FileNotFoundError:  # a PID namespace no process is in yet cannot be named, only be new
            return bool(host.get(name)) and link.endswith("_for_children") and os.path.lexists(link)
        except OSError:
            return False

    return {
        "network": "namespace" if own("net", "/proc/self/ns/net") else "python-guard",
        "processes": "pid-namespace" if own("pid", "/proc/self/ns/pid_for_children") else "process-group",
    }
