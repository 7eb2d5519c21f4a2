"""Newcomer paper cuts (issue 18), each seen when tried as a new user would."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from densecheck.cli import cli
from tests.test_notebooks import NB


def invoke(*args: str, **kw):
    return CliRunner().invoke(cli, ["--isolated", "--no-cache", *args], **kw)


# -- 1. notebook JSON on standard input ----------------------------------------------------------------------


def test_notebook_json_on_stdin_is_analysed_as_a_notebook(tmp_path, monkeypatch):
    """``densecheck - < model.ipynb`` finds what ``densecheck model.ipynb`` finds (it once printed "All checks
    passed!" for input it had not analysed)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.ipynb").write_text(NB)
    from_file = invoke("model.ipynb")
    from_stdin = invoke("-", input=NB)
    assert from_file.exit_code == from_stdin.exit_code == 1
    codes = [line.split()[1] for line in from_file.output.splitlines() if ": DC" in line]
    assert codes and [line.split()[1] for line in from_stdin.output.splitlines() if ": DC" in line] == codes
    assert "cell 3" in from_stdin.output


def test_json_on_stdin_that_is_not_a_notebook_is_python(tmp_path, monkeypatch):
    """A JSON-looking Python file (a dict literal) is still Python: only notebook JSON is a notebook."""
    monkeypatch.chdir(tmp_path)
    r = invoke("-", input='{"cells": 1}\n')
    assert r.exit_code == 0 and "checked 0 layers" in r.output


# -- 2. one span per finding, drawn as reported --------------------------------------------------------------


@pytest.mark.parametrize("source", ["import torch\n\nx = (1,\ny = 2\n", "import torch\nx = 'unterminated\n"])
def test_full_format_draws_the_span_json_reports(tmp_path, monkeypatch, source):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text(source)
    (d,) = json.loads(invoke("--format", "json", "bad.py").output)["diagnostics"]
    full = invoke("--format", "full", "bad.py").output.splitlines()
    (marks,) = [line for line in full if "^" in line and d["code"] in line]
    carets = marks.count("^")
    expected = d["end_column"] - d["column"] if d["end_line"] == d["line"] else None
    assert carets == (max(1, expected) if expected is not None else carets)
    # the caret starts under the reported column
    gutter = marks.index("|") + 2
    assert marks.index("^") - gutter == d["column"] - 1


# -- 4, 5. trace targets next to an instance built at import time -----------------------------------------

INST = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(x)


model = Net()
"""


def _trace(tmp_path, target: str) -> dict:
    import os
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "densecheck", "--isolated", "--no-cache", "--format", "json", "inst.py"]
    cmd += ["--trace", target, "--trace-input", "2,16"]
    env = {**os.environ, "DENSECHECK_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    doc = json.loads(proc.stdout)
    assert not [d for d in doc["diagnostics"] if d["code"] == "DC106"], doc["diagnostics"]
    (layer,) = doc["layers"]
    return layer


@pytest.mark.torch
@pytest.mark.parametrize("target", ["inst.py:Net", "inst.py:model"])
def test_trace_counts_only_the_traced_instance(tmp_path, target):
    """``--trace inst.py:Net`` counts the instance the target call builds, not the module's own ``model``;
    ``--trace inst.py:model`` traces that instance (it once failed with "not on the expected device meta")."""
    torch = pytest.importorskip("torch")
    (tmp_path / "inst.py").write_text(INST)
    expected = sum(p.numel() for p in torch.nn.Linear(16, 10).parameters())  # 170, from torch
    layer = _trace(tmp_path, target)
    assert layer["source"] == "trace"
    assert layer["trace"]["instances"] == 1
    assert layer["trace"]["params_total"] == expected


# -- 3. MACs in the convention of the counters users compare with ----------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("shape", [(2, 5, 16), (2, 3, 4, 16), (2, 16)])
def test_trace_macs_agree_with_thop(shape):
    """``mult_adds`` (whole batch) is what thop counts for a Linear: in x out per position, no bias; ``macs``
    is the same per sample. thop builds and runs the layer itself."""
    torch = pytest.importorskip("torch")
    thop = pytest.importorskip("thop")
    from densecheck.trace.record import record_torch

    (rec,) = record_torch(lambda: torch.nn.Linear(16, 10), lambda: torch.empty(*shape), device="cpu")
    counted, _ = thop.profile(torch.nn.Linear(16, 10), inputs=(torch.randn(*shape),), verbose=False)
    assert rec.mult_adds == int(counted)
    assert rec.macs == [int(counted) // shape[0]]
