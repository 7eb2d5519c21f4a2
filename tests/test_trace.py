"""Trace mode: attribution, shapes, MACs, the subprocess sandbox, merging into the static report, DC105/DC106.

In-process recording (fast: one torch and one keras import for the whole file) covers attribution and the
fixtures; a handful of subprocess runs cover isolation (exception, timeout, offline environment) and the
end-to-end merge for each framework.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from densecheck import api
from densecheck.config import Settings
from densecheck.layers import LayerReport
from densecheck.rules import RULES
from densecheck.shapes import Shape
from densecheck.trace import parse_input, parse_trace_cli, parse_trace_config, run_trace
from densecheck.trace.launch import TraceResult
from densecheck.trace.merge import merge_results
from densecheck.trace.record import SiteRecord
from densecheck.trace.spec import TraceSpecError, TraceTarget

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(__file__).resolve().parent / "trace_models"
FIXTURES = ROOT / "fixtures"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(autouse=True, scope="module")
def _models_on_path():
    sys.path.insert(0, str(MODELS))
    yield
    sys.path.remove(str(MODELS))


def call_starts(path) -> dict[tuple[int, int], str]:
    """(line, 1-based column) -> source text of every Call node in the file, by libcst (as the static
    pass)."""
    module = cst.parse_module(Path(path).read_text(encoding="utf-8"))
    wrapper = MetadataWrapper(module)
    out = {}
    for node, pos in wrapper.resolve(PositionProvider).items():
        if isinstance(node, cst.Call):
            out[(pos.start.line, pos.start.column + 1)] = module.code_for_node(node)
    return out


def load(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_trace_test_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def by_site(records):
    return {(Path(r.path).name, r.line, r.column): r for r in records}


def assert_attributed(records):
    """Each site is the start of a call expression in its file, as libcst (hence the static pass) sees it."""
    for r in records:
        calls = call_starts(r.path)
        assert (r.line, r.column) in calls, f"{r.path}:{r.line}:{r.column} is not the start of a call"


# -- torch, in process
# ------------------------------------------------------------------------------------------------
@pytest.mark.torch
def test_torch_multilevel_attribution_shapes_and_params():
    pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    mod = load(MODELS / "torch_multilevel.py")
    recs = record_torch(mod.build, mod.example_input)
    assert_attributed(recs)
    sites = by_site(recs)
    src = (MODELS / "torch_multilevel.py").read_text(encoding="utf-8").splitlines()
    helpers = (MODELS / "torch_helpers.py").read_text(encoding="utf-8").splitlines()

    def col(lines, line, needle, nth=0):
        text = lines[line - 1]
        i = -1
        for _ in range(nth + 1):
            i = text.index(needle, i + 1)
        return i + 1

    l_fc = next(i for i, t in enumerate(src, 1) if "self.fc1 = nn.Linear" in t)
    fc1 = sites[("torch_multilevel.py", l_fc, col(src, l_fc, "nn.Linear("))]
    fc2 = sites[("torch_multilevel.py", l_fc, col(src, l_fc, "ScaledLinear("))]
    assert (fc1.instances, fc1.calls, fc1.input_shapes) == (2, 2, [[2, 64, 16]])
    assert fc1.params == 16 * 64 + 64 and fc1.params_total == 2 * fc1.params
    assert fc2.layer.endswith("ScaledLinear") and fc2.bias is False and fc2.params == 64 * 16
    # non-ASCII before the call on the same line: the column counts characters, as libcst does
    l_lazy = next(i for i, t in enumerate(src, 1) if "nn.LazyLinear(8)" in t)
    lazy = sites[("torch_multilevel.py", l_lazy, col(src, l_lazy, "nn.LazyLinear("))]
    assert lazy.layer == "torch.nn.LazyLinear" and lazy.in_features == 16 and lazy.params == 16 * 8 + 8
    # built in a helper in another module: attributed inside the helper; two layers on one line told apart
    l_pair = next(i for i, t in enumerate(helpers, 1) if "a, b = nn.Linear" in t)
    a = sites[("torch_helpers.py", l_pair, col(helpers, l_pair, "nn.Linear("))]
    b = sites[("torch_helpers.py", l_pair, col(helpers, l_pair, "nn.Linear(", 1))]
    assert (a.out_features, b.out_features) == (16, 32) and b.input_shapes == [[2, 64, 16]]
    l_head = next(i for i, t in enumerate(helpers, 1) if "nn.Linear(dim, classes)" in t)
    assert sites[("torch_helpers.py", l_head, col(helpers, l_head, "nn.Linear("))].input_shapes == [[2, 16]]
    # built but never called: listed with no shapes; MultiheadAttention's internal out_proj: not listed at all
    l_unused = next(i for i, t in enumerate(src, 1) if "self.unused" in t)
    unused = sites[("torch_multilevel.py", l_unused, col(src, l_unused, "nn.Linear("))]
    assert unused.calls == 0 and unused.input_shapes == []
    assert not any("MultiheadAttention" in src[r.line - 1] for r in recs if r.path.endswith("multilevel.py"))
    assert len(recs) == 7


@pytest.mark.torch
def test_torch_static_positions_match_trace():
    """Every site the static pass reports in the multi-level model is the position the trace attributes to."""
    pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    mod = load(MODELS / "torch_multilevel.py")
    recs = record_torch(mod.build, mod.example_input)
    traced = {(os.path.realpath(r.path), r.line, r.column) for r in recs}
    for name in ("torch_multilevel.py", "torch_helpers.py"):
        for layer in api.analyze_file(str(MODELS / name)).layers:
            assert (os.path.realpath(MODELS / name), layer.line, layer.column) in traced, (name, layer.line)


@pytest.mark.torch
def test_macs_for_rank_4_input():
    torch = pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    rec = record_torch(lambda: torch.nn.Linear(32, 10), lambda: torch.empty(2, 64, 32, 32))[0]
    # per sample, bias excluded: the LayerReport convention (positions x in x out)
    assert rec.macs == [64 * 32 * 32 * 10]
    # whole batch, bias excluded (thop's / fvcore's counting; torchinfo 1.8.0 reports 660 = 2 x 330)
    assert rec.mult_adds == 1_310_720 == 2 * 64 * 32 * (32 * 10)
    report = LayerReport(
        "m.py",
        1,
        1,
        1,
        1,
        "torch",
        "torch.nn.Linear",
        "nn.Linear(32, 10)",
        in_features=32,
        out_features=10,
        shapes=[Shape.of(rec.input_shapes[0])],
    )
    assert report.macs == rec.macs[0]
    # torch's own FLOP counter agrees: 2 FLOPs per multiply-accumulate over the batch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.device("meta"):
        torch.nn.Linear(32, 10)(torch.empty(2, 64, 32, 32))
    assert counter.get_total_flops() == 2 * 2 * rec.macs[0]


@pytest.mark.torch
@pytest.mark.parametrize("path", sorted((FIXTURES / "torch").glob("*.py")), ids=lambda p: p.name)
def test_torch_fixtures_merge_without_surprises(path):
    """Trace each torch fixture in process and merge it into its static report: every traced site is a static
    site (nothing the static pass missed), ranks agree, and a merged report is marked as traced."""
    pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    mod = load(path)
    try:
        recs = record_torch(mod.build, mod.example_input)
    except Exception as e:  # noqa: BLE001 - fixtures documenting a runtime error (e.g. an in_features mismatch)
        pytest.skip(f"the fixture does not run: {type(e).__name__}")
    recs = [r for r in recs if os.path.realpath(r.path) == os.path.realpath(path)]
    static = api.analyze_file(str(path))
    added = merge_results([_ok(recs, str(path))], [static])
    assert not [d for d in added if d.code == "DC105"], [d.message for d in added]
    for r in recs:
        layer = next(lay for lay in static.layers if (lay.line, lay.column) == (r.line, r.column))
        assert layer.trace["calls"] == r.calls
        if r.input_shapes:
            assert layer.source == "trace" and layer.trace["agrees"] is not False


def _ok(records, target="t.py:build") -> TraceResult:
    return TraceResult(
        TraceTarget(target), ok=True, framework=records[0].framework if records else None, records=records
    )


# -- keras, in process
# ------------------------------------------------------------------------------------------------
@pytest.mark.keras
def test_keras_multilevel_subclassed_functional_sequential():
    pytest.importorskip("keras")
    from densecheck.trace.record import record_keras

    mod = load(MODELS / "keras_multilevel.py")
    src = (MODELS / "keras_multilevel.py").read_text().splitlines()
    helpers = (MODELS / "keras_helpers.py").read_text().splitlines()

    recs = record_keras(mod.build, [((2, 10, 8), "float32")])
    assert_attributed(recs)
    sites = by_site(recs)
    l_blk = next(i for i, t in enumerate(src, 1) if "self.up = layers.Dense" in t)
    up = sites[("keras_multilevel.py", l_blk, src[l_blk - 1].index("layers.Dense(") + 1)]
    down = sites[("keras_multilevel.py", l_blk, src[l_blk - 1].rindex("layers.Dense(") + 1)]
    assert (up.instances, up.calls, up.input_shapes, up.params) == (2, 2, [[2, 10, 8]], 8 * 32 + 32)
    assert down.input_shapes == [[2, 10, 32]] and down.params_total == 2 * (32 * 8 + 8)
    assert up.mult_adds == 2 * (2 * 10 * (8 * 32))
    l_head = next(i for i, t in enumerate(helpers, 1) if "tf.keras.layers.Dense" in t)
    out = sites[("keras_helpers.py", l_head, helpers[l_head - 1].index("tf.keras.layers.Dense(") + 1)]
    assert out.input_shapes == [[2, 8]] and out.calls == 1

    # functional and Sequential models declare their Input: no shape needed
    recs = by_site(record_keras(mod.build_functional))
    assert sorted(r.input_shapes[0] for r in recs.values()) == [[None, 6, 6, 4], [None, 576]]
    recs = record_keras(mod.build_sequential)
    assert sorted((r.input_shapes[0], r.params) for r in recs) == [([None, 3, 2], 48), ([None, 48], 196)]


@pytest.mark.keras
def test_keras_subclassed_without_input_needs_a_shape():
    pytest.importorskip("keras")
    from densecheck.trace.record import record_keras

    mod = load(MODELS / "keras_multilevel.py")
    with pytest.raises(ValueError, match="declares no Input"):
        record_keras(mod.build)


@pytest.mark.keras
@pytest.mark.parametrize("path", sorted((FIXTURES / "keras").glob("*.py")), ids=lambda p: p.name)
def test_keras_fixtures_merge_without_surprises(path):
    pytest.importorskip("keras")
    from densecheck.trace.record import record_keras

    mod = load(path)
    try:
        recs = record_keras(mod.build)
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"the fixture does not build: {type(e).__name__}")
    recs = [r for r in recs if os.path.realpath(r.path) == os.path.realpath(path)]
    assert_attributed(recs)
    static = api.analyze_file(str(path))
    added = merge_results([_ok(recs, str(path))], [static])
    assert not [d for d in added if d.code == "DC105"], [d.message for d in added]


# -- merge, DC105
# ------------------------------------------------------------------------------------------------
def _static_layer(path="m.py", line=5, column=9, shape=(None, 16, 32, 32), ca=1) -> LayerReport:
    return LayerReport(
        path,
        line,
        column,
        line,
        column + 17,
        "torch",
        "torch.nn.Linear",
        "nn.Linear(32, 10)",
        in_features=32,
        out_features=10,
        shapes=[Shape.of(shape, ca)],
    )


def _record(path, line=5, column=9, shapes=([8, 32],), **kw) -> SiteRecord:
    fields = {
        "in_features": 32,
        "out_features": 10,
        "params": 330,
        "calls": 1,
        "instances": 1,
        "params_total": 330,
        "bias": True,
        "macs": [320],
        "mult_adds": 8 * 330,
    }
    fields.update(kw)
    return SiteRecord(path, line, column, "torch", "torch.nn.Linear", [list(s) for s in shapes], **fields)


def test_merge_disagreement_is_dc105_and_report_uses_trace(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import torch\nfrom torch import nn\n\n\nfc = nn.Linear(32, 10)\n")
    layer = _static_layer(str(f))
    res = api.FileResult(str(f), layers=[layer])
    res.diagnostics = api.run_rules([layer], Settings())
    assert [d.code for d in res.diagnostics] == ["DC102"]  # static: mixes along the width
    added = merge_results([_ok([_record(str(f))])], [res], Settings(), root=str(tmp_path))
    assert [d.code for d in added] == ["DC105"]
    assert "rank 4" in added[0].message and "rank 2" in added[0].message
    assert (added[0].line, added[0].column) == (5, 9)
    assert [d.code for d in res.diagnostics] == ["DC105"]  # DC102 was about the static shape: gone
    j = layer.to_json()
    assert j["source"] == "trace" and j["input_shape"] == [8, 32] and j["behaves_as"] == "fully_connected"
    assert j["trace"]["agrees"] is False and j["trace"]["disagreement"] == ["rank"]
    assert j["trace"]["static_input_shape"] == [None, 16, 32, 32] and j["trace"]["mult_adds"] == 8 * 330


def test_merge_agreement_keeps_static_layout(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("\n" * 4 + "fc = nn.Linear(32, 10)\n")
    layer = _static_layer(str(f))
    res = api.FileResult(str(f), layers=[layer], diagnostics=api.run_rules([layer], Settings()))
    added = merge_results(
        [_ok([_record(str(f), shapes=([2, 16, 32, 32],), macs=[16 * 32 * 320])])], [res], Settings()
    )
    assert added == []
    assert layer.trace["agrees"] is True and layer.source == "trace"
    assert layer.input.channel_axis == 1 and layer.behaves_as == "spatial_mixing"  # NCHW: a static fact
    assert [d.code for d in res.diagnostics] == ["DC102"]
    assert layer.macs == 16 * 32 * 32 * 10


def test_merge_dc105_respects_noqa_and_ignore(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("\n" * 4 + "fc = nn.Linear(32, 10)  # noqa: DC105\n")
    res = api.FileResult(str(f), layers=[_static_layer(str(f))])
    assert merge_results([_ok([_record(str(f))])], [res], Settings()) == []
    f.write_text("\n" * 4 + "fc = nn.Linear(32, 10)\n")
    res = api.FileResult(str(f), layers=[_static_layer(str(f))])
    assert merge_results([_ok([_record(str(f))])], [res], Settings(ignore=["DC105"])) == []


def test_merge_trace_only_site_becomes_a_report(tmp_path):
    helper = tmp_path / "outside.py"
    helper.write_text("from torch import nn\n\n\ndef make():\n    return nn.Linear(32, 10, bias=False)\n")
    results: list = []
    merge_results(
        [_ok([_record(str(helper), 5, 12, bias=False, params=320)])], results, Settings(), root=str(tmp_path)
    )
    (res,) = results
    (layer,) = res.layers
    assert (
        res.path == "outside.py" and layer.source == "trace" and layer.call == "nn.Linear(32, 10, bias=False)"
    )
    assert (layer.line, layer.column, layer.end_line, layer.end_column) == (5, 12, 5, 41)
    assert layer.params == 320 and layer.trace["agrees"] is None
    assert res.diagnostics == []  # a file outside the analysed paths is listed, not linted


def test_dc105_rule_snippets_with_real_trace(tmp_path):
    """DC105's documented examples, traced in process: fires iff static and traced ranks differ."""
    pytest.importorskip("torch")
    from densecheck.trace.record import record_torch

    rule = RULES["DC105"]
    for kind, src in [("INVALID", s) for s in rule.INVALID] + [("VALID", s) for s in rule.VALID]:
        f = tmp_path / f"dc105_{kind.lower()}.py"
        f.write_text(src)
        mod = load(f)
        spec = parse_input(rule.TRACE_INPUTS[0])
        recs = record_torch(mod.build, lambda shape=spec.shape: __import__("torch").empty(shape))
        static = api.analyze_file(str(f))
        static_ranks = {lay.line: lay.ranks for lay in static.layers}
        added = merge_results([_ok(recs, f"{f}:build")], [static], Settings())
        differ = any(
            static_ranks.get(r.line) and static_ranks[r.line] != sorted({len(s) for s in r.input_shapes})
            for r in recs
            if r.input_shapes
        )
        assert bool([d for d in added if d.code == "DC105"]) == differ, (kind, [d.message for d in added])
        if kind == "INVALID":
            assert differ, "the INVALID example should fool the static pass"


