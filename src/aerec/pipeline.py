"""The main job: train and evaluate the default models, write run folders and a summary.

On ML-1M when its files can be found (data dir, cache or download), otherwise on
``synthetic-ml-1m`` (said in one line). Finished runs are skipped, so an interrupted job
picks up where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from aerec.data import load
from aerec.errors import ConfigError, DataError
from aerec.io import write_text
from aerec.models import AutoRecConfig, DeepAutoRecConfig
from aerec.render.document import markdown_table
from aerec.runs import DataConfig, RunConfig, read_run, train_run
from aerec.training import RunOptions, TrainConfig

NOTEBOOK_USER_RMSE = {"u-autorec-notebook": 0.877, "deep-notebook": 0.857}
PAPER_RMSE = {"i-autorec": 0.831}


def default_runs(dataset: str, seed: int) -> dict[str, RunConfig]:
    """The notebook's two best models on its split, and I-AutoRec on the papers' split."""
    notebook = DataConfig(dataset=dataset, split="stratified", split_seed=42)
    papers = DataConfig(dataset=dataset, split="random")
    recipe = TrainConfig(lr=1e-4, epochs=500, patience=0)  # the notebook's; test at best val
    return {
        "u-autorec-notebook": RunConfig(
            AutoRecConfig(
                based="user",
                activation="elu",
                last_activation="elu",
                input_fill="user_mean",
                l2=0.0005,
            ),
            notebook,
            recipe,
            seed,
        ),
        "deep-notebook": RunConfig(DeepAutoRecConfig(), notebook, recipe, seed),
        "i-autorec": RunConfig(AutoRecConfig(based="item"), papers, seed=seed),
    }


def choose_dataset(data_dir, say: Callable[[str], None]) -> str:
    """``ml-1m`` when it can be loaded, else ``synthetic-ml-1m``."""
    try:
        load("ml-1m", data_dir=data_dir, progress=True)
        return "ml-1m"
    except DataError as exc:
        say(f"ML-1M is not available ({exc}); running on synthetic-ml-1m instead")
        return "synthetic-ml-1m"


def run_default_job(
    out: str | Path,
    data_dir=None,
    dataset: str | None = None,
    epochs: int | None = None,
    seed: int = 42,
    options: RunOptions | None = None,
    say: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Train what is missing, then write ``summary.md`` and ``summary.csv`` into ``out``."""
    out = Path(out)
    options = options or RunOptions(seed=seed)
    dataset = dataset or choose_dataset(data_dir, say)
    rows = []
    for name, config in default_runs(dataset, seed).items():
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
    return summary


def _row(name: str, config: RunConfig, metrics: dict) -> dict:
    return {
        "run": name,
        "dataset": config.data.dataset,
        "split": config.data.split,
        "seed": config.seed,
        "test_rmse": metrics["test_rmse"],
        "test_mae": metrics["test_mae"],
        "test_user_rmse": metrics["test_user_rmse"],
        "notebook_user_rmse": NOTEBOOK_USER_RMSE.get(name),
        "paper_rmse": PAPER_RMSE.get(name),
        "best_epoch": metrics["best_epoch"],
        "epochs_run": metrics["epochs_run"],
        "train_seconds": metrics["train_seconds"],
    }


def _markdown(summary: pd.DataFrame, dataset: str) -> str:
    intro = (
        f"# aerec main job on {dataset}\n\n"
        "test_rmse / test_mae: global, over all test ratings, predictions clipped to the "
        "scale; test_user_rmse: the notebook's mean of per-user RMSEs. Test metrics are "
        "taken at the best validation epoch.\n\n"
    )
    return intro + markdown_table(summary) + "\n"
