"""Hostile input, items 2 and 5: file names are never options; constant folding is bounded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml  # pre-commit depends on PyYAML, so the test extra has it

REPO = Path(__file__).resolve().parents[2]


def test_hook_ends_options_before_file_names():
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["args"][-1] == "--"


def test_file_named_like_an_option_is_a_file(tmp_path, dc101_source):
    (tmp_path / "--exit-zero").write_text(dc101_source)
    (tmp_path / "model.py").write_text("import torch\n")
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    cmd = [
        sys.executable,
        "-c",
        "from densecheck.cli import main; main()",
        "--no-cache",
        *hook["args"],
        "--exit-zero",
        "--output-file=model.py",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2  # '--output-file=model.py' is a missing path, not an option
    assert (tmp_path / "model.py").read_text() == "import torch\n"


HOSTILE = """import math
import torch.nn as nn
s = [1]
for _ in range(40):
    s = s + s
n = 10**30
r = range(n)
x = 2**2**30
y = 1 << 10**9
z = math.prod([10**17, 10**17, 10**17])
w = {digits}
big = list(map(lambda i: [i] * 1000, range(10**9)))  # map/dict over huge iterables: bounded like loops
d = dict(**{{str(i): i for i in range(10**6)}})
q = dict(zip(range(10**9), range(10**9)))
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(len(s), 4)
        self.fc2 = nn.Linear(len(r), 4)
        self.fc3 = nn.Linear(z, w)
    def forward(self, x):
        return self.fc(x)
"""


def test_constant_folding_is_bounded(tmp_path):
    """Huge integers and doubling lists are unknown, not computed: the run ends with no internal error
    (DC002).

    Before the bound this file took minutes and gigabytes; the subprocess gets a 2 GiB address-space cap and a
    timeout so a regression fails instead of exhausting the machine.
    """
    (tmp_path / "m.py").write_text(HOSTILE.format(digits="9" * 5000))
    cap = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
    cmd = [
        sys.executable,
        "-c",
        cap + "from densecheck.cli import main; main()",
        "--no-cache",
        "--format",
        "json",
        "m.py",
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    assert "DC002" not in proc.stdout
    assert '"layers"' in proc.stdout or "fc" in proc.stdout
