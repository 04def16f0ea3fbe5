"""The main job: train and evaluate the showcase, write run folders, a summary and a report.

The showcase: the notebook's two best models (U-AutoRec with ELU and the average input,
Deep AE [512, 256, 512]) on its split, I-AutoRec on the papers' split, and the bias
baseline beside them; with ``full``, the kernelised models (Sparse FC, GLocal-K) too. The
``fast`` recipes are aerec's own (Adam 1e-3 with a cosine or plateau schedule: seconds to
minutes on a CPU); ``notebook`` is the notebook's faithful 500 epochs at 1e-4.

On ML-1M when its files can be found (data dir, cache or download), otherwise on
``synthetic-ml-1m`` (said in one line). Finished runs are skipped, so an interrupted job
picks up where it stopped. ``report.html`` (self-contained, plots embedded) is built from the
run folders by :func:`aerec.reporting.report.build_report`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from aerec.data import load
from aerec.errors import ConfigError, DataError
from aerec.io import write_text
from aerec.models import AutoRecConfig, DeepAutoRecConfig, model_config
from aerec.render.document import markdown_table
from aerec.reporting.collected import published
from aerec.reporting.report import build_report
from aerec.runs import DataConfig, RunConfig, read_run, train_run
from aerec.training import RunOptions, TrainConfig

JOB_RECIPES = ("fast", "notebook")

NOTEBOOK_RECIPE = TrainConfig(lr=1e-4, epochs=500, patience=0)
"""The notebook's: Adam 1e-4, 500 epochs (test at the best validation epoch)."""

FAST_U_AUTOREC = TrainConfig(lr=1e-3, loss="mse", schedule="cosine", epochs=60, patience=0)
"""aerec's U-AutoRec recipe (docs/performance.md: the notebook's figure in about 17 s)."""


def default_runs(
    dataset: str, seed: int, recipe: str = "fast", full: bool = False
) -> dict[str, RunConfig]:
    """The notebook's two best models on its split, I-AutoRec on the papers' split and the
    bias baseline beside it; with ``full`` the kernelised models on the papers' split."""
    if recipe not in JOB_RECIPES:
        raise ConfigError(f"unknown job recipe {recipe!r}; choose one of {', '.join(JOB_RECIPES)}")
    notebook = DataConfig(dataset=dataset, split="stratified", split_seed=42)
    papers = DataConfig(dataset=dataset, split="random")
    fast = recipe == "fast"
    u_autorec = AutoRecConfig(
        based="user", activation="elu", last_activation="elu", input_fill="user_mean", l2=0.0005
    )
    runs = {
        "u-autorec-notebook": RunConfig(
            u_autorec, notebook, FAST_U_AUTOREC if fast else NOTEBOOK_RECIPE, seed
        ),
        "deep-notebook": RunConfig(
            DeepAutoRecConfig(), notebook, None if fast else NOTEBOOK_RECIPE, seed
        ),
        "i-autorec": RunConfig(AutoRecConfig(based="item"), papers, seed=seed),
        "bias": RunConfig(model_config("bias"), papers, seed=seed),
    }
    if full:
        for name in ("sparse-fc", "glocal-k"):
            runs[name] = RunConfig(model_config(name), papers, seed=seed)
    return runs


def choose_dataset(data_dir, say: Callable[[str], None]) -> str:
    """``ml-1m`` when it can be loaded, else ``synthetic-ml-1m`` (said in plain words)."""
    try:
        load("ml-1m", data_dir=data_dir, progress=True)
        return "ml-1m"
    except DataError:
        where = data_dir or os.environ.get("AEREC_DATA_DIR") or "a folder you pass as --data-dir"
        say(
            "ML-1M was not found on this machine and could not be downloaded (no network?). "
            f"To use it, put the extracted ml-1m/ folder (or ml-1m.zip from grouplens.org) in "
            f"{where}. Running on synthetic-ml-1m, generated data of the same shape, instead."
        )
        return "synthetic-ml-1m"


def run_default_job(
    out: str | Path,
    data_dir=None,
    dataset: str | None = None,
    epochs: int | None = None,
    seed: int = 42,
    options: RunOptions | None = None,
    say: Callable[[str], None] = print,
    recipe: str = "fast",
    full: bool = False,
) -> pd.DataFrame:
    """Train what is missing, then write ``summary.md``, ``summary.csv`` and ``report.html``
    (with ``report.md`` and its PNGs) into ``out``."""
    out = Path(out)
    options = options or RunOptions(seed=seed)
    if recipe not in JOB_RECIPES:  # before any data is looked for
        raise ConfigError(f"unknown job recipe {recipe!r}; choose one of {', '.join(JOB_RECIPES)}")
    dataset = dataset or choose_dataset(data_dir, say)
    rows = []
    for name, config in default_runs(dataset, seed, recipe, full).items():
        if epochs is not None:
            config = replace(config, train=tuple(replace(p, epochs=epochs) for p in config.plan))
        folder = out / name
        if (folder / "metrics.json").exists():
            stored, metrics = read_run(folder)
            if stored.to_dict() != config.to_dict():
                raise ConfigError(
                    f"{folder} holds a different run (another data set, seed or "
                    "epochs); pick another --out or delete it"
                )
            say(f"{name}: done before, reusing {folder}")
        else:
            say(f"{name}: training on {dataset} ({config.data.split} split)")
            resume = (folder / "checkpoint").exists()
            metrics = train_run(config, folder, options, data_dir=data_dir, resume=resume)
        rows.append(_row(name, config, metrics))
    summary = pd.DataFrame(rows)
    write_text(out / "summary.csv", summary.to_csv(index=False))
    write_text(out / "summary.md", _markdown(summary, dataset))
    build_report(out, out)
    say(f"report: {out / 'report.html'}")
    return summary


def _row(name: str, config: RunConfig, metrics: dict) -> dict:
    notebook, paper = published(name, config.data.dataset)
    return {
        "run": name,
        "dataset": config.data.dataset,
        "split": config.data.split,
        "seed": config.seed,
        "test_rmse": metrics["test_rmse"],
        "test_mae": metrics["test_mae"],
        "test_user_rmse": metrics["test_user_rmse"],
        "notebook_user_rmse": notebook,
        "paper_rmse": paper,
        "best_epoch": metrics["best_epoch"],
        "epochs_run": metrics["epochs_run"],
        "train_seconds": metrics["train_seconds"],
        "fit_seconds": metrics.get("fit_seconds", metrics["wall_seconds"]),
    }


def _markdown(summary: pd.DataFrame, dataset: str) -> str:
    intro = (
        f"# aerec main job on {dataset}\n\n"
        "test_rmse / test_mae: global, over all test ratings, predictions clipped to the "
        "scale; test_user_rmse: the notebook's mean of per-user RMSEs. Test metrics are "
        "taken at the best validation epoch.\n\n"
    )
    return intro + markdown_table(summary) + "\n"
