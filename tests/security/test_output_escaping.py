"""Hostile input, item 4: what is printed from the tree cannot forge output lines or break a format's
consumer."""

from __future__ import annotations

import json
import os
import xml.dom.minidom
from pathlib import Path

import pytest
from click.testing import CliRunner

from densecheck.cli import cli
from densecheck.formats import printable

DC101 = (
    "import keras\nfrom keras import layers\n"
    "x = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16, name='\x1b[31m\x01')(x)\n"
)
NAMES = ["a\n::error file=x.py::pwned\n.py", "::warning file=y.py::forged.py"]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in NAMES:
        (tmp_path / name).write_text(DC101)
    if os.uname().sysname == "Linux":  # a file name that is not UTF-8
        with open(os.path.join(os.fsencode(tmp_path), b"b\xff.py"), "w") as fh:
            fh.write(DC101)
    return tmp_path


def run(fmt: str) -> bytes:
    result = CliRunner().invoke(cli, ["check", "--no-cache", "--format", fmt, "."], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    return result.stdout_bytes


@pytest.mark.parametrize("fmt", ["concise", "full", "report"])
def test_text_formats_print_one_line_per_name_and_no_control_characters(tree, fmt):
    out = run(fmt).decode("utf-8")  # valid UTF-8 even for an undecodable file name
    for line in out.splitlines():
        assert not line.startswith("::"), line  # no GitHub workflow command can be forged
        assert "\x1b" not in line and "\x01" not in line
    assert "pwned" in out and "\\n::error" in out  # the name is shown, escaped


def test_github_annotations_cannot_be_forged(tree):
    out = run("github").decode("utf-8")
    lines = out.splitlines()
    assert len(lines) == len(NAMES) + (os.uname().sysname == "Linux")
    assert all(line.startswith("::warning title=densecheck (DC101),") for line in lines)


def test_junit_is_valid_xml(tree):
    xml.dom.minidom.parseString(run("junit"))


@pytest.mark.parametrize("fmt", ["json", "gitlab", "sarif"])
def test_json_formats_are_valid_utf8_json(tree, fmt):
    json.loads(run(fmt).decode("utf-8"))


def test_printable():
    assert printable("model.py") == "model.py"
    assert printable("a\nb") == "a\\nb"
    assert printable("\x1b[31m") == "\\x1b[31m"
    assert printable(os.fsdecode(b"b\xff.py")) == "b\\xff.py"
    assert Path(printable("x\ty")).name == "x\\ty"
