"""A run: one config in, one self-describing folder out.

``RUN_DIR`` holds ``config.toml`` (everything needed to rerun it), ``history.json`` and
``history.csv`` (one row per epoch), ``metrics.json`` (written last: a run without it is
unfinished and can be resumed), ``model/`` (weights, config, vocabularies), ``loss.png`` and
``rmse.png``. Reports are built from these folders only. With ``tensorboard`` set, the
per-epoch history also goes to TensorBoard event files in that folder.
"""

from __future__ import annotations

import contextlib
import errno
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
from aerec.data.loading import SYNTHETIC_PREFIX, locate_release
from aerec.data.parsers import custom_format
from aerec.data.splits import FILE_SPLITS, RUN_SPLITS, Split, split, split_labelled
from aerec.data.types import EncodedData, RatingsData, encode
from aerec.errors import AerecError, CheckpointError, ConfigError, DiskFullError, TrainingError
from aerec.evaluation.ranking import (
    DEFAULT_KS,
    DEFAULT_RELEVANCE,
    check_ranking,
    ranking_metrics,
    recommender_scorer,
)
from aerec.io import write_json, write_text
from aerec.models import MODELS, ModelConfig, entry, model_config
from aerec.peers import PeerConfig, is_peer, peer_config
from aerec.plan import Plan, as_plan, check_refit, refit_plan
from aerec.recommender import AutoRecommender
from aerec.render.plots import plot_history
from aerec.runfolder import (
    ProcessSlot,
    RunLock,
    ThreadShare,
    check_out,
    default_threads,
    sweep,
)
from aerec.training import RunOptions, TrainConfig, checkpoint
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
    columns, sep, scale: the format of a ratings file of your own (``dataset`` a path):
        its ``[user, item, rating(, timestamp)]`` column names, field separator and rating
        scale ``[low, high]`` (None: ``user,item,rating[,timestamp]``, ``,`` or tab, 1 to 5).
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
    columns: tuple[str, ...] | None = None
    sep: str | None = None
    scale: tuple[float, float] | None = None
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
    """Everything a run needs: data, model, the training plan and the seed.

    train: the plan's phases (None: the recipe's plan).
    recipe: the model's named recipe (``default``, ``authors``, ``paper``, ...) that gave the
        defaults of [model] and [train]; the config's own values override it.
    refit: train twice: first this config as it is (the *selection* run, in the run
        folder's ``selection/`` or, in an experiment, the run of the same config), which
        chooses each phase's epochs on validation; then the model afresh on the training and
        validation ratings together for those epochs (:func:`aerec.plan.refit_plan`), scored
        on test. Nothing is chosen on test, and the final model uses every rating but the
        test ones.

    ``model`` may also be a peer's config (:mod:`aerec.peers`): its library trains it, so it
    has no plan (``plan`` is empty, and no [train] is written or accepted).
    """

    model: ModelConfig | PeerConfig
    data: DataConfig = field(default_factory=DataConfig)
    train: Plan | None = None
    seed: int = 42
    recipe: str = "default"
    refit: bool = False

    def __post_init__(self) -> None:
        if self.train is not None:
            object.__setattr__(self, "train", as_plan(self.train))
        if self.refit and isinstance(self.model, PeerConfig):
            raise ConfigError(
                f"{self.model.name!r} is a peer, trained by its own library: it has no epochs "
                "to choose on validation; drop refit"
            )
        if self.refit and self.data.val_size == 0 and self.data.val is None:
            raise ConfigError(
                "refit chooses the epochs on validation, but val_size is 0 (no validation "
                "ratings); set val_size > 0 or drop refit"
            )
        if self.refit:
            check_refit(self.plan)

    def selection(self) -> RunConfig:
        """The config of the run that chooses a refit's epochs: this one, without refit."""
        return replace(self, refit=False)

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
        top = {"recipe": self.recipe} if self.recipe != "default" else {}
        if self.refit:  # only when set, so that other configs keep their run ids
            top["refit"] = True
        return {**top, **out}

    @classmethod
    def from_dict(cls, values: dict, where: str = "config") -> RunConfig:
        values = dict(values)
        unknown = sorted(set(values) - {"seed", "data", "model", "train", "recipe", "refit"})
        if unknown:
            raise ConfigError(
                f"unknown section {unknown[0]!r} in {where}; valid: seed, recipe, refit, data, "
                "model, train"
            )
        refit = values.get("refit", False)
        if not isinstance(refit, bool):
            raise ConfigError(f"refit in {where} must be true or false, got {refit!r}")
        for section in ("data", "model"):
            if not isinstance(values.get(section, {}), dict):
                raise ConfigError(
                    f"{section} in {where} must be a [{section}] section (a table), got "
                    f"{values[section]!r}; write it as [{section}] with its keys below"
                )
        train = values.get("train")
        if train is not None and not (
            isinstance(train, dict)
            or (isinstance(train, list) and all(isinstance(t, dict) for t in train))
        ):
            raise ConfigError(
                f"train in {where} must be a [train] section (a table, or [[train]] tables, "
                f"one per phase), got {train!r}"
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
            return cls(model=peer_config(name, model, where), data=data, seed=seed, refit=refit)
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
            refit=refit,
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
    split_seed = config.split_seed if config.split_seed is not None else seed
    custom = custom_format(config.columns, config.sep, config.scale, "[data]")
    if custom is not None and config.dataset.startswith(SYNTHETIC_PREFIX):
        raise ConfigError(
            f"columns, sep and scale apply to a ratings file of your own, not to {config.dataset}"
        )
    if config.split in FILE_SPLITS:
        raw = _read_files(config, data_dir, progress)
    else:
        raw = load(
            config.dataset,
            data_dir=data_dir,
            progress=progress,
            seed=config.data_seed,
            custom=custom,
        )
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
    wait: bool = False,
    selection: str | Path | None = None,
) -> dict:
    """Train, evaluate on test at the best validation epoch, and write the run folder;
    log the training curves to TensorBoard in the folder ``tensorboard`` if given. A
    ``refit`` config first trains (or reads back) its selection run in the folder
    ``selection`` (None: ``out/selection``).

    Everything is checked before anything is written (the options, the data, its split).
    The folder is locked while the run trains (see :mod:`aerec.runfolder`): a run another
    process holds raises :class:`~aerec.errors.RunBusyError`, or with ``wait``, waits for
    it. With ``resume``, a finished run of the same config is read back, not trained again.
    A failure before the first checkpoint removes the folder it created."""
    return _train_run(config, out, options, data_dir, resume, tensorboard, wait, selection)


