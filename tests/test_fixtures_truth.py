"""densecheck's static report on fixtures/ checked against torch / keras building the same files.

For every fixture the framework builds the model (torch on the meta device, keras symbolically) and
``densecheck.trace.record`` notes, for each Dense/Linear constructor call site, the real input shapes and
parameter count. The static report (``api.analyze_file``, which never executes anything) must agree site by
site: same sites, same rank, same known dims, same params; ``params_if_flattened`` equals the params of a
layer the framework builds on the flattened size. The article's numbers (48 / 112, VGG16's 102,764,544 /
16,781,312 / 4,097,000 ≈ 123.64M) must come out of densecheck *and* equal the framework's counts.

Torch / keras tests skip cleanly when the framework is absent (CI installs both).
"""

from __future__ import annotations

import math
import os
from functools import cache

import pytest
from truth_helpers import (
    BEHAVIOURS,
    CHECKED_CODES,
    FIXTURES,
    expectations,
    flattened_params,
    framework_of,
    load_module,
    record_fixture,
    require,
    torch_linear_flops,
)

from densecheck import api

FIXTURE_FILES = sorted(str(p) for p in FIXTURES.glob("*/*.py"))
TORCH_FILES = [p for p in FIXTURE_FILES if framework_of(p) == "torch"]
KERAS_FILES = [p for p in FIXTURE_FILES if framework_of(p) == "keras"]

