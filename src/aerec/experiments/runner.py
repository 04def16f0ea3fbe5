"""Running a spec: train what is missing, resume what was interrupted, collect a table.

``RUNS_DIR/<spec name>/`` holds one run folder per run (see :mod:`aerec.runs`),
``experiment.json`` (the spec's name, description, axes, seeds and the overrides used) and the
collected table ``results.csv`` / ``results.parquet``: one row per finished run.
A folder with ``metrics.json`` is done; one with ``checkpoint/`` is resumed. A run whose
config (seed included) another spec under the same ``RUNS_DIR`` has already trained is
copied from there, not trained again (``reuse=False`` trains it). With ``tensorboard`` set,
each run logs its curves to ``TENSORBOARD/<spec name>/<run id>/``.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from aerec.errors import AerecError, CheckpointError
from aerec.experiments.expand import ExperimentRun, expand_runs, format_value
from aerec.experiments.spec import ExperimentSpec
from aerec.extras import require
from aerec.io import atomic_write, write_json, write_text
from aerec.runs import RunConfig, read_run, train_run
from aerec.training import RunOptions

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
EXPERIMENT_JSON = "experiment.json"
METRICS = (
    "test_rmse",
    "test_mae",
    "test_user_rmse",
    "val_rmse",
    "best_epoch",
    "epochs_run",
    "train_seconds",
    "fit_seconds",
    "test_n",
    "test_fallback",
)
STATUSES = ("done", "copy", "resume", "todo")
REUSED_FROM = "reused_from.txt"


@dataclass(frozen=True)
class Overrides:
    """Command-line changes to a spec: other seeds, an epoch cap, another data set."""

    seeds: tuple[int, ...] | None = None
    epochs: int | None = None
    dataset: str | None = None


@dataclass(frozen=True)
class PlannedRun:
    """A run, its folder and its state: ``done``, ``copy`` (another spec's finished run of
    the same config, ``source``), ``resume`` (has a checkpoint) or ``todo``."""

    run: ExperimentRun
    folder: Path
    status: str
    source: Path | None = None


def experiment_dir(spec: ExperimentSpec, runs_dir: str | Path) -> Path:
    """``RUNS_DIR/<spec name>``."""
    return Path(runs_dir) / spec.name


def plan(
    spec: ExperimentSpec,
    runs_dir: str | Path,
    overrides: Overrides | None = None,
    reuse: bool = True,
) -> list[PlannedRun]:
    """Every run of the spec with its folder and whether it is done, to copy, to resume or
    to do."""
    overrides = overrides or Overrides()
    root = experiment_dir(spec, runs_dir)
    runs = expand_runs(spec, overrides.seeds, overrides.epochs, overrides.dataset)
    planned = []
    for run in runs:
        folder = root / run.run_id
        status, source = _status(folder), None
        if status == "todo" and reuse and (source := _twin(run, folder, Path(runs_dir))):
            status = "copy"
        planned.append(PlannedRun(run, folder, status, source))
    return planned


def _status(folder: Path) -> str:
    if (folder / "metrics.json").is_file():
        return "done"
    return "resume" if (folder / "checkpoint").is_dir() else "todo"


def _twin(run: ExperimentRun, folder: Path, runs_dir: Path) -> Path | None:
    """A finished run of exactly ``run``'s config in another folder under ``runs_dir``: the
    same seed and config hash in its id, and the same config in its ``config.toml``."""
    seed_and_hash = "-".join(run.run_id.rsplit("-", 2)[1:])
    for other in sorted(runs_dir.glob(f"*/*-{seed_and_hash}")):
        if other == folder or _status(other) != "done":
            continue
        try:
            config, _ = read_run(other)
        except AerecError:
            continue
        if config.to_dict() == run.config.to_dict():
            return other
    return None


def _copy_run(source: Path, folder: Path) -> None:
    """Copy a finished run folder (without any checkpoint) to ``folder``, atomically."""
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial, ignore=shutil.ignore_patterns("checkpoint"))
    write_text(partial / REUSED_FROM, f"{source}\n")
    partial.rename(folder)


def run_experiment(
    spec: ExperimentSpec,
    runs_dir: str | Path,
    overrides: Overrides | None = None,
    data_dir: str | Path | None = None,
    options: RunOptions | None = None,
    progress: bool = True,
    say: Callable[[str], None] = print,
    tensorboard: str | Path | None = None,
    reuse: bool = True,
) -> pd.DataFrame:
    """Train the missing runs (one progress bar with an ETA over them), then collect.

    Safe to interrupt: finished runs are kept, an unfinished one resumes from its last
    epoch, and the table is written on the way out either way. With ``reuse``, a run that
    another spec under ``runs_dir`` has already trained with the same config is copied from
    there (the copy names its source in ``reused_from.txt``).
    """
    overrides = overrides or Overrides()
    options = options or RunOptions()
    planned = plan(spec, runs_dir, overrides, reuse)
    counts = {s: sum(p.status == s for p in planned) for s in STATUSES}
    copies = f"{counts['copy']} to copy from identical runs, " if counts["copy"] else ""
    say(
        f"{spec.name}: {len(planned)} runs: {counts['done']} done, {copies}"
        f"{counts['resume']} to resume, {counts['todo']} to start"
    )
    for item in planned:
        if item.status == "copy":
            _copy_run(item.source, item.folder)
            say(f"{item.run.run_id}: copied from {item.source} (same config)")
    todo = [p for p in planned if p.status in ("resume", "todo")]
    if tensorboard is not None:
        require("tensorboard", "--tensorboard")  # before the first run, not inside it
    run_options = replace(options, progress=False)
    bar = tqdm(todo, desc=spec.name, unit="run", disable=not progress or not todo)
    try:
        for item in bar:
            bar.set_postfix_str(item.run.run_id, refresh=True)
            board = None if tensorboard is None else Path(tensorboard) / spec.name / item.run.run_id
            _train(item, run_options, data_dir, board)
    except KeyboardInterrupt:
        say("interrupted: finished runs are kept; run the same command again to resume")
        raise
    finally:
        bar.close()
        table = collect(spec, runs_dir, overrides, say=say)
    return table


def _train(
    item: PlannedRun,
    options: RunOptions,
    data_dir: str | Path | None,
    tensorboard: Path | None = None,
) -> None:
    try:
        resume = item.status == "resume"
        options = replace(options, seed=item.run.config.seed)  # each run has its own seed
        train_run(item.run.config, item.folder, options, data_dir, resume, tensorboard)
    except AerecError as exc:
        raise type(exc)(f"run {item.folder}: {exc}") from None


def collect(
    spec: ExperimentSpec,
    runs_dir: str | Path,
    overrides: Overrides | None = None,
    say: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Rebuild the results table from the finished run folders and write it (CSV, Parquet).

    Give the same ``overrides`` as to :func:`run_experiment`: they are part of the run ids.
    """
    overrides = overrides or Overrides()
    planned = plan(spec, runs_dir, overrides, reuse=False)
    records = [_record(p) for p in planned if p.status == "done"]
    table = pd.DataFrame.from_records(records)
    root = experiment_dir(spec, runs_dir)
    write_json(root / EXPERIMENT_JSON, _experiment_info(spec, overrides))
    write_results(table, root)
    if say is not None:
        say(f"{spec.name}: {len(records)} of {len(planned)} runs finished -> {root / RESULTS_CSV}")
    return table