def _train_run(
    config, out, options, data_dir, resume, tensorboard, wait, selection, loaded=None
) -> dict:
    """:func:`train_run`, on the data and split ``loaded`` when given (a refit hands its
    selection run what it has loaded: the same data config and seed)."""
    out = Path(out)
    options = run_options(options, config)
    check_out(out)
    main = is_main_process()
    if main and (out / "metrics.json").exists():
        with RunLock(out, wait):
            return _finished(out, config, resume)
    if isinstance(config.model, PeerConfig):  # Surprise, myFM: see aerec.peers
        from aerec.peers.run import train_peer_run

        with RunLock(out, wait):
            return train_peer_run(config, out, options, data_dir, resume)
    data, parts = loaded or load_data(config.data, config.seed, data_dir, options.progress)
    if config.refit and not len(parts.val):
        raise ConfigError(
            "refit chooses the epochs on validation, but this split leaves no validation "
            "ratings; give a split with validation ratings or drop refit"
        )
    logger = None if tensorboard is None else TensorBoardLogger(tensorboard)
    with RunLock(out, wait) if main else contextlib.nullcontext() as lock:
        if main and (out / "metrics.json").exists():  # another process finished it meanwhile
            return _finished(out, config, resume)
        fresh = main and not (out / "config.toml").exists()
        if main:
            sweep(out, finished=False)
            _prepare_folder(out, config, resume)
        try:
            plan, refit = config.plan, None
            if config.refit:
                folder = out / SELECTION if selection is None else Path(selection)
                plan, refit, parts = _select(config, out, folder, options, data, parts, wait)
            with ProcessSlot():  # registered first, then counted: two at once share the cores
                share = None if options.threads else ThreadShare(default_threads())
                options = replace(options, threads=options.threads or share.threads)
                return _train(
                    config, out, options, data, parts, resume, logger, main, share, plan, refit
                )
        except BaseException as exc:
            if main:
                _clean_up(out, lock, fresh, exc)
            error = _user_error(exc, out, resumable=checkpoint.exists(out / "checkpoint"))
            if error is None:
                raise
            raise error from None


