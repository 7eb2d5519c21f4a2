#!/usr/bin/env python
"""Accuracy of static rank inference, with trace as the ground truth, on public model code from the registry.

    python benchmarks/accuracy.py {transformers,keras-applications,all} [--limit N] [--models a,b] [--jobs 2]
                                  [--timeout 90] [--json out.json] [--show 30] [--trace-cache DIR]
                                  [--time-budget SECONDS] [--static-files {all,traced}]

Corpora (installed packages, not vendored):
  transformers        every model class of ``transformers.models.auto.modeling_auto.*_MAPPING_NAMES`` (base
  models
                      first, then the task heads), built from its default config on the meta device and run
                      forward on small dummy inputs; a model that fails on meta and is small (<= 500M params,
                      weight init skipped) is retried on the CPU. Models that fail to build or run are counted
                      with a reason.
  keras-applications  every builder of ``keras.applications`` (ResNet50, VGG16, ConvNeXtTiny, ...) with
                      ``weights=None``, recorded symbolically.

Ground truth: densecheck.trace.record attributes every nn.Linear / keras Dense to its constructor call site
and records the input shapes it is applied to. Models run in a pool of ``--jobs`` worker subprocesses, one
model at a time, with a per-model timeout (a stuck or crashed worker is killed and replaced; workers are
recycled to bound memory). HF_HUB_OFFLINE=1 / TRANSFORMERS_OFFLINE=1: nothing is downloaded.

Static side: ``densecheck.api.analyze_file`` over every .py file of the package (the transformers source tree;
keras/src/applications), ``--jobs`` processes. It never imports the analysed code.

Comparison per site (path relative to site-packages + line + column; several sites on one line paired in
column order): eligible = traced sites called with exactly one rank; correct = static ``input_rank`` equals
it; wrong = static gave another rank; null = static gave none; missing = static found no layer there.
coverage = correct / eligible; precision = correct / (correct + wrong).
Also listed: multi-rank sites (static ``input_ranks`` vs traced ranks), null sites by file, and every DC101 /
DC102 / DC103 finding on the corpus, marked whether trace confirms it.

``--trace-cache DIR``: reuse ``DIR/trace-<corpus>.json`` when it exists (only the static side is re-run), else
write it; while tracing, every result is appended to ``DIR/trace-<corpus>.partial.jsonl`` and a re-run skips
the models already there (so an interrupted or ``--time-budget``-limited run can be resumed).
Not part of the pytest suite (tests/test_accuracy_harness.py exercises the comparison on small inputs).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import platform
import queue
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

CORPORA = ("transformers", "keras-applications")
RULE_CODES = ("DC101", "DC102", "DC103")
DIRECT = {"torch.nn.Linear", "torch.nn.LazyLinear", "keras.layers.Dense"}
CPU_FALLBACK_MAX_PARAMS = 500_000_000
RECYCLE_AFTER = 40  # models per worker process before it is replaced (bounds memory growth)
RECYCLE_RSS_MB = 3000


# ------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------


def package_dir(name: str) -> str:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"error: package {name!r} is not installed")
    return os.path.realpath(next(iter(spec.submodule_search_locations)))


def site_root(name: str) -> str:
    return os.path.dirname(package_dir(name))


def relpath(path: str, root: str) -> str | None:
    path = os.path.realpath(path)
    if not path.startswith(root + os.sep):
        return None
    return path[len(root) + 1 :].replace(os.sep, "/")


def short_reason(exc: BaseException | str) -> str:
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    text = text.strip().splitlines()[0] if text.strip() else text
    return text[:200]


def normalise_reason(reason: str) -> str:
    """Group failure reasons: digits -> N, quoted names -> '…'."""
    import re

    r = re.sub(r"'[^']*'", "'…'", reason)
    r = re.sub(r"\d+", "N", r)
    return r[:150]


def versions() -> dict:
    out = {"python": platform.python_version()}
    from importlib import metadata

    for dist in ("torch", "transformers", "keras", "tensorflow-cpu", "tensorflow", "libcst"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    try:
        rev = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--", "densecheck"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        out["densecheck"] = rev + ("+dirty" if dirty else "")
    except Exception:  # noqa: BLE001
        out["densecheck"] = "?"
    return out


# ------------------------------------------------------------------------------------------------------------
# trace side: model enumeration (parent) and recording (worker)
# ------------------------------------------------------------------------------------------------------------


def transformers_models() -> list[str]:
    """'model_type:ClassName' for every model class of the auto mappings, base models first."""
    import transformers.models.auto.modeling_auto as ma

    names = ["MODEL_MAPPING_NAMES"] + sorted(
        n
        for n in dir(ma)
        if n.endswith("_MAPPING_NAMES") and n.startswith("MODEL_") and n != "MODEL_MAPPING_NAMES"
    )
    seen, out = set(), []
    for n in names:
        for mt, cls in getattr(ma, n).items():
            for c in cls if isinstance(cls, (list, tuple)) else [cls]:
                key = f"{mt}:{c}"
                if key not in seen:
                    seen.add(key)
                    out.append(key)
    return out


def keras_models() -> list[str]:
    import keras

    return sorted(
        n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n))
    )


def _cfg_get(config, *names, default=None):
    """First attribute found on the config or its vision/audio/text sub-configs."""
    cfgs = [config] + [
        getattr(config, s, None)
        for s in (
            "vision_config",
            "audio_config",
            "encoder_config",
            "backbone_config",
            "text_config",
            "encoder",
        )
    ]
    for c in cfgs:
        if c is None or isinstance(c, dict):
            continue
        for n in names:
            v = getattr(c, n, None)
            if v is not None:
                return v
    return default


def _image_hw(config) -> tuple[int, int]:
    size = _cfg_get(config, "image_size", "img_size", "input_size", default=224)
    if isinstance(size, dict):
        size = [size.get("height", 224), size.get("width", 224)]
    if isinstance(size, (list, tuple)):
        size = [int(s) for s in size if isinstance(s, int)]
        if len(size) >= 2:
            return size[-2], size[-1]
        size = size[0] if size else 224
    try:
        size = int(size)
    except (TypeError, ValueError):
        size = 224
    return size, size


def transformers_inputs(cls, config, with_pixels: bool = False) -> dict:
    """Small dummy inputs for a transformers model class, from ``main_input_name`` and the config."""
    import torch

    b, s = 2, 16
    name = getattr(cls, "main_input_name", "input_ids") or "input_ids"
    ins: dict = {}
    if name.startswith("pixel_values") or with_pixels:
        c = _cfg_get(config, "num_channels", "in_channels", "in_chans", default=3)
        h, w = _image_hw(config)
        ins["pixel_values"] = torch.empty(b, int(c), h, w)
    if name == "input_values":
        mel, frames = _cfg_get(config, "num_mel_bins"), _cfg_get(config, "max_length")
        if mel is not None and frames is not None:  # spectrogram transformers (AST)
            ins["input_values"] = torch.empty(b, int(frames), int(mel))
        else:
            ins["input_values"] = torch.empty(b, 16000)
    elif name == "input_features":
        mel = _cfg_get(config, "num_mel_bins")
        if mel is not None:
            src = _cfg_get(config, "max_source_positions")
            t = 2 * int(src) if src else 128
            ins["input_features"] = torch.empty(b, int(mel), t)
        else:
            feat = _cfg_get(config, "input_feat_per_channel", "feature_size", "num_mel_bins", default=80)
            ch = _cfg_get(config, "input_channels", default=1)
            ins["input_features"] = torch.empty(b, 64, int(feat) * int(ch))
    elif not name.startswith("pixel_values"):  # token ids; an unknown main input gets them too (and may fail)
        ins["input_ids"] = torch.zeros(b, s, dtype=torch.long)
    if getattr(config, "is_encoder_decoder", False) and "decoder_input_ids" not in ins:
        ins["decoder_input_ids"] = torch.zeros(b, s, dtype=torch.long)
    return ins


def trace_transformers(model_id: str) -> dict:
    import torch
    import transformers
    from transformers import CONFIG_MAPPING

    from densecheck.trace.record import record_torch

    mt, cls_name = model_id.split(":", 1)
    config = CONFIG_MAPPING[mt]()
    try:  # grouped_mm MoE kernels insist on bf16 on the meta device; the eager loop runs every dtype
        config._experts_implementation = "batched_mm"
    except Exception:  # noqa: BLE001
        pass
    cls = getattr(transformers, cls_name)
    root = os.path.dirname(os.path.dirname(os.path.realpath(transformers.__file__)))
    built: list = []

    def build():
        m = cls(config)
        built.append(m)
        return m

    import inspect

    try:
        fwd_params = set(inspect.signature(cls.forward).parameters)
    except (TypeError, ValueError):
        fwd_params = set()
    attempts = [("meta", False)]
    if "pixel_values" in fwd_params and getattr(cls, "main_input_name", "input_ids") == "input_ids":
        attempts.append(("meta", True))
    errors = []
    records = None
    device_used = None
    for device, pixels in attempts:
        built.clear()
        try:
            records = record_torch(build, lambda p=pixels: transformers_inputs(cls, config, p), device=device)
            device_used = device
            break
        except Exception as e:  # noqa: BLE001
            errors.append(e)
            if not built:  # the build itself failed: retrying with other inputs is pointless
                break
    if records is None and built:
        n = sum(p.numel() for p in built[-1].parameters())
        if n <= CPU_FALLBACK_MAX_PARAMS:
            built.clear()
            try:
                from transformers.initialization import no_init_weights

                with no_init_weights():  # shapes are all that matter: skip the (slow) weight init
                    records = record_torch(
                        build, lambda p=attempts[-1][1]: transformers_inputs(cls, config, p), device="cpu"
                    )
                device_used = "cpu"
            except Exception as e:  # noqa: BLE001
                errors.append(e)
    built.clear()
    if records is None:
        return {"id": model_id, "ok": False, "reason": short_reason(errors[-1])}
    del torch
    return {
        "id": model_id,
        "ok": True,
        "device": device_used,
        "sites": _sites(records, root, "transformers/"),
    }


def trace_keras(model_id: str) -> dict:
    import keras

    from densecheck.trace import record
    from densecheck.trace.record import record_keras

    _let_applications_be_user_code(record)
    root = os.path.dirname(os.path.dirname(os.path.realpath(keras.__file__)))
    builder = getattr(keras.applications, model_id)
    records = record_keras(lambda: builder(weights=None))
    keras.backend.clear_session()
    return {"id": model_id, "ok": True, "device": "symbolic", "sites": _sites(records, root, "keras/")}


def _let_applications_be_user_code(record) -> None:
    """The recorder never attributes a layer to a frame inside keras (framework code). keras.applications is
    the corpus here, so replace the keras directory by every keras subdirectory except
    ``src/applications``."""
    if getattr(record, "_accuracy_patched", False):
        return
    orig = record.framework_dirs
    import keras

    kdir = os.path.dirname(os.path.abspath(keras.__file__)) + os.sep
    apps = os.path.join(kdir, "src", "applications") + os.sep

    def framework_dirs():
        out = []
        for d in orig():
            if d != kdir:
                out.append(d)
                continue
            for name in os.listdir(kdir):
                full = os.path.join(kdir, name)
                if name != "src":
                    out.append(full + (os.sep if os.path.isdir(full) else ""))
            for name in os.listdir(os.path.join(kdir, "src")):
                full = os.path.join(kdir, "src", name)
                if full + os.sep != apps:
                    out.append(full + (os.sep if os.path.isdir(full) else ""))
        return tuple(out)

    record.framework_dirs = framework_dirs
    record._accuracy_patched = True


def _sites(records, root: str, prefix: str) -> list[dict]:
    out = []
    for r in records:
        rel = relpath(r.path, root) if not r.path.startswith("<") else None
        if rel is None or not rel.startswith(prefix):
            continue
        out.append(
            {
                "path": rel,
                "line": r.line,
                "column": r.column,
                "layer": r.layer,
                "shapes": r.input_shapes,
                "in_features": r.in_features,
                "calls": r.calls,
            }
        )
    return out


def worker_main(corpus: str) -> None:
    """Long-lived worker: model ids on stdin, one JSON result per line on the original stdout."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the models print goes to stderr
    sys.stdout = sys.stderr
    import warnings

    warnings.filterwarnings("ignore")
    if corpus == "transformers":
        import torch

        torch.set_num_threads(1)
        import transformers

        transformers.logging.set_verbosity_error()
        fn = trace_transformers
    else:
        fn = trace_keras
    import resource

    for line in sys.stdin:
        model_id = line.strip()
        if not model_id:
            continue
        t0 = time.perf_counter()
        try:
            res = fn(model_id)
        except BaseException as e:  # one model must not stop the worker
            if isinstance(e, KeyboardInterrupt):
                raise
            res = {"id": model_id, "ok": False, "reason": short_reason(e)}
        import gc

        gc.collect()
        res["seconds"] = round(time.perf_counter() - t0, 2)
        res["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        out.write(json.dumps(res) + "\n")


class _Worker:
    def __init__(self, corpus: str):
        env = dict(
            os.environ,
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            TF_CPP_MIN_LOG_LEVEL="3",
            PYTHONWARNINGS="ignore",
            OMP_NUM_THREADS="1",
        )
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--_worker", corpus],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=env,
            cwd=ROOT,
        )
        self.lines: queue.Queue = queue.Queue()
        self.done = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def ask(self, model_id: str, timeout: float) -> dict:
        try:
            self.proc.stdin.write(model_id + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {"id": model_id, "ok": False, "reason": "worker died"}
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                return {"id": model_id, "ok": False, "reason": f"timeout after {timeout:.0f} s"}
            if line is None:
                self.proc.wait()
                return {
                    "id": model_id,
                    "ok": False,
                    "reason": f"worker crashed (exit {self.proc.returncode})",
                }
            try:
                res = json.loads(line)
            except json.JSONDecodeError:
                continue
            self.done += 1
            return res

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self):
        try:
            self.proc.kill()  # only the worker this harness started, by its handle
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            pass

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.kill()


