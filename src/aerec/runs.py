"""A run: one config in, one self-describing folder out.

``RUN_DIR`` holds ``config.toml`` (everything needed to rerun it), ``history.json`` and
``history.csv`` (one row per epoch), ``metrics.json`` (written last: a run without it is
unfinished and can be resumed), ``model/`` (weights, config, vocabularies), ``loss.png`` and
``rmse.png``. Reports are built from these folders only. With ``tensorboard`` set, the
per-epoch history also goes to TensorBoard event files in that folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from aerec.config import dumps_toml, from_dict, read_toml, to_dict
from aerec.data import DATASETS, load
from aerec.data.files import ALL_FOLDS, CV_FOLDS, PART, read_fold, read_parts
from aerec.data.loading import locate_release
from aerec.data.splits import FILE_SPLITS, RUN_SPLITS, Split, split, split_labelled
from aerec.data.types import EncodedData, RatingsData, encode
from aerec.errors import CheckpointError, ConfigError
from aerec.evaluation.ranking import (
    DEFAULT_KS,
    DEFAULT_RELEVANCE,
    check_ranking,
    ranking_metrics,
    recommender_scorer,
)
from aerec.io import write_json, write_text
from aerec.models.config import MODELS, ModelConfig, model_config
from aerec.recommender import DEFAULT_TRAIN, AutoRecommender
from aerec.reporting.plots import plot_history
from aerec.training import RunOptions, TrainConfig
from aerec.training.callbacks import TensorBoardLogger
from aerec.training.distributed import is_main_process

DEFAULT_K = 5
"""Folds of ``kfold`` when ``k`` is not given."""
DEFAULT_FOLD = "u1"
"""The fold of ``predefined`` when ``fold`` is not given."""


@dataclass(frozen=True)
class DataConfig:
    """The data and split of a run.

    dataset: a registry name (``ml-1m``), ``synthetic-<shape>`` or a path.
    split: ``stratified`` (the notebook's), ``random`` (the papers'), ``kfold``, ``temporal``.
    test_size, val_size: held-out fractions (val_size None: the method's default).
    split_seed: seed of the split (None: the run's seed, so each seed is a new split).
    user_filter: keep only the users matching this pandas query over the users table, e.g.
        ``"age == 25 and gender == 'M'"`` (the notebook's demographic group model).
    eval_filter: train on every user but validate and test only on the users matching this
        query (to score an all-users model on a group's ratings).
    data_seed: the seed of generated (``synthetic-*``) data; fixed, so that run seeds
        change the split and training, never the data.
    k: the number of folds of ``kfold`` (None: 5).
    fold: the test fold: ``0..k-1`` for ``kfold`` (None: 0); a release's own fold for
        ``predefined`` (ML-100K: ``u1`` .. ``u5``, ``ua``, ``ub``; None: ``u1``).
    train, test, val: the ratings files of ``split = "files"`` (any format aerec reads);
        without ``val``, validation is carved from train (see :mod:`aerec.data.files`).
    relevance: a test rating at or above this is relevant to the ranking metrics
        (None: 4.0).
    ranking_k: the list lengths K of the ranking metrics (None: 5, 10, 20; empty: no
        ranking metrics).

    Fields left at None are not written to config.toml, so configs that do not use them
    keep their run ids.
    """

    dataset: str = "ml-1m"
    split: str = "stratified"
    test_size: float = 0.1
    val_size: float | None = None
    split_seed: int | None = None
    user_filter: str | None = None
    eval_filter: str | None = None
    data_seed: int = 0
    k: int | None = None
    fold: int | str | None = None
    train: str | None = None
    test: str | None = None
    val: str | None = None
    relevance: float | None = None
    ranking_k: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        check_split_fields(self)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs: data, model, training and the seed."""

    model: ModelConfig
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig | None = None
    seed: int = 42

    @property
    def train_config(self) -> TrainConfig:
        return self.train or DEFAULT_TRAIN[self.model.name]

    def to_dict(self) -> dict:
        return {
            "seed": self.seed,
            "data": to_dict(self.data),
            "model": {"name": self.model.name, **to_dict(self.model)},
            "train": to_dict(self.train_config),
        }

    @classmethod
    def from_dict(cls, values: dict, where: str = "config") -> RunConfig:
        values = dict(values)
        unknown = sorted(set(values) - {"seed", "data", "model", "train"})
        if unknown:
            raise ConfigError(
                f"unknown section {unknown[0]!r} in {where}; valid: seed, data, model, train"
            )
        model = dict(values.get("model", {}))
        name = model.pop("name", "autorec")
        model = model_config(name, **model)
        train = None
        if "train" in values:  # a partial [train] section starts from the model's defaults
            train_values = to_dict(DEFAULT_TRAIN[name]) | values["train"]
            train = from_dict(TrainConfig, train_values, f"{where} [train]")
        seed = values.get("seed", 42)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r} in {where}")
        return cls(
            model=model,
            data=from_dict(DataConfig, values.get("data", {}), f"{where} [data]"),
            train=train,
            seed=seed,
        )


def load_data(config: DataConfig, seed: int, data_dir=None, progress: bool = False):
    """The encoded data set and its split, exactly as the run with ``seed`` used them."""
    split_seed = config.split_seed if config.split_seed is not None else seed
    if config.split in FILE_SPLITS:
        raw = _read_files(config, data_dir, progress)
    else:
        raw = load(config.dataset, data_dir=data_dir, progress=progress, seed=config.data_seed)
    if config.user_filter:
        raw = filter_users(raw, config.user_filter)
    data = encode(raw)
    if config.split in FILE_SPLITS:
        extra = {"fold": config.fold or DEFAULT_FOLD} if config.split == "predefined" else {}
        labels = raw.ratings[PART].to_numpy()
        parts = split_labelled(data, labels, config.split, split_seed, config.val_size, extra)
    else:
        parts = split(
            data,
            config.split,
            seed=split_seed,
            test_size=config.test_size,
            val_size=config.val_size,
            k=DEFAULT_K if config.k is None else config.k,
            fold=config.fold or 0,
        )
    if config.eval_filter:
        users = data.user_vocab.lookup(filter_users(raw, config.eval_filter).ratings["user"])
        keep = np.isin(np.arange(data.n_users), users)
        val, test = (p.take(np.flatnonzero(keep[p.users])) for p in (parts.val, parts.test))
        report = parts.report | {
            "eval_filter": config.eval_filter,
            "n_val": len(val),
            "n_test": len(test),
        }
        parts = Split(parts.train, val, test, report)
    return data, parts


def _read_files(config: DataConfig, data_dir, progress: bool) -> RatingsData:
    """The union of a file split's ratings, column ``part`` naming each one's set."""
    if config.split == "files":
        return read_parts(config.train, config.test, config.val)
    release = locate_release(config.dataset, data_dir=data_dir, progress=progress)
    fold = DEFAULT_FOLD if config.fold is None else str(config.fold)
    return read_fold(release.folder, release.spec, fold, release.name)


def check_split_fields(config: DataConfig) -> None:
    """Each split's own fields are set where they apply, and valid; one-line errors."""
    method = config.split
    if method not in RUN_SPLITS:
        raise ConfigError(f"unknown split {method!r}; choose one of {', '.join(RUN_SPLITS)}")
    given = [name for name in ("train", "test", "val") if getattr(config, name) is not None]
    if method == "files" and (config.train is None or config.test is None):
        raise ConfigError("split = 'files' needs a train and a test file (--train F --test F)")
    if method != "files" and given:
        raise ConfigError(f"{given[0]} = ... is for split = 'files', not {method!r}")
    if config.k is not None and method != "kfold":
        raise ConfigError(f"k is the number of folds of split = 'kfold', not of {method!r}")
    if method == "kfold":
        k = DEFAULT_K if config.k is None else config.k
        fold = 0 if config.fold is None else config.fold
        if isinstance(fold, str) or k < 2 or not 0 <= fold < k:
            raise ConfigError(f"kfold needs k >= 2 and a fold 0..k-1, got k={k}, fold={fold!r}")
    elif method == "predefined":
        if config.fold is not None and config.fold not in ALL_FOLDS:
            raise ConfigError(
                f"split = 'predefined' needs the release's fold, one of {', '.join(ALL_FOLDS)}; "
                f"got fold = {config.fold!r}"
            )
    elif config.fold is not None:
        raise ConfigError(f"fold is for split = 'kfold' or 'predefined', not {method!r}")
    check_ranking(config.relevance, config.ranking_k)


def fold_names(config: DataConfig) -> tuple[int | str, ...]:
    """Every fold of the config's split: ``0..k-1`` (kfold), the release's cross-validation
    folds (predefined: ML-100K's ``u1`` .. ``u5``)."""
    if config.split == "kfold":
        return tuple(range(DEFAULT_K if config.k is None else config.k))
    if config.split == "predefined":
        return CV_FOLDS.get(_release_name(config.dataset), CV_FOLDS["ml-100k"])
    raise ConfigError(f"folds need split = 'kfold' or 'predefined', not {config.split!r}")


def _release_name(dataset: str) -> str:
    return dataset if dataset in DATASETS else Path(dataset).name


def filter_users(data: RatingsData, query: str) -> RatingsData:
    """Only the users (and their ratings) matching ``query`` over the users table."""
    if data.users is None:
        raise ConfigError(f"user_filter needs a users table, which {data.name} does not have")
    try:
        keep = data.users.query(query).index
    except Exception as exc:  # pandas raises many types for a bad expression
        raise ConfigError(f"bad user_filter {query!r}: {exc}") from None
    ratings = data.ratings[data.ratings["user"].isin(keep)].reset_index(drop=True)
    if ratings.empty:
        raise ConfigError(f"user_filter {query!r} keeps no ratings")
    return replace(data, name=f"{data.name}[{query}]", ratings=ratings)


def fingerprint(data: EncodedData) -> dict:
    """Identifies the data a model was trained on, to refuse evaluating it on other data."""
    digest = hashlib.sha1()
    for ids in (data.user_vocab.ids, data.item_vocab.ids):
        digest.update("\0".join(map(str, ids)).encode() + b"\1")
    return {
        "dataset": data.name,
        "n_users": data.n_users,
        "n_items": data.n_items,
        "n_ratings": len(data.interactions),
        "vocab_sha1": digest.hexdigest(),
    }


def train_run(
    config: RunConfig,
    out: str | Path,
    options: RunOptions | None = None,
    data_dir=None,
    resume: bool = False,
    tensorboard: str | Path | None = None,
) -> dict:
    """Train, evaluate on test at the best validation epoch, and write the run folder;
    log the training curves to TensorBoard in the folder ``tensorboard`` if given."""
    out = Path(out)
    logger = None if tensorboard is None else TensorBoardLogger(tensorboard)
    options = options or RunOptions(seed=config.seed)
    options = replace(options, seed=config.seed)
    if resume and (out / "metrics.json").exists():
        return read_run(out)[1]  # finished before: nothing to resume
    main = is_main_process()
    if main:
        _prepare_folder(out, config, resume)
    data, parts = load_data(config.data, config.seed, data_dir, options.progress)
    start = time.perf_counter()
    rec = AutoRecommender(config.model, config.train_config, options)
    with logger or contextlib.nullcontext():
        rec.fit(
            data,
            parts.train,
            parts.val,
            checkpoint_dir=out / "checkpoint",
            resume=resume,
            callbacks=[logger] if logger else [],
        )
    seconds = time.perf_counter() - start
    metrics = _metrics(rec, parts, seconds) | {
        "ranking": test_ranking(rec, data, parts, config.data),
        "data": fingerprint(data),
        "split": parts.report,
        "device": str(rec.inputs_.device),
        "torch": torch.__version__,
    }
    if not main:  # other ranks of a distributed run leave the writing to rank 0
        return metrics
    rec.save(out / "model")
    write_json(out / "history.json", rec.history_)
    write_text(out / "history.csv", pd.DataFrame(rec.history_).to_csv(index=False))
    plot_history(rec.history_, out)
    write_json(out / "metrics.json", metrics)
    shutil.rmtree(out / "checkpoint", ignore_errors=True)
    return metrics


def _metrics(rec: AutoRecommender, parts: Split, seconds: float) -> dict:
    test, val = rec.evaluate(parts.test), rec.evaluate(parts.val)
    return {
        "test_rmse": test["rmse"],
        "test_mae": test["mae"],
        "test_user_rmse": test["user_rmse"],
        "val_rmse": val["rmse"],
        "val_user_rmse": val["user_rmse"],
        "best_epoch": rec.best_epoch_,
        "epochs_run": len(rec.history_),
        "train_seconds": float(sum(r["seconds"] for r in rec.history_)),
        "wall_seconds": seconds,
        "epoch_seconds": float(np.mean([r["seconds"] for r in rec.history_])),
        "stopped": rec.stopped_ or "ran all epochs",
        "test_n": test["n"],
        "test_fallback": test["n_fallback"],
        "test_rmse_by_activity": test["rmse_by_activity"],
    }


def test_ranking(rec: AutoRecommender, data: EncodedData, parts: Split, config: DataConfig):
    """The ranking metrics of ``rec`` on the test split (:mod:`aerec.evaluation.ranking`);
    None when ``ranking_k`` is empty (ranking off)."""
    if config.ranking_k == ():
        return None
    scorer, by = recommender_scorer(rec)
    return ranking_metrics(
        scorer,
        parts.train,
        parts.test,
        data.n_items,
        config.ranking_k or DEFAULT_KS,
        DEFAULT_RELEVANCE if config.relevance is None else config.relevance,
        by=by,
    )


def _prepare_folder(out: Path, config: RunConfig, resume: bool) -> None:
    text = dumps_toml(config.to_dict())
    if (out / "metrics.json").exists() and not resume:
        raise ConfigError(f"{out} already holds a finished run; pick another --out or delete it")
    if resume and (out / "config.toml").exists():
        if (out / "config.toml").read_text() != text:
            raise ConfigError(
                f"{out}/config.toml differs from this run's config; "
                "resume with the same options or use another --out"
            )
    elif not resume and (out / "checkpoint").exists():
        raise ConfigError(f"{out} holds an unfinished run; add --resume to continue it")
    write_text(out / "config.toml", text)


def read_run(folder: str | Path) -> tuple[RunConfig, dict]:
    """The config and metrics of a finished run folder."""
    folder = Path(folder)
    if not (folder / "config.toml").is_file():
        raise CheckpointError(
            f"{folder} is not a run folder (no config.toml); make one with aerec train --out"
        )
    config = RunConfig.from_dict(read_toml(folder / "config.toml"), str(folder / "config.toml"))
    metrics_path = folder / "metrics.json"
    if not metrics_path.is_file():
        raise CheckpointError(
            f"{folder} is unfinished (no metrics.json); resume it with aerec train --resume"
        )
    try:
        metrics = json.loads(metrics_path.read_text())
    except ValueError:
        raise CheckpointError(f"{metrics_path} is corrupt; rerun the training") from None
    return config, metrics


def evaluate_run(folder: str | Path, data_dir=None, dataset: str | None = None) -> dict:
    """Reload a run's model and score it again on its test split."""
    config, metrics = read_run(folder)
    data_config = config.data
    if dataset is not None:  # another data set: the same split, no filters
        data_config = replace(data_config, dataset=dataset, user_filter=None, eval_filter=None)
        data_config = replace(data_config, data_seed=DataConfig.data_seed)
    data, parts = load_data(data_config, config.seed, data_dir)
    if fingerprint(data) != metrics["data"]:
        raise CheckpointError(
            f"{folder} was trained on {metrics['data']['dataset']} "
            f"({metrics['data']['n_ratings']} ratings), not on this "
            f"{data.name} data; evaluate it on the data it was trained on"
        )
    rec = AutoRecommender.load(Path(folder) / "model")
    return _metrics_of(rec, parts) | {"ranking": test_ranking(rec, data, parts, data_config)}


def _metrics_of(rec: AutoRecommender, parts: Split) -> dict:
    test = rec.evaluate(parts.test)
    return {
        "test_rmse": test["rmse"],
        "test_mae": test["mae"],
        "test_user_rmse": test["user_rmse"],
        "test_n": test["n"],
        "test_fallback": test["n_fallback"],
    }


__all__ = ["MODELS", "DataConfig", "RunConfig", "evaluate_run", "read_run", "train_run"]
