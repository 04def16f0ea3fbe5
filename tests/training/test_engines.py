"""The sparse engine computes the same function as the dense one, only on observed cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aerec.data.matrix import InputFill, RatingMatrix
from aerec.data.side import item_features, user_features
from aerec.data.splits import split
from aerec.data.types import RatingScale
from aerec.errors import ConfigError
from aerec.models import AutoEncoder, model_config
from aerec.ops.batches import RowBatcher
from aerec.ops.sparse import CellBatch
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions, TrainConfig, Trainer
from aerec.training.corruption import corrupt_cells
from tests.helpers import toy_encoded

VARIANTS = {
    "u-autorec-zero": ("autorec", {"based": "user", "hidden": 20}),
    "u-autorec-user-mean": (
        "autorec",
        {
            "based": "user",
            "hidden": 20,
            "input_fill": "user_mean",
            "activation": "elu",
            "last_activation": "elu",
        },
    ),
    "i-autorec-item-mean": ("autorec", {"based": "item", "hidden": 20, "input_fill": "item_mean"}),
    "i-autorec-binary": ("autorec", {"based": "item", "hidden": 20, "binary": True}),
    "i-autorec-user-mean-genres": (
        "autorec",
        {"based": "item", "hidden": 20, "input_fill": "user_mean", "side": "input"},
    ),
    "deep-side-every-layer": (
        "deep",
        {"layers": (16, 8, 16), "side": "every_layer", "dropout": 0.0},
    ),
    "deep-tied-fill-3": (
        "deep",
        {"layers": (16, 8, 16), "tied": True, "fill_value": 3.0, "dropout": 0.0},
    ),
}


@pytest.fixture(scope="module")
def data():
    return toy_encoded(n_users=60, n_items=40, seed=4)


def _setup(data, name):
    model_name, params = VARIANTS[name]
    config = model_config(model_name, **params)
    matrix = RatingMatrix.build(data.interactions, data.n_users, data.n_items, config.based)
    side = None
    if config.side != "none":
        info = user_features(data) if config.based == "user" else item_features(data)
        side = info.matrix
    batcher = RowBatcher(matrix, "cpu", config.fill, side)
    n_side = 0 if side is None else side.shape[1]
    model = AutoEncoder(
        matrix.shape[1],
        config.architecture(),
        n_side,
        config.side == "every_layer",
        torch.Generator().manual_seed(0),
    )
    return model, batcher


def _both(model, batcher, rows):
    cells = batcher.cells(rows)
    fill_row, fill_col = batcher.fill_row[rows], batcher.fill_col
    sparse = model.forward_cells(
        cells.minus_fill(fill_row, fill_col), cells, fill_row, fill_col, batcher.side_of(rows)
    )
    dense = model(batcher.inputs(rows), batcher.side_of(rows))[cells.rows, cells.cols]
    return sparse, dense, cells


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_forward_and_gradients_match_the_dense_model(data, name):
    model, batcher = _setup(data, name)
    rows = torch.tensor([0, 3, 5, 11, 30])
    sparse, dense, cells = _both(model, batcher, rows)
    assert torch.allclose(sparse, dense, atol=1e-5, rtol=1e-5)
    grads = []
    for pred in (sparse, dense):
        model.zero_grad()
        (pred - cells.values).square().mean().backward(retain_graph=True)
        grads.append([p.grad.clone() for p in model.parameters()])
    for g_sparse, g_dense in zip(*grads, strict=True):
        assert torch.allclose(g_sparse, g_dense, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("loss", ["row_mse", "mse"])
def test_training_with_either_engine_gives_the_same_curves(data, loss):
    parts = split(data, "stratified", seed=0)
    histories = []
    for engine in ("dense", "sparse"):
        config = TrainConfig(epochs=4, patience=0, lr=3e-3, batch_size=16, loss=loss, engine=engine)
        rec = AutoRecommender(
            "autorec", config, RunOptions(seed=1), based="user", hidden=20, input_fill="user_mean"
        ).fit(data, parts.train, parts.val)
        histories.append(
            np.array([[r["train_loss"], r["val_rmse"], r["val_user_rmse"]] for r in rec.history_])
        )
    assert np.allclose(histories[0], histories[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "train",
    [{"noise": "gaussian", "noise_level": 0.1}, {"refeed": True}],
)
def test_sparse_engine_refuses_what_needs_every_cell(train):
    with pytest.raises(ConfigError, match="engine 'sparse'"):
        TrainConfig(engine="sparse", **train)
    assert not TrainConfig(engine="auto", **train).use_sparse(torch.device("cpu"))


def test_dropout_noise_is_sparse_on_a_zero_fill_only():
    cpu = torch.device("cpu")
    noisy = {"noise": "dropout", "noise_level": 0.1}
    assert TrainConfig(**noisy).use_sparse(cpu, zero_fill=True)
    assert not TrainConfig(**noisy).use_sparse(cpu, zero_fill=False)
    with pytest.raises(ConfigError, match="non-zero input fill"):
        TrainConfig(engine="sparse", **noisy).use_sparse(cpu, zero_fill=False)


@pytest.mark.parametrize(
    ("variant", "sparse"), [("u-autorec-zero", True), ("u-autorec-user-mean", False)]
)
def test_trainer_takes_dropout_noise_sparse_on_a_zero_fill(data, variant, sparse):
    model, batcher = _setup(data, variant)
    config = TrainConfig(epochs=1, noise="dropout", noise_level=0.3)
    trainer = Trainer(model, batcher, None, config, RunOptions(seed=1), RatingScale(1.0, 5.0))
    assert trainer.sparse is sparse
    assert np.isfinite(trainer.train_epoch(1)["train_loss"])


@pytest.mark.parametrize("kind", ["dropout", "maskout"])
def test_corrupt_cells_drops_and_scales_as_the_dense_noise(kind):
    """Sparse corruption of (rating - fill) at observed cells: a share ``level`` of them
    become 0; dropout scales the others by 1 / (1 - level), maskout leaves them."""
    n, level = 200_000, 0.25
    values = torch.rand(n, generator=torch.Generator().manual_seed(0)) * 4 + 1
    cells = CellBatch.from_observed(torch.zeros(n, dtype=torch.long), torch.arange(n), values, 1, n)
    out = corrupt_cells(cells, kind, level, torch.Generator().manual_seed(1)).values
    dropped = out == 0
    assert abs(dropped.float().mean().item() - level) < 0.005
    scale = 1 / (1 - level) if kind == "dropout" else 1.0
    torch.testing.assert_close(out[~dropped], values[~dropped] * scale)
    with pytest.raises(ConfigError, match="needs every input cell"):
        corrupt_cells(cells, "gaussian", 0.1, None)


def test_auto_engine_is_sparse_on_cpu_only():
    assert TrainConfig().use_sparse(torch.device("cpu"))
    assert not TrainConfig().use_sparse(torch.device("cuda"))
    assert not TrainConfig(engine="dense").use_sparse(torch.device("cpu"))


def test_fill_is_honoured_by_both_engines(data):
    model, _ = _setup(data, "u-autorec-zero")
    matrix = RatingMatrix.build(data.interactions, data.n_users, data.n_items)
    batcher = RowBatcher(matrix, "cpu", InputFill("constant", 4.0))
    sparse, dense, _ = _both(model, batcher, torch.arange(10))
    assert torch.allclose(sparse, dense, atol=1e-5)


@pytest.mark.parametrize("sparse", [False, True])
def test_predicted_cells_do_not_depend_on_their_order(data, sparse):
    from aerec.training.predict import Predictor

    model, batcher = _setup(data, "u-autorec-zero")
    predictor = Predictor(model, batcher, batch_size=16, sparse=sparse)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, data.n_users, 400), rng.integers(0, data.n_items, 400)
    rows[:5], cols[:5] = rows[5], cols[5]  # repeated cells
    shuffled = predictor.cells(rows, cols)
    dense = predictor.rows(torch.arange(data.n_users))[rows, cols].numpy()
    np.testing.assert_allclose(shuffled, dense, atol=1e-5)
    order = np.lexsort((cols, rows))
    unique = order[np.r_[True, np.diff(rows[order] * data.n_items + cols[order]) > 0]]
    np.testing.assert_array_equal(predictor.cells(rows[unique], cols[unique]), shuffled[unique])
    assert predictor.cells(rows[:0], cols[:0]).shape == (0,)
