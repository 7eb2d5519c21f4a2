"""Jupyter notebooks: virtual source, IPython magics, locations mapped back to `cell N, line L`."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from densecheck.cli import cli
from densecheck.notebooks import analyze_notebook, parse_notebook


def notebook(*cells, language="python") -> str:
    out = []
    for kind, src in cells:
        cell = {"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return json.dumps(
        {"cells": out, "metadata": {"language_info": {"name": language}}, "nbformat": 4, "nbformat_minor": 5}
    )


NB = notebook(
    ("markdown", "# A model\nwith a Dense on a feature map\n"),
    ("code", "%matplotlib inline\n!pip install keras\nimport keras\nfrom keras import layers\n"),
    ("code", "x = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16)(x)\n"),
    ("code", "%%bash\necho hi\nls\n"),
    ("code", "files = !ls\nlayers.Dense?\nfor i in range(2):\n    %time print(i)\n"),
)


def test_virtual_source_keeps_line_numbers():
    nb = parse_notebook(NB)
    lines = nb.source.splitlines()
    assert lines[:2] == ["pass", "pass"]
    assert lines[4] == "x = keras.Input(shape=(160, 160, 64))"
    assert lines[6:9] == ["", "", ""]  # %%bash cell blanked
    assert lines[9:] == ["files = None", "pass", "for i in range(2):", "    pass"]
    assert nb.locate(6) == (3, 2)  # virtual line 6 is cell 3 (1-based, markdown counted), line 2
    assert nb.locate(1) == (2, 1)
    compile(nb.source, "nb", "exec")


def test_python_body_cell_magics_keep_their_code():
    nb = parse_notebook(notebook(("code", "%%time\nimport keras\n")))
    assert nb.source.splitlines() == ["", "import keras"]


def test_line_continuation_of_a_magic():
    nb = parse_notebook(notebook(("code", "!pip install \\\n    keras\nx = 1\n")))
    assert nb.source.splitlines() == ["pass", "", "x = 1"]


def test_findings_are_located_in_cells():
    result, nb = analyze_notebook(NB, "nb.ipynb")
    (layer,) = result.layers
    assert (layer.cell, layer.line, layer.column) == (3, 2, 5)
    assert layer.to_json()["cell"] == 3
    (d,) = [d for d in result.diagnostics if d.code == "DC101"]
    assert (d.cell, d.line, d.column) == (3, 2, 5)
    assert d.to_json()["cell"] == 3


def test_suppression_inside_a_cell():
    nb = NB.replace("layers.Dense(16)(x)", "layers.Dense(16)(x)  # noqa: DC101")
    result, _ = analyze_notebook(nb, "nb.ipynb")
    assert result.diagnostics == []


def test_syntax_error_is_mapped():
    result, _ = analyze_notebook(
        notebook(("markdown", "hi"), ("code", "x = 1\n"), ("code", "y = (\n")), "nb.ipynb"
    )
    (d,) = result.diagnostics
    assert d.code == "DC001" and d.cell == 3


def test_invalid_and_foreign_notebooks():
    result, nb = analyze_notebook(b"{not json", "nb.ipynb")
    assert nb is None and [d.code for d in result.diagnostics] == ["DC001"]
    assert "invalid notebook JSON" in result.diagnostics[0].message
    result, nb = analyze_notebook(json.dumps({"worksheets": []}), "nb.ipynb")
    assert "nbformat 3" in result.diagnostics[0].message
    result, nb = analyze_notebook(notebook(("code", "x <- 1\n"), language="R"), "nb.ipynb")
    assert nb is None and result.diagnostics == [] and result.layers == []


def test_empty_notebook():
    result, nb = analyze_notebook(notebook(), "nb.ipynb")
    assert result.diagnostics == [] and nb.source == ""


@pytest.fixture
def in_tmp(tmp_path):
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


def test_cli_concise_and_json(in_tmp):
    (in_tmp / "nb.ipynb").write_text(NB)
    r = CliRunner().invoke(cli, ["nb.ipynb"])
    assert r.exit_code == 1
    assert r.output.splitlines()[0].startswith(
        "nb.ipynb:cell 3:2:5: DC101 layers.Dense(16) on a rank-4 input"
    )
    r = CliRunner().invoke(cli, ["--format", "json", "."])
    doc = json.loads(r.output)
    assert doc["layers"][0]["cell"] == 3 and doc["layers"][0]["line"] == 2
    assert doc["diagnostics"][0]["cell"] == 3


def test_cli_full_format_shows_the_cell_source(in_tmp):
    (in_tmp / "nb.ipynb").write_text(NB)
    r = CliRunner().invoke(cli, ["--format", "full", "nb.ipynb"])
    assert "2 | y = layers.Dense(16)(x)" in r.output
    assert "^^^^^^^^^^^^^^^^ DC101" in r.output


def test_notebooks_are_discovered_but_not_checkpoints(in_tmp):
    (in_tmp / "nb.ipynb").write_text(NB)
    (in_tmp / ".ipynb_checkpoints").mkdir()
    (in_tmp / ".ipynb_checkpoints" / "nb-checkpoint.ipynb").write_text(NB)
    r = CliRunner().invoke(cli, ["--format", "json", "."])
    assert {d["path"] for d in json.loads(r.output)["diagnostics"]} == {"nb.ipynb"}


def test_stdin_notebook(in_tmp):
    r = CliRunner().invoke(cli, ["--stdin-filename", "nb.ipynb", "-"], input=NB)
    assert r.exit_code == 1
    assert "nb.ipynb:cell 3:2:5: DC101" in r.output
