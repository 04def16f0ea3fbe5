"""The compiled dense step (RunOptions.compile), the device-side scoring of validation and the
host-side cell counts that keep a dense epoch free of device syncs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aerec.data.matrix import RatingMatrix
from aerec.errors import ConfigError
from aerec.ops.batches import RowBatcher
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions, TrainConfig
from aerec.training.compiled import why_eager
from aerec.training.device_eval import evaluate_on_device
from aerec.training.losses import Loss
from aerec.training.trainer import Trainer


def _fit(data, parts, compile_mode, loss="mse", **more):
    rows = int((np.bincount(parts.train.users, minlength=data.n_users) > 0).sum())
    # one batch of all the rows: one shape, one compilation (inductor on CPU takes a while)
    train = TrainConfig(epochs=3, patience=0, lr=3e-3, engine="dense", loss=loss, batch_size=rows)
    options = RunOptions(seed=3, compile=compile_mode)
    params = {"based": "user", "hidden": 16, **more}
    return AutoRecommender("autorec", train, options, **params).fit(data, parts.train, parts.val)


def test_compiled_dense_step_trains_as_the_eager_one(data, parts):
    eager, compiled = _fit(data, parts, "off"), _fit(data, parts, "reduce-overhead")
    for a, b in zip(eager.history_, compiled.history_, strict=True):
        for key in ("train_loss", "train_rmse", "val_rmse", "val_user_rmse"):
            assert b[key] == pytest.approx(a[key], rel=1e-5)
    weights = eager.model_.state_dict()
    for key, value in compiled.model_.state_dict().items():
        torch.testing.assert_close(value, weights[key], rtol=1e-5, atol=1e-6)
    assert eager.history_[-1]["train_loss"] < eager.history_[0]["train_loss"]


def test_steps_that_draw_or_are_sparse_stay_eager(data, parts):
    def trainer(compile_mode="default", **train):
        rec = AutoRecommender("autorec", TrainConfig(epochs=1, **train), based="user", hidden=8)
        rec.fit(data, parts.train, None)  # eagerly; the trainer below compiles on its first step
        options = RunOptions(compile=compile_mode)
        return Trainer(rec.model_, rec.inputs_, None, rec.plan, options, data.scale)

    assert why_eager(trainer("off", engine="dense"), TrainConfig()) == "compile is off"
    assert why_eager(trainer(engine="sparse"), TrainConfig()) == "the sparse engine"
    noisy = TrainConfig(engine="dense", noise="gaussian", noise_level=0.1)
    assert why_eager(trainer(engine="dense"), noisy) == "input noise"
    dense = trainer(engine="dense")
    assert dense.compiled is not None and why_eager(dense, dense.config) == ""


def test_unknown_compile_mode_is_one_error():
    with pytest.raises(ConfigError, match="compile mode"):
        RunOptions(compile="fast")


@pytest.mark.parametrize(("based", "loss"), [("user", "mse"), ("item", "row_mse")])
def test_device_scoring_gives_the_numbers_of_the_host_scoring(data, parts, based, loss):
    rec = AutoRecommender(
        "autorec", TrainConfig(epochs=2, engine="dense", loss=loss), based=based, hidden=8
    ).fit(data, parts.train, None)
    matrix = RatingMatrix.build(parts.val, data.n_users, data.n_items, based)
    val = RowBatcher(matrix)
    trainer = Trainer(rec.model_, rec.inputs_, val, rec.plan, rec.options, data.scale)
    trainer.predictor.batch_size = 7  # several prediction batches
    host = trainer.evaluate(val)
    device = evaluate_on_device(trainer.predictor, val, Loss(loss), data.scale, based == "user")
    assert device == pytest.approx(host, rel=1e-12)


def test_cell_counts_are_each_batch_s_observed_cells(data, parts):
    matrix = RatingMatrix.build(parts.train, data.n_users, data.n_items, "user")
    batcher = RowBatcher(matrix)
    rows = np.random.default_rng(0).permutation(data.n_users)
    counts = batcher.cell_counts(rows, 16)
    for k, batch in enumerate(torch.as_tensor(rows).split(16)):
        assert counts[k] == len(batcher.observed(batch)[0])
        assert torch.equal(batcher.observed(batch, counts[k])[2], batcher.observed(batch)[2])
