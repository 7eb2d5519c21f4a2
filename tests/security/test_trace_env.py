"""Hostile input, item 7: traced code (a stranger's model file) never sees the linter's secrets."""

from __future__ import annotations

import os

from densecheck.trace import launch

SECRETS = {"GITHUB_TOKEN": "ghp_x", "AWS_SECRET_ACCESS_KEY": "aws", "AWS_ACCESS_KEY_ID": "id",
           "ACTIONS_RUNTIME_TOKEN": "rt", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc", "HF_TOKEN": "hf",
           "GOOGLE_APPLICATION_CREDENTIALS": "/k.json", "NPM_TOKEN": "npm", "MY_PASSWORD": "pw"}


def test_child_environment_is_an_allow_list(monkeypatch):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env = launch.child_env()
    assert not set(SECRETS) & set(env)
    assert env["PATH"] == os.environ["PATH"] and env["LC_ALL"] == "C.UTF-8"
    assert env["HF_HUB_OFFLINE"] == "1" and "PYTHONPATH" in env
    assert all(k in launch.ENV_ALLOW or k.startswith(launch.ENV_ALLOW_PREFIXES) or k in launch.OFFLINE_ENV
               for k in env)


LEAVES_A_CHILD = '''
import subprocess
import torch.nn as nn

def build():
    p = subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    with open({pidfile!r}, "w") as fh:
        fh.write(str(p.pid))
    return nn.Sequential(nn.Linear(4, 2))
'''


def test_processes_left_by_traced_code_are_killed(tmp_path):
    import shutil
    import time

    import pytest

    pytest.importorskip("torch")
    if shutil.which("sleep") is None or not hasattr(os, "killpg"):
        pytest.skip("needs sleep and process groups")
    from densecheck.trace import parse_input
    from densecheck.trace.spec import TraceTarget

    pidfile = tmp_path / "pid"
    (tmp_path / "m.py").write_text(LEAVES_A_CHILD.format(pidfile=str(pidfile)))
    res = launch.run_target(TraceTarget("m.py:build", [parse_input("2,4")]), root=str(tmp_path), timeout=120)
    assert res.ok, res.error
    pid = int(pidfile.read_text())
    for _ in range(50):  # the kill is sent; give the kernel a moment to reap it
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().split()[2] == "Z":  # a zombie is dead, waiting for its parent
                break
        time.sleep(0.1)
    else:
        raise AssertionError(f"process {pid} outlived the trace")
