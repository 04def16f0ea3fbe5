"""Trainer behaviour: determinism, resume, divergence, early stopping, every option matters."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from aerec.errors import CheckpointError, ConfigError
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions, TrainConfig
from aerec.training.trainer import Trainer
from tests.helpers import spy_checkpoint_saves

FAST = TrainConfig(epochs=6, patience=0, lr=3e-3, batch_size=32)
SMALL = {"based": "user", "hidden": 24}


def _fit(data, parts, model="autorec", train=FAST, seed=0, **params):
    params = params or dict(SMALL)
    return AutoRecommender(model, train, RunOptions(seed=seed), **params).fit(
        data, parts.train, parts.val
    )


def _weights(rec):
    return {k: v.clone() for k, v in rec.model_.state_dict().items()}


def test_same_seed_same_history_and_weights(data, parts):
    a, b = _fit(data, parts), _fit(data, parts)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in a.history_]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in b.history_]
    assert all(
        torch.equal(x, y) for x, y in zip(_weights(a).values(), _weights(b).values(), strict=True)
    )
    c = _fit(data, parts, seed=1)
    assert c.history_[-1]["train_loss"] != a.history_[-1]["train_loss"]


@pytest.mark.parametrize(("every", "saved"), [(1, [1, 2, 3]), (2, [2])])
def test_interrupted_run_resumes_to_the_same_result(
    data, parts, tmp_path, monkeypatch, every, saved
):
    config = TrainConfig(
        epochs=6,
        patience=0,
        lr=3e-3,
        batch_size=32,
        schedule="cosine",
        noise="dropout",
        noise_level=0.1,
    )
    whole = AutoRecommender("deep", config, RunOptions(seed=3), layers=(16, 8, 16)).fit(
        data, parts.train, parts.val
    )

    original = Trainer._one_epoch

    def interrupt_at_4(self, epoch):
        if epoch == 4:
            raise KeyboardInterrupt
        original(self, epoch)

    monkeypatch.setattr(Trainer, "_one_epoch", interrupt_at_4)
    epochs_saved = spy_checkpoint_saves(monkeypatch)
    options = RunOptions(seed=3, checkpoint_every=every, checkpoint_seconds=0)
    rec = AutoRecommender("deep", config, options, layers=(16, 8, 16))
    with pytest.raises(KeyboardInterrupt):
        rec.fit(data, parts.train, parts.val, checkpoint_dir=tmp_path)
    assert epochs_saved == saved  # epoch 3 trained but, every 2 epochs, not saved
    monkeypatch.setattr(Trainer, "_one_epoch", original)
    resumed = AutoRecommender("deep", config, options, layers=(16, 8, 16)).fit(
        data, parts.train, parts.val, checkpoint_dir=tmp_path, resume=True
    )
    assert [r["val_rmse"] for r in resumed.history_] == [r["val_rmse"] for r in whole.history_]
    assert all(
        torch.equal(x, y)
        for x, y in zip(_weights(whole).values(), _weights(resumed).values(), strict=True)
    )


@pytest.mark.parametrize(("every", "saved"), [(1, [3, 6]), (2, [4])])
def test_saves_wait_checkpoint_seconds_between_them(
    data, parts, tmp_path, monkeypatch, every, saved
):
    import types

    from aerec.training import trainer as trainer_module

    now = [0.0]  # a clock that moves 10 s an epoch and only then
    clock = types.SimpleNamespace(monotonic=lambda: now[0], perf_counter=time.perf_counter)
    monkeypatch.setattr(trainer_module, "time", clock)
    original = Trainer._one_epoch

    def ten_seconds(self, epoch):
        now[0] += 10.0
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "_one_epoch", ten_seconds)
    epochs_saved = spy_checkpoint_saves(monkeypatch)
    config = TrainConfig(epochs=6, patience=0, batch_size=32)
    options = RunOptions(seed=3, checkpoint_every=every, checkpoint_seconds=25)
    AutoRecommender("autorec", config, options, **SMALL).fit(
        data, parts.train, parts.val, checkpoint_dir=tmp_path
    )
    assert epochs_saved == saved  # every `every` epochs, once 25 s have passed since the last


def test_checkpoint_seconds_must_not_be_negative():
    for bad in (-1.0, math.nan):
        with pytest.raises(ConfigError, match="checkpoint_seconds must be >= 0"):
            RunOptions(checkpoint_seconds=bad)


def test_checkpoint_every_must_be_positive():
    with pytest.raises(ConfigError, match="checkpoint_every must be >= 1"):
        RunOptions(checkpoint_every=0)


def test_corrupt_checkpoint_is_a_clear_error(data, parts, tmp_path):
    _fit_with_checkpoint = AutoRecommender("autorec", FAST, RunOptions(), **SMALL)
    _fit_with_checkpoint.fit(data, parts.train, parts.val, checkpoint_dir=tmp_path)
    (tmp_path / "checkpoint.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        AutoRecommender("autorec", FAST, RunOptions(), **SMALL).fit(
            data, parts.train, parts.val, checkpoint_dir=tmp_path, resume=True
        )


def test_checkpoints_store_column_major_tensors_transposed_without_copies(data, parts, tmp_path):
    """The first layer, its best copy and its Adam moments are written as their contiguous
    transposes and come back in their own layout, equal."""
    import json

    from safetensors import safe_open

    from aerec.ops.layout import is_column_major
    from aerec.training import checkpoint

    rec = AutoRecommender("autorec", FAST, RunOptions(checkpoint_seconds=0), **SMALL)
    rec.fit(data, parts.train, parts.val, checkpoint_dir=tmp_path)
    path = tmp_path / checkpoint.TENSORS
    with safe_open(str(path), framework="pt") as fh:
        meta = json.loads(fh.metadata()["aerec"])
        shapes = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}  # noqa: SIM118
    weight = rec.model_.state_dict()["layers.0.weight"]
    assert is_column_major(weight)
    assert {"model.layers.0.weight", "best.layers.0.weight"} <= set(meta["transposed"])
    assert any(k.startswith("optim.") for k in meta["transposed"])  # Adam's moments
    assert shapes["model.layers.0.weight"] == tuple(weight.t().shape)
    fresh = AutoRecommender("autorec", FAST, RunOptions(), **SMALL)
    fresh.fit(data, parts.train, parts.val, checkpoint_dir=tmp_path, resume=True)
    assert torch.equal(fresh.model_.state_dict()["layers.0.weight"], weight)
    state, _ = checkpoint.load(tmp_path, fresh.model_)
    assert is_column_major(state.best_weights["layers.0.weight"])


def test_a_checkpoint_listing_tensors_it_lacks_is_a_clear_error(data, parts, tmp_path):
    from safetensors.torch import load_file, save_file

    from aerec.training import checkpoint

    AutoRecommender("autorec", FAST, RunOptions(checkpoint_seconds=0), **SMALL).fit(
        data, parts.train, parts.val, checkpoint_dir=tmp_path
    )
    path = tmp_path / checkpoint.TENSORS
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    tensors = load_file(str(path))
    text = meta["aerec"].replace('"transposed": [', '"transposed": ["nope", ')
    save_file(tensors, str(path), metadata={"aerec": text})
    with pytest.raises(CheckpointError, match="lists tensors it does not hold"):
        AutoRecommender("autorec", FAST, RunOptions(), **SMALL).fit(
            data, parts.train, parts.val, checkpoint_dir=tmp_path, resume=True
        )


def test_divergence_stops_and_keeps_the_best_epoch(data, parts, monkeypatch):
    original = Trainer.train_epoch

    def diverge_at_3(self, epoch):
        out = original(self, epoch)
        return out | {"train_loss": float("nan")} if epoch == 3 else out

    monkeypatch.setattr(Trainer, "train_epoch", diverge_at_3)
    rec = _fit(data, parts)
    assert rec.stopped_.startswith("diverged at epoch 3")
    assert len(rec.history_) == 2 and rec.best_epoch_ in (1, 2)
    assert np.isfinite(rec.predict_inner(parts.test.users, parts.test.items)).all()


def test_early_stopping_restores_the_best_epoch(data, parts):
    config = TrainConfig(epochs=40, patience=3, lr=3e-2, batch_size=16)
    rec = _fit(data, parts, train=config)
    best = rec.history_[rec.best_epoch_ - 1]
    assert best["val_rmse"] == min(r["val_rmse"] for r in rec.history_)
    assert rec.evaluate(parts.val)["rmse"] == pytest.approx(best["val_rmse"], abs=1e-5)
    if rec.stopped_:
        assert len(rec.history_) == rec.best_epoch_ + 3


CHANGES = [
    ("autorec", {"hidden": 12}, {}),
    ("autorec", {"activation": "elu"}, {}),
    ("autorec", {"last_activation": "relu"}, {}),
    ("autorec", {"l2": 0.05}, {}),
    ("autorec", {"input_fill": "user_mean"}, {}),
    ("autorec", {"fill_value": 3.0}, {}),
    ("autorec", {"side": "input"}, {}),
    ("autorec", {"based": "item"}, {}),
    ("autorec", {"binary": True}, {}),
    ("autorec", {}, {"lr": 1e-2}),
    ("autorec", {}, {"batch_size": 8}),
    ("autorec", {}, {"weight_decay": 0.1}),
    ("autorec", {}, {"loss": "mse"}),
    ("autorec", {}, {"noise": "gaussian", "noise_level": 0.4}),
    ("autorec", {}, {"noise": "dropout", "noise_level": 0.2}),
    ("autorec", {}, {"noise": "maskout", "noise_level": 0.2}),
    ("autorec", {}, {"refeed": True}),
    ("autorec", {}, {"schedule": "cosine"}),
]


@pytest.mark.parametrize(("model", "params", "train"), CHANGES)
def test_each_hyper_parameter_changes_the_result(data, parts, model, params, train):
    base = _fit(data, parts)
    changed = _fit(
        data, parts, model, TrainConfig(**{**_train_dict(FAST), **train}), **{**SMALL, **params}
    )
    a = base.predict_inner(parts.test.users, parts.test.items)
    b = changed.predict_inner(parts.test.users, parts.test.items)
    assert not np.allclose(a, b)


@pytest.mark.parametrize(
    "params",
    [
        {"dropout": 0.5},
        {"tied": True},
        {"l2_decoder": 0.1},
        {"layers": (16, 4, 16)},
        {"side": "every_layer"},
        {"activation": "relu"},
    ],
)
def test_each_deep_hyper_parameter_changes_the_result(data, parts, params):
    base = _fit(data, parts, "deep", layers=(16, 8, 16), dropout=0.0)
    changed = _fit(data, parts, "deep", **{"layers": (16, 8, 16), "dropout": 0.0, **params})
    a = base.predict_inner(parts.test.users, parts.test.items)
    assert not np.allclose(a, changed.predict_inner(parts.test.users, parts.test.items))


def _train_dict(config: TrainConfig) -> dict:
    from aerec.config import to_dict

    return to_dict(config)


def test_l2_is_applied_as_the_gradient_of_the_keras_penalty():
    """An Adam step with the param groups equals one on loss + l2 * sum(W**2) without them."""
    from aerec.models import AutoEncoder, AutoRecConfig

    arch = AutoRecConfig(hidden=6, l2=0.05).architecture()
    x = torch.rand(4, 10)
    models = [AutoEncoder(10, arch, generator=torch.Generator().manual_seed(0)) for _ in "ab"]
    grouped = torch.optim.Adam(models[0].decay_groups(), lr=0.01)
    plain = torch.optim.Adam(models[1].parameters(), lr=0.01)
    for model, opt, penalty in ((models[0], grouped, False), (models[1], plain, True)):
        loss = (model(x) - x).square().mean()
        if penalty:
            loss = loss + model.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_binary_hidden_layer_feeds_the_decoder_zeros_and_ones_and_passes_gradients_through():
    """The AutoRec authors' binarised layer: the decoder reads 1 where the sigmoid exceeds
    0.5, else 0 (also when predicting); the encoder gets the gradient the decoder's input got."""
    from aerec.models import AutoEncoder, AutoRecConfig

    arch = AutoRecConfig(hidden=6, binary=True).architecture()
    model = AutoEncoder(10, arch, generator=torch.Generator().manual_seed(0))
    x = torch.rand(4, 10) * 5
    encoder, decoder = model.layers
    h = torch.sigmoid(encoder(x)).detach().requires_grad_()
    bits = (h > 0.5).float().requires_grad_()
    assert 0 < bits.sum() < bits.numel()  # both sides of the threshold
    for mode in (model.train, model.eval):
        mode()
        assert torch.equal(model(x), decoder(bits))
    model.train()
    target = torch.rand(4, 10)
    (model(x) - target).square().sum().backward()
    (decoder(bits) - target).square().sum().backward()
    through = torch.autograd.grad(torch.sigmoid(encoder(x)), encoder.weight, bits.grad)[0]
    assert torch.allclose(encoder.weight.grad, through)


def test_divergence_in_the_first_epoch_is_a_clear_error(data, parts, monkeypatch):
    from aerec.errors import ConfigError

    original = Trainer.train_epoch
    monkeypatch.setattr(
        Trainer, "train_epoch", lambda self, epoch: original(self, epoch) | {"train_loss": math.inf}
    )
    with pytest.raises(ConfigError, match="diverged at epoch 1"):
        AutoRecommender("autorec", FAST, RunOptions(progress=True), **SMALL).fit(
            data, parts.train, parts.val
        )
