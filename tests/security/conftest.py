"""Shared pieces of the hostile-input tests: a file with a finding, and a project that cannot see the real
cache."""

from __future__ import annotations

import pytest

from densecheck import cache

#: a Keras Dense on a rank-4 map: DC101 at 4:5, so a test can tell "the finding was hidden" from "it was
# reported"
KERAS_DC101 = (
    "import keras\nfrom keras import layers\nx = keras.Input(shape=(160, 160, 64))\ny = layers.Dense(16)(x)\n"
)


@pytest.fixture
def dc101_source() -> str:
    return KERAS_DC101


@pytest.fixture
def project(tmp_path, monkeypatch, dc101_source):
    """The current directory, holding ``model.py`` (DC101); cache in the tree, cache key in a per-test
    place."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cache.ENV_VAR, raising=False)
    monkeypatch.setenv(cache.SECRET_ENV_VAR, str(tmp_path / "home-state"))
    monkeypatch.setattr(cache, "_secret", None)
    (tmp_path / "model.py").write_text(dc101_source)
    return tmp_path
