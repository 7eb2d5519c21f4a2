"""Trace-mode benchmark: a 7B decoder on the meta device, and torchinfo side by side on a small model.

    python benchmarks/trace_7b.py            # needs torch; the torchinfo part needs torchinfo==1.8.0

1. densecheck trace of ``benchmarks/decoder.py:build`` (32 layers, hidden 4096, MLP 11008, vocab 32000: ~6.7e9
   params, ~27 GB of fp32 weights if built for real) through the real user path — a fresh trace subprocess,
   exactly what ``densecheck --trace`` runs. Wall time (process start to answer, torch import included) and
   the child's peak RSS (``getrusage``). Targets: < 10 s, < 1.5 GB.
2. The same architecture at ~12M params (``build_small``): densecheck trace vs ``torchinfo.summary`` (real
   weights, real forward), each in a fresh interpreter measured the same way, and the ratios.
3. MACs of ``Linear(32, 10)`` on ``[2, 64, 32, 32]``: torchinfo's mult-adds vs densecheck's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from densecheck.trace.launch import run_target  # noqa: E402
from densecheck.trace.spec import parse_trace_cli  # noqa: E402

TOKENS = "1,128:int64"

TORCHINFO_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import torch, torchinfo
import decoder
t1 = time.perf_counter()
model = getattr(decoder, sys.argv[2])()
s = torchinfo.summary(model, input_size=(1, 128), dtypes=[torch.long], verbose=0)
t2 = time.perf_counter()
print(json.dumps({"wall_s": t2 - t0, "work_s": t2 - t1, "params": s.total_params, "mult_adds": s.total_mult_adds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""  # noqa: E501 - the traced script, kept as it runs

MACS_CHILD = r"""
import json, torch, torchinfo
from torch import nn
s = torchinfo.summary(nn.Linear(32, 10), input_size=(2, 64, 32, 32), verbose=0)
print(json.dumps({"mult_adds": s.total_mult_adds}))
"""


def densecheck_trace(target: str, inputs: str) -> tuple[dict, list]:
    t0 = time.perf_counter()
    res = run_target(parse_trace_cli([target], [inputs])[0], root=ROOT)
    wall = time.perf_counter() - t0
    if not res.ok:
        raise SystemExit(f"trace failed: {res.error}")
    phases = res.stats.get("phases") or {}
    stats = {
        "wall_s": wall,
        "work_s": phases.get("done", 0) - phases.get("build", 0),
        "peak_rss_mb": res.stats["peak_rss_mb"],
    }
    return stats, res.records


def main() -> int:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    ok = True

    # 1. the 7B decoder
    stats, recs = densecheck_trace("benchmarks/decoder.py:build", TOKENS)
    linear_params = sum(r.params_total for r in recs)
    print("\n[1] densecheck trace, 7B decoder (32 x 4096, MLP 11008, vocab 32000), tokens (1, 128) int64")
    print(
        f"    call sites: {len(recs)}, Linear instances: {sum(r.instances for r in recs)}, "
        f"Linear params: {linear_params:,} (+ embedding 131,072,000 and norms)"
    )
    print(f"    wall time (subprocess start to answer): {stats['wall_s']:.2f} s   (target < 10 s)")
    print(f"    build + forward on meta:                {stats['work_s']:.2f} s")
    print(f"    peak RSS of the trace process:          {stats['peak_rss_mb']:.0f} MB  (target < 1536 MB)")
    ok &= stats["wall_s"] < 10 and stats["peak_rss_mb"] < 1536

    # 2. torchinfo vs densecheck on models small enough for both
    for label, fn in (
        ("small decoder (4 x 256, vocab 8000, ~7M params)", "build_small"),
        ("medium decoder (24 x 1024, vocab 32000, ~370M params)", "build_medium"),
    ):
        print(f"\n[2] {label}, tokens (1, 128) int64")
        dc, dc_recs = densecheck_trace(f"benchmarks/decoder.py:{fn}", TOKENS)
        try:
            out = subprocess.run(
                [sys.executable, "-c", TORCHINFO_CHILD, HERE, fn],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
            )
            ti = json.loads(out.stdout.strip().splitlines()[-1])
        except (subprocess.CalledProcessError, ValueError) as e:
            print(
                f"    torchinfo unavailable ({getattr(e, 'stderr', e)!s:.200}); pip install torchinfo==1.8.0"
            )
            continue
        print(f"    {'':28}{'densecheck trace':>18}{'torchinfo.summary':>20}{'ratio ti/dc':>13}")
        rows = [
            ("wall (fresh process)", dc["wall_s"], ti["wall_s"], "s"),
            ("work (after imports)", dc["work_s"], ti["work_s"], "s"),
            ("peak RSS", dc["peak_rss_mb"], ti["peak_rss_mb"], "MB"),
        ]
        for name, a, b, unit in rows:
            print(f"    {name:28}{a:>15.2f} {unit:<2}{b:>17.2f} {unit:<2}{b / a:>12.2f}x")
        dc_params = sum(r.params_total for r in dc_recs)
        print(f"    Linear params (densecheck) {dc_params:,}; all params (torchinfo) {ti['params']:,}")

    # 3. MACs on a rank-4 input
    import torch

    from densecheck.trace.record import record_torch

    rec = record_torch(lambda: torch.nn.Linear(32, 10), lambda: torch.empty(2, 64, 32, 32))[0]
    print("\n[3] Linear(32, 10) on [2, 64, 32, 32]")
    try:
        out = subprocess.run([sys.executable, "-c", MACS_CHILD], capture_output=True, text=True, check=True)
        ti_macs = json.loads(out.stdout.strip().splitlines()[-1])["mult_adds"]
        print(f"    torchinfo 1.8.0 total mult-adds:           {ti_macs:>12,}")
    except (subprocess.CalledProcessError, ValueError):
        ti_macs = None
    truth = 2 * 64 * 32 * (32 * 10 + 10)
    print(
        f"    densecheck mult_adds (batch, with bias):  {rec.mult_adds:>12,}   (truth 2*64*32 * (32*10 + 10) "
        f"= {truth:,})"
    )
    print(f"    densecheck macs per sample (no bias):      {rec.macs[0]:>12,}   (64*32 positions * 32 * 10)")
    ok &= rec.mult_adds == truth and rec.macs[0] == 64 * 32 * 32 * 10
    print("\nall targets met" if ok else "\nSOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
