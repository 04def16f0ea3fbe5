"""The registry is the model contract: a model registered from a test trains, saves, loads,
runs from a TOML config and gets its options, with no other file touched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from aerec.errors import ConfigError
from aerec.models import MODELS
from aerec.models.config import ModelConfig
from aerec.models.registry import Capabilities, ModelEntry, Recipe, register
from aerec.plan import TrainConfig
from aerec.recommender import AutoRecommender
from aerec.runs import RunConfig, read_run, train_run
from aerec.training import RunOptions


@dataclass(frozen=True)
class LinearConfig(ModelConfig):
    """A linear autoencoder, for this test only.

    rank: the width of its one linear code.
    l2: L2 on both matrices.
    """

    name: ClassVar[str] = "test-linear"
    rank: int = 4
    l2: float = 1e-3


class Linear(nn.Module):
    """Dense rows only: no sparse computation, so every engine falls back to dense."""

    def __init__(self, n: int, config: LinearConfig, generator) -> None:
        super().__init__()
        self.down = nn.Parameter(torch.randn(config.rank, n, generator=generator) * 0.1)
        self.up = nn.Parameter(torch.randn(n, config.rank, generator=generator) * 0.1)
        self.bias = nn.Parameter(torch.full((n,), 3.0))
        self.l2 = config.l2

    def forward(self, x, side=None, generator=None, rows=None):
        return x @ self.down.t() @ self.up.t() + self.bias

    def penalty(self) -> torch.Tensor:
        return self.l2 * (self.down.square().sum() + self.up.square().sum())


@pytest.fixture
def registered():
    entry = register(
        ModelEntry(
            name="test-linear",
            config=LinearConfig,
            build=lambda config, data, gen: Linear(data.matrix.shape[1], config, gen),
            recipes={"default": Recipe((TrainConfig(epochs=5, patience=0, lr=1e-2),))},
            capabilities=Capabilities(based=("user",), side=False, sparse=False, fold_in=True),
            examples=({"rank": 3},),
        )
    )
    yield entry
    del MODELS["test-linear"]


def test_a_registered_model_trains_saves_and_loads(registered, data, parts, tmp_path):
    rec = AutoRecommender("test-linear", options=RunOptions(seed=1), rank=3)
    rec.fit(data, parts.train, parts.val)
    assert [r["train_loss"] for r in rec.history_][-1] < rec.history_[0]["train_loss"]
    rec.save(tmp_path / "m")
    loaded = AutoRecommender.load(tmp_path / "m", device="cpu")
    users, items = parts.test.users, parts.test.items
    assert np.array_equal(rec.predict_inner(users, items), loaded.predict_inner(users, items))


def test_a_registered_model_runs_from_a_config(registered, tmp_path):
    values = {
        "data": {"dataset": "synthetic-200x80x4000", "split": "random"},
        "model": {"name": "test-linear", "based": "user", "rank": 2},
        "train": {"epochs": 2},
        "seed": 4,
    }
    config = RunConfig.from_dict(values)
    metrics = train_run(config, tmp_path / "run")
    stored, again = read_run(tmp_path / "run")
    assert stored == config and again["test_rmse"] == metrics["test_rmse"]
    assert [p.epochs for p in config.plan] == [2]


def test_capabilities_are_one_line_errors(registered):
    with pytest.raises(ConfigError, match="user-based only"):
        AutoRecommender("test-linear", based="item")
    with pytest.raises(ConfigError, match="takes no side information"):
        AutoRecommender("test-linear", side="input")
    with pytest.raises(ConfigError, match="no recipe 'paper'"):
        RunConfig.from_dict({"model": {"name": "test-linear"}, "recipe": "paper"})


def test_the_sparse_engine_needs_a_model_with_cells(registered, data, parts):
    phase = TrainConfig(epochs=1, engine="sparse")
    with pytest.raises(ConfigError, match="engine 'sparse' is not available"):
        AutoRecommender("test-linear", (phase,)).fit(data, parts.train, parts.val)


def test_an_unknown_model_is_one_line():
    with pytest.raises(ConfigError, match="unknown model 'nope'; choose one of autorec"):
        RunConfig.from_dict({"model": {"name": "nope"}})


def test_fold_in_is_refused_where_the_model_cannot(data, parts):
    rec = AutoRecommender("sparse-fc", layers=(8,))
    with pytest.raises(ConfigError, match="cannot predict for a new user"):
        rec.predict_new_user({1: 4.0})
