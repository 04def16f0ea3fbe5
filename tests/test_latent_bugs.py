"""Latent bugs found on reading the code (issue 11); each test failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from aerec.errors import ConfigError
from aerec.models import model_config
from aerec.plan import TrainConfig
from aerec.runs import DataConfig, RunConfig, evaluate_run, train_run
from aerec.training import RunOptions
from tests.helpers import run_cli

TINY = "synthetic-300x120x6000"


def _config(seed: int, **data) -> RunConfig:
    return RunConfig(
        model=model_config("autorec", based="item", hidden=8),
        data=DataConfig(TINY, "random", **data),
        train=TrainConfig(epochs=2, patience=0, batch_size=32),
        seed=seed,
    )


def test_a_second_seed_in_the_options_is_refused_not_silently_overwritten(tmp_path):
    with pytest.raises(ConfigError, match="seed is 1 but its options say 2"):
        train_run(_config(1), tmp_path / "run", RunOptions(seed=2))
    assert not (tmp_path / "run").exists()


def test_evaluate_run_with_dataset_keeps_the_runs_data_config(tmp_path):
    """Re-scoring with --dataset rebuilt DataConfig positionally: eval_filter and
    user_filter were dropped, so an eval_filter run was scored on all users."""
    config = _config(3, eval_filter="gender == 'F'")
    metrics = train_run(config, tmp_path / "run", RunOptions(seed=3))
    again = evaluate_run(tmp_path / "run", dataset=TINY)
    assert again["test_n"] == metrics["test_n"]
    assert again["test_rmse"] == pytest.approx(metrics["test_rmse"])


def test_data_split_seed_does_not_change_the_data(tmp_path, capsys):
    """``aerec data split --seed`` also seeded the synthetic data, while runs fix the data
    seed at 0: the same name and seed could split different data."""
    outs = []
    for seed in (1, 2):
        out = tmp_path / f"s{seed}"
        code, _, err = run_cli(
            ["data", "split", TINY, "--seed", str(seed), "--out", str(out)], capsys
        )
        assert code == 0, err
        outs.append(out)
    whole = [
        pd.concat([pd.read_parquet(o / f"{p}.parquet") for p in ("train", "val", "test")])
        .sort_values(["user", "item"])
        .reset_index(drop=True)
        for o in outs
    ]
    pd.testing.assert_frame_equal(whole[0], whole[1])  # the same ratings, split differently
    train = [pd.read_parquet(o / "train.parquet") for o in outs]
    assert not train[0].equals(train[1])
    assert json.loads(Path(outs[0] / "split.json").read_text())["n_train"] == len(train[0])
