"""Static mode never imports or executes the code it checks (issue 7).

The files in tests/data/unsafe/ write a marker file when imported or run, then exit the interpreter
(``sys.exit``, ``os._exit``), kill their own process or raise -- at the top level, under ``if __name__ ==
"__main__"``, in class bodies, metaclasses, ``__init_subclass__``, decorators, default arguments and
annotations, and in the sibling modules and the package they import. densecheck is run over them through the
API and the command line (every output format); the marker must never appear, the run must end normally with
the files' findings, and none of the checked modules may be left in ``sys.modules``.

Trace mode is the one place that runs model code, when asked to: always in a child process, so whatever the
code does (exit, kill itself) becomes a DC106 diagnostic and the run goes on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from densecheck import api

UNSAFE = Path(__file__).resolve().parent / "data" / "unsafe"
FILES = sorted(p for p in UNSAFE.rglob("*.py") if "shadow" not in p.parts)
MODELS = [
    "hog.py",
    "top_level.py",
    "main_guard.py",
    "class_body.py",
    "decorators.py",
    "default_args.py",
    "raises.py",
    "uses_sibling.py",
    "pkg/__init__.py",
]  # the files that define a Linear/Dense


@pytest.fixture
def unsafe(tmp_path, monkeypatch):
    """A copy of tests/data/unsafe and the marker path (DENSECHECK_UNSAFE_MARKER) it would write to."""
    root = tmp_path / "unsafe"
    shutil.copytree(UNSAFE, root)
    marker = tmp_path / "MARKER"
    monkeypatch.setenv("DENSECHECK_UNSAFE_MARKER", str(marker))
    yield root, marker
    assert not marker.exists(), f"analysed code ran:\n{marker.read_text()}"
    assert not list(root.rglob("EXECUTED")), "analysed code ran (fallback marker written)"


def test_the_fixtures_really_do_what_they_say(unsafe, tmp_path):
    """Sanity check of the test itself: importing a fixture does write the marker and exit."""
    root, marker = unsafe
    r = subprocess.run(
        [sys.executable, "top_level.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    if "No module named 'torch'" in r.stderr:
        pytest.skip("torch is not installed")
    assert r.returncode == 3
    assert marker.read_text() == "top_level.py: module body\n"
    r = subprocess.run(
        [sys.executable, "-c", "import evil_helper"], cwd=root, capture_output=True, timeout=60
    )
    assert r.returncode == 6
    marker.unlink()


def test_api_never_imports_or_runs_the_files(unsafe):
    root, marker = unsafe
    before = set(sys.modules)
    results = {str(p.relative_to(root)): api.analyze_file(str(p)) for p in sorted(root.rglob("*.py"))}
    for name, res in results.items():
        assert not res.internal_error, (name, res.diagnostics)
        assert not [d for d in res.diagnostics if d.code in ("DC001", "DC002")], (name, res.diagnostics)
    for name in MODELS:
        assert results[name].layers, f"no layer reported in {name}"
    # nothing analysed was imported: no new module named like one of them, none loaded from the unsafe tree
    new = set(sys.modules) - before
    stems = {p.stem for p in root.rglob("*.py")} | {"pkg", "pkg.sub", "_marker"}
    assert not (new & stems), new & stems
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None) or ""
        assert str(root) not in f and str(UNSAFE) not in f, f


def test_analyze_source_never_runs_the_text(unsafe):
    root, marker = unsafe
    for p in sorted(root.rglob("*.py")):
        text = p.read_text(encoding="utf-8")
        res = api.analyze_source(text, "<string>")
        assert not res.internal_error, (p, res.diagnostics)


def _formats() -> list[str]:
    from densecheck.formats import FORMAT_NAMES

    return list(FORMAT_NAMES)


@pytest.mark.parametrize("fmt", _formats())
def test_cli_never_runs_the_files(unsafe, fmt):
    root, marker = unsafe
    env = {**os.environ, "PYTHONPATH": str(root)}  # even with the files importable
    r = subprocess.run(
        [sys.executable, "-m", "densecheck", "--isolated", "--format", fmt, "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode in (0, 1), (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    assert "Traceback" not in r.stdout + r.stderr
    if fmt == "sarif":
        results = [res for run in json.loads(r.stdout)["runs"] for res in run["results"]]
        assert results and not [res for res in results if res["ruleId"] in ("DC001", "DC002")], results
    else:
        assert "DC002" not in r.stdout and "DC001" not in r.stdout, r.stdout
    if fmt == "json":
        doc = json.loads(r.stdout)
        with_layers = {os.path.normpath(layer["path"]) for layer in doc["layers"]}
        assert {os.path.normpath(m) for m in MODELS} <= with_layers, with_layers


def test_cli_json_reports_the_models_findings(unsafe):
    root, marker = unsafe
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "densecheck",
            "--isolated",
            "--format",
            "json",
            "top_level.py",
            "main_guard.py",
            "default_args.py",
            "raises.py",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    codes = {(os.path.basename(d["path"]), d["code"]) for d in doc["diagnostics"]}
    assert ("top_level.py", "DC102") in codes, codes  # Linear on the width axis of an NCHW map
    assert ("main_guard.py", "DC101") in codes, codes  # Dense on a (None, 160, 160, 64) map
    by_file = {}
    for layer in doc["layers"]:
        by_file.setdefault(os.path.basename(layer["path"]), []).append(layer)
    assert len(by_file["default_args.py"]) == 2  # pw1 and pw2, whatever the unevaluated defaults
    raises = by_file["raises.py"][0]
    assert raises["input_shape"] == [None, 3, 2] and raises["params"] == 48, raises


def test_console_script_ignores_modules_in_the_current_directory(unsafe):
    """Modules named like densecheck's own imports in the checked directory are not imported."""
    root, marker = unsafe
    exe = shutil.which("densecheck")
    if exe is None:
        pytest.skip("densecheck is not installed as a console script")
    r = subprocess.run(
        [exe, "--isolated", "--format", "json", "."],
        cwd=root / "shadow",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode in (0, 1), (r.returncode, r.stderr)
    assert json.loads(r.stdout)["layers"], r.stdout


def test_python_dash_m_ignores_modules_in_the_current_directory(unsafe):
    """``python -m densecheck`` puts the current directory first on sys.path, so a pull request adding
    ``json.py`` or ``click.py`` next to the code would run it in CI unless densecheck's ``__main__`` drops
    that entry before importing anything (Python 3.11's ``-P`` does the same)."""
    root, marker = unsafe
    r = subprocess.run(
        [sys.executable, "-m", "densecheck", "--isolated", "--format", "json", "."],
        cwd=root / "shadow",
        capture_output=True,
        text=True,
        timeout=300,
    )
    ran = marker.read_text().strip() if marker.exists() else ""
    marker.unlink(missing_ok=True)
    assert not ran, (
        f"python -m densecheck imported a module from the checked directory: {ran} (exit code {r.returncode})"
    )
    assert r.returncode in (0, 1), (r.returncode, r.stderr)
    assert json.loads(r.stdout)["layers"]


# -- trace mode: runs the code, when asked, in a child process -----------------------------------------------
@pytest.mark.parametrize(
    "target, what",
    [
        ("top_level.py:Net", "sys.exit(3) at import"),
        ("uses_sibling.py:Net", "os._exit(6) in an imported module"),
        ("class_body.py:Head", "SIGKILL of its own process"),
        ("decorators.py:MLP", "SystemExit from a decorator"),
    ],
)
def test_trace_failures_are_diagnostics(unsafe, target, what):
    pytest.importorskip("torch")
    root, marker = unsafe
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "densecheck",
            "--isolated",
            "--format",
            "json",
            "--trace",
            target,
            "--trace-input",
            "1,3,32,32",
            "--trace-timeout",
            "120",
            target.split(":")[0],
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    # the code did run -- in the trace child, as asked: the marker may exist; the parent went on
    if marker.exists():
        marker.unlink()
    for extra in root.rglob("EXECUTED"):
        extra.unlink()
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode in (1, 2), (r.returncode, r.stderr)
    doc = json.loads(r.stdout)
    dc106 = [d for d in doc["diagnostics"] if d["code"] == "DC106"]
    assert dc106, (what, doc["diagnostics"], r.stderr)
    assert doc["layers"], "the static findings were lost"


def test_trace_timeout_and_memory_cap_are_diagnostics(unsafe):
    """A trace that never returns is stopped at its timeout, one that eats memory at its limit: DC106, and the
    static findings are all still there."""
    pytest.importorskip("torch")
    root, marker = unsafe
    (root / "pyproject.toml").write_text(
        "[tool.densecheck]\n"
        "[[tool.densecheck.trace]]\ntarget = 'hog.py:Spin'\ninputs = ['1,8']\ntimeout = 5\n"
        "[[tool.densecheck.trace]]\ntarget = 'hog.py:Eat'\ninputs = ['1,8']\nmemory-limit-mb = 400\n"
        "timeout = 120\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "densecheck", "--format", "json", "--trace", "config", "hog.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    # the traced code did run, as asked, in its child process -- which sees no DENSECHECK_UNSAFE_MARKER (the
    # child's environment is an allow-list), so it wrote its fallback marker next to the file
    marker.unlink(missing_ok=True)
    for executed in root.rglob("EXECUTED"):
        executed.unlink()
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1, (r.returncode, r.stderr)
    doc = json.loads(r.stdout)
    dc106 = sorted(d["message"] for d in doc["diagnostics"] if d["code"] == "DC106")
    assert len(dc106) == 2, doc["diagnostics"]
    assert any("time" in m.lower() for m in dc106), dc106
    assert any("memory" in m.lower() or "MB" in m for m in dc106), dc106
    assert len(doc["layers"]) == 2
