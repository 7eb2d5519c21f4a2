"""The result cache (densecheck/cache.py) and the runner's pre-filter: cached output is the fresh output."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from densecheck import api, cache, findings, runner
from densecheck.cli import cli
from densecheck.config import Settings
from densecheck.formats import FORMAT_NAMES
from densecheck.layers import LayerReport
from densecheck.shapes import Shape, Sym

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DC101 = (
    "import keras\nfrom keras import layers\nx = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16)(x)\n"
)


@pytest.fixture
def proj(tmp_path, monkeypatch):
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "cache"))
    return tmp_path


def invoke(*args: str):
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


def index_files(d: Path) -> list[Path]:
    return sorted(d.glob("index-*.json")) if d.is_dir() else []


def forbid_analysis(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("analysed a file the cache should have answered")

    monkeypatch.setattr(runner, "check_source", boom)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_every_format_is_identical_from_cache(proj, fmt, monkeypatch):
    fresh = invoke("--no-cache", "-j1", "--format", fmt, "fixtures")
    assert not (proj / "cache").exists()  # --no-cache writes nothing
    cold = invoke("-j1", "--format", fmt, "fixtures")
    assert index_files(proj / "cache")
    with monkeypatch.context() as m:
        forbid_analysis(m)
        warm = invoke("-j1", "--format", fmt, "fixtures")
        stats = invoke("-j1", "--statistics", "--format", fmt, "fixtures")
    assert fresh.exit_code == cold.exit_code == warm.exit_code == 1
    assert fresh.output == cold.output == warm.output
    assert stats.output == invoke("--no-cache", "-j1", "--statistics", "--format", fmt, "fixtures").output


def test_cache_directory_layout(proj, monkeypatch):
    monkeypatch.delenv(cache.ENV_VAR)
    (proj / "pyproject.toml").write_text("[tool.densecheck]\nfc-param-budget = 1000\n")
    (proj / "sub").mkdir()
    monkeypatch.chdir(proj / "sub")
    invoke("-j1", str(proj / "fixtures"))
    d = proj / ".densecheck_cache"  # the configuration's directory, not the current one
    assert (d / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (d / ".gitignore").read_text().splitlines()[-1] == "*"
    assert len(index_files(d)) == 1
    assert not (proj / "sub" / ".densecheck_cache").exists()


def test_changed_content_is_analysed_again_and_touch_is_not(proj, monkeypatch):
    src = proj / "m.py"
    src.write_text(DC101)
    assert "DC101" in invoke("-j1", "m.py").output
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched: same bytes
    with monkeypatch.context() as m:
        forbid_analysis(m)
        assert "DC101" in invoke("-j1", "m.py").output
    src.write_text(DC101.replace("layers.Dense(16)(x)", "layers.Dense(16)(layers.Flatten()(x))"))
    r = invoke("-j1", "m.py")
    assert "DC101" not in r.output and "DC104" in r.output


def test_same_size_same_mtime_edit_is_caught_by_the_racy_rule(proj):
    src = proj / "m.py"
    src.write_text(DC101)
    invoke("-j1", "m.py")
    before = src.stat()
    src.write_text(DC101.replace("Dense(16)", "Dense(32)"))  # same size
    os.utime(src, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime
    assert "Dense(32)" in invoke("-j1", "m.py").output  # the fresh stamp was not trusted: verified by hash


def test_configuration_version_and_engine_changes_invalidate(proj, monkeypatch):
    (proj / "vgg.py").write_text(
        "import keras\nfrom keras import layers\nx = keras.Input(shape=(7, 7, 512))\n"
        "x = layers.Flatten()(x)\ny = layers.Dense(4096)(x)\n"
    )
    assert "DC104" in invoke("-j1", "vgg.py").output
    assert invoke("-j1", "--fc-param-budget", "200000000", "vgg.py").exit_code == 0
    assert invoke("-j1", "--ignore", "DC104", "vgg.py").exit_code == 0
    assert len(index_files(proj / "cache")) == 3
    # the output format and the fail level are not part of the key
    invoke("-j1", "--format", "json", "--fail-level", "error", "vgg.py")
    assert len(index_files(proj / "cache")) == 3
    s = Settings()
    key = cache.run_key(s)
    with monkeypatch.context() as m:
        m.setattr(cache, "__version__", "999.0")
        assert cache.run_key(s) != key
    with monkeypatch.context() as m:
        m.setattr(cache, "_source_hash", "edited-engine")
        assert cache.run_key(s) != key
    assert cache.run_key(s) == key


def test_corrupt_cache_is_ignored(proj, monkeypatch):
    expected = invoke("--no-cache", "-j1", "--format", "json", "fixtures").output
    invoke("-j1", "fixtures")
    (index,) = index_files(proj / "cache")
    index.write_bytes(b"\x00garbage{")
    assert invoke("-j1", "--format", "json", "fixtures").output == expected
    doc = json.loads(index.read_bytes().partition(b"\n")[2])  # rewritten (signature, newline, JSON)
    first = next(iter(doc["files"]))
    doc["files"][first][4] = {"path": 1}  # a bad entry
    second = list(doc["files"])[1]
    doc["files"][second] = "nonsense"
    body = json.dumps(doc).encode()
    secret = cache.machine_secret()
    assert secret is not None
    index.write_bytes(cache._mac(secret, body) + b"\n" + body)  # signed: bad entries of a trusted index
    assert invoke("-j1", "--format", "json", "fixtures").output == expected


def test_unwritable_cache_is_not_fatal(proj, monkeypatch):
    blocker = proj / "cache"
    blocker.write_text("a file where the directory should be")
    r = invoke("-j1", "fixtures")
    assert r.exit_code == 1 and "DC101" in r.output


def test_symbols_keep_their_identity_through_the_cache():
    b, t = Sym("b"), Sym("t")
    rep = LayerReport(
        "m.py",
        1,
        1,
        1,
        10,
        "torch",
        "torch.nn.Linear",
        "nn.Linear(8, 4)",
        in_features=8,
        out_features=4,
        shapes=[Shape.of((b, t, 8), -1), Shape.of((b, t, 8), -1), Shape.of((b, 3, 8))],
    )
    rep.shapes = rep.shapes[:2]
    res = api.FileResult("m.py", layers=[rep])
    back = cache.result_from_json(json.loads(json.dumps(cache.result_to_json(res))))
    (layer,) = back.layers
    assert layer.input.dims[0] is layer.shapes[1].dims[0]  # still one symbol, so the join keeps it
    assert layer.to_json() == rep.to_json()


def _dims():
    from hypothesis import strategies as st

    shared = [Sym("b"), Sym("t")]
    dim = st.one_of(
        st.none(), st.integers(0, 10**18), st.booleans(), st.sampled_from(shared), st.builds(Sym, st.text())
    )
    return st.one_of(st.none(), st.lists(dim, max_size=6).map(tuple))


def test_every_value_a_shape_can_hold_survives_the_cache():
    """Bool, int, shared symbolic and unknown dims, unknown rank, every layout flag, and every fact of a
    LayerReport (contexts, head marks, targets, where the rank came from): what comes back from the cache is
    what went in, so no result can miss the cache (a bool dim once did)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @st.composite
    def shapes(draw):
        dims = draw(_dims())
        ca = draw(st.none() | st.integers(0, 5)) if dims else None
        ca = ca if ca is None or (dims and ca < len(dims)) else None
        return Shape(dims, ca, draw(st.booleans()), draw(st.booleans()), draw(st.booleans()))

    @settings(max_examples=200, deadline=None)
    @given(st.lists(shapes(), max_size=4), st.data())
    def check(found, data):
        contexts = [data.draw(st.none() | st.sampled_from(["A.forward", "build"])) for _ in found]
        rep = LayerReport(
            "m.py",
            1,
            1,
            1,
            10,
            "torch",
            "torch.nn.Linear",
            "nn.Linear(8, 4)",
            in_features=8,
            out_features=4,
            shapes=list(found),
            contexts=contexts,
            model_output=data.draw(st.booleans()),
            squashed=data.draw(st.none() | st.just("softmax")),
            targets=data.draw(st.none() | st.just([32, 1])),
            input_rank_from=data.draw(st.none() | st.just("Conv2d at m.py:3")),
        )
        res = api.FileResult("m.py", layers=[rep])
        (back,) = cache.result_from_json(json.loads(json.dumps(cache.result_to_json(res)))).layers
        assert len(back.shapes) == len(rep.shapes) and back.contexts == rep.contexts
        for a, b in zip(rep.shapes, back.shapes):
            assert (a.rank, a.channel_axis, a.explicit_layout, a.spatial, a.declared) == (
                b.rank,
                b.channel_axis,
                b.explicit_layout,
                b.spatial,
                b.declared,
            )
            for x, y in zip(a.dims or (), b.dims or ()):
                assert type(x) is type(y) and (x == y if not isinstance(x, Sym) else x.name == y.name)
        assert back.to_json() == rep.to_json()
        assert (back.model_output, back.squashed, back.targets) == (
            rep.model_output,
            rep.squashed,
            rep.targets,
        )

    check()


