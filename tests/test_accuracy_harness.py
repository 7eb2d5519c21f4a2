"""Smoke test of benchmarks/accuracy.py (the full harness is far too slow for the suite: run it by hand)."""

from __future__ import annotations

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def acc():
    spec = importlib.util.spec_from_file_location(
        "densecheck_accuracy", os.path.join(ROOT, "benchmarks", "accuracy.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _t(path, line, col, ranks, shapes=None, in_f=None):
    return {
        "path": path,
        "line": line,
        "column": col,
        "ranks": ranks,
        "shapes": shapes if shapes is not None else [[2] * r for r in ranks],
        "in_features": in_f or [],
    }


def _s(path, line, col, rank, ranks=None, shape=None):
    return {
        "path": path,
        "line": line,
        "column": col,
        "input_rank": rank,
        "input_ranks": ranks,
        "input_shape": shape,
        "layer": "torch.nn.Linear",
    }


def test_compare_synthetic(acc):
    traced = [
        _t("pkg/a.py", 10, 9, [3]),  # correct
        _t("pkg/a.py", 11, 9, [2]),  # wrong (static says 3)
        _t("pkg/a.py", 12, 9, [3]),  # null
        _t("pkg/a.py", 13, 9, [4]),  # missing (no static layer on the line)
        # two sites on one line, static columns shifted by one: paired in column order
        _t("pkg/b.py", 5, 20, [2]),
        _t("pkg/b.py", 5, 40, [4], shapes=[[2, 8, 8, 16]]),
        _t("pkg/b.py", 7, 5, [2, 3]),  # multi-rank
        _t("pkg/b.py", 8, 5, []),  # constructed, never called
    ]
    static = [
        _s("pkg/a.py", 10, 9, 3),
        _s("pkg/a.py", 11, 9, 3),
        _s("pkg/a.py", 12, 9, None),
        _s("pkg/b.py", 5, 41, 4, shape=[None, 8, 8, 16]),
        _s("pkg/b.py", 5, 21, 2),
        _s("pkg/b.py", 7, 5, 3, ranks=[2, 3]),
        _s("pkg/b.py", 8, 5, 2),
        _s("pkg/c.py", 1, 1, 2),  # a file no model exercised
    ]
    diags = [
        {"path": "pkg/b.py", "line": 5, "column": 41, "code": "DC101", "message": "rank-4"},
        {"path": "pkg/a.py", "line": 11, "column": 9, "code": "DC101", "message": "rank-3 (wrongly)"},
        {"path": "pkg/c.py", "line": 1, "column": 1, "code": "DC103", "message": "mismatch"},
    ]
    # DC102 on a channels-first guess the trace contradicts: the traced last axis is the channel count
    static.append(dict(_s("pkg/d.py", 3, 5, 3, shape=[1, None, None]), channel_axis=1))
    traced.append(_t("pkg/d.py", 3, 5, [3], shapes=[[1, 8192, 1024]], in_f=[1024]))
    diags.append({"path": "pkg/d.py", "line": 3, "column": 5, "code": "DC102", "message": "axis 2 spatial"})
    res = acc.compare(static, traced, diags)
    assert (res["eligible"], res["correct"], res["wrong"], res["null"], res["missing"]) == (7, 4, 1, 1, 1)
    assert res["coverage"] == pytest.approx(4 / 7)
    assert res["precision"] == pytest.approx(4 / 5)
    assert [r["site"]["line"] for r in res["rows"]["wrong"]] == [11]
    assert res["counts"]["multi"] == 1 and res["rows"]["multi"][0]["verdict"] == "same_set"
    assert res["counts"]["not_called"] == 1
    status = {(f["path"], f["line"]): f["status"] for f in res["findings"]}
    assert status == {
        ("pkg/b.py", 5): "confirmed by trace",
        ("pkg/a.py", 11): "NOT confirmed",
        ("pkg/c.py", 1): "not traced",
        ("pkg/d.py", 3): "NOT confirmed",
    }


def test_aggregate_merges_models(acc):
    results = [
        {
            "id": "m1",
            "ok": True,
            "sites": [
                {
                    "path": "p.py",
                    "line": 1,
                    "column": 5,
                    "layer": "torch.nn.Linear",
                    "shapes": [[2, 16, 8]],
                    "in_features": 8,
                    "calls": 1,
                }
            ],
        },
        {
            "id": "m2",
            "ok": True,
            "sites": [
                {
                    "path": "p.py",
                    "line": 1,
                    "column": 5,
                    "layer": "torch.nn.Linear",
                    "shapes": [[2, 8]],
                    "in_features": 8,
                    "calls": 2,
                }
            ],
        },
        {"id": "m3", "ok": False, "reason": "boom"},
    ]
    (site,) = acc.aggregate(results)
    assert site["ranks"] == [2, 3] and site["models"] == ["m1", "m2"] and site["calls"] == 3


def test_tiny_bert_end_to_end(acc):
    """A 1-layer BERT traced on the meta device against static analysis of the installed modeling_bert.py."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from densecheck.trace.record import record_torch

    config = transformers.BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, vocab_size=100
    )
    cls = transformers.BertForSequenceClassification
    records = record_torch(lambda: cls(config), lambda: acc.transformers_inputs(cls, config), device="meta")
    root = os.path.dirname(os.path.dirname(os.path.realpath(transformers.__file__)))
    sites = acc.aggregate(
        [{"id": "tiny-bert", "ok": True, "sites": acc._sites(records, root, "transformers/")}]
    )
    assert sites and all(s["path"] == "transformers/models/bert/modeling_bert.py" for s in sites)
    assert any(s["ranks"] == [3] for s in sites) and any(s["ranks"] == [2] for s in sites)  # encoder / pooler

    layers, diags, internal = acc._static_one((os.path.join(root, sites[0]["path"]), root))
    assert not internal
    res = acc.compare(layers, sites, diags)
    assert res["eligible"] == len(sites)
    assert res["wrong"] == 0, res["rows"]["wrong"]


def test_diffusers_input_layouts(acc):
    """The main-input layouts tried for a diffusers model, and their shapes (no diffusers needed)."""
    assert acc.diffusers_layouts("UNet2DConditionModel", {}) == ["image", "tokens"]
    assert acc.diffusers_layouts("WanTransformer3DModel", {})[0] == "video"
    assert acc.diffusers_layouts("FooModel", {"patch_size_t": 2}) == ["video", "video_tc", "tokens"]
    assert acc.diffusers_layouts("AutoencoderOobleck", {}) == ["audio", "tokens"]
    cfg = {"in_channels": 16, "sample_size": 128, "patch_size_t": 2}
    assert acc.diffusers_main_shape("FooTransformer3DModel", cfg, "video") == [2, 16, 4, 32, 32]
    assert acc.diffusers_main_shape("FooTransformer3DModel", cfg, "video_tc") == [2, 4, 16, 32, 32]
    assert acc.diffusers_main_shape("AutoencoderKL", {"in_channels": 3, "sample_size": 32}, "image") == [
        2,
        3,
        64,
        64,
    ]
    assert acc.diffusers_main_shape("FluxTransformer2DModel", {"in_channels": 64}, "tokens") == [2, 16, 64]
    assert acc._first_int({"cross_attention_dim": (768, 1024), "x": None}, "x", "cross_attention_dim") == 768


def test_diffusers_constructor_overrides(acc):
    class Model:
        def __init__(self, in_channels=None, patch_size=2, num_layers=19, num_single_layers=38, depth=1):
            pass

    assert acc.diffusers_build_kwargs(Model) == {"in_channels": acc.DIFFUSERS_FILL["in_channels"]}
    assert acc._shrunk_kwargs(Model) == {"num_layers": 2, "num_single_layers": 2}


def test_keras_reason(acc):
    inner = (
        'Exception encountered when calling layer "bert" (type BertPretrainerV2).\n\nin user code:\n\n'
        '    File "x.py", line 3, in call  *\n        y = f(x)\n\n'
        "    TypeError: list indices must be integers or slices, not str\n"
    )
    assert (
        acc.keras_reason(ValueError(inner)) == "TypeError: list indices must be integers or slices, not str"
    )
    assert acc.keras_reason(KeyError("k")) == "KeyError: 'k'"
