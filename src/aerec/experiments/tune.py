"""Hyper-parameter search over a spec with Optuna (``aerec tune``), on validation RMSE only.

The search space (see :mod:`aerec.experiments.spec`): every axis of the spec (``variant`` and
each [grid] key) is a categorical choice among its values, and every [tune] range a float or
an integer. A trial trains the config it picks with the spec's first seed and is scored by
its best validation RMSE; the test split is never evaluated. After each epoch the trial
reports that epoch's validation RMSE (one :mod:`aerec.training.callbacks` callback), and the
median pruner stops a trial that is worse than the median of earlier trials at the same epoch.

The study lives in ``STUDY_DIR/<spec name>/``: ``study.db`` (Optuna's SQLite storage, unless
another storage URL is given), ``trials.csv`` (one row per trial) and ``best.toml`` (the best
trial's full run config: ``aerec train --config best.toml`` trains it and scores it on test).
Running the same command again resumes the study: ``trials`` counts the study's finished
trials, so only the missing ones run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from aerec.config import dumps_toml
from aerec.errors import ConfigError, TrainingError
from aerec.experiments.expand import Row, expand_rows, tuned_config
from aerec.experiments.spec import VARIANT_KEY, ExperimentSpec, Range
from aerec.extras import require
from aerec.io import write_text
from aerec.recommender import AutoRecommender
from aerec.runs import RunConfig, load_data
from aerec.training import RunOptions
from aerec.training.callbacks import EpochCallback, TensorBoardLogger

if TYPE_CHECKING:
    import optuna

STUDY_DB, TRIALS_CSV, BEST_TOML = "study.db", "trials.csv", "best.toml"
STARTUP_TRIALS = 5
"""Trials that always finish before the median pruner stops any (its median needs them)."""


@dataclass(frozen=True)
class TuneOptions:
    """How a study runs.

    trials: the study's finished (complete or pruned) trials wanted in all; a resumed study
        runs only the missing ones.
    timeout: seconds after which no new trial starts (None: no limit).
    seed: seed of the sampler; a resumed study's sampler is seeded with ``seed`` plus the
        number of trials so far, so that it does not propose the first trials again.
    prune: stop unpromising trials (median pruner); ``warmup_epochs``: none in its first epochs.
    storage: an Optuna storage URL (None: SQLite ``study.db`` in the study folder).
    tensorboard: log each trial's curves to ``TENSORBOARD/<spec name>/trial-<n>/``.
    """

    trials: int = 20
    timeout: float | None = None
    seed: int = 0
    prune: bool = True
    warmup_epochs: int = 10
    storage: str | None = None
    tensorboard: Path | None = None

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ConfigError(f"--trials must be >= 1, got {self.trials}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"--timeout must be > 0 seconds, got {self.timeout}")
        if self.warmup_epochs < 0:
            raise ConfigError(f"--warmup-epochs must be >= 0, got {self.warmup_epochs}")


def study_folder(spec: ExperimentSpec, study_dir: str | Path) -> Path:
    """``STUDY_DIR/<spec name>``."""
    return Path(study_dir) / spec.name


def tune(
    spec: ExperimentSpec,
    study_dir: str | Path,
    options: TuneOptions | None = None,
    run_options: RunOptions | None = None,
    data_dir: str | Path | None = None,
    say: Callable[[str], None] = print,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Run the missing trials of the spec's study, then write ``trials.csv`` and ``best.toml``.

    ``pruner`` replaces the median pruner (tests use one that always prunes). Safe to
    interrupt: finished trials are stored, and the table is written on the way out.
    """
    optuna = require("tune", "aerec tune")
    options = options or TuneOptions()
    if options.tensorboard is not None:
        require("tensorboard", "--tensorboard")  # before the first trial, not inside it
    rows = expand_rows(spec)
    if not spec.axes and not spec.tune:
        raise ConfigError(
            f"{spec.where} has nothing to tune; add [grid] axes, [[variants]] or a [tune] table"
        )
    folder = study_folder(spec, study_dir)
    folder.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=spec.name,
        storage=options.storage or f"sqlite:///{(folder / STUDY_DB).resolve()}",
        direction="minimize",
        load_if_exists=True,
        pruner=pruner or median_pruner(options),
    )
    _check_same_spec(study, spec)
    study.sampler = optuna.samplers.TPESampler(seed=options.seed + len(study.trials))
    finished = len(_finished(study))
    say(f"{spec.name}: {finished} of {options.trials} trials finished")
    objective = Objective(spec, rows, run_options or RunOptions(), data_dir, options.tensorboard)
    try:
        if finished < options.trials:
            study.optimize(
                objective,
                n_trials=options.trials - finished,
                timeout=options.timeout,
                catch=(TrainingError,),  # a diverged trial fails; the study goes on
                callbacks=[lambda _, trial: say(describe(trial))],
            )
    finally:
        write_text(folder / TRIALS_CSV, trials_table(study).to_csv(index=False))
        best = best_trial(study)
        if best is not None:
            write_text(folder / BEST_TOML, dumps_toml(best.user_attrs["config"]))
    return study