PREFILTER_CASES = {
    "plain.py": "x = 1\n",
    "syntax.py": "def f(:\n    pass\n",
    "py2.py": "print 'hello'\n",
    "newer.py": "type Alias = int\n\ndef f[T](x: T) -> T:\n    return x\n",
    "nul.py": "x = 1\x00\n",
    "noqa.py": "x = 1  # noqa: DC101\ny = 2  # densecheck: ignore[DC102]\n",
    "latin1.py": "# -*- coding: latin-1 -*-\ns = 'caf\xe9'\n",
    "deep.py": "x = " + "(" * 250 + "1" + ")" * 250 + "\n",
    "torch_no_linear.py": "import torch\nfrom torch import nn\nconv = nn.Conv2d(3, 8, 3)\n",
    "linear_in_comment.py": "# nn.Linear is elsewhere\nx = 1\n",
    "linear.py": "import torch\nfrom torch import nn\nfc = nn.Linear(4, 2)\nfc(torch.randn(2, 3, 4))\n",
}


@pytest.mark.parametrize("extend", [[], ["DC900"]])
@pytest.mark.parametrize("name", sorted(PREFILTER_CASES))
def test_prefilter_gives_what_the_full_analysis_gives(name, extend):
    text = PREFILTER_CASES[name]
    data = text.encode("latin-1") if "latin1" in name else text.encode()
    s = Settings(extend_select=extend)
    fast = findings.finish(runner.analyze_python(data, name, s), s)  # the pre-filtered path gives facts
    full = api.analyze_source(data, name, s)
    assert (fast.layers and [x.to_json() for x in fast.layers]) == (
        full.layers and [x.to_json() for x in full.layers]
    )
    assert fast.diagnostics == full.diagnostics
    assert fast.internal_error == full.internal_error


def test_candidate_names_come_from_the_framework_tables():
    assert runner.candidate_names() == ("Dense", "Linear")
