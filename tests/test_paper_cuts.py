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
