"""A peer's run: the same data, split, scoring and run folder as :func:`aerec.runs.train_run`.

The folder holds ``config.toml`` (``[model] name`` is the peer's; no ``[train]``: the library
trains it), ``metrics.json`` (the same keys as an aerec run's; ``fit_seconds`` is the
library's fit alone, ``wall_seconds`` adds the scoring; no epochs; ``peer``: the library and
its version). No model is saved: a peer is rerun, not reloaded.
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
from aerec.peers import FitData, Predict, peer_entry
from aerec.training import RunOptions


def train_peer_run(config, out: Path, options: RunOptions, data_dir=None, resume=False) -> dict:
    """Fit the peer of ``config.model`` on the run's training ratings, score validation and
    test, and write the run folder."""
    from aerec.runs import _prepare_folder, fingerprint, load_data, read_run

    if resume and (out / "metrics.json").exists():
        return read_run(out)[1]
    entry = peer_entry(config.model.name)
    from aerec.extras import require

    require("peers", f"the peer {entry.name!r}")  # before the data is loaded
    _prepare_folder(out, config, resume)  # an interrupted fit restarts from the beginning
    data, parts = load_data(config.data, config.seed, data_dir, options.progress)
    fit_data = FitData(
        parts.train, data.n_users, data.n_items, data.scale, config.seed, options.threads
    )
    start = time.perf_counter()
    predict = entry.fit(config.model, fit_data)
    fit_seconds = time.perf_counter() - start
    scored = {name: _score(predict, data, parts, getattr(parts, name)) for name in ("val", "test")}
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
        "data": fingerprint(data),
        "split": parts.report,
        "device": "cpu",
        "peer": {"library": entry.library, "version": _version(entry.library)},
    }
    write_json(out / "metrics.json", metrics)
    return metrics


def _score(predict: Predict, data: EncodedData, parts: Split, inter: Interactions) -> dict:
    """aerec's scoring of ``predict`` on ``inter``: a user or item without training ratings
    gets the mean training rating (the fallback of aerec's models), counted in n_fallback."""
    train = parts.train
    known_user = np.bincount(train.users, minlength=data.n_users) > 0
    known_item = np.bincount(train.items, minlength=data.n_items) > 0
    known = known_user[inter.users] & known_item[inter.items]
    pred = np.full(len(inter), float(train.ratings.mean()), dtype=np.float64)
    if known.any():
        pred[known] = predict(inter.users[known], inter.items[known])
    counts = np.bincount(train.users, minlength=data.n_users)
    out = rating_metrics(inter.users, inter.ratings, pred, data.scale, counts)
    return out | {"n_fallback": int((~known).sum())}


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None
