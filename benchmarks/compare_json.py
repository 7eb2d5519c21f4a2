#!/usr/bin/env python
"""A refactor proves itself: densecheck's JSON output, byte for byte, before and after a change.

    python benchmarks/compare_json.py BASE [--trees fixtures,keras-applications,transformers] [--jobs 2]

BASE is any git revision (a commit, ``main``, ``HEAD~3``); it is checked out into a temporary worktree and run
from there, beside the working tree as it is now. Each tree is checked with ``--no-cache --isolated --format
json`` from the tree's own directory, so paths are the same in both runs. Trees:

  fixtures            the repository's ``fixtures/``
  keras-applications  ``keras/src/applications`` of the installed Keras
  transformers        the installed transformers package (the 5.24.0 tree of the accuracy table)

The base side's output is kept in ``--keep DIR`` (default: ``densecheck-compare`` in the temporary directory),
keyed by the base commit and the tree's path, so a refactor checked many times against one base runs the base
once.

``--speed N`` also times N cold runs of each side, alternating, and prints the median wall-time ratio (the
refactor's speed check: the same machine, the same run).

Prints one line per tree (identical, or the first differing line of each side) and exits 1 when any tree
differs. A tree whose package is not installed is reported and skipped. Nothing is imported from the checked
trees.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def package_dir(name: str, *sub: str) -> str | None:
    spec = importlib.util.find_spec(name)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(next(iter(spec.submodule_search_locations)), *sub)


TREES = {
    "fixtures": lambda: os.path.join(REPO, "fixtures"),
    "keras-applications": lambda: package_dir("keras", "src", "applications"),
    "transformers": lambda: package_dir("transformers"),
}


def run_json(source_root: str, tree: str, jobs: int) -> tuple[bytes, float]:
    """densecheck from ``source_root`` (a checkout) on ``tree``: its stdout and wall time."""
    code = f"import sys; sys.path.insert(0, {source_root!r}); from densecheck.cli import main; main()"
    cmd = [sys.executable, "-c", code, "--no-cache", "--isolated", "--format", "json", "-j", str(jobs), "."]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, timeout=3600, check=False)
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"densecheck from {source_root} failed on {tree} (exit {proc.returncode}):\n"
            + proc.stderr.decode(errors="replace")[-2000:]
        )
    return proc.stdout, time.perf_counter() - t0


def first_difference(a: bytes, b: bytes) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return (
                f"line {i}:\n    before: {x.decode(errors='replace')[:200]}\n    after:  "
                f"{y.decode(errors='replace')[:200]}"
            )
    return f"one output is a prefix of the other ({len(a):,} vs {len(b):,} bytes)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", help="git revision to compare against")
    ap.add_argument("--trees", default=",".join(TREES), help="comma-separated: " + ", ".join(TREES))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--keep",
        default=os.path.join(tempfile.gettempdir(), "densecheck-compare"),
        help="directory keeping the base side's outputs",
    )
    ap.add_argument(
        "--speed",
        type=int,
        default=0,
        metavar="N",
        help="also time N cold runs of each side, alternating base and now, and print the median ratio",
    )
    args = ap.parse_args()
    sha = subprocess.run(
        ["git", "-C", REPO, "rev-parse", args.base], capture_output=True, text=True, check=True
    ).stdout.strip()
    os.makedirs(args.keep, exist_ok=True)
    differ = False
    with tempfile.TemporaryDirectory(prefix="densecheck-base-") as tmp:
        base = os.path.join(tmp, "base")
        subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", "-q", base, sha], check=True)
        try:
            for name in args.trees.split(","):
                tree = TREES[name]()
                if tree is None or not os.path.isdir(tree):
                    print(f"{name}: not installed, skipped")
                    continue
                key = hashlib.sha256(f"{sha}\0{os.path.realpath(tree)}".encode()).hexdigest()[:24]
                kept = os.path.join(args.keep, f"{name}-{key}.json")
                if os.path.exists(kept):
                    with open(kept, "rb") as f:
                        before, t_before = f.read(), float("nan")
                else:
                    before, t_before = run_json(base, tree, args.jobs)
                    with open(kept + ".tmp", "wb") as f:
                        f.write(before)
                    os.replace(kept + ".tmp", kept)
                after, t_after = run_json(REPO, tree, args.jobs)
                if before == after:
                    took = "base kept" if t_before != t_before else f"{t_before:.1f} s before"
                    print(f"{name}: identical ({len(after):,} bytes; {took}, {t_after:.1f} s after)")
                else:
                    differ = True
                    print(f"{name}: DIFFERENT at {first_difference(before, after)}")
                if args.speed:
                    times: dict[str, list[float]] = {"base": [], "now": []}
                    for _ in range(args.speed):  # alternating, so drift on the machine hits both sides alike
                        times["base"].append(run_json(base, tree, args.jobs)[1])
                        times["now"].append(run_json(REPO, tree, args.jobs)[1])
                    b, n = statistics.median(times["base"]), statistics.median(times["now"])
                    print(
                        f"{name}: cold wall, median of {args.speed}: base {b:.1f} s, now {n:.1f} s, "
                        f"ratio now/base {n / b:.3f} (runs: base {times['base']}, now {times['now']})"
                    )
        finally:
            subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", base], check=False)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
