"""Every output format, on synthetic findings (independent of the engine) and on real runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from densecheck import matchers
from densecheck.api import FileResult
from densecheck.config import Settings
from densecheck.diagnostics import Diagnostic
from densecheck.formats import Context, get, located, repo_root, statistics
from densecheck.formats import github as gh
from densecheck.layers import LayerReport
from densecheck.notebooks import CellLayerReport
from densecheck.rules import ALL_RULES
from densecheck.runner import CheckedFile, Run
from densecheck.shapes import Shape

HERE = Path(__file__).parent
SARIF_SCHEMA = json.loads((HERE / "data" / "sarif-schema-2.1.0.json").read_text())

SOURCE = """import keras
from keras import layers
x = keras.Input(shape=(160, 160, 64))
y = layers.Dense(16)(x)
z = layers.Dense(8)(y)
"""


def layer(line=4, call="layers.Dense(16)", out=16, shape=(None, 160, 160, 64), model="y", path="src/m.py"):
    return LayerReport(
        path,
        line,
        5,
        line,
        5 + len(call),
        "keras",
        "keras.layers.Dense",
        call,
        model=model,
        out_features=out,
        shapes=[Shape.channels_last(shape)],
    )


def diag(
    line=4,
    code="DC101",
    severity="warning",
    message="Dense on a feature map",
    path="src/m.py",
    cell=None,
    fix="pool first",
):
    return Diagnostic(
        path, line, 5, line, 21, code, severity, message, "dense-over-spatial-positions", fix, cell
    )


def make_run(tmp_path, diagnostics=None, layers=None, internal_error=False) -> Run:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "m.py").write_text(SOURCE)
    path = "src/m.py"
    diagnostics = [diag()] if diagnostics is None else diagnostics
    layers = [layer(), layer(5, "layers.Dense(8)", 8, (None, 160, 160, 16))] if layers is None else layers
    result = FileResult(path, layers, diagnostics, internal_error)
    return Run([CheckedFile(path, result, SOURCE.encode())])


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    monkeypatch.delenv("CI_PROJECT_DIR", raising=False)
    return tmp_path


def render(fmt, run, **kw):
    return get(fmt)(Context(run, Settings(), **kw))


# -- concise / full / report
# ----------------------------------------------------------------------------------------
def test_concise(cwd):
    out = render("concise", make_run(cwd)).splitlines()
    assert out[0] == "src/m.py:4:5: DC101 Dense on a feature map"
    assert out[-1] == "Found 1 problem (1 warning); checked 2 layers in 1 file."
    assert render("concise", make_run(cwd), quiet=True) == "src/m.py:4:5: DC101 Dense on a feature map\n"
    assert render("concise", make_run(cwd, [])).strip() == "All checks passed! (checked 2 layers in 1 file)"


def test_concise_paths_outside_cwd_are_absolute(cwd):
    path = str(cwd / "src" / "m.py")
    run = Run([CheckedFile(path, FileResult(path, [], [diag(path=path)]))])
    sub = cwd / "elsewhere"
    sub.mkdir()
    os.chdir(sub)
    out = get("concise")(Context(run, Settings())).splitlines()
    assert out[0].startswith(path + ":4:5: ")
    os.chdir(cwd)
    assert get("concise")(Context(run, Settings())).startswith("src/m.py:4:5: ")


def test_concise_color(cwd):
    out = render("concise", make_run(cwd), color=True)
    assert "\x1b[" in out
    assert "\x1b[" not in render("concise", make_run(cwd))


def test_full_has_snippet_caret_note_and_fix(cwd):
    out = render("full", make_run(cwd))
    assert "src/m.py:4:5: DC101 [warning] Dense on a feature map" in out
    assert "4 | y = layers.Dense(16)(x)" in out
    caret_line = next(ln for ln in out.splitlines() if "^" in ln)
    code_line = next(ln for ln in out.splitlines() if "4 | y = " in ln)
    assert caret_line.index("^") == code_line.index("layers.Dense")
    assert caret_line.count("^") == len("layers.Dense(16)")
    assert "= note: layers.Dense(16) on (None, 160, 160, 64): acts as a 1x1 convolution" in out
    assert "= help: pool first" in out
    assert "= see: densecheck explain DC101" in out


def test_report_lists_every_layer_per_model(cwd):
    out = render("report", make_run(cwd))
    lines = out.splitlines()
    assert lines[0] == "src/m.py"
    assert lines[1].strip() == "model y (2 Dense layers, 1,176 params in them)"
    header = lines[2].split()
    assert header[:2] == ["location", "call"]
    for col in ("input shape", "behaves as", "positions", "params", "if flattened"):
        assert col in lines[2]
    assert re.search(
        r"4:5\s+layers\.Dense\(16\)\s+\(None, 160, 160, 64\)\s+pointwise\s+25,600\s+1,040\s+26,214,416", out
    )
    assert "layers.Dense(8) on (None, 160, 160, 16): acts as a 1x1 convolution at 25,600 positions" in out
    assert "src/m.py:4:5: DC101 Dense on a feature map" in out
    assert "Layers: 2 pointwise." in out


# -- json
# ------------------------------------------------------------------------------------------------------
CONTRACT_LAYER_FIELDS = {
    "path",
    "line",
    "column",
    "framework",
    "layer",
    "input_shape",
    "input_rank",
    "behaves_as",
    "positions",
    "in_features",
    "out_features",
    "params",
    "params_if_flattened",
    "macs",
    "source",
}
CONTRACT_DIAG_FIELDS = {"path", "line", "column", "end_line", "end_column", "code", "severity", "message"}


def test_json_contract(cwd):
    doc = json.loads(render("json", make_run(cwd)))
    assert set(doc) >= {"version", "layers", "diagnostics"}
    assert CONTRACT_LAYER_FIELDS <= set(doc["layers"][0])
    assert CONTRACT_DIAG_FIELDS <= set(doc["diagnostics"][0])
    first = doc["layers"][0]
    assert first["input_shape"] == [None, 160, 160, 64] and first["behaves_as"] == "pointwise"
    assert (
        first["params"] == 1040 and first["params_if_flattened"] == 26214416 and first["positions"] == 25600
    )
    assert doc["summary"]["layers"] == 2 and doc["summary"]["warnings"] == 1
    assert doc["summary"]["behaves_as"] == {"pointwise": 2}
    assert "cell" not in doc["diagnostics"][0]


def test_json_notebook_cell_fields(cwd):
    (cwd / "nb.ipynb").write_text("{}")
    lay = CellLayerReport(**{**vars(layer(path="nb.ipynb")), "cell": 3})
    d = diag(path="nb.ipynb", cell=3)
    run = Run([CheckedFile("nb.ipynb", FileResult("nb.ipynb", [lay], [d]))])
    doc = json.loads(render("json", run))
    assert doc["layers"][0]["cell"] == 3 and doc["diagnostics"][0]["cell"] == 3
    assert render("concise", run).startswith("nb.ipynb:cell 3:4:5: DC101 ")


# -- sarif
# --------------------------------------------------------------------------------------------------------
def test_sarif_is_valid_and_complete(cwd):
    (cwd / ".git").mkdir()
    doc = json.loads(
        render(
            "sarif",
            make_run(
                cwd, [diag(), diag(5, "DC102", "error", "mixes width"), diag(5, "DC900", "info", "unused")]
            ),
        )
    )
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r.code for r in ALL_RULES]
    for r in rules:
        assert r["name"] and r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert "## What it does" in r["help"]["text"]
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    res = run["results"]
    assert [r["level"] for r in res] == ["warning", "error", "note"]
    loc = res[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "src/m.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"]["startLine"] == 4 and loc["region"]["startColumn"] == 5
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == cwd.as_uri() + "/"
    assert rules[res[1]["ruleIndex"]]["id"] == "DC102"
    fps = [r["partialFingerprints"]["densecheck/v1"] for r in res]
    assert len(set(fps)) == 3
    assert run["invocations"][0]["executionSuccessful"] is True


def test_sarif_fingerprint_survives_moving_lines(cwd):
    before = json.loads(render("sarif", make_run(cwd)))["runs"][0]["results"][0]["partialFingerprints"]
    run = make_run(cwd, [diag(line=6)])
    (cwd / "src" / "m.py").write_text("# a comment\n# another\n" + SOURCE)
    run.files[0].data = (cwd / "src" / "m.py").read_bytes()
    after = json.loads(get("sarif")(Context(run, Settings())))["runs"][0]["results"][0]["partialFingerprints"]
    assert before == after


def test_sarif_uris_relative_to_the_git_root_from_a_subdirectory(cwd):
    (cwd / ".git").mkdir()
    make_run(cwd)
    sub = cwd / "src"
    os.chdir(sub)
    run = Run(
        [
            CheckedFile(
                str(cwd / "src" / "m.py"),
                FileResult(str(cwd / "src" / "m.py"), [], [diag(path=str(cwd / "src" / "m.py"))]),
                SOURCE.encode(),
            )
        ]
    )
    doc = json.loads(get("sarif")(Context(run, Settings(), cwd=str(sub))))
    loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert loc["uri"] == "src/m.py"


def test_sarif_with_an_internal_error(cwd):
    doc = json.loads(
        render("sarif", make_run(cwd, [diag(1, "DC002", "error", "internal error")], internal_error=True))
    )
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is False


# -- github
# ---------------------------------------------------------------------------------------------------
def test_github_annotations(cwd):
    out = render("github", make_run(cwd, [diag(), diag(5, "DC102", "error"), diag(5, "DC900", "info")]))
    lines = out.splitlines()
    assert lines[0] == (
        "::warning title=densecheck (DC101),file=src/m.py,line=4,col=5,endLine=4,endColumn=21::"
        "src/m.py:4:5: DC101 Dense on a feature map"
    )
    assert lines[1].startswith("::error ") and lines[2].startswith("::notice ")


def test_github_escaping():
    assert gh.escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert gh.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_github_escapes_messages_and_paths(cwd):
    d = diag(message="100% wrong\nsecond line, really: yes", path="src/m.py")
    out = render("github", make_run(cwd, [d]))
    assert out.count("\n") == 1
    assert "::src/m.py:4:5: DC101 100%25 wrong%0Asecond line, really: yes" in out


def test_github_paths_relative_to_workspace_from_a_subdirectory(cwd, monkeypatch):
    monkeypatch.setenv("GITHUB_WORKSPACE", str(cwd))
    sub = cwd / "src"
    sub.mkdir()
    monkeypatch.chdir(sub)
    abs_run = Run(
        [
            CheckedFile(
                str(cwd / "src/m.py"),
                FileResult(str(cwd / "src/m.py"), [], [diag(path=str(cwd / "src/m.py"))]),
            )
        ]
    )
    out = get("github")(Context(abs_run, Settings(), cwd=str(sub)))
    assert "file=src/m.py," in out
    assert "::m.py:4:5: DC101" in out  # the message shows the path as the user sees it (relative to cwd)


def test_github_uses_git_root_without_workspace(cwd):
    (cwd / ".git").mkdir()
    assert repo_root(str(cwd / "src")) == str(cwd)


# -- gitlab / junit
# ------------------------------------------------------------------------------------------------
def test_gitlab_code_quality(cwd):
    doc = json.loads(render("gitlab", make_run(cwd, [diag(), diag(4, "DC101"), diag(5, "DC102", "error")])))
    assert [d["severity"] for d in doc] == ["minor", "minor", "major"]
    for d in doc:
        assert set(d) == {"description", "check_name", "fingerprint", "severity", "location"}
        assert d["location"]["path"] == "src/m.py" and isinstance(d["location"]["lines"]["begin"], int)
    assert len({d["fingerprint"] for d in doc}) == 3  # unique even for two identical findings
    assert doc[0]["check_name"] == "DC101 dense-over-spatial-positions"


def test_junit(cwd):
    run = make_run(cwd, [diag(), diag(5, "DC102", "error", "a <b> & c")])
    clean = FileResult("src/clean.py")
    run.files.append(CheckedFile("src/clean.py", clean))
    root = ET.fromstring(render("junit", run))
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "2"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["src/m.py", "src/clean.py"]
    failures = suites[0].findall("testcase/failure")
    assert failures[1].get("message") == "a <b> & c"
    assert suites[1].find("testcase/failure") is None


def test_statistics(cwd):
    run = make_run(cwd, [diag(), diag(5), diag(5, "DC102", "error")])
    text = statistics.render(Context(run, Settings()))
    assert text.splitlines() == [
        "2\tDC101\t[warning] dense-over-spatial-positions",
        "1\tDC102\t[error] linear-on-channels-first-axis",
    ]
    assert json.loads(statistics.render(Context(run, Settings()), as_json=True))[0] == {
        "code": "DC101",
        "name": "dense-over-spatial-positions",
        "severity": "warning",
        "count": 2,
    }


def test_located_identity_ignores_line_numbers(cwd):
    run = make_run(cwd)
    ((_, d, path, identity),) = list(located(Context(run, Settings()), str(cwd)))
    assert path == "src/m.py" and "y = layers.Dense(16)(x)" in identity and "|4|" not in identity


# -- problem matchers
# -------------------------------------------------------------------------------------------------
def test_shipped_matchers_are_current():
    hint = (
        "a rule was added or its severity changed: run `python -m densecheck.matchers` and commit the result"
    )
    assert Path(matchers.GITHUB).read_text() == matchers.dumps(matchers.github_matcher()), hint
    assert Path(matchers.VSCODE).read_text() == matchers.dumps(matchers.vscode_matcher()), hint


def _parse_with(matcher_entries, pattern_key, line):
    for entry in matcher_entries:
        pattern = entry["pattern"][0] if isinstance(entry["pattern"], list) else entry["pattern"]
        m = re.match(pattern["regexp"], line)
        if m:
            return {k: m.group(pattern[k]) for k in ("file", "line", "column", "code", "message")} | {
                "severity": entry["severity"]
            }
    return None


MODELS = {
    "m.py": SOURCE,
    "net.py": (
        "import torch\nfrom torch import nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n"
        "        self.fc = nn.Linear(32, 10)\n\n    def forward(self, x):\n"
        "        return self.fc(self.conv(x))\n"
    ),
}


@pytest.mark.parametrize("which", ["github", "vscode"])
def test_matchers_parse_real_concise_output(tmp_path, which):
    for name, text in MODELS.items():
        (tmp_path / name).write_text(text)
    out = subprocess.run(
        [sys.executable, "-m", "densecheck", "--isolated", "-q", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    lines = out.stdout.splitlines()
    assert lines, out.stderr
    entries = (
        json.loads(Path(matchers.GITHUB).read_text())["problemMatcher"]
        if which == "github"
        else json.loads(Path(matchers.VSCODE).read_text())
    )
    parsed = [_parse_with(entries, "pattern", ln) for ln in lines]
    assert all(parsed), lines
    by_code = {}
    for p in parsed:
        by_code.setdefault(p["code"], p)
    assert by_code["DC101"] == {
        "file": "m.py",
        "line": "4",
        "column": "5",
        "code": "DC101",
        "message": by_code["DC101"]["message"],
        "severity": "warning",
    }
    assert by_code["DC101"]["message"].startswith("layers.Dense(16) on a rank-4 input")
    assert by_code["DC102"]["file"] == "net.py" and by_code["DC102"]["severity"] == "error"


def test_matchers_parse_notebook_and_windows_paths():
    entries = matchers.vscode_matcher()
    p = _parse_with(entries, "pattern", "nb.ipynb:cell 3:2:5: DC101 layers.Dense(16) on ...")
    assert (p["file"], p["line"], p["column"]) == ("nb.ipynb", "2", "5")
    p = _parse_with(entries, "pattern", r"C:\work\net.py:12:9: DC102 nn.Linear(32, 10) on ...")
    assert (p["file"], p["line"], p["severity"]) == (r"C:\work\net.py", "12", "error")
