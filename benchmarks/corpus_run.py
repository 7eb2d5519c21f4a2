"""Corpus run: densecheck's static analysis over every Python file of large real code bases (issue 7).

A linter in CI meets every odd file in a repository. This script runs ``densecheck.api.analyze_file`` over
whole source trees -- by default the standard library of the running Python and the installed torch,
tensorflow and transformers packages -- and checks that every file is either analysed or reported with a clean
diagnostic (DC001), never with an internal error (DC002), a hang or a crash.

Each file is analysed in a worker process (``--jobs``, default 2) with a per-file time limit (``--timeout``):
a file that takes longer, or kills its worker (a segfault, the out-of-memory killer), is recorded as such and
the worker is replaced, so one bad file cannot stop or stall the run.

    python benchmarks/corpus_run.py                      # stdlib + torch + tensorflow + transformers
    python benchmarks/corpus_run.py path/to/src other/   # any roots
    python benchmarks/corpus_run.py --json out.json      # also write per-file records

Prints, per corpus and in total: files, analysed OK, DC001 with a breakdown of reasons, DC002 (each listed
with path and message), timeouts/crashes, layers found, wall time, files/s, peak RSS. Exit status 1 when any
file produced an internal error, a timeout or a crash. Not run in CI (it takes many minutes); the numbers go
in release notes.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import multiprocessing as mp
import os
import re
import resource
import sys
import sysconfig
import threading
import time
from dataclasses import asdict, dataclass

EXTENSIONS = (".py", ".pyi")


# -- the corpus ----------------------------------------------------------------------------------------------
def default_roots() -> list[tuple[str, str]]:
    """(name, directory): the standard library and the installed torch / tensorflow / transformers
    packages."""
    roots = [("stdlib", sysconfig.get_paths()["stdlib"])]
    for name in ("torch", "tensorflow", "transformers"):
        try:
            spec = importlib.util.find_spec(name)  # finds the package directory; does not import it
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            roots.append((name, list(spec.submodule_search_locations)[0]))
        else:
            print(f"note: {name} is not installed; skipped", file=sys.stderr)
    return roots


def corpus_files(root: str) -> list[str]:
    """Every .py/.pyi file under ``root`` (symlinked directories not followed; site-packages skipped under the
    stdlib so the packages are counted once, in their own corpus)."""
    out = []
    root = os.path.abspath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not (d == "site-packages" or d == "dist-packages"))
        for f in sorted(filenames):
            if f.endswith(EXTENSIONS):
                out.append(os.path.join(dirpath, f))
    return out


# -- the worker ----------------------------------------------------------------------------------------------
def _worker(conn, cli_path: bool = False) -> None:
    """Analyse the paths sent on ``conn``, one at a time; answer each with a summary dict.

    ``cli_path``: the way the command line reads and analyses a file (``runner.check_file``: its pre-filter
    skips libcst for files that cannot hold a layer); by default every file takes the full path
    (``api.analyze_file``: libcst and the engine on every file), the harder test.
    """
    from densecheck import api

    if cli_path:
        from densecheck import runner
        from densecheck.config import Settings

        settings = Settings()

        def analyze(path: str) -> api.FileResult:
            return runner.check_file(path, settings).result
    else:
        analyze = api.analyze_file

    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        t0 = time.perf_counter()
        try:
            res = analyze(path)
            diags = [(d.code, d.line, d.message) for d in res.diagnostics if d.code in ("DC001", "DC002")]
            out = {
                "internal_error": res.internal_error,
                "layers": len(res.layers),
                "file_diags": diags,
                "escaped": None,
            }
        except BaseException as e:  # noqa: BLE001 - analyze_file promised never to raise; record that it did
            out = {
                "internal_error": True,
                "layers": 0,
                "file_diags": [],
                "escaped": f"{type(e).__name__}: {e}",
            }
        out["seconds"] = time.perf_counter() - t0
        out["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send(out)


@dataclass
class FileRecord:
    path: str
    corpus: str
    status: str  # ok | DC001 | DC002 | timeout | crash
    reason: str = ""  # DC001 reason category
    message: str = ""
    line: int = 0
    layers: int = 0
    seconds: float = 0.0
    started: float = 0.0  # when the file was handed to a worker / answered, seconds since the run started
    ended: float = 0.0


class Driver(threading.Thread):
    """Feeds files to one worker process, enforcing the per-file time limit and replacing a dead worker."""

    def __init__(
        self,
        queue: collections.deque,
        lock: threading.Lock,
        results: list,
        timeout: float,
        max_tasks: int,
        progress,
        cli_path: bool = False,
    ) -> None:
        super().__init__(daemon=True)
        self.queue, self.lock, self.results = queue, lock, results
        self.timeout, self.max_tasks, self.progress = timeout, max_tasks, progress
        self.cli_path = cli_path
        self.proc = self.conn = None
        self.tasks = 0
        self.peak_rss_kb = 0
        self.t_start = time.perf_counter()

    def _start(self) -> None:
        ctx = mp.get_context("spawn")  # a fresh interpreter: nothing inherited from the parent
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, self.cli_path), daemon=True)
        self.proc.start()
        child.close()
        self.conn, self.tasks = parent, 0

    def _stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()
        self.proc = self.conn = None

    def run(self) -> None:
        while True:
            with self.lock:
                if not self.queue:
                    break
                corpus, path = self.queue.popleft()
            if self.proc is None or (self.max_tasks and self.tasks >= self.max_tasks):
                self._stop()
                self._start()
            self.tasks += 1
            t0 = time.perf_counter()
            self.conn.send(path)
            rec = FileRecord(path, corpus, "ok", started=t0 - self.t_start)
            try:
                ready = self.conn.poll(self.timeout)
                out = self.conn.recv() if ready else None
            except (EOFError, OSError):
                out, ready = None, True
            if out is None:
                elapsed = time.perf_counter() - t0
                if not ready:
                    rec.status, rec.message = "timeout", f"no answer after {self.timeout:.0f} s"
                    self._stop(kill=True)
                else:
                    self.proc.join(5)
                    rec.status = "crash"
                    rec.message = f"worker died (exit code {self.proc.exitcode})"
                    self._stop(kill=True)
                rec.seconds = elapsed
            else:
                self.peak_rss_kb = max(self.peak_rss_kb, out["rss_kb"])
                rec.layers, rec.seconds = out["layers"], out["seconds"]
                dc002 = [d for d in out["file_diags"] if d[0] == "DC002"]
                dc001 = [d for d in out["file_diags"] if d[0] == "DC001"]
                if out["escaped"]:
                    rec.status, rec.message = "DC002", "analyze_file raised " + out["escaped"]
                elif out["internal_error"] or dc002:
                    d = dc002[0] if dc002 else ("DC002", 0, "internal_error set without a DC002 diagnostic")
                    rec.status, rec.line, rec.message = "DC002", d[1], d[2]
                elif dc001:
                    rec.status, rec.line, rec.message = "DC001", dc001[0][1], dc001[0][2]
                    rec.reason = dc001_reason(rec.message)
            rec.ended = time.perf_counter() - self.t_start
            with self.lock:
                self.results.append(rec)
                self.progress(rec)
        self._stop()


_REASONS = [
    (re.compile(r"rejects this valid Python"), "valid Python libcst cannot parse"),
    (re.compile(r"too (deeply )?nested|nesting", re.I), "too deeply nested"),
    (re.compile(r"too large", re.I), "file too large"),
    (re.compile(r"NUL|null byte", re.I), "NUL bytes"),
    (re.compile(r"decode|encoding", re.I), "cannot decode"),
    (re.compile(r"cannot read|not a regular file", re.I), "cannot read"),
    (re.compile(r"print|Python 2|exec statement", re.I), "syntax error (Python 2)"),
    (re.compile(r"indent", re.I), "syntax error (indentation)"),
    (re.compile(r"syntax", re.I), "syntax error"),
]


def dc001_reason(message: str) -> str:
    for rx, name in _REASONS:
        if rx.search(message):
            return name
    return message.split(":", 1)[0]


# -- the report ----------------------------------------------------------------------------------------------
def _mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


def report(name: str, recs: list[FileRecord], wall: float | None, out=sys.stdout) -> None:
    by = collections.Counter(r.status for r in recs)
    n = len(recs)
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"== {name}")
    p(f"  files              {n:>8,}")
    p(f"  analysed OK        {by['ok']:>8,}")
    p(f"  DC001 (clean)      {by['DC001']:>8,}")
    for reason, k in collections.Counter(r.reason for r in recs if r.status == "DC001").most_common():
        p(f"      {k:>6,}  {reason}")
    p(f"  DC002 internal     {by['DC002']:>8,}")
    p(f"  timeouts           {by['timeout']:>8,}")
    p(f"  crashes            {by['crash']:>8,}")
    p(f"  layers found       {sum(r.layers for r in recs):>8,}")
    cpu = sum(r.seconds for r in recs)
    p(f"  analysis time      {cpu:>8,.1f} s (sum over files)")
    if wall is not None:
        p(f"  wall time          {wall:>8,.1f} s")
        p(f"  files/s            {n / wall if wall else 0:>8,.1f}")
    bad = [r for r in recs if r.status in ("DC002", "timeout", "crash")]
    for r in sorted(bad, key=lambda r: r.path):
        p(f"  !! {r.status} {r.path}:{r.line}: {r.message}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "roots", nargs="*", help="directories or files (default: stdlib, torch, tensorflow, transformers)"
    )
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per file (default 300)")
    ap.add_argument(
        "--max-tasks-per-worker", type=int, default=0, help="replace a worker after N files (0: never)"
    )
    ap.add_argument("--limit", type=int, default=0, help="only the first N files of each corpus (smoke test)")
    ap.add_argument("--json", metavar="FILE", help="write every file's record to FILE")
    ap.add_argument("--slowest", type=int, default=10, help="list the N slowest files")
    ap.add_argument(
        "--cli-path",
        action="store_true",
        help="read and analyse files as the command line does (its pre-filter skips libcst for files "
        "without Dense/Linear); default: every file through api.analyze_file",
    )
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    args = ap.parse_args(argv)

    roots = [(os.path.basename(os.path.normpath(r)) or r, r) for r in args.roots] or default_roots()
    queue: collections.deque = collections.deque()
    seen: set[str] = set()
    counts = {}
    for name, root in roots:
        files = [root] if os.path.isfile(root) else corpus_files(root)
        files = [f for f in files if not (os.path.realpath(f) in seen or seen.add(os.path.realpath(f)))]
        if args.limit:
            files = files[: args.limit]
        counts[name] = len(files)
        queue.extend((name, f) for f in files)
        print(f"{name}: {root} ({len(files):,} files)", file=sys.stderr)

    total = len(queue)
    results: list[FileRecord] = []
    lock = threading.Lock()
    t_start = time.perf_counter()

    def progress(rec: FileRecord) -> None:
        if rec.status in ("DC002", "timeout", "crash"):
            print(f"\n!! {rec.status} {rec.path}: {rec.message}", file=sys.stderr)
        if not args.quiet and (len(results) % 50 == 0 or len(results) == total):
            el = time.perf_counter() - t_start
            bad = sum(r.status in ("DC002", "timeout", "crash") for r in results)
            print(
                f"{len(results):,}/{total:,} files, {el:,.0f} s, {bad} internal errors",
                file=sys.stderr,
                flush=True,
            )

    drivers = [
        Driver(queue, lock, results, args.timeout, args.max_tasks_per_worker, progress, args.cli_path)
        for _ in range(max(1, args.jobs))
    ]
    for d in drivers:
        d.t_start = t_start
        d.start()
    for d in drivers:
        d.join()
    wall = time.perf_counter() - t_start
    print(file=sys.stderr)

    # a corpus's wall time: from its first file being handed out to its last answer (the corpora run back to
    # back on the same workers, so neighbours overlap by at most one file per worker)
    for name, _ in roots:
        recs = [r for r in results if r.corpus == name]
        span = (max(r.ended for r in recs) - min(r.started for r in recs)) if recs else 0.0
        report(name, recs, span)
    report("TOTAL", results, wall)
    peak = max([d.peak_rss_kb for d in drivers] + [resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss])
    print(
        f"  peak RSS           {_mb(peak):>8} (largest worker); parent "
        f"{_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}"
    )
    if args.slowest:
        print("  slowest files:")
        for r in sorted(results, key=lambda r: -r.seconds)[: args.slowest]:
            print(f"    {r.seconds:7.1f} s  {r.status:7} {r.path}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(
                {"wall_seconds": wall, "peak_rss_kb": peak, "files": [asdict(r) for r in results]},
                fh,
                indent=1,
            )
    bad = sum(r.status in ("DC002", "timeout", "crash") for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