def run_models(
    corpus: str,
    models: list[str],
    jobs: int,
    timeout: float,
    progress=True,
    partial: str | None = None,
    budget: float | None = None,
) -> list[dict]:
    """Trace ``models`` in ``jobs`` worker processes. ``partial``: a JSONL file of results so far (models
    found there are not re-run; new results are appended). ``budget``: stop starting new models after this
    many seconds (the models not started are not counted as attempted)."""
    results: list[dict] = []
    done = set()
    if partial and os.path.exists(partial):
        with open(partial) as fh:
            for line in fh:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if r["id"] in models and r["id"] not in done:
                    done.add(r["id"])
                    results.append(r)
    todo: queue.Queue = queue.Queue()
    for m in models:
        if m not in done:
            todo.put(m)
    sink = open(partial, "a") if partial else None  # noqa: SIM115 - closed after the threads join
    lock = threading.Lock()
    t0 = time.perf_counter()

    def slot():
        w = None
        while True:
            if budget is not None and time.perf_counter() - t0 > budget:
                break
            try:
                m = todo.get_nowait()
            except queue.Empty:
                break
            if w is None or not w.alive():
                w = _Worker(corpus)
            # the first model of a fresh worker also pays for importing torch/transformers
            res = w.ask(m, timeout + (60 if w.done == 0 else 0))
            if not w.alive() or w.done >= RECYCLE_AFTER or res.get("rss_mb", 0) > RECYCLE_RSS_MB:
                w.close()
                w = None
            with lock:
                results.append(res)
                if sink is not None:
                    sink.write(json.dumps(res) + "\n")
                    sink.flush()
                n = len(results)
                if progress and (n % 25 == 0 or n == len(models)):
                    ok = sum(r["ok"] for r in results)
                    print(
                        f"  [{corpus}] {n}/{len(models)} models, {ok} ok, {time.perf_counter() - t0:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
        if w is not None:
            w.close()

    threads = [threading.Thread(target=slot) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if sink is not None:
        sink.close()
    order = {m: i for i, m in enumerate(models)}
    return sorted(results, key=lambda r: order.get(r["id"], 0))


def aggregate(results: list[dict]) -> list[dict]:
    """Per-model site lists -> one traced site per (path, line, column) with every rank seen."""
    sites: dict[tuple, dict] = {}
    for r in results:
        if not r.get("ok"):
            continue
        for s in r["sites"]:
            key = (s["path"], s["line"], s["column"])
            t = sites.get(key)
            if t is None:
                t = sites[key] = {
                    "path": s["path"],
                    "line": s["line"],
                    "column": s["column"],
                    "ranks": [],
                    "shapes": [],
                    "models": [],
                    "layers": [],
                    "in_features": set(),
                    "calls": 0,
                }
            for sh in s["shapes"]:
                if len(sh) not in t["ranks"]:
                    t["ranks"].append(len(sh))
                if sh not in t["shapes"] and len(t["shapes"]) < 4:
                    t["shapes"].append(sh)
            if len(t["models"]) < 5:
                t["models"].append(r["id"])
            if s["layer"] not in t["layers"]:
                t["layers"].append(s["layer"])
            t["in_features"].add(s.get("in_features"))
            t["calls"] += s.get("calls", 0)
    out = []
    for t in sites.values():
        t["ranks"].sort()
        t["in_features"] = sorted(x for x in t["in_features"] if x is not None)
        out.append(t)
    return sorted(out, key=lambda t: (t["path"], t["line"], t["column"] or 0))


# ------------------------------------------------------------------------------------------------------------
# static side
# ------------------------------------------------------------------------------------------------------------


def _static_one(args) -> tuple[list[dict], list[dict], bool]:
    path, root = args
    from densecheck.api import analyze_file

    res = analyze_file(path)
    rel = relpath(path, root)
    layers = []
    for lr in res.layers:
        j = lr.to_json()
        layers.append(
            {
                "path": rel,
                "line": j["line"],
                "column": j["column"],
                "layer": j["layer"],
                "call": j.get("call"),
                "input_rank": j["input_rank"],
                "input_ranks": j.get("input_ranks"),
                "input_shape": j.get("input_shape"),
                "in_features": j.get("in_features"),
                "channel_axis": j.get("channel_axis"),
                "behaves_as": j.get("behaves_as"),
            }
        )
    diags = [
        {"path": rel, "line": d.line, "column": d.column, "code": d.code, "message": d.message}
        for d in res.diagnostics
        if d.code in RULE_CODES or d.code == "DC002"
    ]
    return layers, diags, res.internal_error


def static_files(corpus: str) -> tuple[list[str], str]:
    if corpus == "transformers":
        base = package_dir("transformers")
    else:
        base = os.path.join(package_dir("keras"), "src", "applications")
    files = []
    for d, dirs, fs in os.walk(base):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        files += [os.path.join(d, f) for f in sorted(fs) if f.endswith(".py")]
    return files, os.path.dirname(package_dir("transformers" if corpus == "transformers" else "keras"))


def run_static(corpus: str, jobs: int, only_files: set[str] | None = None) -> dict:
    import multiprocessing as mp

    files, root = static_files(corpus)
    if only_files is not None:
        files = [f for f in files if relpath(f, root) in only_files]
    t0 = time.perf_counter()
    layers, diags, errors = [], [], 0
    # largest files first so the pool does not end on one big file
    files.sort(key=lambda f: -os.path.getsize(f))
    if jobs > 1:
        with mp.get_context("spawn").Pool(jobs) as pool:
            it = pool.imap_unordered(_static_one, [(f, root) for f in files], chunksize=4)
            for ls, ds, err in it:
                layers += ls
                diags += ds
                errors += err
    else:
        for f in files:
            ls, ds, err = _static_one((f, root))
            layers += ls
            diags += ds
            errors += err
    return {
        "files": len(files),
        "layers": layers,
        "diagnostics": diags,
        "internal_errors": errors,
        "seconds": round(time.perf_counter() - t0, 1),
    }


# ------------------------------------------------------------------------------------------------------------
# comparison
# ------------------------------------------------------------------------------------------------------------


def pair_sites(static_layers: list[dict], traced: list[dict]) -> dict[int, dict]:
    """index in ``traced`` -> static layer. Exact (path, line, column) first, then the leftovers of a line in
    column order."""
    by_line = collections.defaultdict(list)
    for lay in static_layers:
        by_line[(lay["path"], lay["line"])].append(lay)
    tr_line = collections.defaultdict(list)
    for i, t in enumerate(traced):
        tr_line[(t["path"], t["line"])].append(i)
    out: dict[int, dict] = {}
    for key, idxs in tr_line.items():
        cands = list(by_line.get(key, []))
        if not cands:
            continue
        rest = []
        for i in idxs:
            hit = next((c for c in cands if c["column"] == traced[i]["column"]), None)
            if hit is not None:
                out[i] = hit
                cands.remove(hit)
            else:
                rest.append(i)
        rest.sort(key=lambda i: traced[i]["column"] or 0)
        cands.sort(key=lambda c: c["column"] or 0)
        for i, c in zip(rest, cands):
            out[i] = c
    return out


def _rank(v):
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def compare(static_layers: list[dict], traced: list[dict], diagnostics: list[dict] | None = None) -> dict:
    """Score static layers against traced sites. Both use site-packages-relative paths.

    static layer: {path, line, column, input_rank, input_ranks?, ...}; traced site: {path, line, column,
    ranks, shapes?, in_features?}. Returns counts, coverage, precision and per-site lists.
    """
    match = pair_sites(static_layers, traced)
    cnt = collections.Counter()
    rows = {"correct": [], "wrong": [], "null": [], "missing": [], "multi": [], "not_called": []}
    for i, t in enumerate(traced):
        s = match.get(i)
        ranks = t["ranks"]
        if t.get("layers") and not set(t["layers"]) & DIRECT:
            cnt["subclass"] += 1  # e.g. FalconLinear(nn.Linear): out of scope, like the layer tables
            rows.setdefault("subclass", []).append({"site": t, "static": s})
            continue
        if not ranks:
            cnt["not_called"] += 1
            rows["not_called"].append({"site": t, "static": s})
            continue
        if len(ranks) > 1:
            cnt["multi"] += 1
            sr = (s or {}).get("input_ranks") or (
                [_rank(s.get("input_rank"))] if s and _rank(s.get("input_rank")) else []
            )
            verdict = (
                "missing"
                if s is None
                else "null"
                if not sr
                else "same_set"
                if sorted(set(sr)) == ranks
                else "subset"
                if set(sr) <= set(ranks)
                else "differs"
            )
            cnt["multi_" + verdict] += 1
            rows["multi"].append({"site": t, "static": s, "static_ranks": sr, "verdict": verdict})
            continue
        cnt["eligible"] += 1
        if s is None:
            verdict = "missing"
        else:
            pred = _rank(s.get("input_rank"))
            verdict = "null" if pred is None else "correct" if pred == ranks[0] else "wrong"
        cnt[verdict] += 1
        rows[verdict].append({"site": t, "static": s})
    given = cnt["correct"] + cnt["wrong"]
    res = {
        "counts": dict(cnt),
        "eligible": cnt["eligible"],
        "correct": cnt["correct"],
        "wrong": cnt["wrong"],
        "null": cnt["null"],
        "missing": cnt["missing"],
        "coverage": cnt["correct"] / cnt["eligible"] if cnt["eligible"] else 0.0,
        "precision": cnt["correct"] / given if given else 0.0,
        "rows": rows,
    }
    traced_files = {t["path"] for t in traced}
    res["static_layers_in_traced_files_unmatched"] = sum(
        1 for lay in static_layers if lay["path"] in traced_files
    ) - len({id(v) for v in match.values()})
    if diagnostics is not None:
        res["findings"] = confirm_findings(diagnostics, static_layers, traced, match)
    return res


def confirm_findings(diagnostics: list[dict], static_layers, traced, match) -> list[dict]:
    """Mark each DC101/DC102/DC103 finding 'confirmed by trace', 'NOT confirmed' or 'not traced'."""
    site_of = {}
    for i, s in match.items():
        site_of[id(s)] = traced[i]
    by_pos = {(s["path"], s["line"], s["column"]): s for s in static_layers}
    by_line = collections.defaultdict(list)
    for s in static_layers:
        by_line[(s["path"], s["line"])].append(s)
    out = []
    for d in diagnostics:
        if d["code"] not in RULE_CODES:
            continue
        s = by_pos.get((d["path"], d["line"], d["column"]))
        if s is None and len(by_line.get((d["path"], d["line"]), [])) == 1:
            s = by_line[(d["path"], d["line"])][0]
        t = site_of.get(id(s)) if s is not None else None
        if t is None or not t["ranks"]:
            status = "not traced"
        elif d["code"] == "DC101":
            status = "confirmed by trace" if max(t["ranks"]) >= 4 else "NOT confirmed"
        elif d["code"] == "DC102":
            # a shape cannot show a layout, but it can show where the channels are: the static channel axis
            # must be known, hold the same size in the traced shape, and that size must differ from the last
            # axis (the one the layer consumes)
            shp, ca = s.get("input_shape") or [], s.get("channel_axis")
            agree = ca is not None and any(
                len(sh) == len(shp) >= 3
                and -len(sh) <= ca < len(sh)
                and shp[ca] is not None
                and shp[ca] == sh[ca]
                and sh[ca] != sh[-1]
                for sh in t["shapes"]
            )
            status = "confirmed by trace" if agree else "NOT confirmed"
        else:  # DC103: the traced input's last axis differs from in_features (a real run would have failed)
            bad = any(
                sh and sh[-1] is not None and t["in_features"] and sh[-1] not in t["in_features"]
                for sh in t["shapes"]
            )
            status = "confirmed by trace" if bad else "NOT confirmed"
        out.append(
            {
                **d,
                "status": status,
                "traced_ranks": t["ranks"] if t else None,
                "traced_shapes": t["shapes"][:2] if t else None,
            }
        )
    return out


# ------------------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------------------


def source_line(path: str, line: int, root: str) -> str:
    import linecache

    return linecache.getline(os.path.join(root, path), line).strip()


def report(corpus: str, trace: dict, static: dict, cmp: dict, show: int, root: str) -> None:
    p = print
    p(f"\n=== {corpus} ===")
    res = trace["results"]
    ok = [r for r in res if r.get("ok")]
    failed = [r for r in res if not r.get("ok")]
    dev = collections.Counter(r.get("device") for r in ok)
    p(
        f"models: {len(res)} attempted, {len(ok)} ok ({', '.join(f'{k} {v}' for k, v in dev.items())}), "
        f"{len(failed)} failed; trace {trace['seconds']:.0f} s"
    )
    reasons = collections.Counter(normalise_reason(r["reason"]) for r in failed)
    for reason, n in reasons.most_common(8):
        ex = [r["id"] for r in failed if normalise_reason(r["reason"]) == reason][:3]
        p(f"  {n:4d}  {reason[:110]}   e.g. {', '.join(ex)}")
    traced = trace["sites"]
    p(
        f"traced sites: {len(traced)} ({cmp['eligible']} single-rank, {cmp['counts'].get('multi', 0)} "
        f"multi-rank, "
        f"{cmp['counts'].get('not_called', 0)} constructed but not called, "
        f"{cmp['counts'].get('subclass', 0)} constructing a subclass of Linear/Dense: not scored)"
    )
    p(
        f"static: {static['files']} files, {len(static['layers'])} layers, {static['internal_errors']} "
        f"internal errors, "
        f"{static['seconds']:.0f} s"
    )
    p(
        f"eligible {cmp['eligible']}  correct {cmp['correct']}  wrong {cmp['wrong']}  null {cmp['null']}  "
        f"missing {cmp['missing']}"
    )
    p(f"coverage {cmp['coverage']:.3f}  precision {cmp['precision']:.3f}")

    wrong = cmp["rows"]["wrong"]
    if wrong:
        p(f"\nwrong sites ({len(wrong)}; first {min(show, len(wrong))}):")
        for r in wrong[:show]:
            t, s = r["site"], r["static"]
            p(
                f"  {t['path']}:{t['line']}:{t['column']}  static {s['input_rank']} {s.get('input_shape')}  "
                f"traced {t['ranks'][0]} {t['shapes'][0]}"
            )
            p(f"      {source_line(t['path'], t['line'], root)[:110]}")
    nulls = cmp["rows"]["null"] + cmp["rows"]["missing"]
    if nulls:
        by_file = collections.Counter(r["site"]["path"] for r in nulls)
        p(f"\nnull / missing sites by file ({len(nulls)} sites in {len(by_file)} files; top 20):")
        for f, n in by_file.most_common(20):
            p(f"  {n:4d}  {f}")
        miss = cmp["rows"]["missing"]
        if miss:
            p(
                f"  (of which {len(miss)} missing: no static layer at the traced position, e.g. "
                + ", ".join(f"{r['site']['path']}:{r['site']['line']}" for r in miss[:3])
                + ")"
            )
    multi = cmp["rows"]["multi"]
    if multi:
        v = collections.Counter(r["verdict"] for r in multi)
        p(f"\nmulti-rank sites ({len(multi)}): " + ", ".join(f"{k} {n}" for k, n in v.most_common()))
        for r in [r for r in multi if r["verdict"] in ("same_set", "subset", "differs")][:show]:
            t = r["site"]
            p(f"  {t['path']}:{t['line']}  static {r['static_ranks']}  traced {t['ranks']}  ({r['verdict']})")
    several = [
        (r, r["static"])
        for k in ("correct", "wrong")
        for r in cmp["rows"][k]
        if r["static"] and len(r["static"].get("input_ranks") or []) > 1
    ]
    if several:
        p(f"\nsingle-rank sites where static reports several ranks ({len(several)}):")
        for r, s in several[:show]:
            p(
                f"  {r['site']['path']}:{r['site']['line']}  static input_ranks {s['input_ranks']}  "
                f"traced {r['site']['ranks']}"
            )
    findings = cmp.get("findings") or []
    p(f"\nfindings DC101/DC102/DC103 on the corpus: {len(findings)}")
    for f in findings[: max(show, 50)]:
        p(
            f"  {f['path']}:{f['line']}:{f['column']}: {f['code']} [{f['status']}; traced ranks "
            f"{f['traced_ranks']}] "
            f"{f['message'][:100]}"
        )
    dc002 = [d for d in static["diagnostics"] if d["code"] == "DC002"]
    if dc002:
        p(f"\ninternal errors (DC002): {len(dc002)}")
        for d in dc002[:10]:
            p(f"  {d['path']}:{d['line']}: {d['message'][:140]}")


def trace_corpus(corpus: str, args) -> dict:
    cache = os.path.join(args.trace_cache, f"trace-{corpus}.json") if args.trace_cache else None
    if cache and os.path.exists(cache) and not args.models and not args.limit:
        with open(cache) as fh:
            data = json.load(fh)
        print(f"[{corpus}] trace truth from cache {cache}", file=sys.stderr)
        return data
    models = _list_in_subprocess(corpus)
    if args.models:
        want = [m.strip() for m in args.models.split(",") if m.strip()]
        models = [m for m in models if m in want or m.split(":")[0] in want or m.split(":")[-1] in want]
    if args.limit:
        models = models[: args.limit]
    print(f"[{corpus}] tracing {len(models)} models with {args.jobs} workers", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    partial = os.path.join(args.trace_cache, f"trace-{corpus}.partial.jsonl") if args.trace_cache else None
    results = run_models(corpus, models, args.jobs, args.timeout, partial=partial, budget=args.time_budget)
    data = {"results": results, "sites": aggregate(results), "seconds": time.perf_counter() - t0}
    if cache and not args.models and not args.limit and not args.time_budget:
        os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
        with open(cache, "w") as fh:
            json.dump(data, fh)
    return data


def _list_in_subprocess(corpus: str) -> list[str]:
    """Enumerate models in a child (keeps torch / tensorflow out of the parent)."""
    models = "transformers_models" if corpus == "transformers" else "keras_models"
    code = (
        f"import sys, json; sys.path.insert(0, {ROOT!r}); sys.path.insert(0, {HERE!r}); import accuracy; "
        f"print(json.dumps(accuracy.{models}()))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600, check=False
    )
    if out.returncode:
        raise SystemExit(f"error: cannot list {corpus} models:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--_worker":
        worker_main(sys.argv[2])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", choices=CORPORA + ("all",))
    ap.add_argument("--limit", type=int, help="trace only the first N models")
    ap.add_argument("--models", help="comma-separated model ids / model types / class names to trace")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=90, help="seconds per model (default 90)")
    ap.add_argument("--time-budget", type=float, help="stop starting new models after this many seconds")
    ap.add_argument(
        "--static-files",
        choices=("all", "traced"),
        default="all",
        help="analyse every .py file of the corpus (default) or only the files with traced sites",
    )
    ap.add_argument("--json", help="write every number and per-site row here")
    ap.add_argument("--show", type=int, default=30)
    ap.add_argument("--trace-cache", help="directory: reuse/write trace-<corpus>.json (full runs only)")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    vers = versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    out = {"versions": vers, "corpora": {}}
    for corpus in CORPORA if args.corpus == "all" else (args.corpus,):
        trace = trace_corpus(corpus, args)
        only = {t["path"] for t in trace["sites"]} if args.models or args.static_files == "traced" else None
        static = run_static(corpus, args.jobs, only)
        cmp = compare(static["layers"], trace["sites"], static["diagnostics"])
        root = os.path.dirname(package_dir("transformers" if corpus == "transformers" else "keras"))
        report(corpus, trace, static, cmp, args.show, root)
        out["corpora"][corpus] = {
            "models_attempted": len(trace["results"]),
            "models_ok": sum(r.get("ok", False) for r in trace["results"]),
            "failures": [{"id": r["id"], "reason": r["reason"]} for r in trace["results"] if not r.get("ok")],
            "trace_seconds": round(trace["seconds"], 1),
            "static_seconds": static["seconds"],
            "static_files": static["files"],
            "static_layers": len(static["layers"]),
            **{k: v for k, v in cmp.items() if k != "rows"},
            "rows": {
                k: [
                    {
                        "path": r["site"]["path"],
                        "line": r["site"]["line"],
                        "column": r["site"]["column"],
                        "traced_ranks": r["site"]["ranks"],
                        "traced_shapes": r["site"]["shapes"],
                        "static_rank": (r["static"] or {}).get("input_rank"),
                        "static_ranks": (r["static"] or {}).get("input_ranks"),
                        "static_shape": (r["static"] or {}).get("input_shape"),
                    }
                    for r in v
                ]
                for k, v in cmp["rows"].items()
            },
            "traced_sites": trace["sites"],
        }
    wall = time.perf_counter() - t_start
    out["wall_seconds"] = round(wall, 1)
    print(f"\nwall time {wall:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1, default=list)
    return 0


if __name__ == "__main__":
    sys.exit(main())