# the article (and older code) passes input_shape= to the first layer; Keras 3 warns but builds it the same
# way
pytestmark = pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`:UserWarning")

#: fixtures whose forward pass must fail in the framework itself
RUNTIME_ERRORS = {"torch/in_features_mismatch.py": RuntimeError}


def fid(path: str) -> str:
    return os.path.relpath(path, FIXTURES)


def need(path: str):
    """Skip cleanly when the fixture's framework is not installed (fail instead in CI)."""
    return require(framework_of(path))


@cache
def static(path: str) -> api.FileResult:
    return api.analyze_file(path)


_REAL: dict[str, list] = {}


def real(path: str) -> list:
    """SiteRecords of the fixture, built once per session (VGG16 in keras is 138M parameters)."""
    if path not in _REAL:
        need(path)
        _REAL[path] = record_fixture(path, expect_error=RUNTIME_ERRORS.get(fid(path)))
    return _REAL[path]


def static_layers(path: str) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for layer in static(path).layers:
        j = layer.to_json()
        assert j["line"] not in out, f"{fid(path)}: two layers reported on line {j['line']}"
        out[j["line"]] = j
    return out


def pairs(path: str):
    """(real record, static json) per real site; a site densecheck missed fails here."""
    st = static_layers(path)
    out = []
    for rec in real(path):
        assert rec.line in st, (
            f"{fid(path)}:{rec.line}: {rec.layer} built by the framework, not reported statically"
        )
        out.append((rec, st[rec.line]))
    return out


def single_shape(path, rec) -> list[int | None]:
    assert rec.input_shapes, f"{fid(path)}:{rec.line}: the fixture never calls this layer"
    assert len({len(s) for s in rec.input_shapes}) == 1, "fixtures apply each site at a single rank"
    return rec.input_shapes[0]


all_fixtures = pytest.mark.parametrize("path", FIXTURE_FILES, ids=fid)


# -- the fixtures themselves
# --------------------------------------------------------------------------------------


def test_every_case_has_a_fixture():
    names = {fid(p) for p in FIXTURE_FILES}
    for required in [
        "keras/article_dense_rank3.py",
        "keras/article_flatten.py",
        "keras/vgg16.py",
        "torch/vgg16.py",
        "keras/image_fusion_160.py",
        "torch/linear_after_conv2d.py",
        "torch/convnext_block.py",
        "torch/transformer_mlp.py",
        "torch/in_features_mismatch.py",
        "torch/sequential_ordereddict.py",
        "torch/local_linear_not_a_layer.py",
    ]:
        assert required in names


@pytest.mark.parametrize("path", TORCH_FILES, ids=fid)
def test_torch_fixture_conventions(path):
    torch = need(path)
    mod = load_module(path)
    assert callable(mod.build)
    with torch.device("meta"):
        x = mod.example_input()
    assert tuple(x.shape) == tuple(mod.INPUT_SHAPE)


@pytest.mark.parametrize("path", [p for p in TORCH_FILES if not p.endswith("vgg16.py")], ids=fid)
def test_torch_fixture_runs_on_cpu(path):
    """The small torch fixtures really run (VGG16 runs on the meta device in the other tests)."""
    torch = need(path)
    mod = load_module(path)
    torch.manual_seed(0)
    model = mod.build().eval()
    err = RUNTIME_ERRORS.get(fid(path))
    with torch.no_grad():
        if err is None:
            model(mod.example_input())
        else:
            with pytest.raises(err, match="cannot be multiplied"):
                model(mod.example_input())


# -- site by site against the framework
# ----------------------------------------------------------------------------


@all_fixtures
def test_no_parse_or_internal_error(path):
    codes = [d.code for d in static(path).diagnostics]
    assert "DC001" not in codes and "DC002" not in codes, static(path).diagnostics


@all_fixtures
def test_same_sites_as_the_framework(path):
    """Every Dense/Linear the framework builds from this file is reported, at the same position, and nothing
    else (in particular no local class that merely shares the name)."""
    records = real(path)
    st = static_layers(path)
    assert sorted(st) == sorted(r.line for r in records)
    for rec in records:
        j = st[rec.line]
        if rec.column is not None:
            assert j["column"] == rec.column, f"{fid(path)}:{rec.line}"
        assert j["framework"] == rec.framework
        assert j["layer"] == rec.layer


@all_fixtures
def test_input_rank(path):
    for rec, j in pairs(path):
        real_ranks = sorted({len(s) for s in rec.input_shapes})
        assert j["input_ranks"] == real_ranks, (
            f"{fid(path)}:{rec.line} static {j['input_ranks']} real {real_ranks}"
        )
        assert j["input_rank"] == len(single_shape(path, rec)), f"{fid(path)}:{rec.line}"


@all_fixtures
def test_input_shape_known_dims_agree(path):
    """Where densecheck gives an int for a non-batch dim, it is the real one."""
    for rec, j in pairs(path):
        shape = single_shape(path, rec)
        s = j["input_shape"]
        assert s is not None and len(s) == len(shape), f"{fid(path)}:{rec.line} static {s} real {shape}"
        for i, (a, b) in enumerate(zip(s[1:], shape[1:]), 1):
            if a is not None:
                assert a == b, f"{fid(path)}:{rec.line} axis {i}: static {s} real {shape}"
        # the batch too, when densecheck knows it (torch: the literal in the fixture's __main__ block, which
        # must agree with INPUT_SHAPE / example_input() the framework ran)
        assert s[0] is None or s[0] == shape[0], f"{fid(path)}:{rec.line} batch: static {s} real {shape}"


@all_fixtures
def test_input_shape_fully_known(path):
    """Every fixture's shapes are knowable from its source (literal inputs, constants): densecheck gives them
    all."""
    for rec, j in pairs(path):
        shape = single_shape(path, rec)
        s = j["input_shape"]
        assert s is not None and s[1:] == shape[1:], f"{fid(path)}:{rec.line} static {s} real {shape}"


@all_fixtures
def test_params(path):
    for rec, j in pairs(path):
        assert rec.params is not None, f"{fid(path)}:{rec.line}: framework gave no param count"
        assert j["params"] == rec.params, f"{fid(path)}:{rec.line} static {j['params']} real {rec.params}"
        assert j["out_features"] == rec.out_features
        assert j["bias"] == rec.bias, f"{fid(path)}:{rec.line}"
        # in_features as built: the declared one in torch (the layer's weight), the input's last axis in keras
        assert j["in_features"] == rec.in_features, f"{fid(path)}:{rec.line}"


@all_fixtures
def test_behaves_as(path):
    """Rank <= 2: fully connected. Rank > 2: the real rank cannot tell pointwise from spatial mixing (layout),
    so the fixture says which on the constructor's line."""
    exp = expectations(path)
    for rec, j in pairs(path):
        rank = len(single_shape(path, rec))
        want = exp.get(rec.line)
        if rank <= 2:
            assert want is None or want.behaves_as in (None, "fully_connected"), (
                f"fixture {fid(path)}:{rec.line}"
            )
            expected = "fully_connected"
        else:
            assert want is not None and want.behaves_as in BEHAVIOURS - {"fully_connected"}, (
                f"fixture {fid(path)}:{rec.line}: rank-{rank} site needs '# expect: pointwise|spatial_mixing'"
            )
            expected = want.behaves_as
        assert j["behaves_as"] == expected, (
            f"{fid(path)}:{rec.line} static {j['behaves_as']} expected {expected}"
        )


@all_fixtures
def test_positions_and_macs(path):
    for rec, j in pairs(path):
        shape = single_shape(path, rec)
        positions = math.prod(shape[1:-1]) if len(shape) > 2 else 1
        assert j["positions"] == positions, f"{fid(path)}:{rec.line} static {j['positions']} real {positions}"
        assert rec.macs and rec.macs[0] is not None
        assert j["macs"] == rec.macs[0], f"{fid(path)}:{rec.line} static {j['macs']} real {rec.macs[0]}"


@pytest.mark.parametrize("path", [p for p in TORCH_FILES if fid(p) not in RUNTIME_ERRORS], ids=fid)
def test_macs_match_torch_flop_counter(path):
    """MACs per sample = torch's FLOP count for the layer / 2 / batch / calls (torch.utils.flop_counter)."""
    need(path)
    st = static_layers(path)
    flops = torch_linear_flops(path)
    assert sorted(flops) == sorted(st)
    for line, (total, calls, batch) in flops.items():
        assert total > 0 and calls > 0 and batch
        truth = total // (2 * batch * calls)
        assert total == truth * 2 * batch * calls
        assert st[line]["macs"] == truth, f"{fid(path)}:{line} static {st[line]['macs']} torch {truth}"


@all_fixtures
def test_params_if_flattened(path):
    """Equals the params of a Dense/Linear the framework builds on the flattened input (null at rank <= 2)."""
    fw = framework_of(path)
    for rec, j in pairs(path):
        shape = single_shape(path, rec)
        if len(shape) <= 2:
            assert j["params_if_flattened"] is None, f"{fid(path)}:{rec.line}"
            continue
        truth = flattened_params(fw, shape, rec.out_features, rec.bias)
        assert j["params_if_flattened"] == truth, (
            f"{fid(path)}:{rec.line} static {j['params_if_flattened']} framework {truth}"
        )


@all_fixtures
def test_diagnostics(path):
    """DC101/DC102/DC103 exactly where the fixture says (``# expect: DC10x``), nowhere else."""
    exp = expectations(path)
    got: dict[int, set[str]] = {}
    for d in static(path).diagnostics:
        if d.code in CHECKED_CODES:
            got.setdefault(d.line, set()).add(d.code)
    for line in sorted(set(got) | {ln for ln, e in exp.items() if e.codes}):
        e = exp.get(line)
        want, maybe = (e.codes, e.optional) if e else (set(), set())
        have = got.get(line, set())
        assert want <= have <= want | maybe, (
            f"{fid(path)}:{line} diagnostics {sorted(have)}, expected {sorted(want)}"
        )


# -- the cases the issue names
# ------------------------------------------------------------------------------------


def _one(path: str, line_text: str) -> tuple:
    """(record, static json) of the site whose source line contains ``line_text``."""
    with open(path, encoding="utf-8") as fh:
        lines = [i for i, t in enumerate(fh.read().splitlines(), 1) if line_text in t]
    assert len(lines) == 1, (path, line_text, lines)
    for rec, j in pairs(path):
        if rec.line == lines[0]:
            return rec, j
    raise AssertionError(f"no Dense/Linear at {path}:{lines[0]}")


def _kernel_shape(rec) -> tuple:
    return (rec.in_features, rec.out_features)


def test_article_dense_on_rank3_input():
    path = str(FIXTURES / "keras/article_dense_rank3.py")
    need(path)
    rec, j = _one(path, "Dense(16, input_shape=(3, 2))")
    assert rec.input_shapes == [[None, 3, 2]]
    assert _kernel_shape(rec) == (2, 16)  # the article's printed kernel
    assert (j["in_features"], j["out_features"]) == (2, 16)
    assert j["params"] == rec.params == 48
    assert j["behaves_as"] == "pointwise" and j["positions"] == 3
    # flattening first gives the second example's layer: 112, as keras builds it
    flat_rec, flat_j = _one(str(FIXTURES / "keras/article_flatten.py"), "model.add(Dense(16))")
    assert j["params_if_flattened"] == flat_j["params"] == flat_rec.params == 112


def test_article_flatten_first():
    path = str(FIXTURES / "keras/article_flatten.py")
    need(path)
    rec, j = _one(path, "model.add(Dense(16))")
    assert rec.input_shapes == [[None, 6]]
    assert _kernel_shape(rec) == (6, 16)
    assert (j["in_features"], j["out_features"]) == (6, 16)
    assert j["params"] == rec.params == 112
    assert j["behaves_as"] == "fully_connected" and j["params_if_flattened"] is None


VGG_HEAD = [102_764_544, 16_781_312, 4_097_000]  # the article's table


@pytest.mark.parametrize(
    "path", [str(FIXTURES / "keras/vgg16.py"), str(FIXTURES / "torch/vgg16.py")], ids=fid
)
def test_vgg16_head_is_the_articles_table(path):
    need(path)
    ps = sorted(pairs(path), key=lambda p: p[0].line)
    assert [j["params"] for _, j in ps] == VGG_HEAD
    assert [rec.params for rec, _ in ps] == VGG_HEAD
    assert [j["behaves_as"] for _, j in ps] == ["fully_connected"] * 3
    assert [j["input_shape"][1:] for _, j in ps] == [[7 * 7 * 512], [4096], [4096]]
    total = sum(j["params"] for _, j in ps)
    assert round(total / 1e6, 2) == 123.64
    # and the head is most of the model, as the framework counts it
    mod = load_module(path)
    if framework_of(path) == "keras":
        model_total = _keras_vgg_total(mod)
    else:
        import torch

        with torch.device("meta"):
            model_total = sum(p.numel() for p in mod.build().parameters())
    assert 0.85 < total / model_total < 0.9


_KERAS_VGG_TOTAL: list[int] = []


def _keras_vgg_total(mod) -> int:
    if not _KERAS_VGG_TOTAL:
        _KERAS_VGG_TOTAL.append(mod.build().count_params())
    return _KERAS_VGG_TOTAL[0]


def test_image_fusion_head_warns_dc101():
    path = str(FIXTURES / "keras/image_fusion_160.py")
    need(path)
    res = static(path)
    dense = {j["line"]: j for j in (layer.to_json() for layer in res.layers)}
    dc101 = {d.line for d in res.diagnostics if d.code == "DC101"}
    assert dc101 == set(dense) and len(dc101) == 2
    for rec, j in pairs(path):
        assert j["input_shape"][1:3] == [160, 160] == single_shape(path, rec)[1:3]
        assert j["positions"] == 160 * 160
        assert j["params"] == rec.params


def test_linear_after_conv2d_is_dc102():
    path = str(FIXTURES / "torch/linear_after_conv2d.py")
    need(path)
    rec, j = _one(path, "nn.Linear(32, 10)")
    assert rec.input_shapes == [[2, 16, 32, 32]]
    assert j["behaves_as"] == "spatial_mixing" and j["channel_axis"] == 1
    assert [d.code for d in static(path).diagnostics if d.line == rec.line] == ["DC102"]


def test_in_features_mismatch_is_dc103_and_torch_raises():
    path = str(FIXTURES / "torch/in_features_mismatch.py")
    torch = need(path)
    rec, j = _one(path, "nn.Linear(128, 10)")
    assert rec.input_shapes == [[2, 64]]  # what reached the layer before torch raised
    assert j["input_shape"][1:] == [64]
    assert [d.code for d in static(path).diagnostics if d.line == rec.line] == ["DC103"]
    mod = load_module(path)
    with torch.no_grad(), pytest.raises(RuntimeError, match="cannot be multiplied"):
        mod.build()(mod.example_input())


@pytest.mark.parametrize("name", ["torch/transformer_mlp.py", "torch/convnext_block.py"])
def test_idioms_are_not_flagged(name):
    path = str(FIXTURES / name)
    need(path)
    assert [d for d in static(path).diagnostics if d.severity in ("warning", "error")] == []
    ps = pairs(path)
    assert any(len(single_shape(path, rec)) > 2 for rec, _ in ps)


def test_convnext_pointwise_after_permute():
    path = str(FIXTURES / "torch/convnext_block.py")
    need(path)
    rec, j = _one(path, "self.pwconv1 = nn.Linear(dim, 4 * dim)")
    assert rec.instances == 2 and rec.calls == 2  # one per Block
    assert rec.input_shapes == [[2, 14, 14, 96]]
    assert j["behaves_as"] == "pointwise" and j["positions"] == 14 * 14


@pytest.mark.parametrize("name", ["torch/local_linear_not_a_layer.py", "keras/local_dense_not_a_layer.py"])
def test_local_class_sharing_the_name_is_not_a_layer(name):
    path = str(FIXTURES / name)
    need(path)
    local = "Linear(" if name.startswith("torch") else "Dense("
    with open(path, encoding="utf-8") as fh:
        local_lines = {
            i
            for i, t in enumerate(fh.read().splitlines(), 1)
            if local in t and "nn.Linear" not in t and "layers.Dense" not in t and "class " not in t
        }
    assert local_lines, "the fixture uses its local class"
    reported = {layer.line for layer in static(path).layers}
    assert not reported & local_lines
    assert reported == {r.line for r in real(path)}
    if name.startswith("torch"):
        assert reported == set()
