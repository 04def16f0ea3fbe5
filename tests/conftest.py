"""Shared fixtures. Real MovieLens data is found through AEREC_DATA_DIR (set by .ci/run to
../shared/data); tests that need it skip cleanly when it is unset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _real_data_dir() -> Path | None:
    value = os.environ.get("AEREC_DATA_DIR")
    if not value:
        return None
    path = Path(value)
    return path if (path / "ml-1m" / "ratings.dat").is_file() else None


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The folder holding the official extracted ``ml-1m/``; skips when not available."""
    path = _real_data_dir()
    if path is None:
        pytest.skip("AEREC_DATA_DIR with ml-1m/ratings.dat not set")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own user cache so nothing leaks between tests or into ~/.cache."""
    cache = tmp_path_factory.mktemp("aerec-cache")
    monkeypatch.setenv("AEREC_CACHE_DIR", str(cache))
    # nor see other aerec processes on the machine when choosing the default thread count
    monkeypatch.setenv("AEREC_RUNTIME_DIR", str(tmp_path_factory.mktemp("aerec-runtime")))
    yield
