"""A tiny experiment (synthetic data, 8 hidden units, 2 epochs) shared by the experiment and
reporting tests: 2 configurations x 3 seeds, trained for real in a few seconds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aerec.experiments import ExperimentSpec, load_spec, run_experiment
from aerec.training import RunOptions

DATASET = "synthetic-200x100x8000"
TINY_SPEC = f"""
[experiment]
name = "tiny"
description = "Two activations on synthetic data."
seeds = [1, 2, 3]
baseline = "sigmoid"

[data]
dataset = "{DATASET}"
split_seed = 42

[model]
name = "autorec"
based = "user"
hidden = 8

[train]
epochs = 2
batch_size = 64

[[variants]]
label = "sigmoid"

[[variants]]
label = "elu"
model = {{ activation = "elu", last_activation = "elu" }}

[[references]]
user_rmse = 0.916
match = {{ variant = "sigmoid" }}
"""

SMALL_ITEM_AUTOREC = """
[data]
dataset = "synthetic-300x150x15000"
split = "random"

[model]
name = "autorec"
based = "item"
hidden = 16
last_activation = "identity"

[train]
epochs = 6
lr = 0.01
batch_size = 16
patience = 0
"""
"""[data], [model] and [train] of a small item-based AutoRec on a random split whose best
validation epoch lies inside its 6 epochs: for specs of refit rows."""


def write_spec(folder: Path, text: str = TINY_SPEC, name: str = "tiny.toml") -> Path:
    path = Path(folder) / name
    path.write_text(text)
    return path


def make_experiment(root: Path) -> tuple[ExperimentSpec, Path, pd.DataFrame]:
    """Train the tiny experiment under ``root / "runs"``; the cache goes under ``root``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AEREC_CACHE_DIR", str(root / "cache"))
        spec = load_spec(write_spec(root))
        runs_dir = root / "runs"
        options = RunOptions(threads=1)
        table = run_experiment(spec, runs_dir, options=options, progress=False, say=lambda s: None)
    return spec, runs_dir, table
