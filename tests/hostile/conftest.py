"""Fixtures of the hostile-input suite: one small finished run, a spec and data files, each
copied into the test's own folder so that a case can damage it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.helpers import toy_ratings

DATASET = "synthetic-200x100x8000"
FAST = ["--epochs", "1", "--batch-size", "64", "--no-progress", "--threads", "1"]
SPEC = f"""[experiment]
name = "h"
seeds = [1]

[data]
dataset = "{DATASET}"

[model]
hidden = 4

[train]
epochs = 1

[[variants]]
label = "a"
"""


@pytest.fixture(scope="session")
def _trained(tmp_path_factory) -> Path:
    from aerec.cli import main

    root = tmp_path_factory.mktemp("hostile")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEREC_CACHE_DIR", str(root / "cache"))
        args = ["train", "--dataset", DATASET, "--hidden", "4", "--seed", "1", *FAST]
        try:
            main([*args, "--out", str(root / "run")])
        except SystemExit as exc:
            assert not exc.code
    return root / "run"


@pytest.fixture
def run(_trained, tmp_path) -> Path:
    """A finished run folder of the test's own."""
    return Path(shutil.copytree(_trained, tmp_path / "run"))


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "h.toml"
    path.write_text(SPEC)
    return path


def ratings_csv(path: Path, sep: str = ",", header: str = "user,item,rating,timestamp") -> Path:
    """A small valid ratings file of one's own."""
    ratings = toy_ratings(n_users=40, n_items=30, min_per_user=10, max_per_user=20).ratings
    lines = [header.replace(",", sep)]
    lines += [sep.join(map(str, r)) for r in ratings.itertuples(index=False)]
    path.write_text("\n".join(lines) + "\n")
    return path


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a digest of its bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        out[key] = "dir" if path.is_dir() else hashlib.sha1(path.read_bytes()).hexdigest()
    return out
