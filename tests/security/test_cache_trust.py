"""Hostile input, item 1: nothing in the checked tree can change results through the cache."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from densecheck import cache
from densecheck.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)


def test_committed_index_is_not_trusted(project):
    """A pull request commits a hand-written index saying the file is clean: the finding is still reported."""
    first = run("model.py")
    assert first.exit_code == 1 and "DC101" in first.output
    (index,) = (project / cache.CACHE_DIR_NAME).glob("index-*.json")
    mac, _, body = index.read_bytes().partition(b"\n")
    doc = json.loads(body)
    for entry in doc["files"].values():
        entry[4]["diagnostics"] = []
    forged = json.dumps(doc).encode()
    for blob in (forged, mac + b"\n" + forged, b"0" * 64 + b"\n" + forged):
        index.write_bytes(blob)
        again = run("model.py")
        assert again.exit_code == 1 and "DC101" in again.output


def test_index_signed_by_another_key_is_ignored(project, monkeypatch):
    run("model.py")
    monkeypatch.setenv(cache.SECRET_ENV_VAR, str(project / "other-user"))
    monkeypatch.setattr(cache, "_secret", None)
    c = cache.Cache.__new__(cache.Cache)
    (index,) = (project / cache.CACHE_DIR_NAME).glob("index-*.json")
    c.directory, c.key, c.index_path = str(index.parent), index.stem[len("index-") :], str(index)
    assert c._load() == {}


def test_symlinked_cache_dir_is_neither_read_nor_written(project):
    outside = project / "outside"
    outside.mkdir()
    (project / cache.CACHE_DIR_NAME).symlink_to(outside, target_is_directory=True)
    result = run("model.py")
    assert result.exit_code == 1 and "DC101" in result.output
    assert list(outside.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_index_does_not_hang(project):
    run("model.py")
    (index,) = (project / cache.CACHE_DIR_NAME).glob("index-*.json")
    index.unlink()
    os.mkfifo(index)  # opening it for reading would block forever without O_NONBLOCK
    result = run("model.py")
    assert result.exit_code == 1 and "DC101" in result.output


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root reads every file")
def test_unreadable_file_is_not_served_from_cache(project):
    run("model.py")
    os.chmod(project / "model.py", 0)
    try:
        result = run("model.py")
    finally:
        os.chmod(project / "model.py", 0o644)
    assert "DC101" not in result.output and result.exit_code != 0


def test_unreadable_file_lookup_is_a_miss(project, monkeypatch):
    """The same check as above, for root too: the cache asks os.access before serving a result."""
    from densecheck.config import Settings

    run("model.py")
    (index,) = (project / cache.CACHE_DIR_NAME).glob("index-*.json")
    files = json.loads(index.read_bytes().partition(b"\n")[2])["files"]
    c = cache.Cache(Settings(), directory=str(project / "elsewhere"))
    c.entries = files
    path = next(iter(files.values()))[0]
    assert c.lookup(path) is not None
    monkeypatch.setattr(cache.os, "access", lambda p, mode: False)
    assert c.lookup(path) is None


def test_world_writable_secret_disables_cache(project):
    d = project / "home-state"
    d.mkdir()
    (d / "cache-key").write_text("a" * 64)
    os.chmod(d / "cache-key", 0o666)
    assert cache.machine_secret() is None
    result = run("model.py")
    assert result.exit_code == 1 and not list((project / cache.CACHE_DIR_NAME).glob("index-*.json"))