# -- specs and config
# ---------------------------------------------------------------------------------------------
def test_parse_inputs_and_targets():
    assert parse_input("1,3,224,224").shape == (1, 3, 224, 224)
    assert parse_input("2,128:int64") == parse_input("2x128:long")
    assert parse_input("(None, 32, 32, 3)").shape == (None, 32, 32, 3)
    for bad in ("", "1,a", "1,-2", "1,2:complex7"):
        with pytest.raises(ValueError):
            parse_input(bad)
    (t,) = parse_trace_cli(["models/net.py:build"], ["2,128:int64", "2,128"], timeout=30)
    assert [str(i) for i in t.inputs] == ["2,128:int64", "2,128"] and t.timeout == 30
    for bad in ("models/net.py", "pkg.mod:", "pkg mod:build", "x.py:1abc"):
        with pytest.raises(TraceSpecError):
            parse_trace_cli([bad])


def test_parse_trace_config():
    targets = parse_trace_config(
        [
            {"target": "pkg.models:build", "inputs": ["2,128"], "dtype": "int64", "timeout": 60},
            {
                "target": "src/vision.py:ResNet",
                "inputs": [[1, 3, 224, 224]],
                "framework": "torch",
                "memory_limit_mb": 2048,
            },
            {"target": "keras_app.py:build"},
        ]
    )
    assert [t.target for t in targets] == ["pkg.models:build", "src/vision.py:ResNet", "keras_app.py:build"]
    assert targets[0].inputs[0].dtype == "int64" and targets[0].timeout == 60
    assert targets[1].inputs[0].shape == (1, 3, 224, 224) and targets[1].memory_limit_mb == 2048
    assert parse_trace_config({"target": "a.py:b", "inputs": "1,2"})[0].inputs[0].shape == (1, 2)
    bad = [
        ({"inputs": ["1,2"]}, r"\[0\]\.target: required"),
        ({"target": "a.py:b", "inptus": []}, "unknown key 'inptus'"),
        ({"target": "a.py:b", "inputs": ["1,x"]}, r"inputs\[0\]"),
        ({"target": "a.py:b", "dtype": "int4"}, "unknown dtype"),
        ({"target": "a.py:b", "timeout": -1}, "timeout"),
        ({"target": "a.py:b", "framework": "jax"}, "framework"),
        ("a.py:b", "array of tables"),
    ]
    for value, msg in bad:
        with pytest.raises(ValueError, match=msg):
            parse_trace_config([value] if isinstance(value, dict) else value)


