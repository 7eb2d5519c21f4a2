"""Hostile input, item 7: traced code (a stranger's model file) never sees the linter's secrets."""

from __future__ import annotations

import os

from densecheck.trace import launch

SECRETS = {
    "GITHUB_TOKEN": "ghp_x",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "AWS_ACCESS_KEY_ID": "id",
    "ACTIONS_RUNTIME_TOKEN": "rt",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc",
    "HF_TOKEN": "hf",
    "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
    "NPM_TOKEN": "npm",
    "MY_PASSWORD": "pw",
}


def test_child_environment_is_an_allow_list(monkeypatch):
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env = launch.child_env()
    assert not set(SECRETS) & set(env)
    assert env["PATH"] == os.environ["PATH"] and env["LC_ALL"] == "C.UTF-8"
    assert env["HF_HUB_OFFLINE"] == "1" and "PYTHONPATH" in env
    assert all(
        k in launch.ENV_ALLOW or k.startswith(launch.ENV_ALLOW_PREFIXES) or k in launch.OFFLINE_ENV
        for k in env
    )
