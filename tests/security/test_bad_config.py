"""Hostile input, items 6-7: a bad configuration is a clear error naming its file; exclude globs mean what
they say."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from densecheck.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["check", "--no-cache", *args], catch_exceptions=False)


def test_deeply_nested_toml_is_a_config_error(project):
    (project / "pyproject.toml").write_text("[tool.densecheck]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    result = run(".")
    assert result.exit_code == 2
    assert "pyproject.toml: invalid TOML: nested too deeply" in result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize("glob", ["*", "**"])
def test_exclude_everything_excludes_everything(project, glob):
    (project / "pyproject.toml").write_text(f'[tool.densecheck]\nexclude = ["{glob}"]\n')
    result = run(".")
    assert result.exit_code == 0 and "DC101" not in result.output


def test_five_thousand_digit_literal_is_no_internal_error(project):
    (project / "big.py").write_text("import torch.nn as nn\nn = " + "7" * 5000 + "\nfc = nn.Linear(n, 4)\n")
    result = run("--format", "json", "big.py")
    assert "DC002" not in result.output and result.exit_code == 0
