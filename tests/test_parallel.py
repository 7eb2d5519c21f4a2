"""Worker processes: every format's output is byte for byte the serial run's, whatever the job count."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from densecheck import runner
from densecheck.cli import cli
from densecheck.config import Settings
from densecheck.formats import FORMAT_NAMES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("par")
    shutil.copytree(FIXTURES, root / "fixtures")
    (root / "fixtures" / "zz_bad.py").write_text("def f(:\n    pass\n")  # a DC001 among them
    return root


def run_cli(tree: Path, *args: str) -> tuple[int, str]:
    import os

    old = os.getcwd()
    os.chdir(tree)
    try:
        r = CliRunner().invoke(cli, ["check", "--no-cache", *args, "fixtures"], catch_exceptions=False)
    finally:
        os.chdir(old)
    return r.exit_code, r.output


def test_fixtures_are_enough_for_workers():
    assert len(list(FIXTURES.rglob("*.py"))) >= runner.PARALLEL_MIN_FILES


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_serial_and_parallel_output_are_identical(tree, fmt):
    serial = run_cli(tree, "-j1", "--format", fmt)
    parallel = run_cli(tree, "-j2", "--format", fmt)
    assert serial[0] == 1
    assert serial == parallel
    assert serial == run_cli(tree, "-j3", "--format", fmt)


def test_statistics_are_identical(tree):
    assert run_cli(tree, "-j1", "--statistics") == run_cli(tree, "-j2", "--statistics")


def test_check_files_keeps_the_given_order(tree, monkeypatch):
    files = sorted(str(p) for p in (tree / "fixtures").rglob("*.py"))
    serial = runner.check_files(files, Settings(), jobs=1)
    parallel = runner.check_files(files, Settings(), jobs=2)
    assert [f.path for f in serial] == [f.path for f in parallel] == files
    assert [[x.to_json() for x in f.result.layers] for f in serial] == [
        [x.to_json() for x in f.result.layers] for f in parallel
    ]
    assert [f.diagnostics for f in serial] == [f.diagnostics for f in parallel]


def test_workers_return_results_not_trees(tree):
    files = sorted(str(p) for p in (tree / "fixtures").rglob("*.py"))
    for checked in runner.check_files(files, Settings(), jobs=2):
        assert checked.data is None  # bytes are re-read on demand, never carried back
        assert not any(type(v).__module__.startswith("libcst") for v in vars(checked.result).values())
