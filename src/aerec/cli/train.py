"""``aerec train``, ``aerec evaluate`` and ``aerec recommend``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aerec.cli.fields import config_options, number_list, split_options
from aerec.cli.options import (
    CHECKPOINT_EVERY,
    CHECKPOINT_SECONDS,
    COLUMNS,
    DATA_DIR,
    SCALE,
    SEP,
    THREADS,
)
from aerec.config import read_toml
from aerec.data.splits import RUN_SPLITS
from aerec.errors import ConfigError
from aerec.models import MODELS
from aerec.runs import RunConfig, evaluate_run, read_run, train_run
from aerec.training import RunOptions
from aerec.training.distributed import is_main_process

RANKING_SHOWN = ("precision", "recall", "ndcg", "map", "hit_rate")

DATA_OPTIONS = {
    "dataset": "dataset",
    "split": "split",
    "test_size": "test_size",
    "val_size": "val_size",
    "columns": "columns",
    "sep": "sep",
    "scale": "scale",
    "train_file": "train",
    "test_file": "test",
    "val_file": "val",
    "k": "k",
    "fold": "fold",
    "relevance": "relevance",
    "ranking_k": "ranking_k",
}
"""Data options of ``aerec train`` -> their [data] key; model and train options come from the
registry's config classes and :class:`aerec.plan.TrainConfig` (see :mod:`aerec.cli.fields`)."""

TENSORBOARD = click.option(
    "--tensorboard",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also log the per-epoch curves as TensorBoard events to this folder "
    "(needs pip install 'aerec[tensorboard]').",
)


def _fold(ctx, param, value: str | None):
    """A kfold index (a number) or a release's fold name (``u1``)."""
    if value is None:
        return None
    return int(value) if value.isdigit() else value


_ks = number_list("5,10,20")


_FILE = click.Path(dir_okay=False)


def build_config(
    config_file: Path | None,
    seed: int | None,
    options: dict,
    recipe: str | None = None,
    refit: bool | None = None,
) -> RunConfig:
    """The config file (if any) with the given command-line options on top."""
    values = read_toml(config_file) if config_file else {}
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    given = {k: v for k, v in options.items() if v is not None}
    for option, key in DATA_OPTIONS.items():
        if option in given and isinstance(values.setdefault("data", {}), dict):
            values["data"][key] = given.pop(option)  # a non-table section: from_dict says so
    name = given.pop("model", None)
    if name is not None and isinstance(values.setdefault("model", {}), dict):
        values["model"]["name"] = name
    for (section, key), value in split_options(given).items():
        target = values.setdefault(section, {})
        if section == "train" and isinstance(target, list):  # [[train]] phases: each one
            for phase in target:
                if isinstance(phase, dict):
                    phase[key] = value
        elif isinstance(target, dict):
            target[key] = value
    if seed is not None:
        values["seed"] = seed
    if recipe is not None:
        values["recipe"] = recipe
    if refit is not None:
        values["refit"] = refit
    return RunConfig.from_dict(values, str(config_file or "options"))


@click.command()
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML file with [data], [model] and [train] sections; options override it.",
)
@click.option(
    "--dataset", help="ml-1m (default), another MovieLens name, synthetic-<shape>, or a path."
)
@DATA_DIR
@COLUMNS
@SEP
@SCALE
@click.option("--model", type=click.Choice(list(MODELS)), help="Model [autorec].")
@click.option("--recipe", help="The model's named recipe (default, authors, paper, ...).")
@click.option(
    "--refit/--no-refit",
    default=None,
    help="Choose the epochs on validation (a first run, kept in OUT/selection), then train "
    "afresh on train + validation for those epochs [no-refit].",
)
@click.option("--split", type=click.Choice(RUN_SPLITS), help="Split method [stratified].")
@click.option("--test-size", type=float)
@click.option("--val-size", type=float)
@click.option("--train", "train_file", type=_FILE, help="Training ratings (--split files).")
@click.option("--test", "test_file", type=_FILE, help="Test ratings (--split files).")
@click.option(
    "--val",
    "val_file",
    type=_FILE,
    help="Validation ratings (--split files; default: 5% of train).",
)
@click.option("--k", type=int, help="Number of folds (--split kfold) [5].")
@click.option(
    "--fold",
    callback=_fold,
    help="Test fold: 0..k-1 (kfold) or the release's (predefined: u1..u5, ua, ub).",
)
@click.option("--relevance", type=float, help="Ranking metrics: relevant test rating >= [4].")
@click.option(
    "--ranking-k", callback=_ks, help="Ranking metrics' K, e.g. 5,10,20 [5,10,20]; '' for none."
)
@click.option("--seed", type=int, help="Seed of the split, initialisation and batches [42].")
@config_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The run folder to write.",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@TENSORBOARD
@click.option("--device", default="auto", show_default=True)
@THREADS
@CHECKPOINT_EVERY
@CHECKPOINT_SECONDS
@click.option("--progress/--no-progress", default=True, show_default=True)
def train(
    config_file,
    data_dir,
    seed,
    recipe,
    refit,
    out,
    resume,
    tensorboard,
    device,
    threads,
    checkpoint_every,
    checkpoint_seconds,
    progress,
    **options,
):
    """Train a model, evaluate it on the test split, write the run folder."""
    config = build_config(config_file, seed, options, recipe, refit)
    run_options = RunOptions(
        config.seed,
        device,
        threads,
        progress,
        checkpoint_every=checkpoint_every,
        checkpoint_seconds=checkpoint_seconds,
    )
    metrics = train_run(config, out, run_options, data_dir, resume, tensorboard)
    if is_main_process():
        _print_metrics(metrics, out)


