"""The peers: the same data, split and run folder as aerec's models; Surprise's own
predictions reproduced; a one-line error without the extra. Tests that fit a peer skip when
``aerec[peers]`` is not installed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aerec.errors import ConfigError
from aerec.experiments import load_spec, run_experiment
from aerec.peers import FitData, peer_config
from aerec.runs import RunConfig, load_data, read_run, train_run
from tests.helpers import toy_encoded

DATA = {"dataset": "synthetic-120x60x2400", "split": "random", "val_size": 0.05}


def config(name: str, seed: int = 1, **model) -> RunConfig:
    return RunConfig.from_dict({"seed": seed, "data": DATA, "model": {"name": name, **model}})


def toy_fit_data(seed: int = 0) -> tuple:
    data = toy_encoded(n_users=60, n_items=40, seed=seed)
    return data, FitData(data.interactions, data.n_users, data.n_items, data.scale, seed)


@pytest.mark.parametrize("name", ["svd", "svdpp"])
def test_surprise_predictions_are_surprises_own(name):
    pytest.importorskip("surprise")
    from aerec.peers.surprise_svd import fit_surprise, fit_svd

    data, fit_data = toy_fit_data()
    peer = peer_config(name, {"n_epochs": 3})
    algo, _ = fit_surprise(peer, fit_data)
    users, items = data.interactions.users[:50], data.interactions.items[:50]
    pairs = zip(users, items, strict=True)
    expected = [algo.predict(int(u), int(i), clip=False).est for u, i in pairs]
    factors = fit_svd(peer, fit_data)
    np.testing.assert_allclose(factors(users, items), expected, rtol=1e-10)
    block_users, block_items = np.unique(users)[:7], np.unique(items)[:5]
    every = [
        [algo.predict(int(u), int(i), clip=False).est for i in block_items] for u in block_users
    ]
    np.testing.assert_allclose(factors.block(block_users, block_items), every, rtol=1e-10)


def test_the_bayesian_fm_is_myfms_mean_over_its_kept_samples():
    pytest.importorskip("myfm")
    import myfm

    from aerec.peers.fm import factors, one_hot

    data, _ = toy_fit_data()
    train = data.interactions
    fm = myfm.MyFMRegressor(rank=3, random_seed=1)
    x = one_hot(train.users, train.items, data.n_users, data.n_items)
    fm.fit(x, train.ratings, n_iter=12, n_kept_samples=7, group_shapes=[60, 40])
    got = factors(fm.predictor_.samples, data.n_users)
    assert got.user_factors.shape == (60, 3 * 7)
    users, items = np.arange(60).repeat(40), np.tile(np.arange(40), 60)
    expected = fm.predict(one_hot(users, items, 60, 40))
    np.testing.assert_allclose(got(users, items), expected, rtol=1e-10)
    np.testing.assert_allclose(
        got.block(np.arange(60), np.arange(40)).ravel(), expected, rtol=1e-10
    )


def test_factors_score_cells_in_small_gathers(monkeypatch):
    from aerec import peers

    rng = np.random.default_rng(0)
    factors = peers.Factors(
        3.5,
        rng.normal(size=9),
        rng.normal(size=4),
        rng.normal(size=(9, 3)),
        rng.normal(size=(4, 3)),
    )
    users, items = rng.integers(0, 9, 50), rng.integers(0, 4, 50)
    whole = factors(users, items)
    monkeypatch.setattr(peers, "CELL_FACTORS", 7)  # two cells per gather
    np.testing.assert_array_equal(factors(users, items), whole)
    np.testing.assert_allclose(whole, factors.block(np.arange(9), np.arange(4))[users, items])
    full = factors.block(np.arange(9), np.arange(4))
    for items in (np.arange(1, 3), np.array([3, 1]), np.array([0, 2]), np.arange(0)):
        block = factors.block(np.arange(9), items)  # a run of items is a view, others gathered
        np.testing.assert_allclose(block, full[:, items], rtol=1e-12)


@pytest.mark.parametrize("name", ["svd", "bayesian-fm"])
def test_a_peer_run_writes_an_aerec_run_folder(tmp_path, name):
    pytest.importorskip("surprise")
    pytest.importorskip("myfm")
    small = {"svd": {"n_epochs": 5}, "bayesian-fm": {"n_iter": 20, "n_kept_samples": 15}}
    run = config(name, **small[name])
    metrics = train_run(run, tmp_path / "run")
    stored, again = read_run(tmp_path / "run")
    assert stored.to_dict() == run.to_dict() and "train" not in stored.to_dict()
    assert again["test_rmse"] == metrics["test_rmse"] and again["split"] == metrics["split"]
    for key in ("test_rmse", "test_mae", "test_user_rmse", "val_rmse", "fit_seconds"):
        assert np.isfinite(metrics[key]), key
    assert metrics["test_rmse"] < 1.3 and metrics["peer"]["version"]
    ranking = metrics["ranking"]  # the ranking metrics of aerec's runs, on the same users
    assert ranking["k"] == [5, 10, 20] and ranking["users"] > 0
    assert 0 <= ranking["ndcg@10"] <= 1 and 0 <= ranking["precision@5"] <= 1
    _, parts = load_data(run.data, run.seed)
    assert metrics["test_n"] == len(parts.test)  # the very split an aerec run gets
    assert train_run(run, tmp_path / "run", resume=True) == again
    with pytest.raises(ConfigError, match="already holds a finished run"):
        train_run(run, tmp_path / "run")


def test_a_peers_ranking_scores_are_its_clipped_predictions_with_the_fallback():
    pytest.importorskip("surprise")
    from aerec.peers.run import _block_scorer
    from aerec.peers.surprise_svd import fit_svd

    run = config("svd")
    data, parts = load_data(run.data, run.seed)
    train = parts.train
    keep = train.items != 3  # item 3 and user 5 get no training rating
    keep &= train.users != 5
    parts = dataclasses.replace(parts, train=train.take(keep))
    fit_data = FitData(parts.train, data.n_users, data.n_items, data.scale, 1)
    factors = fit_svd(peer_config("svd", {"n_epochs": 30, "lr_all": 0.02}), fit_data)
    users, items = np.arange(data.n_users), np.arange(data.n_items)
    block = _block_scorer(factors, data, parts)(users, items)
    mean = parts.train.ratings.mean()
    assert (block[5] == mean).all() and (block[:, 3] == mean).all()
    raw = factors(users.repeat(len(items)), np.tile(items, len(users))).reshape(block.shape)
    rated_users = np.bincount(parts.train.users, minlength=data.n_users) > 0
    rated_items = np.bincount(parts.train.items, minlength=data.n_items) > 0
    assert not rated_users[5] and not rated_items[3]
    known = rated_users[:, None] & rated_items[None, :]
    assert (block[~known] == mean).all()
    np.testing.assert_allclose(block[known], np.clip(raw, 1, 5)[known], rtol=1e-12)
    assert ((raw[known] > 5) | (raw[known] < 1)).any()  # the clipping was exercised


def test_a_peer_takes_no_train_table_or_recipe():
    with pytest.raises(ConfigError, match="is a peer"):
        RunConfig.from_dict({"model": {"name": "svd"}, "train": {"epochs": 3}})
    with pytest.raises(ConfigError, match="is a peer"):
        RunConfig.from_dict({"model": {"name": "svd"}, "recipe": "authors"})
    with pytest.raises(ConfigError, match="unknown key 'hidden'"):
        RunConfig.from_dict({"model": {"name": "svd", "hidden": 3}})
    with pytest.raises(ConfigError, match="n_kept_samples"):
        RunConfig.from_dict({"model": {"name": "bayesian-fm", "n_kept_samples": 500}})


def test_missing_extra_is_one_line_naming_the_install(tmp_path, monkeypatch):
    from aerec import extras

    monkeypatch.setitem(extras.EXTRAS, "peers", ("aerec_no_such_module", "scikit-surprise"))
    with pytest.raises(ConfigError, match=r"pip install 'aerec\[peers\]'") as caught:
        train_run(config("svd"), tmp_path / "run")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_peers_are_rows_of_an_experiment_beside_aerec_models(tmp_path):
    pytest.importorskip("surprise")
    spec_file = tmp_path / "peers.toml"
    spec_file.write_text(
        """
[experiment]
seeds = [1, 2]
baseline = "bias"
[data]
dataset = "synthetic-120x60x2400"
split = "random"
[[variants]]
label = "bias"
model = { name = "bias" }
[[variants]]
label = "SVD"
model = { name = "svd", n_epochs = 5 }
"""
    )
    spec = load_spec(spec_file)
    table = run_experiment(spec, tmp_path / "runs", progress=False, say=lambda _: None)
    assert sorted(table["row"]) == ["SVD", "SVD", "bias", "bias"]
    assert table["fit_seconds"].notna().all() and table["test_rmse"].notna().all()
    by_seed = table.pivot(index="seed", columns="row", values="test_n")
    assert (by_seed["SVD"] == by_seed["bias"]).all()  # the same test split per seed
    from aerec.reporting.report import build_report

    paths = build_report(tmp_path / "runs", tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| SVD |" in text and "| bias |" in text and paths
    ranking = text[text.index("Top-N ranking") :]
    assert "| SVD | 10 |" in ranking  # the peer's ranking metrics beside the aerec model's
