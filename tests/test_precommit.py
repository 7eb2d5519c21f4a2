"""The pre-commit hook, end to end: `pre-commit try-repo <this repo> densecheck --all-files` in a scratch
repo.

pre-commit installs densecheck from the working tree into its own virtualenv with pip (dependencies from
PyPI), so this is slow the first time and needs network access; it is skipped when pre-commit or git is
missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent

BAD = (
    "import keras\nfrom keras import layers\nx = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16)(x)\n"
)
CLEAN = (
    "import keras\nfrom keras import layers\nx = keras.Input(shape=(160, 160, 64))\n"
    "x = layers.GlobalAveragePooling2D()(x)\ny = layers.Dense(16)(x)\n"
)


def test_hook_definition():
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    for line in (
        "- id: densecheck",
        "entry: densecheck",
        "language: python",
        "types_or: [python, pyi, jupyter]",
        "require_serial: false",
    ):
        assert line in text


@pytest.fixture
def scratch(tmp_path):
    if shutil.which("git") is None or shutil.which("pre-commit") is None:
        pytest.skip("needs git and pre-commit")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    env.pop("GITHUB_WORKSPACE", None)
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    return repo, env


def try_repo(repo: Path, env) -> subprocess.CompletedProcess:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    return subprocess.run(
        ["pre-commit", "try-repo", str(REPO), "densecheck", "--all-files", "--color", "never"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_try_repo(scratch):
    repo, env = scratch
    (repo / "model.py").write_text(BAD)
    r = try_repo(repo, env)
    out = r.stdout + r.stderr
    if r.returncode != 0 and "DC101" not in out and ("Could not" in out or "error: subprocess" in out):
        pytest.skip(f"pre-commit could not install the hook (network?):\n{out[-2000:]}")
    assert r.returncode != 0, out
    assert "model.py:4:5: DC101" in out

    (repo / "model.py").write_text(CLEAN)
    r = try_repo(repo, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Passed" in r.stdout