def _check_same_spec(study: optuna.Study, spec: ExperimentSpec) -> None:
    """A study is resumed only with the spec it began with: trials of other configs (or of
    other choices, which Optuna refuses) must not mix into it."""
    key = json.dumps(
        {
            "base": spec.base,
            "grid": spec.grid,
            "variants": [[v.label, v.overrides] for v in spec.variants],
            "tune": {k: [r.low, r.high, r.log] for k, r in spec.tune.items()},
            "seed": spec.seeds[0],
        },
        sort_keys=True,
    )
    known = study.user_attrs.get("spec")
    if known is None:
        study.set_user_attr("spec", key)
    elif known != key:
        raise ConfigError(
            f"study {spec.name!r} was begun with a different {spec.where}; resume it with "
            "that spec, or start a new study in another --study-dir"
        )


def median_pruner(options: TuneOptions) -> optuna.pruners.BasePruner:
    """The median pruner, after ``warmup_epochs`` and ``STARTUP_TRIALS`` (none if not prune)."""
    import optuna

    if not options.prune:
        return optuna.pruners.NopPruner()
    # steps are epochs, from 1; Optuna may prune from step n_warmup_steps on
    return optuna.pruners.MedianPruner(
        n_startup_trials=STARTUP_TRIALS, n_warmup_steps=options.warmup_epochs + 1
    )


class Objective:
    """One trial: pick a config, train it (or reuse an identical earlier trial), return its
    best validation RMSE."""

    def __init__(
        self,
        spec: ExperimentSpec,
        rows: list[Row],
        options: RunOptions,
        data_dir: str | Path | None,
        tensorboard: Path | None,
    ) -> None:
        self.spec, self.rows, self.data_dir, self.tensorboard = spec, rows, data_dir, tensorboard
        self.options = options
        self.data: dict[Any, tuple] = {}  # data config -> (data, split): loaded once a call

    def __call__(self, trial: optuna.Trial) -> float:
        config = suggest_config(trial, self.spec, self.rows)
        trial.set_user_attr("config", config.to_dict())
        same = _same_params(trial)
        if same is not None:  # training is deterministic given the config and seed
            trial.set_user_attr("same_as", same.number)
            for key in ("best_epoch", "epochs"):
                trial.set_user_attr(key, same.user_attrs[key])
            return same.value
        try:
            rec = self._train(trial, config)
        except TrainingError as exc:
            trial.set_user_attr("error", str(exc))
            raise
        trial.set_user_attr("best_epoch", rec.best_epoch_)
        trial.set_user_attr("epochs", len(rec.history_))
        return min(r["val_rmse"] for r in rec.history_)

    def _train(self, trial: optuna.Trial, config: RunConfig) -> AutoRecommender:
        if config.data not in self.data:
            self.data[config.data] = load_data(config.data, config.seed, self.data_dir)
        data, parts = self.data[config.data]
        if not len(parts.val):
            raise ConfigError(f"{self.spec.where}: tuning needs validation ratings; raise val_size")
        options = replace(self.options, seed=config.seed, progress=False)
        rec = AutoRecommender(config.model, config.plan, options)
        callbacks: list[EpochCallback] = [PruneOnValRMSE(trial)]
        logger = None
        if self.tensorboard is not None:
            logger = TensorBoardLogger(self.tensorboard / self.spec.name / f"trial-{trial.number}")
            callbacks.insert(0, logger)
        with logger or contextlib.nullcontext():
            rec.fit(data, parts.train, parts.val, callbacks=callbacks)
        return rec