def run_options(options: RunOptions | None, config: RunConfig) -> RunOptions:
    """``options`` with the run's seed, checked before anything runs. Threads left at None
    become the run's share of the cores when it starts training (see
    :func:`aerec.runfolder.default_threads`)."""
    options = options or RunOptions(seed=config.seed)
    if options.seed != config.seed:  # one seed, never silently overwritten
        raise ConfigError(
            f"the run's seed is {config.seed} but its options say {options.seed}; give one "
            "seed (RunOptions(seed=config.seed))"
        )
    if options.threads is not None and options.threads < 1:
        raise ConfigError(f"threads must be >= 1, got {options.threads}")
    options.torch_device()  # an unknown or missing device fails here, before any writing
    return options


SELECTION = "selection"
"""The subfolder of a refit run that holds its selection run."""


def _select(config, out, folder, options, data, parts, wait) -> tuple:
    """A refit's selection run, trained in ``folder`` on ``data`` and ``parts`` (or read
    back when it is finished); the refit's plan, its record for metrics.json, and the split
    with validation merged into train."""
    selection = config.selection()
    metrics = _train_run(selection, folder, options, None, True, None, wait, None, (data, parts))
    history = json.loads((folder / "history.json").read_text(encoding="utf-8"))
    plan = refit_plan(config.plan, history)
    where = folder.resolve()
    with contextlib.suppress(ValueError):  # inside out: said relative to it
        where = where.relative_to(out.resolve())
    record = {
        "selection": str(where),
        "epochs": {phase.name: phase.epochs for phase in plan},
        "selection_val_rmse": metrics["val_rmse"],
        "selection_test_rmse": metrics["test_rmse"],
        "selection_seconds": metrics.get("fit_seconds", metrics["wall_seconds"]),
    }
    train = parts.train.concat(parts.val)
    report = parts.report | {"refit": True, "n_train": len(train), "n_val": 0}
    return plan, record, Split(train, parts.val.take(np.arange(0)), parts.test, report)


def _train(
    config, out, options, data, parts, resume, logger, main, share=None, plan=None, refit=None
) -> dict:
    start = time.perf_counter()
    rec = AutoRecommender(config.model, plan or config.plan, options)
    with logger or contextlib.nullcontext():
        rec.fit(
            data,
            parts.train,
            parts.val,
            checkpoint_dir=out / "checkpoint",
            resume=resume,
            callbacks=[c for c in (logger, share) if c is not None],
        )
    seconds = time.perf_counter() - start
    metrics = _metrics(rec, parts, seconds) | {
        "ranking": test_ranking(rec, data, parts, config.data),
        "data": fingerprint(data),
        "split": parts.report,
        "device": str(rec.inputs_.device),
        "torch": torch.__version__,
    }
    if refit is not None:
        metrics["refit"] = refit
    if not main:  # other ranks of a distributed run leave the writing to rank 0
        return metrics
    rec.save(out / "model")
    write_json(out / "history.json", rec.history_)
    write_text(out / "history.csv", pd.DataFrame(rec.history_).to_csv(index=False))
    plot_history(rec.history_, out)
    write_json(out / "metrics.json", metrics)
    shutil.rmtree(out / "checkpoint", ignore_errors=True)
    return metrics


def _finished(out: Path, config: RunConfig, resume: bool) -> dict:
    """The metrics of the finished run in ``out`` (hold its lock), if it has ``config``."""
    stored, metrics = read_run(out)
    if not resume:
        raise ConfigError(f"{out} already holds a finished run; pick another --out or delete it")
    difference = _first_difference(stored.to_dict(), config.to_dict())
    if difference:
        raise ConfigError(
            f"{out} holds a finished run with other options ({difference}); resume it with "
            "its own options, or train this config into another --out"
        )
    sweep(out, finished=True)
    return metrics


