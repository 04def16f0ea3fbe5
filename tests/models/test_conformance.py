"""One conformance suite every model variant passes (STYLE.md, point 12)."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from aerec.config import dumps_toml, from_dict, to_dict
from aerec.models import MODELS
from aerec.models.registry import ModelEntry
from aerec.plan import TrainConfig
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions

TRAIN_VARIANTS = {
    "gaussian": {"noise": "gaussian", "noise_level": 0.4},
    "dropout-noise": {"noise": "dropout", "noise_level": 0.1},
    "maskout": {"noise": "maskout", "noise_level": 0.25},
    "refeed": {"refeed": True},
}
"""Training variants every model trained by Adam takes (applied to its first example);
L-BFGS and ALS phases take none."""


def quick_plan(entry: ModelEntry, **train) -> tuple[TrainConfig, ...]:
    """The model's default plan, shortened for toy data: every phase at most 10 epochs (L-BFGS:
    4 rounds of 5 iterations), Adam phases at lr 3e-3 in batches of 16."""
    phases = []
    for phase in entry.default_plan:
        if phase.optimizer == "lbfgs":
            phase = replace(phase, epochs=min(phase.epochs, 4), iterations=5, patience=0)
        elif phase.optimizer == "als":
            phase = replace(phase, epochs=3, patience=0)
        else:
            phase = replace(phase, epochs=10, patience=0, lr=3e-3, batch_size=16, **train)
        phases.append(phase)
    return tuple(phases)


def cases() -> list[tuple[str, int, str]]:
    """(model, example index, training variant) for every registered model's examples."""
    out = [(name, k, "") for name, e in MODELS.items() for k in range(len(e.examples))]
    for name, e in MODELS.items():
        if e.examples and all(p.optimizer in ("adam", "adamw") for p in e.default_plan):
            out += [(name, 0, variant) for variant in TRAIN_VARIANTS]
    return out


def case_id(case) -> str:
    name, k, variant = case
    return f"{name}-{k}" + (f"-{variant}" if variant else "")


def fit_case(data, parts, case) -> AutoRecommender:
    name, k, variant = case
    entry = MODELS[name]
    plan = quick_plan(entry, **TRAIN_VARIANTS.get(variant, {}))
    rec = AutoRecommender(name, plan, RunOptions(seed=5), **entry.examples[k])
    return rec.fit(data, parts.train, parts.val)


@pytest.fixture(scope="module", params=cases(), ids=case_id)
def fitted(request, data, parts):
    train_before = copy.deepcopy(parts.train)
    rec = fit_case(data, parts, request.param)
    return case_id(request.param), rec, train_before


def test_every_registered_model_has_examples():
    for name, entry in MODELS.items():
        assert entry.examples, f"model {name!r} registers no examples for the conformance suite"


def test_config_round_trips_through_toml(fitted):
    import tomllib

    _, rec, _ = fitted
    values = tomllib.loads(dumps_toml(to_dict(rec.config)))
    assert from_dict(type(rec.config), values) == rec.config
    for phase in rec.plan:
        assert from_dict(TrainConfig, tomllib.loads(dumps_toml(to_dict(phase)))) == phase


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
    assert {name: e.config.name for name, e in MODELS.items()} == {n: n for n in MODELS}
