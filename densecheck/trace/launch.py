"""The linter side of trace mode: start the trace subprocess, watch it, read its answer.

The child (:mod:`densecheck.trace.runner`) runs in its own session (process group) with:

* a wall-clock timeout (default 120 s) — on expiry the whole group is killed; shortly before, the child dumps
  its Python stack (``faulthandler``) so the timeout can name the user frame it was stuck in;
* a resident-memory watchdog (default 8 GiB, polled from ``/proc``) — ``RLIMIT_AS`` is not used because torch
  and TensorFlow reserve far more virtual address space than they ever touch;
* hub downloads disabled (``HF_HUB_OFFLINE=1``, ``TRANSFORMERS_OFFLINE=1``, ``HF_DATASETS_OFFLINE=1``), no
  GPU, and Python-level internet connections refused;
* its stdout and stderr captured: nothing the user's code prints reaches the linter output.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from densecheck.trace import sandbox
from densecheck.trace.spec import DEFAULT_MEMORY_LIMIT_MB, DEFAULT_TIMEOUT, TraceTarget

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "WANDB_MODE": "disabled",
    "CUDA_VISIBLE_DEVICES": "",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "DENSECHECK_TRACE": "1",
}


@dataclass
class TraceResult:
    target: TraceTarget
    ok: bool
    framework: str | None = None
    records: list = field(default_factory=list)  # list[SiteRecord]
    error: dict | None = (
        None  # {"kind": "exception"|"target"|"usage"|"timeout"|"memory"|"crash", "message", "frame"}
    )
    target_path: str | None = None  # the file of the traced function/class, when known
    target_line: int | None = None
    stats: dict = field(default_factory=dict)  # wall_s (child), peak_rss_mb (child), total_s (with start-up)
    stderr: str = ""


#: What the traced code may see of the linter's environment: where programs, libraries, caches and temporary
# files
#: are, the locale, and the frameworks' own settings -- never tokens or cloud credentials (``GITHUB_TOKEN``,
#: ``AWS_*``, ``ACTIONS_RUNTIME_TOKEN``, ...), which a model file from a pull request could otherwise read.
ENV_ALLOW = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TMPDIR",
        "TEMP",
        "TMP",
        "SHELL",
        "SYSTEMROOT",
        "WINDIR",
        "COMSPEC",
        "PATHEXT",  # Windows cannot start Python without these
        "LD_LIBRARY_PATH",
        "DYLD_LIBRARY_PATH",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "PYTHONHOME",
        "PYTHONPATH",
        "XDG_CACHE_HOME",
        "HF_HOME",
        "TORCH_HOME",
        "KERAS_HOME",
        "KERAS_BACKEND",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "OPENBLAS_CORETYPE",
        "OPENBLAS_L2_SIZE",
    }
)
ENV_ALLOW_PREFIXES = ("LC_",)


def scrubbed_environ() -> dict:
    return {k: v for k, v in os.environ.items() if k in ENV_ALLOW or k.startswith(ENV_ALLOW_PREFIXES)}


def child_env(extra: dict | None = None) -> dict:
    env = scrubbed_environ()
    env.update(OFFLINE_ENV)
    env.setdefault("KERAS_BACKEND", "tensorflow")
    # make sure the child imports this densecheck, installed or not
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if extra:
        env.update(extra)
    return env


#: the trace child's stderr kept for messages: its first and last half of this (a child flooding stderr cannot
# run
#: the linter out of memory)
MAX_STDERR_BYTES = 256 * 1024
#: the protocol lines kept (one line per traced layer site: far more than any model has)
MAX_STDOUT_BYTES = 64 * 1024 * 1024


class _Reader:
    """Reads a child's pipe in a thread, keeping at most ``keep`` bytes (head and tail); ``done`` is set once
    ``until`` has been seen at the start of a line's JSON or the pipe is closed."""

    def __init__(self, pipe, *, keep: int = MAX_STDOUT_BYTES, until: bytes | None = None) -> None:
        self.pipe, self.keep, self.until = pipe, keep, until
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        half = self.keep // 2
        line_start = True
        answer = bytearray()
        try:
            for chunk in iter(
                lambda: self.pipe.readline(1 << 16), b""
            ):  # a line with no end is read in pieces
                if answer or (self.until is not None and line_start and self.until in chunk[:64]):
                    answer += chunk  # the answer itself is always kept whole
                    if chunk.endswith(b"\n"):
                        break
                    continue
                line_start = chunk.endswith(b"\n")
                room = half - len(self.head)
                if room > 0:
                    self.head += chunk[:room]
                    chunk = chunk[room:]
                if chunk:
                    self.tail += chunk
                    if len(self.tail) > half:
                        self.dropped += len(self.tail) - half
                        del self.tail[: len(self.tail) - half]
        except (OSError, ValueError):
            pass
        finally:
            (self.tail if self.tail else self.head).extend(answer)
            self.done.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def data(self) -> bytes:
        gap = f"\n[... {self.dropped:,} bytes left out ...]\n".encode() if self.dropped else b""
        return bytes(self.head) + gap + bytes(self.tail) if gap else bytes(self.head + self.tail)


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
    except (OSError, ValueError):
        pass
    return out


def _tree_rss_mb(pid: int) -> float | None:
    """Resident memory of ``pid`` and all its descendants (a grandchild does not escape the cap)."""
    seen: set[int]
    total, seen, todo = None, set(), [pid]
    while todo and len(seen) < 4096:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        rss = _rss_mb(p)
        if rss is not None:
            total = (total or 0.0) + rss
        todo.extend(_children(p))
    return total


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


