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
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from aerec.errors import AerecError, CheckpointError, ConfigError, DiskFullError, RunBusyError
from aerec.experiments.expand import ExperimentRun, expand_runs, format_value, run_id
from aerec.experiments.spec import ExperimentSpec
from aerec.extras import require
from aerec.io import atomic_write, write_json, write_text
from aerec.runfolder import LOCK, RunLock, sweep
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
    selection: Path | None = None


def experiment_dir(spec: ExperimentSpec, runs_dir: str | Path) -> Path:
    """``RUNS_DIR/<spec name>``."""
    return Path(runs_dir) / spec.name


def plan(
    spec: ExperimentSpec,
    runs_dir: str | Path,
    overrides: Overrides | None = None,
    reuse: bool = True,
    only: tuple[str, ...] = (),
) -> list[PlannedRun]:
    """Every run of the spec (or of the rows matching a pattern of ``only``) with its folder
    and whether it is done, to copy, to resume or to do."""
    overrides = overrides or Overrides()
    root = experiment_dir(spec, runs_dir)
    every = expand_runs(spec, overrides.seeds, overrides.epochs, overrides.dataset)
    runs = select_rows(every, only) if only else every
    planned = []
    for run in runs:
        folder = root / run.run_id
        status, source = _status(folder), None
        if status == "todo" and reuse and (source := _twin(run, folder, Path(runs_dir))):
            status = "copy"
        selection = selection_folder(run, folder, every) if run.config.refit else None
        planned.append(PlannedRun(run, folder, status, source, selection))
    return planned


def select_rows(runs: list[ExperimentRun], patterns: tuple[str, ...]) -> list[ExperimentRun]:
    """The runs whose row label (or run id) matches one of the shell-style ``patterns``,
    e.g. ``elu``, ``'hidden=5*'``, ``'*-s1-*'``."""
    for pattern in patterns:
        if not any(_matches(run, (pattern,)) for run in runs):
            labels = ", ".join(dict.fromkeys(run.row.label for run in runs))
            raise ConfigError(f"--only {pattern!r} matches no row; the rows are: {labels}")
    return [run for run in runs if _matches(run, patterns)]


def _matches(run: ExperimentRun, patterns: tuple[str, ...]) -> bool:
    names = (run.row.label, run.row.slug, run.run_id)
    return any(fnmatchcase(name, pattern) for name in names for pattern in patterns)


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


def selection_folder(run: ExperimentRun, folder: Path, runs: list[ExperimentRun]) -> Path:
    """Where the refit run ``run`` (in ``folder``) finds its selection run: the folder of
    the spec's run of the same config (the row without refit, among ``runs``: trained once
    for both), else a folder of its own beside it."""
    config = run.config.selection()
    for other in runs:
        if other.config.to_dict() == config.to_dict():
            return folder.parent / other.run_id
    return folder.parent / run_id(f"{run.row.label} selection", config)


