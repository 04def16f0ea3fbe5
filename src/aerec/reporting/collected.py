"""What a report is built from: experiment folders (a collected table and the run folders it
names) and loose run folders (such as ``aerec run``'s), found under one RUNS_DIR."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors import SafetensorError, safe_open

from aerec.errors import CheckpointError
from aerec.experiments.runner import (
    EXPERIMENT_JSON,
    RESULTS_CSV,
    RESULTS_PARQUET,
    metrics_record,
    read_results,
)
from aerec.runs import read_run

FIRST_LAYER = "model.layers.0.weight"
NOTEBOOK_USER_RMSE = {"u-autorec-notebook": 0.877, "deep-notebook": 0.857}
"""The notebook's figures beside the main job's runs of the same name (per-user RMSE)."""
PAPER_RMSE = {"i-autorec": 0.831, "sparse-fc": 0.824, "glocal-k": 0.8227}
"""The papers' figures beside the main job's runs of the same name (global RMSE)."""


def published(name: str, dataset: str) -> tuple[float | None, float | None]:
    """(the notebook's per-user RMSE, the paper's global RMSE) beside the main job's run
    ``name``: ML-1M figures, so none for a run on other data (synthetic data among them)."""
    if dataset != "ml-1m":
        return None, None
    return NOTEBOOK_USER_RMSE.get(name), PAPER_RMSE.get(name)


@dataclass(frozen=True)
class Experiment:
    """One experiment's results: the table (one line per finished run) and where its run
    folders are (``folder / run_id``)."""

    name: str
    folder: Path
    table: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def run_folder(self, run_id: str) -> Path:
        return self.folder / run_id


def discover(runs_dir: str | Path) -> list[Experiment]:
    """Experiments under ``runs_dir`` (or ``runs_dir`` itself), then its loose run folders."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise CheckpointError(f"{runs_dir} is not a folder; give the --runs-dir of the runs")
    if _has_results(runs_dir):
        return [_experiment(runs_dir)]
    found = [_experiment(d) for d in sorted(runs_dir.iterdir()) if _has_results(d)]
    loose = sorted(d for d in runs_dir.iterdir() if (d / "metrics.json").is_file())
    if loose:
        found.append(_loose(runs_dir, loose))
    if not found:
        raise CheckpointError(
            f"{runs_dir} holds no experiment results or run folders; "
            "make some with aerec experiment run or aerec train"
        )
    return found


def read_history(folder: str | Path) -> list[dict]:
    """A run's ``history.json`` (one dict per epoch); empty when it is missing."""
    path = Path(folder) / "history.json"
    history = _json(path, "train the run again") if path.is_file() else []
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise CheckpointError(f"{path} is not a history (a list of epochs); train the run again")
    return history


def _json(path: Path, fix: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{path} is corrupt; {fix}") from None


def first_layer_weight(folder: str | Path) -> np.ndarray | None:
    """The first layer's weight ``(units, inputs)`` of a run's model, read with safetensors
    (never pickle); None when the file or the tensor is missing or unreadable."""
    path = Path(folder) / "model" / "model.safetensors"
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as tensors:
            if FIRST_LAYER not in tensors.keys():  # noqa: SIM118 - safe_open is not a dict
                return None
            return np.asarray(tensors.get_tensor(FIRST_LAYER), dtype=float)
    except (SafetensorError, OSError, ValueError):
        return None


def _has_results(folder: Path) -> bool:
    return (folder / RESULTS_CSV).is_file() or (folder / RESULTS_PARQUET).is_file()


def _experiment(folder: Path) -> Experiment:
    info_path = folder / EXPERIMENT_JSON
    fix = "rebuild it with aerec experiment collect on its spec"
    info = _json(info_path, fix) if info_path.is_file() else {}
    if not isinstance(info, dict):
        raise CheckpointError(f"{info_path} is not an experiment description; {fix}")
    return Experiment(info.get("name", folder.name), folder, read_results(folder), info)


def _loose(runs_dir: Path, folders: list[Path]) -> Experiment:
    """Single run folders as one table: a row per folder, named after it, no baselines."""
    records = []
    for i, folder in enumerate(folders):
        config, metrics = read_run(folder)
        name = folder.name
        notebook, paper = published(name, config.data.dataset)
        source = "notebook" if notebook else "paper" if paper else None
        records.append(
            {
                "row_index": i,
                "row": name,
                "baseline": "",
                "seed": config.seed,
                "run_id": name,
                "ref_source": source,
                "ref_rmse": paper,
                "ref_user_rmse": notebook,
                **metrics_record(config, metrics),
            }
        )
    description = "Single run folders found directly under the runs folder (no spec)."
    info = {"name": runs_dir.name, "description": description}
    return Experiment(f"{runs_dir.name} (single runs)", runs_dir, pd.DataFrame(records), info)