_FH_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)', re.MULTILINE)


def frame_from_dump(stderr: str) -> dict | None:
    """The innermost user frame of the last faulthandler dump in ``stderr`` (most recent call first)."""
    i = stderr.rfind("Timeout (")
    if i < 0:
        return None
    from densecheck.trace.record import _HERE

    skip_parts = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep, _HERE + os.sep)
    stdlib = os.path.dirname(os.__file__) + os.sep
    for m in _FH_FRAME.finditer(stderr[i:]):
        path = m.group("path")
        if path.startswith(("<", stdlib)) or any(p in path for p in skip_parts):
            continue
        line = int(m.group("line"))
        import linecache

        text = linecache.getline(path, line).strip()
        return {"path": path, "line": line, "column": None, "function": m.group("func"), "text": text}
    return None


def run_target(
    target: TraceTarget,
    *,
    timeout: float | None = None,
    memory_limit_mb: int | None = None,
    root: str | None = None,
    device: str = "meta",
    env: dict | None = None,
) -> TraceResult:
    """Trace one target in a fresh subprocess. Never raises for problems in user code: they are in
    ``.error``."""
    from densecheck.trace.record import SiteRecord

    timeout = float(target.timeout or timeout or DEFAULT_TIMEOUT)
    mem_limit = target.memory_limit_mb or memory_limit_mb or DEFAULT_MEMORY_LIMIT_MB
    root = os.path.abspath(root or os.getcwd())
    spec: dict[str, Any] = {
        "target": target.target,
        "inputs": [i.to_json() for i in target.inputs],
        "framework": target.framework,
        "root": root,
        "device": device,
        "dump_after": max(timeout - 1.5, timeout * 0.85),
    }
    spec["host_ns"] = sandbox.host_namespaces()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "densecheck.trace.runner"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=root,
        env=child_env(env),
        start_new_session=True,
        # the confinement needs code between fork and exec; the linter starts no thread of its own before this
        preexec_fn=sandbox.preexec(sandbox.Limits.for_trace(timeout, mem_limit)),
    )  # noqa: PLW1509
    stop: tuple[str, str] | None = None
    peak_seen = 0.0
    out_reader = _Reader(proc.stdout, until=b'"event": "result"')
    err_reader = _Reader(proc.stderr, keep=MAX_STDERR_BYTES)
    assert proc.stdin is not None  # Popen(stdin=PIPE)
    try:
        proc.stdin.write(json.dumps(spec).encode())
        proc.stdin.close()
    except OSError:  # the child died at once: its stderr says why
        pass
    while proc.poll() is None and not out_reader.done.is_set():
        time.sleep(0.1)
        rss = _tree_rss_mb(proc.pid)
        peak_seen = max(peak_seen, rss or 0.0)
        if time.perf_counter() - t0 > timeout:
            stop = ("timeout", f"trace of {target.target} timed out after {timeout:g} s")
        elif rss is not None and rss > mem_limit:
            stop = (
                "memory",
                (
                    f"trace of {target.target} used more than {mem_limit:,} MB of memory "
                    f"(resident {rss:,.0f} MB) and was stopped"
                ),
            )
        if stop:
            break
    if out_reader.done.is_set() and stop is None:
        with contextlib.suppress(subprocess.TimeoutExpired):  # the answer is in: a moment to exit on its own
            proc.wait(timeout=5)
    # what the traced code started and left behind in the child's session ends with it (its PID namespace,
    # where there is one, ends with the child itself)
    _kill_group(proc)
    proc.wait()
    out_reader.join(1.0)
    err_reader.join(1.0)  # a process that left the session may hold the pipes open: never wait on it for long
    out, err = out_reader.data(), err_reader.data()
    total = round(time.perf_counter() - t0, 3)
    stderr = err.decode("utf-8", errors="replace")
    events = []
    for line in out.decode("utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    res = TraceResult(target, ok=False, stderr=stderr)
    for ev in events:
        if ev.get("event") == "target":
            res.target_path = ev.get("path") or res.target_path
            res.target_line = ev.get("line") or res.target_line
    phase = next((ev["phase"] for ev in reversed(events) if ev.get("event") == "phase"), None)
    final = next((ev for ev in events if ev.get("event") == "result"), None)
    res.stats = {"total_s": total, "peak_rss_mb_watched": round(peak_seen, 1)}
    if stop is not None:
        kind, msg = stop
        where = {
            "import": "while importing the target",
            "build": "while building the model",
            "run": "while running the model",
        }.get(phase or "", "while starting")
        res.error = {"kind": kind, "message": f"{msg} {where}", "frame": frame_from_dump(stderr)}
        return res
    if final is None:
        tail = " ".join(stderr.strip().splitlines()[-3:])[-300:]
        code = proc.returncode
        how = f"killed by signal {-code}" if code and code < 0 else f"exited with code {code}"
        res.error = {
            "kind": "crash",
            "message": f"trace of {target.target}: the trace process {how}" + (f": {tail}" if tail else ""),
            "frame": None,
        }
        return res
    res.stats.update(final.get("stats") or {})
    if final.get("ok"):
        res.ok = True
        res.framework = final.get("framework")
        res.records = [SiteRecord.from_json(r) for r in final.get("records", [])]
        res.stats["phases"] = final.get("phases")
    else:
        res.error = final.get("error")
    return res
