"""An internal error on one file (issue 7, item 5): reported as such, the other files still analysed, exit
code 2.

The engine entry (``densecheck.engine.analyze_module``) is made to fail for one file only: in-process with a
monkeypatch (API, and the click command through CliRunner), and in subprocesses -- including the worker
processes of a parallel run -- through tests/data/fail_hook/sitecustomize.py. Every time: one DC002 for that
file, with a pointer to the issue tracker; every finding of the other files still in the output; exit code 2,
also with ``--exit-zero``; a one-line note on stderr; never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import densecheck.engine as analysis
from densecheck import api
from densecheck.api import ISSUES_URL

HOOK = Path(__file__).resolve().parent / "data" / "fail_hook"

KERAS_DC101 = (
    "import keras\nfrom keras import layers\n"
    "x = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16)(x)\n"
)  # DC101 at 4:5
TORCH_DC102 = (
    "import torch\nfrom torch import nn\n\n"
    "class Net(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.conv = nn.Conv2d(3, 16, 3, padding=1)\n"
    "        self.fc = nn.Linear(32, 10)\n\n"
    "    def forward(self, x):\n"
    "        return self.fc(self.conv(x))\n"
)  # DC102 at 8:19
TORCH_OK = "import torch\nfrom torch import nn\nhead = nn.Sequential(nn.Flatten(), nn.Linear(512, 10))\n"


@pytest.fixture
def three(tmp_path, monkeypatch):
    """a.py (DC101), b.py (the one that fails), c.py (DC102), in the current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_text(KERAS_DC101)
    (tmp_path / "b.py").write_text(TORCH_OK)
    (tmp_path / "c.py").write_text(TORCH_DC102)
    return tmp_path


def fail_on(monkeypatch, name: str, exc: BaseException) -> None:
    real = analysis.analyze_module

    def flaky(module, path, *rest):
        if os.path.basename(path) == name:
            raise exc
        return real(module, path, *rest)

    monkeypatch.setattr(analysis, "analyze_module", flaky)


def assert_reported(dc002_line: str, what: str) -> None:
    assert what in dc002_line, dc002_line
    assert ISSUES_URL in dc002_line and "report" in dc002_line, dc002_line


# -- API -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "exc, what",
    [
        (ValueError("boom"), "ValueError: boom"),
        (KeyError("shape"), "KeyError"),
        (AssertionError("invariant"), "AssertionError: invariant"),
        (RecursionError("loop"), "RecursionError: loop"),  # not explained by the tree's depth: a bug
        (
            SystemExit(3),
            "SystemExit: 3",
        ),  # only densecheck itself could raise it: the checked code never runs
    ],
)
def test_api_reports_the_failing_file_and_analyses_the_others(three, monkeypatch, exc, what):
    fail_on(monkeypatch, "b.py", exc)
    results = {os.path.basename(r.path): r for r in api.analyze_paths(["a.py", "b.py", "c.py"])}
    b = results["b.py"]
    assert b.internal_error and b.layers == []
    assert [d.code for d in b.diagnostics] == ["DC002"]
    assert_reported(b.diagnostics[0].message, what)
    assert b.diagnostics[0].severity == "error"
    for name, code, at in (("a.py", "DC101", (4, 5)), ("c.py", "DC102", (8, 19))):
        r = results[name]
        assert not r.internal_error and len(r.layers) == 1
        assert [(d.code, d.line, d.column) for d in r.diagnostics] == [(code, *at)]


def test_api_out_of_memory_is_over_budget_not_a_bug(three, monkeypatch):
    """Running out of memory on one file is that file's DC003 (over its memory budget), the others
    analysed."""
    fail_on(monkeypatch, "b.py", MemoryError())
    results = {os.path.basename(r.path): r for r in api.analyze_paths(["a.py", "b.py", "c.py"])}
    b = results["b.py"]
    assert not b.internal_error and b.layers == []
    assert [d.code for d in b.diagnostics] == ["DC003"] and "memory" in b.diagnostics[0].message
    assert [len(results[n].layers) for n in ("a.py", "c.py")] == [1, 1]