def _print_metrics(metrics: dict, out: Path) -> None:
    click.echo(
        f"test RMSE {metrics['test_rmse']:.4f}  MAE {metrics['test_mae']:.4f}  "
        f"per-user RMSE (notebook) {metrics['test_user_rmse']:.4f}  "
        f"best epoch {metrics['best_epoch']}/{metrics['epochs_run']}  "
        f"{metrics['train_seconds']:.0f} s  -> {out}"
    )
    refit = metrics.get("refit")
    if refit:
        epochs = ", ".join(f"{name} {n}" for name, n in refit["epochs"].items())
        click.echo(
            f"refit on train + validation for the epochs chosen on validation ({epochs}; "
            f"selection run {refit['selection']}: val RMSE {refit['selection_val_rmse']:.4f}, "
            f"test RMSE {refit['selection_test_rmse']:.4f})"
        )
    ranking = metrics.get("ranking") or {}
    if not ranking.get("k"):
        return
    k = 10 if 10 in ranking["k"] else ranking["k"][-1]
    keys = [f"{name}@{k}" for name in RANKING_SHOWN]
    shown = [f"{key} {ranking[key]:.4f}" for key in keys if ranking.get(key) is not None]
    if shown:
        click.echo(f"test ranking ({ranking['users']} users): " + "  ".join(shown))


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@DATA_DIR
@click.option("--dataset", help="Evaluate on this data set instead of the run's own.")
@click.option("--json", "as_json", is_flag=True)
def evaluate(run_dir: Path, data_dir, dataset, as_json: bool) -> None:
    """Reload RUN_DIR's model and score it on its test split."""
    metrics = evaluate_run(run_dir, data_dir, dataset)
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        ranking = metrics.pop("ranking", None) or {}
        shown = metrics | {f"test_{k}": v for k, v in ranking.items() if "@" in k}
        click.echo(
            "  ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()
            )
        )


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--user", required=True, help="Raw user id, as in the ratings file.")
@click.option("-n", "n", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--include-seen", is_flag=True, help="Also list items the user rated.")
def recommend(run_dir: Path, user: str, n: int, include_seen: bool) -> None:
    """Top-N items for a user of RUN_DIR's model, with titles when the data has them."""
    from aerec.recommender import AutoRecommender

    read_run(run_dir)
    rec = AutoRecommender.load(run_dir / "model")
    raw = _raw_id(user, rec.user_vocab_.ids)
    table = rec.recommend(raw, n=n, exclude_seen=not include_seen)
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def _raw_id(user: str, ids):
    if ids.dtype.kind in "iu":
        try:
            return int(user)
        except ValueError:
            raise ConfigError(f"user ids of this model are integers, got {user!r}") from None
    return user


@click.command("run")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default="aerec-out",
    show_default=True,
    help="Folder for the run folders and summary.",
)
@DATA_DIR
@click.option("--dataset", help="Use this data set instead of ML-1M (or its synthetic twin).")
@click.option("--epochs", type=int, help="Cap the epochs of every run (e.g. 3 for a smoke test).")
@click.option("--seed", type=click.IntRange(min=0), default=42, show_default=True)
@click.option("--device", default="auto", show_default=True)
@THREADS
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option(
    "--recipe",
    type=click.Choice(["fast", "notebook"]),
    default="fast",
    show_default=True,
    help="fast: aerec's own recipes (minutes on a CPU); notebook: the notebook's 500 epochs "
    "at 1e-4 (about 15 minutes on 2 cores).",
)
@click.option(
    "--full/--no-full",
    default=False,
    show_default=True,
    help="Also train the kernelised models (Sparse FC, GLocal-K: several minutes each).",
)
def run_job(out, data_dir, dataset, epochs, seed, device, threads, progress, recipe, full) -> None:
    """The main job: train the showcase (the notebook's two best models, I-AutoRec, the bias
    baseline), write a summary table and report.html."""
    from aerec.pipeline import run_default_job

    options = RunOptions(seed, device, threads, progress)
    options.torch_device()  # a bad device fails before anything is written
    summary = run_default_job(
        out,
        data_dir,
        dataset,
        epochs,
        seed,
        options,
        say=lambda line: click.echo(line, err=True),
        recipe=recipe,
        full=full,
    )
    click.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    click.echo(f"summary: {out / 'summary.md'}")