# -- subprocess: isolation and end to end
# ------------------------------------------------------------------------
def test_subprocess_exception_is_dc106_at_the_user_frame_and_sandboxed(tmp_path):
    static = api.analyze_file(str(MODELS / "failing.py"))
    files = [static]
    targets = parse_trace_cli(
        [
            "tests/trace_models/failing.py:build",
            "tests/trace_models/failing.py:not_a_model",
            "tests/trace_models/nowhere.py:build",
            "tests.trace_models.failing:missing",
        ]
    )
    out: list = []
    diags = run_trace(targets, files, Settings(), timeout=60, root=str(ROOT), results_out=out)
    assert [d.code for d in diags] == ["DC106"] * 4
    raised, not_model, nowhere, missing = diags
    src = (MODELS / "failing.py").read_text().splitlines()
    assert raised.line == next(i for i, t in enumerate(src, 1) if "raise RuntimeError" in t)
    assert os.path.realpath(raised.path) == os.path.realpath(MODELS / "failing.py")
    assert "in build()" in raised.message and "RuntimeError: no weights here" in raised.message
    # the sandbox: hub downloads off, internet refused, user prints kept out of the protocol
    assert "'HF_HUB_OFFLINE': '1'" in raised.message and "'TRANSFORMERS_OFFLINE': '1'" in raised.message
    assert "'HF_DATASETS_OFFLINE': '1'" in raised.message and "net=blocked" in raised.message
    assert "Traceback" not in raised.message
    assert "not a torch nn.Module or a Keras model" in not_model.message
    assert "does not exist" in nowhere.message
    assert "has no attribute 'missing'" in missing.message
    assert raised in files[0].diagnostics  # merged into the file's results
    assert all(r.error["kind"] in ("exception", "usage", "target") for r in out)


