"""``aerec train``, ``aerec evaluate`` and ``aerec recommend``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aerec.cli.options import CHECKPOINT_EVERY, DATA_DIR
from aerec.config import read_toml
from aerec.data.matrix import FILL_KINDS
from aerec.data.splits import RUN_SPLITS
from aerec.errors import ConfigError
from aerec.models.activations import ACTIVATIONS
from aerec.models.config import MODELS, SIDE_MODES
from aerec.runs import RunConfig, evaluate_run, read_run, train_run
from aerec.training import RunOptions
from aerec.training.config import LOSSES, SCHEDULES
from aerec.training.corruption import NOISES
from aerec.training.distributed import is_main_process

RANKING_SHOWN = ("precision", "recall", "ndcg", "map", "hit_rate")

# option name -> (section, key); only options the user gives override the config file
_OVERRIDES = {
    "dataset": ("data", "dataset"),
    "split": ("data", "split"),
    "test_size": ("data", "test_size"),
    "val_size": ("data", "val_size"),
    "train_file": ("data", "train"),
    "test_file": ("data", "test"),
    "val_file": ("data", "val"),
    "k": ("data", "k"),
    "fold": ("data", "fold"),
    "relevance": ("data", "relevance"),
    "ranking_k": ("data", "ranking_k"),
    "model": ("model", "name"),
    "based": ("model", "based"),
    "hidden": ("model", "hidden"),
    "layers": ("model", "layers"),
    "activation": ("model", "activation"),
    "last_activation": ("model", "last_activation"),
    "dropout": ("model", "dropout"),
    "l2": ("model", "l2"),
    "l2_encoder": ("model", "l2_encoder"),
    "l2_decoder": ("model", "l2_decoder"),
    "tied": ("model", "tied"),
    "input_fill": ("model", "input_fill"),
    "fill_value": ("model", "fill_value"),
    "side": ("model", "side"),
    "epochs": ("train", "epochs"),
    "lr": ("train", "lr"),
    "weight_decay": ("train", "weight_decay"),
    "batch_size": ("train", "batch_size"),
    "patience": ("train", "patience"),
    "schedule": ("train", "schedule"),
    "loss": ("train", "loss"),
    "noise": ("train", "noise"),
    "noise_level": ("train", "noise_level"),
    "refeed": ("train", "refeed"),
}


TENSORBOARD = click.option(
    "--tensorboard",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also log the per-epoch curves as TensorBoard events to this folder "
    "(needs pip install 'aerec[tensorboard]').",
)


def _layers(ctx, param, value: str | None):
    if value is None:
        return None
    try:
        return [int(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a comma-separated list of sizes, e.g. 256,512,256"
        ) from None


def _fold(ctx, param, value: str | None):
    """A kfold index (a number) or a release's fold name (``u1``)."""
    if value is None:
        return None
    return int(value) if value.isdigit() else value


def _ks(ctx, param, value: str | None):
    if value is None:
        return None
    try:
        return [int(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list, e.g. 5,10,20") from None


_FILE = click.Path(dir_okay=False)


def build_config(config_file: Path | None, seed: int | None, options: dict) -> RunConfig:
    """The config file (if any) with the given command-line options on top."""
    values = read_toml(config_file) if config_file else {}
    values = {k: dict(v) if isinstance(v, dict) else v for k, v in values.items()}
    for option, (section, key) in _OVERRIDES.items():
        if options.get(option) is not None:
            values.setdefault(section, {})[key] = options[option]
    if seed is not None:
        values["seed"] = seed
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
@click.option("--model", type=click.Choice(sorted(MODELS)), help="Model family [autorec].")
@click.option("--based", type=click.Choice(["user", "item"]), help="Rows are users or items.")
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
@click.option("--hidden", type=int, help="AutoRec hidden size [500].")
@click.option("--layers", callback=_layers, help="Deep AutoRec sizes, e.g. 256,512,256.")
@click.option("--activation", type=click.Choice(sorted(ACTIVATIONS)))
@click.option("--last-activation", type=click.Choice(sorted(ACTIVATIONS)))
@click.option("--dropout", type=float, help="Dropout on the latent code (deep).")
@click.option("--l2", type=float, help="AutoRec L2 on the weights.")
@click.option("--l2-encoder", type=float)
@click.option("--l2-decoder", type=float)
@click.option("--tied/--untied", default=None, help="Tie decoder to encoder weights (deep).")
@click.option("--input-fill", type=click.Choice(FILL_KINDS))
@click.option("--fill-value", type=float, help="Constant for unobserved inputs, 0..5.")
@click.option("--side", type=click.Choice(SIDE_MODES), help="Side information.")
@click.option("--epochs", type=int)
@click.option("--lr", type=float)
@click.option("--weight-decay", type=float)
@click.option("--batch-size", type=int)
@click.option("--patience", type=int, help="Early-stopping patience in epochs (0: off).")
@click.option("--schedule", type=click.Choice(SCHEDULES))
@click.option("--loss", type=click.Choice(LOSSES))
@click.option("--noise", type=click.Choice(NOISES))
@click.option("--noise-level", type=float)
@click.option("--refeed/--no-refeed", default=None, help="Dense re-feeding.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The run folder to write.",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run in --out.")
@TENSORBOARD
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=int)
@CHECKPOINT_EVERY
@click.option("--progress/--no-progress", default=True, show_default=True)
def train(
    config_file,
    data_dir,
    seed,
    out,
    resume,
    tensorboard,
    device,
    threads,
    checkpoint_every,
    progress,
    **options,
):
    """Train a model, evaluate it on the test split, write the run folder."""
    config = build_config(config_file, seed, options)
    run_options = RunOptions(
        config.seed, device, threads, progress, checkpoint_every=checkpoint_every
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
@click.option("-n", "n", default=10, show_default=True)
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
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=int)
@click.option("--progress/--no-progress", default=True, show_default=True)
def run_job(out, data_dir, dataset, epochs, seed, device, threads, progress) -> None:
    """The main job: train and evaluate the default models, write a summary table."""
    from aerec.pipeline import run_default_job

    options = RunOptions(seed, device, threads, progress)
    summary = run_default_job(
        out, data_dir, dataset, epochs, seed, options, say=lambda line: click.echo(line, err=True)
    )
    click.echo(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    click.echo(f"summary: {out / 'summary.md'}")
