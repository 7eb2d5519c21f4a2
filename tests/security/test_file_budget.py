"""Hostile input, items 6 and 7: each file has a time and memory budget; bad input is per file; a killed run
leaves no worker processes behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from densecheck import budget
from densecheck.config import ConfigError, Settings, settings_from_table
from densecheck.runner import run


def generated_module(size: int) -> str:
    """A generated model file of about ``size`` bytes: libcst needs ~6 s and ~700 MB per MB of it."""
    lines = [
        "import torch.nn as nn",
        "class M(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    i = 0
    while sum(map(len, lines)) < size:
        lines.append(f"        self.l{i} = nn.Linear({i % 500 + 1}, {i % 300 + 1})")
        i += 1
    return "\n".join(lines) + "\n"


def _codes(result) -> dict[str, list[str]]:
    return {os.path.basename(f.path): [d.code for d in f.diagnostics] for f in result.files}


@pytest.fixture
def tree(project):
    (project / "big.py").write_text(generated_module(600_000))
    return project


def test_time_budget_stops_one_file_and_keeps_the_others(tree):
    result = run(["."], Settings(file_timeout=0.5), jobs=1)
    codes = _codes(result)
    assert codes["model.py"] == ["DC101"]
    assert codes["big.py"] == ["DC003"]
    (note,) = next(f for f in result.files if f.path.endswith("big.py")).diagnostics
    assert "0.5 s" in note.message and "file-timeout" in note.message
    assert result.exit_code(Settings()) == 1 and not result.internal_error


def test_memory_budget_stops_one_file_and_keeps_the_others(tree):
    result = run(["."], Settings(file_memory=64), jobs=1)
    codes = _codes(result)
    assert codes["model.py"] == ["DC101"] and codes["big.py"] == ["DC003"]
    assert "64 MB" in next(f for f in result.files if f.path.endswith("big.py")).diagnostics[0].message


def test_budget_in_a_parallel_run(tree, dc101_source):
    for i in range(20):
        (tree / f"m{i}.py").write_text(dc101_source)
    result = run(["."], Settings(file_timeout=0.5), jobs=2)
    codes = _codes(result)
    assert codes.pop("big.py") == ["DC003"]
    assert set(map(tuple, codes.values())) == {("DC101",)} and len(codes) == 21


def test_cooperative_clock_stops_the_interpreter(project):
    """A small file whose analysis (not its parse) runs long is stopped in-process by the interpreter's
    clock."""
    from densecheck import api

    with budget.clock(budget.Limits(seconds=0.0)), pytest.raises(budget.OverBudget):
        budget.check()
    src = "import torch.nn as nn\n" + "\n".join(f"a{i} = nn.Linear({i + 1}, 2)" for i in range(3000)) + "\n"
    res = api.analyze_source(src, "gen.py", Settings(file_timeout=0.001))
    assert [d.code for d in res.diagnostics] == ["DC003"] and res.layers == []
    assert len(api.analyze_source(src, "gen.py", Settings()).layers) == 3000


def test_over_budget_results_are_not_cached(tree):
    from densecheck.cli import main

    with pytest.raises(SystemExit):
        main(
            [
                "--format",
                "json",
                "--output-file",
                "one.json",
                "--config",
                _config(tree, "file-timeout = 0.5"),
                ".",
            ]
        )
    with pytest.raises(SystemExit):
        main(["--format", "json", "--output-file", "two.json", "."])  # no budget now: the file is analysed
    two = json.loads((tree / "two.json").read_text())
    assert sum(layer["path"].endswith("big.py") for layer in two["layers"]) > 1000
    assert "DC003" not in {d["code"] for d in two["diagnostics"]}


def _config(root, line: str) -> str:
    path = root / "budget.toml"
    path.write_text(line + "\n")
    return str(path)


@pytest.mark.parametrize(
    "table",
    [
        {"file-timeout": 0},
        {"file-timeout": "1"},
        {"file-timeout": True},
        {"file-memory": 1.5},
        {"file-memory": 4},
    ],
)
def test_bad_budget_values_are_config_errors(table):
    with pytest.raises(ConfigError, match=next(iter(table))):
        settings_from_table(table, "pyproject.toml")


BAD_NOTEBOOKS = {
    "source-not-text.ipynb": {"cells": [5, {"cell_type": "code", "source": {"a": 1}}], "metadata": {}},
    "source-list-of-ints.ipynb": {
        "cells": [{"cell_type": "code", "source": ["x = 1\n", 5]}],
        "metadata": "x",
    },
    "odd-metadata.ipynb": {"cells": [], "metadata": {"kernelspec": 5, "language_info": {"name": ["x"]}}},
}


def test_malformed_notebooks_are_per_file(project):
    for name, doc in BAD_NOTEBOOKS.items():
        (project / name).write_text(json.dumps(doc))
    (project / "deep.ipynb").write_text("[" * 100_000)
    (project / "utf16.ipynb").write_bytes(b"\xff\xfe{")
    result = run(["."], Settings(), jobs=1)
    codes = _codes(result)
    assert codes.pop("model.py") == ["DC101"]
    assert codes == {
        "source-not-text.ipynb": ["DC001"],
        "source-list-of-ints.ipynb": ["DC001"],
        "odd-metadata.ipynb": [],
        "deep.ipynb": ["DC001"],
        "utf16.ipynb": ["DC001"],
    }
    assert not result.internal_error


def _descendants(pid: int) -> set[int]:
    from densecheck.trace.launch import _children

    out, todo = set(), [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG and /proc are Linux's")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_no_workers(project, sig):
    for i in range(24):
        (project / f"gen{i}.py").write_text(generated_module(150_000))
    proc = subprocess.Popen(
        [sys.executable, "-m", "densecheck", "--no-cache", "--jobs", "2", "."],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    for _ in range(200):
        workers = _descendants(proc.pid)
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    assert workers, "the run started no worker processes"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    for _ in range(100):
        if not any(map(_alive, workers)):
            break
        time.sleep(0.1)
    assert not any(map(_alive, workers)), "worker processes outlived the run"