def _first_difference(stored: dict, wanted: dict, where: str = "") -> str | None:
    """The first key whose value differs, as ``key: stored -> wanted``."""
    for key in [*wanted, *(k for k in stored if k not in wanted)]:
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = _first_difference(a, b, f"{where}{key}.")
            if found:
                return found
        elif a != b:
            return f"{where}{key}: {a!r} there, {b!r} here"
    return None


def _clean_up(out: Path, lock: RunLock, fresh: bool, exc: BaseException) -> None:
    """After a failure: a checkpoint that holds no usable epoch (a run that diverged) is
    removed, so the retry the error recommends can start; when nothing resumable is left,
    so is what this run wrote (the folders its ``lock`` created, or its ``fresh``
    config.toml)."""
    if isinstance(exc, TrainingError) or not checkpoint.exists(out / "checkpoint"):
        shutil.rmtree(out / "checkpoint", ignore_errors=True)
    if (out / "checkpoint").exists() or (out / SELECTION).exists():  # a refit's kept stage
        return
    if lock.created:
        lock.remove_made()
    elif fresh:
        (out / "config.toml").unlink(missing_ok=True)


def _user_error(exc: BaseException, out: Path, resumable: bool) -> AerecError | None:
    """The one-line error for a full disk or a model too large for memory, else None."""
    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left" in text:
        if not resumable:
            return DiskFullError(
                f"no space left on device while writing {out} (no checkpoint was saved, "
                "nothing is kept); free some space, then run again"
            )
        return DiskFullError(
            f"no space left on device while writing {out}; its last checkpoint is intact: "
            "free some space, then rerun with --resume"
        )
    memory = isinstance(exc, MemoryError | torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and ("allocate" in text or "out of memory" in text)
    )
    if memory:
        detail = text.strip().splitlines()[0].split("Allocator: ")[-1] if text.strip() else ""
        return ConfigError(
            f"the model does not fit in memory ({detail[:100] or type(exc).__name__}); choose "
            "a smaller --hidden or --layers, or a smaller --batch-size"
        )
    return None


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


def test_ranking(rec: AutoRecommender, data: EncodedData, parts: Split, config: DataConfig):
    """The ranking metrics of ``rec`` on the test split (:mod:`aerec.evaluation.ranking`);
    None when ``ranking_k`` is empty (ranking off)."""
    if config.ranking_k == ():
        return None
    return ranking_on_test(*recommender_scorer(rec), data, parts, config)


def ranking_on_test(scorer, by: str, data: EncodedData, parts: Split, config: DataConfig):
    """The ranking metrics of the block scorer ``scorer`` (called ``by`` users or items) on
    the test split, with ``config``'s K and relevance; None when ``ranking_k`` is empty."""
    if config.ranking_k == ():
        return None
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
    if resume and (out / "config.toml").exists():
        if (out / "config.toml").read_text() != text:
            stored = RunConfig.from_dict(read_toml(out / "config.toml"), f"{out}/config.toml")
            difference = _first_difference(stored.to_dict(), config.to_dict()) or "its format"
            raise ConfigError(
                f"{out}/config.toml differs from this run's config ({difference}); "
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
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{metrics_path} is corrupt; rerun the training") from None
    if not _is_metrics(metrics):
        raise CheckpointError(
            f"{metrics_path} is not an aerec metrics file (it lacks test_rmse or data); "
            "delete the run folder and train it again"
        )
    return config, metrics


def _is_metrics(metrics: object) -> bool:
    """Whether a parsed metrics.json has what readers use, with the right types."""
    if not isinstance(metrics, dict) or not isinstance(metrics.get("data"), dict):
        return False

    def number(key: str) -> bool:
        value = metrics.get(key)
        return isinstance(value, int | float) and not isinstance(value, bool)

    optional = ("test_mae", "test_user_rmse", "val_rmse", "best_epoch", "epochs_run")
    return number("test_rmse") and all(  # a peer has no epochs
        metrics.get(k) is None or number(k) for k in optional
    )


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