class PruneOnValRMSE:
    """Reports each epoch's validation RMSE to the trial; stops it when the pruner says so."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def __call__(self, record: dict) -> None:
        import optuna

        self.trial.report(record["val_rmse"], record["epoch"])
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {record['epoch']}")


def suggest_config(trial: optuna.Trial, spec: ExperimentSpec, rows: list[Row]) -> RunConfig:
    """The trial's config: a row picked axis by axis, then a value from each [tune] range."""
    picks = {
        axis: trial.suggest_categorical(axis, [_choice(v) for v in values])
        for axis, values in axis_values(spec).items()
    }
    row = next(r for r in rows if {a: _choice(v) for a, v in r.axes.items()} == picks)
    ranged = {key: _suggest(trial, key, r) for key, r in spec.tune.items()}
    return tuned_config(row, ranged, spec.seeds[0], f"trial {trial.number}")


def axis_values(spec: ExperimentSpec) -> dict[str, tuple[Any, ...]]:
    """Each axis of the spec and its values: the variant labels first, then the grid."""
    variants = {VARIANT_KEY: tuple(v.label for v in spec.variants)} if spec.variants else {}
    return variants | spec.grid


def _choice(value: Any) -> Any:
    """An axis value as Optuna stores a categorical choice: lists as JSON text."""
    return value if isinstance(value, bool | int | float | str) else json.dumps(value)


def _suggest(trial: optuna.Trial, key: str, r: Range) -> float:
    if r.integer:
        return trial.suggest_int(key, r.low, r.high, log=r.log)
    return trial.suggest_float(key, r.low, r.high, log=r.log)


def _same_params(trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """A complete earlier trial that picked exactly the same values, if any."""
    import optuna

    complete = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return next((t for t in complete if t.params == trial.params), None)


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study.get_trials(deepcopy=False, states=states)


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The complete trial with the lowest validation RMSE (None before any completes)."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return min(complete, key=lambda t: t.value, default=None)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: its state, best validation RMSE (complete trials only: Optuna gives
    a pruned trial its last reported value), epochs run, seconds and picks."""
    import optuna

    records = []
    for t in study.get_trials(deepcopy=False):
        steps = t.intermediate_values
        complete = t.state == optuna.trial.TrialState.COMPLETE
        records.append(
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "val_rmse": t.value if complete else None,
                "best_epoch": t.user_attrs.get("best_epoch"),
                "epochs": t.user_attrs.get("epochs", max(steps, default=None)),
                "seconds": t.duration.total_seconds() if t.duration else None,
                "same_as": t.user_attrs.get("same_as"),
                **t.params,
            }
        )
    return pd.DataFrame.from_records(records)


def describe(trial: optuna.trial.FrozenTrial) -> str:
    """One line per finished trial, for the console."""
    import optuna

    picks = "  ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    if trial.state == optuna.trial.TrialState.COMPLETE:
        outcome = f"val RMSE {trial.value:.4f}"
    elif "error" in trial.user_attrs:
        outcome = f"failed ({trial.user_attrs['error']})"
    else:
        outcome = f"{trial.state.name.lower()} at epoch {max(trial.intermediate_values, default=0)}"
    return f"trial {trial.number}: {outcome}  {picks}"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