def _copy_run(source: Path, folder: Path) -> None:
    """Copy a finished run folder (without any checkpoint) to ``folder``, under its lock;
    ``metrics.json`` last, so that an interrupted copy is an unfinished run."""
    with RunLock(folder):
        if (folder / "metrics.json").is_file():  # another process copied it meanwhile
            return
        skip = shutil.ignore_patterns("checkpoint", "metrics.json", LOCK, ".*.tmp", ".tmp*")
        shutil.copytree(source, folder, ignore=skip, dirs_exist_ok=True)
        write_text(folder / REUSED_FROM, f"{source}\n")
        atomic_write(
            folder / "metrics.json", lambda tmp: shutil.copyfile(source / "metrics.json", tmp)
        )


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
    only: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Train the missing runs (one progress bar with an ETA over them), then collect.

    Safe to interrupt: finished runs are kept, an unfinished one resumes from its last
    epoch, and the table is written on the way out either way. With ``reuse``, a run that
    another spec under ``runs_dir`` has already trained with the same config is copied from
    there (the copy names its source in ``reused_from.txt``). ``only``: train just the rows
    matching these patterns (see :func:`select_rows`); the table collects every finished run.

    Safe to start several times at once on one spec: a run another process holds is
    skipped, and waited for at the end (trained here if its holder died), so that each run
    trains once and every process ends with the whole table.
    """
    overrides = overrides or Overrides()
    options = options or RunOptions()
    planned = plan(spec, runs_dir, overrides, reuse, only)
    counts = {s: sum(p.status == s for p in planned) for s in STATUSES}
    copies = f"{counts['copy']} to copy from identical runs, " if counts["copy"] else ""
    say(
        f"{spec.name}: {len(planned)} runs: {counts['done']} done, {copies}"
        f"{counts['resume']} to resume, {counts['todo']} to start"
    )
    if tensorboard is not None:
        require("tensorboard", "--tensorboard")  # before the first run, not inside it
    run_options = replace(options, progress=False)
    held: list[PlannedRun] = []
    todo = [p for p in planned if p.status != "done"]
    bar = tqdm(todo, desc=spec.name, unit="run", disable=not progress or not todo)
    try:
        for item in planned:
            if item.status == "done":
                _sweep_done(item.folder)
        for item in bar:
            bar.set_postfix_str(item.run.run_id, refresh=True)
            if not _start(item, spec, run_options, data_dir, tensorboard, say):
                held.append(item)
        for item in held:
            say(f"{item.run.run_id}: waiting for the process that holds it")
            _start(item, spec, run_options, data_dir, tensorboard, say, wait=True)
    except KeyboardInterrupt:
        say("interrupted: finished runs are kept; run the same command again to resume")
        raise
    finally:
        bar.close()
        # no table is written when nothing has finished (a first run that failed at once)
        finished = any(_status(p.folder) == "done" for p in plan(spec, runs_dir, overrides, False))
        table = collect(spec, runs_dir, overrides, say=say, write=finished)
    return table


def _start(
    item: PlannedRun,
    spec: ExperimentSpec,
    options: RunOptions,
    data_dir: str | Path | None,
    tensorboard: str | Path | None,
    say: Callable[[str], None],
    wait: bool = False,
) -> bool:
    """Copy or train one run; False if another process holds it (and not ``wait``)."""
    try:
        if item.status == "copy" and not wait:
            _copy_run(item.source, item.folder)
            say(f"{item.run.run_id}: copied from {item.source} (same config)")
            return True
        board = None if tensorboard is None else Path(tensorboard) / spec.name / item.run.run_id
        _train(item, options, data_dir, board, wait)
    except RunBusyError as exc:
        say(f"{item.run.run_id}: process {exc.pid or '?'} is training it; collected at the end")
        return False
    return True


def _sweep_done(folder: Path) -> None:
    """Sweep a finished run folder unless another process holds it."""
    try:
        with RunLock(folder):
            sweep(folder, finished=True)
    except RunBusyError:
        pass


def _train(
    item: PlannedRun,
    options: RunOptions,
    data_dir: str | Path | None,
    tensorboard: Path | None = None,
    wait: bool = False,
) -> None:
    """Train (or resume, or read back) one run: resume is safe whatever its state, as its
    folder is named by its config."""
    try:
        options = replace(options, seed=item.run.config.seed)  # each run has its own seed
        train_run(
            item.run.config, item.folder, options, data_dir, True, tensorboard, wait, item.selection
        )
    except RunBusyError:
        raise
    except DiskFullError:
        raise DiskFullError(
            f"run {item.folder}: no space left on device; finished runs and the last "
            "checkpoint (if any) are intact: free some space and run the same command again"
        ) from None
    except AerecError as exc:
        raise type(exc)(f"run {item.folder}: {exc}") from None


def collect(
    spec: ExperimentSpec,
    runs_dir: str | Path,
    overrides: Overrides | None = None,
    say: Callable[[str], None] | None = None,
    write: bool = True,
) -> pd.DataFrame:
    """Rebuild the results table from the finished run folders and write it (CSV, Parquet)
    unless not ``write``.

    Give the same ``overrides`` as to :func:`run_experiment`: they are part of the run ids.
    """
    overrides = overrides or Overrides()
    planned = plan(spec, runs_dir, overrides, reuse=False)
    records = [_record(p) for p in planned if p.status == "done"]
    table = pd.DataFrame.from_records(records)
    root = experiment_dir(spec, runs_dir)
    if write:
        with RunLock(root, wait=True):  # one writer at a time; sweep what a killed one left
            sweep(root, finished=False)
            write_json(root / EXPERIMENT_JSON, _experiment_info(spec, overrides))
            write_results(table, root)
    if say is not None and write:
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
    for name, read in ((RESULTS_PARQUET, pd.read_parquet), (RESULTS_CSV, pd.read_csv)):
        if (folder / name).is_file():
            try:
                return read(folder / name)
            except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
                raise CheckpointError(
                    f"{folder / name} is corrupt; rebuild it with aerec experiment collect "
                    "on its spec"
                ) from None
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
        **({} if item.run.fold is None else {"fold": item.run.fold}),
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
    record |= ranking_record(metrics.get("ranking"))
    for bucket, values in metrics.get("test_rmse_by_activity", {}).items():
        # metrics.json is strict JSON: an empty bucket's RMSE is null
        record[f"rmse@{bucket}"] = math.nan if values["rmse"] is None else values["rmse"]
        record[f"n@{bucket}"] = values["n"]
    return record


def ranking_record(ranking: dict[str, Any] | None) -> dict[str, Any]:
    """The ranking metrics of a run as ``test_<metric>@<k>`` columns (none for runs from
    before they existed), with the number of users ranked."""
    if not ranking:
        return {}
    record = {f"test_{key}": value for key, value in ranking.items() if "@" in key}
    return record | {"ranking_users": ranking.get("users")}


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
