"""A peer's run: the same data, split, scoring and run folder as :func:`aerec.runs.train_run`.

The folder holds ``config.toml`` (``[model] name`` is the peer's; no ``[train]``: the library
trains it), ``metrics.json`` (the same keys as an aerec run's, the ranking metrics included;
``fit_seconds`` is the library's fit alone, ``wall_seconds`` adds the scoring and ranking; no
epochs; ``peer``: the library and its version). No model is saved: a peer is rerun, not
reloaded.
"""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from aerec.data.splits import Split
from aerec.data.types import EncodedData, Interactions
from aerec.evaluation.metrics import rating_metrics
from aerec.io import write_json
from aerec.peers import Factors, FitData, peer_entry
from aerec.training import RunOptions


def train_peer_run(config, out: Path, options: RunOptions, data_dir=None, resume=False) -> dict:
    """Fit the peer of ``config.model`` on the run's training ratings, score validation and
    test, and write the run folder."""
    from aerec.runs import _prepare_folder, fingerprint, load_data, ranking_on_test, read_run

    if resume and (out / "metrics.json").exists():
        return read_run(out)[1]
    entry = peer_entry(config.model.name)
    from aerec.extras import require

    require("peers", f"the peer {entry.name!r}")  # before the data is loaded
    _prepare_folder(out, config, resume)  # an interrupted fit restarts from the beginning
    data, parts = load_data(config.data, config.seed, data_dir, options.progress)
    fit_data = FitData(parts.train, data.n_users, data.n_items, data.scale, config.seed)
    start = time.perf_counter()
    factors = entry.fit(config.model, fit_data)
    fit_seconds = time.perf_counter() - start
    scored = {name: _score(factors, data, parts, getattr(parts, name)) for name in ("val", "test")}
    scorer = _block_scorer(factors, data, parts)
    ranking = ranking_on_test(scorer, "users", data, parts, config.data)
    wall = time.perf_counter() - start
    test, val = scored["test"], scored["val"]
    metrics = {
        "test_rmse": test["rmse"],
        "test_mae": test["mae"],
        "test_user_rmse": test["user_rmse"],
        "val_rmse": val["rmse"],
        "val_user_rmse": val["user_rmse"],
        "best_epoch": None,
        "epochs_run": None,
        "train_seconds": fit_seconds,
        "fit_seconds": fit_seconds,
        "wall_seconds": wall,
        "epoch_seconds": None,
        "stopped": f"fitted by {entry.library}",
        "test_n": test["n"],
        "test_fallback": test["n_fallback"],
        "test_rmse_by_activity": test["rmse_by_activity"],
        "ranking": ranking,
        "data": fingerprint(data),
        "split": parts.report,
        "device": "cpu",
        "peer": {"library": entry.library, "version": _version(entry.library)},
    }
    write_json(out / "metrics.json", metrics)
    return metrics


def _known(data: EncodedData, parts: Split) -> tuple[np.ndarray, np.ndarray]:
    """Which users and which items have training ratings."""
    users = np.bincount(parts.train.users, minlength=data.n_users) > 0
    return users, np.bincount(parts.train.items, minlength=data.n_items) > 0


def _score(factors: Factors, data: EncodedData, parts: Split, inter: Interactions) -> dict:
    """aerec's scoring of ``factors`` on ``inter``: a user or item without training ratings
    gets the mean training rating (the fallback of aerec's models), counted in n_fallback."""
    train = parts.train
    known_user, known_item = _known(data, parts)
    known = known_user[inter.users] & known_item[inter.items]
    pred = np.full(len(inter), float(train.ratings.mean()), dtype=np.float64)
    if known.any():
        pred[known] = factors(inter.users[known], inter.items[known])
    counts = np.bincount(train.users, minlength=data.n_users)
    out = rating_metrics(inter.users, inter.ratings, pred, data.scale, counts)
    return out | {"n_fallback": int((~known).sum())}


def _block_scorer(factors: Factors, data: EncodedData, parts: Split):
    """The ranking's scores of users x items: the predictions clipped to the scale, as
    :func:`_score` and aerec's models rank, the fallback where the user or item is unknown."""
    known_user, known_item = _known(data, parts)
    fallback = float(parts.train.ratings.mean())

    def score(users: np.ndarray, items: np.ndarray) -> np.ndarray:
        block = factors.block(users, items)
        block[~known_user[users]] = fallback
        block[:, ~known_item[items]] = fallback
        return np.clip(block, data.scale.low, data.scale.high)

    return score


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None
