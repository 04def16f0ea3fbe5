"""The simple baselines: closed-form sweeps checked against a hand-written ALS, and the als
phase refused where it does not apply."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from aerec.errors import ConfigError
from aerec.plan import TrainConfig
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions


def reference_als(train, n_users, n_items, reg_u, reg_i, sweeps):
    """Surprise's BaselineOnly ALS, written out: items first, then users, mu fixed."""
    mu = train.ratings.mean()
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    for _ in range(sweeps):
        for i in range(n_items):
            sel = train.items == i
            bi[i] = (train.ratings[sel] - mu - bu[train.users[sel]]).sum() / (reg_i + sel.sum())
        for u in range(n_users):
            sel = train.users == u
            bu[u] = (train.ratings[sel] - mu - bi[train.items[sel]]).sum() / (reg_u + sel.sum())
    return mu, bu, bi


@pytest.mark.parametrize("based", ["user", "item"])
def test_bias_sweeps_match_the_hand_written_als(data, parts, based):
    plan = (TrainConfig(optimizer="als", loss="mse", epochs=3, patience=0, keep="last"),)
    rec = AutoRecommender("bias", plan, RunOptions(seed=0), based=based, reg_user=4.0, reg_item=2.0)
    rec.fit(data, parts.train, parts.val)
    mu, bu, bi = reference_als(parts.train, data.n_users, data.n_items, 4.0, 2.0, 3)
    users, items = parts.test.users, parts.test.items
    known = (np.bincount(parts.train.users, minlength=data.n_users)[users] > 0) & (
        np.bincount(parts.train.items, minlength=data.n_items)[items] > 0
    )
    expected = np.clip(mu + bu[users] + bi[items], 1, 5)
    got = rec.predict_inner(users, items)
    np.testing.assert_allclose(got[known], expected[known], atol=1e-5)


def test_bias_objective_falls_every_sweep(data, parts):
    plan = (TrainConfig(optimizer="als", loss="mse", epochs=5, patience=0),)
    rec = AutoRecommender("bias", plan, RunOptions(seed=0)).fit(data, parts.train, parts.val)
    losses = [r["train_loss"] for r in rec.history_]
    assert all(b <= a + 1e-9 for a, b in itertools.pairwise(losses))


def test_global_mean_predicts_the_mean_training_rating(data, parts):
    rec = AutoRecommender("global-mean").fit(data, parts.train, parts.val)
    pred = rec.predict_inner(parts.test.users, parts.test.items)
    assert np.allclose(pred, parts.train.ratings.mean(), atol=1e-5)


def test_als_phase_is_refused_for_a_gradient_model(data, parts):
    plan = (TrainConfig(optimizer="als", epochs=1),)
    with pytest.raises(ConfigError, match="optimizer 'als'"):
        AutoRecommender("autorec", plan, hidden=8).fit(data, parts.train, parts.val)


def test_als_phase_takes_no_noise():
    with pytest.raises(ConfigError, match="als phase"):
        TrainConfig(optimizer="als", noise="gaussian", noise_level=0.1)


def test_negative_regularisation_is_one_line():
    with pytest.raises(ConfigError, match="reg_user"):
        AutoRecommender("bias", reg_user=-1.0)
