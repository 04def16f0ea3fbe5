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
from aerec.data import load
from aerec.data.splits import Split, split
from aerec.data.types import EncodedData, RatingsData, encode
from aerec.errors import CheckpointError, ConfigError
from aerec.io import write_json, write_text
from aerec.models import MODELS, ModelConfig, entry, model_config
from aerec.peers import PeerConfig, is_peer, peer_config
from aerec.plan import Plan, as_plan
from aerec.recommender import AutoRecommender
from aerec.render.plots import plot_history
from aerec.training import RunOptions, TrainConfig
from aerec.training.callbacks import TensorBoardLogger
from aerec.training.distributed import is_main_process


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
    """

    dataset: str = "ml-1m"
    split: str = "stratified"
    test_size: float = 0.1
    val_size: float | None = None
    split_seed: int | None = None
    user_filter: str | None = None
    eval_filter: str | None = None
    data_seed: int = 0


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs: data, model, the training plan and the seed.

    train: the plan's phases (None: the recipe's plan).
    recipe: the model's named recipe (``default``, ``authors``, ``paper``, ...) that gave the
        defaults of [model] and [train]; the config's own values override it.

    ``model`` may also be a peer's config (:mod:`aerec.peers`): its library trains it, so it
    has no plan (``plan`` is empty, and no [train] is written or accepted).
    """

    model: ModelConfig | PeerConfig
    data: DataConfig = field(default_factory=DataConfig)
    train: Plan | None = None
    seed: int = 42
    recipe: str = "default"

    def __post_init__(self) -> None:
        if self.train is not None:
            object.__setattr__(self, "train", as_plan(self.train))

    @property
    def plan(self) -> Plan:
        if isinstance(self.model, PeerConfig):
            return ()
        return self.train or entry(self.model.name).recipe(self.recipe).plan

    def to_dict(self) -> dict:
        phases = [to_dict(phase) for phase in self.plan]
        out = {
            "seed": self.seed,
            "data": to_dict(self.data),
            "model": {"name": self.model.name, **to_dict(self.model)},
        }
        if phases:
            out["train"] = phases[0] if len(phases) == 1 else phases
        return out if self.recipe == "default" else {"recipe": self.recipe, **out}

    @classmethod
    def from_dict(cls, values: dict, where: str = "config") -> RunConfig:
        values = dict(values)
        unknown = sorted(set(values) - {"seed", "data", "model", "train", "recipe"})
        if unknown:
            raise ConfigError(
                f"unknown section {unknown[0]!r} in {where}; valid: seed, recipe, data, model, "
                "train"
            )
        for section in ("data", "model"):
            if not isinstance(values.get(section, {}), dict):
                raise ConfigError(
                    f"{section} in {where} must be a [{section}] table, got "
                    f"{values[section]!r}; write [{section}] and its keys on the lines below"
                )
        train = values.get("train")
        if train is not None and not (
            isinstance(train, dict)
            or (isinstance(train, list) and all(isinstance(t, dict) for t in train))
        ):
            raise ConfigError(
                f"train in {where} must be a [train] table (or [[train]] tables, one per "
                f"phase), got {train!r}"
            )
        model = dict(values.get("model", {}))
        name = model.pop("name", "autorec")
        recipe_name = values.get("recipe", "default")
        if not isinstance(recipe_name, str):
            raise ConfigError(f"recipe in {where} must be a name, got {recipe_name!r}")
        seed = values.get("seed", 42)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r} in {where}")
        data = from_dict(DataConfig, values.get("data", {}), f"{where} [data]")
        if is_peer(name):
            if train is not None or recipe_name != "default":
                raise ConfigError(
                    f"{name!r} in {where} is a peer, trained by its own library: it takes no "
                    "[train] and no recipe; set its parameters under [model]"
                )
            return cls(model=peer_config(name, model, where), data=data, seed=seed)
        recipe = entry(name).recipe(recipe_name)
        model = model_config(name, **(dict(recipe.model) | model))
        plan = None
        if train is not None:  # partial [train] tables start from the recipe's phases
            plan = _plan_over(recipe.plan, train, f"{where} [train]")
        elif recipe_name != "default":
            plan = recipe.plan
        return cls(
            model=model,
            data=data,
            train=plan,
            seed=seed,
            recipe=recipe_name,
        )


def _plan_over(base: Plan, train: dict | list, where: str) -> Plan:
    """``train`` over the phases of ``base``: one table applies to every phase, a list of
    tables to the phase of the same position (past the end: over TrainConfig's defaults)."""
    if isinstance(train, dict):
        return tuple(from_dict(TrainConfig, to_dict(p) | train, where) for p in base)
    phases = []
    for k, values in enumerate(train):
        start = to_dict(base[k]) if k < len(base) else {}
        phases.append(from_dict(TrainConfig, start | values, f"{where} phase {k + 1}"))
    return as_plan(phases)


def load_data(config: DataConfig, seed: int, data_dir=None, progress: bool = False):
    """The encoded data set and its split, exactly as the run with ``seed`` used them."""
    raw = load(config.dataset, data_dir=data_dir, progress=progress, seed=config.data_seed)
    if config.user_filter:
        raw = filter_users(raw, config.user_filter)
    data = encode(raw)
    parts = split(
        data,
        config.split,
        seed=config.split_seed if config.split_seed is not None else seed,
        test_size=config.test_size,
        val_size=config.val_size,
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
    if options.seed != config.seed:
        raise ConfigError(
            f"the run's seed is {config.seed} but its options say {options.seed}; give one "
            "seed (RunOptions(seed=config.seed))"
        )
    if resume and (out / "metrics.json").exists():
        return read_run(out)[1]  # finished before: nothing to resume
    if isinstance(config.model, PeerConfig):
        from aerec.peers.run import train_peer_run

        return train_peer_run(config, out, options, data_dir, resume)
    main = is_main_process()
    if main:
        _prepare_folder(out, config, resume)
    data, parts = load_data(config.data, config.seed, data_dir, options.progress)
    start = time.perf_counter()
    rec = AutoRecommender(config.model, config.plan, options)
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
    """The metrics of a fitted run; ``fit_seconds`` (= ``wall_seconds``) is the whole
    ``fit``, validation per epoch included, the figure a peer's ``fit_seconds`` compares to."""
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
        "fit_seconds": seconds,
        "epoch_seconds": float(np.mean([r["seconds"] for r in rec.history_])),
        "stopped": rec.stopped_ or "ran all epochs",
        "test_n": test["n"],
        "test_fallback": test["n_fallback"],
        "test_rmse_by_activity": test["rmse_by_activity"],
    }


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
    data_config = config.data if dataset is None else replace(config.data, dataset=dataset)
    data, parts = load_data(data_config, config.seed, data_dir)
    if fingerprint(data) != metrics["data"]:
        raise CheckpointError(
            f"{folder} was trained on {metrics['data']['dataset']} "
            f"({metrics['data']['n_ratings']} ratings), not on this "
            f"{data.name} data; evaluate it on the data it was trained on"
        )
    rec = AutoRecommender.load(Path(folder) / "model")
    return _metrics_of(rec, parts)


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