def test_subprocess_timeout_names_the_user_frame():
    files: list = []
    out: list = []
    (d,) = run_trace(
        parse_trace_cli(["tests/trace_models/failing.py:build_slowly"]),
        files,
        Settings(),
        timeout=4,
        root=str(ROOT),
        results_out=out,
    )
    assert d.code == "DC106" and "timed out after 4 s" in d.message
    assert out[0].error["kind"] == "timeout" and out[0].stats["total_s"] < 15
    src = (MODELS / "failing.py").read_text().splitlines()
    assert d.line == next(i for i, t in enumerate(src, 1) if "time.sleep(60)" in t)


def test_subprocess_memory_watchdog():
    (target,) = parse_trace_cli(["tests/trace_models/failing.py:build_hungry"])
    target.memory_limit_mb = 300
    out: list = []
    (d,) = run_trace([target], [], Settings(), timeout=30, root=str(ROOT), results_out=out)
    assert out[0].error["kind"] == "memory" and "more than 300 MB" in d.message and d.code == "DC106"
    assert out[0].stats["total_s"] < 20


@pytest.mark.torch
def test_subprocess_torch_end_to_end_merge():
    pytest.importorskip("torch")
    files = [api.analyze_file(str(MODELS / n)) for n in ("torch_multilevel.py", "torch_helpers.py")]
    out: list = []
    diags = run_trace(
        parse_trace_cli(["tests/trace_models/torch_multilevel.py:build"], ["2,3,8,8"]),
        files,
        Settings(),
        root=str(ROOT),
        results_out=out,
    )
    assert out[0].ok, out[0].error
    assert out[0].stats["peak_rss_mb"] > 0 and out[0].stats["wall_s"] > 0
    assert not [d for d in diags if d.code == "DC106"]
    layers = [lay for f in files for lay in f.layers]
    traced = [lay for lay in layers if lay.source == "trace"]
    assert len(traced) >= 5 and all(lay.trace["targets"] for lay in traced)
    head = next(lay for lay in layers if lay.path.endswith("torch_helpers.py") and lay.out_features == 10)
    assert head.to_json()["input_shape"] == [2, 16] and head.trace["calls"] == 1


