"""One conformance suite every model variant passes (STYLE.md, point 12)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from aerec.config import dumps_toml, from_dict, to_dict
from aerec.data.splits import split
from aerec.models import MODELS
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions, TrainConfig
from tests.helpers import toy_encoded

VARIANTS = {
    "u-autorec": ("autorec", {"based": "user"}, {}),
    "i-autorec": ("autorec", {"based": "item"}, {}),
    "i-autorec-genres": ("autorec", {"based": "item", "side": "input"}, {}),
    "u-autorec-elu-mean": (
        "autorec",
        {"based": "user", "activation": "elu", "last_activation": "elu", "input_fill": "user_mean"},
        {},
    ),
    "deep": ("deep", {"layers": (32, 16, 32), "dropout": 0.5}, {}),
    "deep-tied": ("deep", {"layers": (32, 16, 32), "tied": True}, {}),
    "deep-side-input": ("deep", {"layers": (32, 16, 32), "side": "input"}, {}),
    "deep-side-every-layer": ("deep", {"layers": (32, 16, 32), "side": "every_layer"}, {}),
    "deep-item-mean-fill": ("deep", {"layers": (16,), "input_fill": "item_mean"}, {}),
    "deep-gaussian": ("deep", {"layers": (32, 16, 32)}, {"noise": "gaussian", "noise_level": 0.4}),
    "deep-dropout-noise": (
        "deep",
        {"layers": (32, 16, 32)},
        {"noise": "dropout", "noise_level": 0.1},
    ),
    "deep-maskout": ("deep", {"layers": (32, 16, 32)}, {"noise": "maskout", "noise_level": 0.25}),
    "deep-refeed": ("deep", {"layers": (32, 16, 32)}, {"refeed": True}),
}


@pytest.fixture(scope="module")
def data():
    return toy_encoded(n_users=150, n_items=90, seed=1)


@pytest.fixture(scope="module")
def parts(data):
    return split(data, "stratified", seed=0)


def _fit(data, parts, name):
    model, params, train = VARIANTS[name]
    config = TrainConfig(epochs=10, patience=0, lr=3e-3, batch_size=16, **train)
    return AutoRecommender(model, config, RunOptions(seed=5), **params).fit(
        data, parts.train, parts.val
    )


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def fitted(request, data, parts):
    train_before = copy.deepcopy(parts.train)
    rec = _fit(data, parts, request.param)
    return request.param, rec, train_before


def test_config_round_trips_through_toml(fitted):
    import tomllib

    _, rec, _ = fitted
    values = tomllib.loads(dumps_toml(to_dict(rec.config)))
    assert from_dict(type(rec.config), values) == rec.config
    assert from_dict(TrainConfig, tomllib.loads(dumps_toml(to_dict(rec.train_config)))) == (
        rec.train_config
    )


def test_save_load_gives_identical_predictions(fitted, parts, tmp_path):
    _, rec, _ = fitted
    rec.save(tmp_path / "m")
    loaded = AutoRecommender.load(tmp_path / "m", device="cpu")
    users, items = parts.test.users, parts.test.items
    assert np.array_equal(rec.predict_inner(users, items), loaded.predict_inner(users, items))
    assert loaded.config == rec.config


def test_predictions_are_finite_and_inside_the_scale(fitted, parts):
    _, rec, _ = fitted
    pred = rec.predict_inner(parts.test.users, parts.test.items)
    assert np.isfinite(pred).all()
    assert pred.min() >= 1.0 and pred.max() <= 5.0


def test_unknown_user_and_item_get_the_fallback(fitted, data):
    _, rec, _ = fitted
    known_user, known_item = data.user_vocab.ids[0], data.item_vocab.ids[0]
    pred = rec.predict([known_user, 10**9, known_user], [known_item, known_item, -7])
    assert rec.n_fallback_ == 2
    assert pred[1] == pred[2] == pytest.approx(rec.predictor_.fallback)
    assert np.isfinite(pred[0])


def test_fit_leaves_the_training_data_unchanged(fitted, parts):
    _, _, before = fitted
    for field in ("users", "items", "ratings", "timestamps"):
        assert np.array_equal(getattr(before, field), getattr(parts.train, field))


def test_training_lowers_the_loss(fitted):
    name, rec, _ = fitted
    assert rec.history_[-1]["train_loss"] < rec.history_[0]["train_loss"], name


def test_recommend_excludes_seen_items(fitted, data, parts):
    _, rec, _ = fitted
    user = data.user_vocab.ids[3]
    top = rec.recommend(user, n=5)
    seen = data.item_vocab.ids[parts.train.items[parts.train.users == 3]]
    assert len(top) == 5 and not set(top["item"]) & set(seen)
    assert top["score"].is_monotonic_decreasing


def test_registry_names_match_configs():
    assert {name: cls.name for name, cls in MODELS.items()} == {n: n for n in MODELS}