def test_api_failure_in_a_rule_or_suppressions_is_dc002(three, monkeypatch):
    from densecheck import rules, suppressions

    real_apply = suppressions.apply

    def bad_apply(diags, source, settings=None, path=None):
        if path is not None and path.endswith("b.py"):  # findings.finish applies the suppressions of b.py
            raise TypeError("bad directive")
        return real_apply(diags, source, settings, path)

    monkeypatch.setattr(suppressions, "apply", bad_apply)
    b = api.analyze_file("b.py")
    assert b.internal_error and [d.code for d in b.diagnostics] == ["DC002"]
    assert_reported(b.diagnostics[0].message, "TypeError: bad directive")
    monkeypatch.setattr(suppressions, "apply", real_apply)

    rule = next(r for r in rules.LAYER_RULES if r.code == "DC102")
    real_check = type(rule).check

    def bad_check(self, layer, settings):
        if layer.path.endswith("c.py"):
            raise IndexError("rule bug")
        return real_check(self, layer, settings)

    monkeypatch.setattr(type(rule), "check", bad_check)
    c = api.analyze_file("c.py")
    assert c.internal_error and [d.code for d in c.diagnostics] == ["DC002"]
    assert_reported(c.diagnostics[0].message, "IndexError: rule bug")
    a = api.analyze_file("a.py")
    assert not a.internal_error and [d.code for d in a.diagnostics] == ["DC101"]