@pytest.mark.keras
def test_subprocess_keras_end_to_end_merge():
    pytest.importorskip("keras")
    path = FIXTURES / "keras" / "subclassed.py"
    files = [api.analyze_file(str(path))]
    out: list = []
    diags = run_trace(
        parse_trace_cli(["fixtures/keras/subclassed.py:build"]),
        files,
        Settings(),
        root=str(ROOT),
        results_out=out,
    )
    assert out[0].ok and out[0].framework == "keras", out[0].error
    assert diags == []
    layers = files[0].layers
    assert layers and all(lay.source == "trace" and lay.trace["agrees"] is True for lay in layers)
    proj = next(lay for lay in layers if lay.trace["input_shapes"] == [[None, 32, 32, 32]])
    assert proj.behaves_as == "pointwise" and proj.positions == 1024
    assert [d.code for d in files[0].diagnostics if d.line == proj.line] == ["DC101"]


@pytest.mark.keras
def test_trace_never_hides_a_finding(tmp_path):
    """Findings are computed once, from the final facts: a trace that confirms a static DC101 keeps it, cold
    or from the cache (a warm run once turned two DC101 and exit 1 into "All checks passed!" and exit 0: the
    cache dropped a shape's ``spatial`` fact and the trace re-ran the rules on what was left)."""
    import json
    import subprocess

    pytest.importorskip("keras")
    target = "fixtures/keras/image_fusion_160.py"
    env = {**os.environ, "DENSECHECK_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "densecheck", "--isolated", target]

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            cmd + list(extra), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )

    def codes(proc: subprocess.CompletedProcess) -> list[str]:
        return [line.split()[1] for line in proc.stdout.splitlines() if line.startswith(target)]

    static = run()
    assert static.returncode == 1 and codes(static) == ["DC101", "DC101"]
    for _ in ("cold", "warm"):
        traced = run("--trace", f"{target}:build")
        assert traced.returncode == 1 and codes(traced) == codes(static), traced.stdout + traced.stderr
    doc = json.loads(run("--trace", f"{target}:build", "--format", "json").stdout)
    assert all(lay["source"] == "trace" and lay["trace"]["agrees"] for lay in doc["layers"])
    assert [d["code"] for d in doc["diagnostics"]] == codes(static)
