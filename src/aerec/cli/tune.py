"""``aerec tune``: Optuna's search over a spec's axes and [tune] ranges, on validation RMSE."""

from __future__ import annotations

from pathlib import Path

import click

from aerec.cli.options import DATA_DIR, THREADS
from aerec.errors import ConfigError
from aerec.training import RunOptions


@click.command()
@click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--trials",
    type=int,
    default=20,
    show_default=True,
    help="Finished trials wanted in all; a resumed study runs only the missing ones.",
)
@click.option("--timeout", type=float, help="Start no new trial after this many seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampler.")
@click.option(
    "--study-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="studies",
    show_default=True,
    help="The study goes to STUDY_DIR/<spec name>/ (study.db, trials.csv, best.toml).",
)
@click.option("--storage", help="An Optuna storage URL instead of STUDY_DIR/<name>/study.db.")
@click.option(
    "--prune/--no-prune",
    default=True,
    show_default=True,
    help="Stop trials whose validation RMSE is worse than the median at the same epoch.",
)
@click.option(
    "--warmup-epochs",
    type=int,
    default=10,
    show_default=True,
    help="Prune no trial in its first N epochs.",
)
@DATA_DIR
@click.option(
    "--tensorboard",
    type=click.Path(file_okay=False, path_type=Path),
    help="Log each trial's curves to TENSORBOARD/<spec name>/trial-<n>/.",
)
@click.option("--device", default="auto", show_default=True)
@THREADS
def tune(
    spec_file,
    trials,
    timeout,
    seed,
    study_dir,
    storage,
    prune,
    warmup_epochs,
    data_dir,
    tensorboard,
    device,
    threads,
):
    """Search SPEC_FILE's [grid] axes, variants and [tune] ranges for the lowest validation
    RMSE (needs pip install 'aerec[tune]'); running it again resumes the study."""
    from aerec.experiments import load_spec
    from aerec.experiments import tune as tuning
    from aerec.extras import require

    options = tuning.TuneOptions(trials, timeout, seed, prune, warmup_epochs, storage, tensorboard)
    optuna = require("tune", "aerec tune")
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # we print one line per trial
    spec = load_spec(spec_file)
    run_options = RunOptions(device=device, threads=threads)
    run_options.torch_device()  # a bad device fails before the study is made
    if storage is not None:
        _check_storage(storage)
    say = lambda line: click.echo(line, err=True)  # noqa: E731
    study = tuning.tune(spec, study_dir, options, run_options, data_dir, say)
    folder = tuning.study_folder(spec, study_dir)
    best = tuning.best_trial(study)
    if best is None:
        click.echo("no trial has completed yet")
    else:
        click.echo(f"best trial {best.number}: val RMSE {best.value:.4f}")
        for key, value in best.params.items():
            click.echo(f"  {key} = {value}")
        click.echo(f"config: {folder / tuning.BEST_TOML}")
    click.echo(f"trials: {folder / tuning.TRIALS_CSV}")


def _check_storage(url: str) -> None:
    """An Optuna storage URL that SQLAlchemy can open, or a one-line error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(
            f"--storage {url!r} is not a database URL SQLAlchemy can open ({exc}); "
            "e.g. sqlite:///study.db"
        ) from None