def test_keyboard_interrupt_is_not_swallowed(three, monkeypatch):
    fail_on(monkeypatch, "b.py", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        api.analyze_file("b.py")


# -- the command line, in-process ----------------------------------------------------------------------------
def invoke(*args: str):
    from densecheck.cli import cli

    return CliRunner().invoke(cli, ["--isolated", "--no-cache", "-j", "1", *args], catch_exceptions=False)


def test_cli_text_output(three, monkeypatch):
    fail_on(monkeypatch, "b.py", ValueError("boom"))
    r = invoke("a.py", "b.py", "c.py")
    assert r.exit_code == 2, r.output
    out = r.stdout
    assert "a.py:4:5: DC101 " in out
    assert "c.py:8:19: DC102 " in out
    b_lines = [ln for ln in out.splitlines() if ln.startswith("b.py:")]
    assert len(b_lines) == 1 and b_lines[0].startswith("b.py:1:1: DC002 internal error: ValueError: boom")
    assert_reported(b_lines[0], "ValueError: boom")
    assert "densecheck failed on some files (DC002)" in r.stderr and ISSUES_URL in r.stderr
    assert "Traceback" not in r.output


def test_cli_exit_zero_and_directories(three, monkeypatch):
    fail_on(monkeypatch, "b.py", ValueError("boom"))
    assert invoke("--exit-zero", ".").exit_code == 2  # an internal error is never a pass
    r = invoke("--quiet", ".")
    assert r.exit_code == 2 and "b.py:1:1: DC002" in r.stdout and "a.py:4:5: DC101" in r.stdout
    r = invoke("--statistics", ".")
    assert r.exit_code == 2 and "DC002" in r.stdout


@pytest.mark.parametrize("fmt", ["json", "sarif", "concise", "full", "github", "gitlab", "junit", "grouped"])
def test_cli_every_format_keeps_everything(three, monkeypatch, fmt):
    from densecheck.formats import FORMAT_NAMES

    if fmt not in FORMAT_NAMES:
        pytest.skip(f"no {fmt} format")
    fail_on(monkeypatch, "b.py", ValueError("boom"))
    r = invoke("--format", fmt, ".")
    assert r.exit_code == 2, r.output
    out = r.stdout
    assert "DC002" in out and "DC101" in out and "DC102" in out, out
    assert "boom" in out
    if fmt == "json":
        doc = json.loads(out)
        codes = sorted((os.path.basename(d["path"]), d["code"]) for d in doc["diagnostics"])
        assert codes == [("a.py", "DC101"), ("b.py", "DC002"), ("c.py", "DC102")]
        assert sorted(os.path.basename(lyr["path"]) for lyr in doc["layers"]) == ["a.py", "c.py"]
        b = next(d for d in doc["diagnostics"] if d["code"] == "DC002")
        assert_reported(b["message"], "ValueError: boom")
        assert b["severity"] == "error"


def test_cli_main_entry_point(three, monkeypatch, capsys):
    """densecheck.cli.main (the console script) in-process: SystemExit(2), all output printed."""
    from densecheck.cli import main

    fail_on(monkeypatch, "b.py", RuntimeError("kaput"))
    with pytest.raises(SystemExit) as info:
        main(["--isolated", "--no-cache", "-j", "1", "a.py", "b.py", "c.py"])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert "a.py:4:5: DC101" in out and "c.py:8:19: DC102" in out
    assert "b.py:1:1: DC002 internal error: RuntimeError: kaput" in out
    assert ISSUES_URL in err and "Traceback" not in out + err


def test_an_error_outside_any_file_is_one_line_and_exit_2(three, monkeypatch, capsys):
    """A bug outside the per-file guard (here: in the output format) still ends with exit 2 and no
    traceback."""
    from densecheck import formats
    from densecheck.cli import main

    def broken(*a, **kw):
        raise ZeroDivisionError("format bug")

    monkeypatch.setattr(formats, "get", lambda name: broken)
    with pytest.raises(SystemExit) as info:
        main(["--isolated", "--no-cache", "a.py"])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert "internal error: ZeroDivisionError: format bug" in err and ISSUES_URL in err
    assert "Traceback" not in out + err


# -- subprocesses and worker processes -----------------------------------------------------------------------
def run_hooked(cwd: Path, *args: str, fail_on: str, mode: str = "raise") -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HOOK), os.environ.get("PYTHONPATH", "")]),
        "DENSECHECK_TEST_FAIL_ON": fail_on,
        "DENSECHECK_TEST_FAIL_MODE": mode,
    }
    return subprocess.run(
        [sys.executable, "-m", "densecheck", "--isolated", "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def many(tmp_path: Path, n: int = 24) -> Path:
    """``n`` files -- enough for a parallel run -- each with one DC101; f07.py is the one that fails."""
    for i in range(n):
        (tmp_path / f"f{i:02d}.py").write_text(KERAS_DC101)
    return tmp_path


def test_subprocess_serial_run(three):
    r = run_hooked(three, "-j", "1", "a.py", "b.py", "c.py", fail_on="b.py")
    assert r.returncode == 2, r.stderr
    assert "a.py:4:5: DC101" in r.stdout and "c.py:8:19: DC102" in r.stdout
    assert "b.py:1:1: DC002 internal error: ValueError: injected failure on b.py" in r.stdout
    assert ISSUES_URL in r.stderr and "Traceback" not in r.stdout + r.stderr


def test_worker_process_exception(tmp_path):
    root = many(tmp_path)
    r = run_hooked(root, "-j", "2", "--format", "json", ".", fail_on="f07.py")
    assert r.returncode == 2, r.stderr
    doc = json.loads(r.stdout)
    dc002 = [d for d in doc["diagnostics"] if d["code"] == "DC002"]
    assert [os.path.basename(d["path"]) for d in dc002] == ["f07.py"]
    assert_reported(dc002[0]["message"], "injected failure")
    assert len([d for d in doc["diagnostics"] if d["code"] == "DC101"]) == 23
    assert len(doc["layers"]) == 23


@pytest.mark.parametrize("mode", ["exit", "kill"])
def test_worker_process_death(tmp_path, mode):
    """A worker that dies on one file (a native crash, the out-of-memory killer): that file is reported
    (DC002), the 23 others keep their findings, exit code 2 -- the run itself must not die with it."""
    root = many(tmp_path)
    r = run_hooked(root, "-j", "2", "--format", "json", ".", fail_on="f07.py", mode=mode)
    assert r.returncode == 2, (
        f"exit code {r.returncode}: the run died with the worker; stdout={r.stdout[-500:]!r} "
        f"stderr={r.stderr[-1000:]!r}"
    )
    doc = json.loads(r.stdout)
    dc002 = [d for d in doc["diagnostics"] if d["code"] == "DC002"]
    assert [os.path.basename(d["path"]) for d in dc002] == ["f07.py"], doc["diagnostics"]
    assert ISSUES_URL in dc002[0]["message"]
    assert len([d for d in doc["diagnostics"] if d["code"] == "DC101"]) == 23