def write_results(table: pd.DataFrame, folder: str | Path) -> list[Path]:
    """``results.csv`` and ``results.parquet`` in ``folder``, written atomically."""
    folder = Path(folder)
    csv = write_text(folder / RESULTS_CSV, table.to_csv(index=False))
    parquet = atomic_write(folder / RESULTS_PARQUET, lambda tmp: table.to_parquet(tmp, index=False))
    return [csv, parquet]


def read_results(folder: str | Path) -> pd.DataFrame:
    """The collected table of an experiment folder (Parquet, else CSV)."""
    folder = Path(folder)
    if (folder / RESULTS_PARQUET).is_file():
        return pd.read_parquet(folder / RESULTS_PARQUET)
    if (folder / RESULTS_CSV).is_file():
        return pd.read_csv(folder / RESULTS_CSV)
    raise CheckpointError(
        f"{folder} has no {RESULTS_CSV}; run aerec experiment collect on its spec first"
    )


def _record(item: PlannedRun) -> dict[str, Any]:
    config, metrics = read_run(item.folder)
    if config.to_dict() != item.run.config.to_dict():
        raise CheckpointError(
            f"{item.folder}/config.toml differs from the spec's config for this run id; "
            "delete the folder to retrain it"
        )
    row = item.run.row
    ref = row.reference
    record: dict[str, Any] = {
        "row_index": row.index,
        "row": row.label,
        "baseline": row.baseline or "",
        **{axis: format_value(v) if isinstance(v, list) else v for axis, v in row.axes.items()},
        "seed": item.run.seed,
        "run_id": item.run.run_id,
        "ref_source": ref.source if ref else None,
        "ref_rmse": ref.rmse if ref else None,
        "ref_user_rmse": ref.user_rmse if ref else None,
    }
    return record | metrics_record(config, metrics)


def metrics_record(config: RunConfig, metrics: dict[str, Any]) -> dict[str, Any]:
    """A finished run's columns of the results table: data, split, metrics and the test
    RMSE (``rmse@<bucket>``) and rating count (``n@<bucket>``) per user-activity bucket."""
    record: dict[str, Any] = {
        "dataset": config.data.dataset,
        "split": config.data.split,
        "split_seed": config.data.split_seed,
    }
    record |= {key: metrics.get(key) for key in METRICS}
    for bucket, values in metrics.get("test_rmse_by_activity", {}).items():
        # metrics.json is strict JSON: an empty bucket's RMSE is null
        record[f"rmse@{bucket}"] = math.nan if values["rmse"] is None else values["rmse"]
        record[f"n@{bucket}"] = values["n"]
    return record


def _experiment_info(spec: ExperimentSpec, overrides: Overrides) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "axes": list(spec.axes),
        "seeds": list(overrides.seeds or spec.seeds),
        "spec": spec.where,
        "overrides": {
            "seeds": list(overrides.seeds) if overrides.seeds else None,
            "epochs": overrides.epochs,
            "dataset": overrides.dataset,
        },
    }
