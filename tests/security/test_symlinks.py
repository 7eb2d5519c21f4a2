"""Hostile input, item 3: only files inside the checked tree are read; links leaving it are skipped with a
note."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from densecheck.cli import cli

SECRET = "import torch.nn as nn\nTOKEN = 'ghp_supersecret'\nfc = nn.Linear(3, 4)\nfc(TOKEN)\n"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text(SECRET)
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "ok.py").write_text("import torch.nn as nn\nfc = nn.Linear(3, 4)\n")
    (project / "src" / "leak.py").symlink_to(outside / "secret.py")
    (project / "src" / "inside.py").symlink_to(project / "src" / "ok.py")
    if os.path.exists("/proc/self/environ"):
        (project / "src" / "environ.py").symlink_to("/proc/self/environ")
    monkeypatch.chdir(project)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_environsecret")
    return project


def run(*args: str):
    return CliRunner().invoke(cli, ["check", "--no-cache", "--format", "full", *args], catch_exceptions=False)


def test_links_leaving_the_tree_are_not_read(tree):
    result = run("src")
    assert "supersecret" not in result.output and "environsecret" not in result.output
    assert "skipped src/leak.py" in result.stderr
    assert result.exit_code == 0


def test_link_inside_the_tree_is_checked(tree):
    result = run("--format", "json", "src")
    assert "src/inside.py" in result.stdout and "src/ok.py" in result.stdout


def test_named_link_leaving_the_checkout_is_not_read(tree):
    result = run("src/leak.py")
    assert "supersecret" not in result.output and "skipped src/leak.py" in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_named_on_the_command_line_is_never_read(tree):
    (tree / "zero.py").symlink_to("/dev/zero")
    result = run("zero.py")  # a link leaving the tree: skipped before anything opens it
    assert result.exit_code in (0, 1, 2) and "skipped zero.py" in result.stderr
