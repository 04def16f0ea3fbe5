"""``aerec experiment run / collect / blend`` and ``aerec report``.

Importing this module adds both commands to the ``aerec`` group (see ``_register``).
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from aerec.cli import cli
from aerec.cli.options import CHECKPOINT_EVERY, CHECKPOINT_SECONDS, DATA_DIR, THREADS
from aerec.errors import ConfigError
from aerec.training import RunOptions

_SPEC = click.argument("spec_file", type=click.Path(dir_okay=False, path_type=Path))
_RUNS_DIR = click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default="runs",
    show_default=True,
    help="Run folders go to RUNS_DIR/<spec name>/<run id>/.",
)
_EPOCHS = click.option("--epochs", type=int, help="Cap every run's epochs (part of the run ids).")
_DATASET = click.option("--dataset", help="Run on this data set instead of the spec's.")


def _seeds(ctx, param, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value.replace(" ", "").split(",") if v)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of seeds") from None


_SEEDS = click.option("--seeds", callback=_seeds, help="Replace the spec's seeds, e.g. 1,2,3.")


@click.group()
def experiment() -> None:
    """Run experiment specs (grids and variants over seeds) and collect their results."""


@experiment.command("run")
@_SPEC
@_RUNS_DIR
@DATA_DIR
@_EPOCHS
@_SEEDS
@_DATASET
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="ROW-PATTERN",
    help="Run only the rows whose label (or run id) matches this shell-style pattern, e.g. "
    "'elu' or 'hidden=5*'; repeat for more. The table still collects every finished run.",
)
@click.option("--dry-run", is_flag=True, help="List the runs and their state; train nothing.")
@click.option(
    "--tensorboard",
    type=click.Path(file_okay=False, path_type=Path),
    help="Log each run's curves as TensorBoard events to TENSORBOARD/<spec name>/<run id>/ "
    "(needs pip install 'aerec[tensorboard]').",
)
@click.option(
    "--reuse/--no-reuse",
    default=True,
    show_default=True,
    help="Copy a run that another spec under RUNS_DIR has already trained with the same "
    "config (seed included) instead of training it again.",
)
@click.option("--device", default="auto", show_default=True)
@THREADS
@CHECKPOINT_EVERY
@CHECKPOINT_SECONDS
@click.option("--progress/--no-progress", default=True, show_default=True)
def run(
    spec_file,
    runs_dir,
    data_dir,
    epochs,
    seeds,
    dataset,
    only,
    dry_run,
    tensorboard,
    reuse,
    device,
    threads,
    checkpoint_every,
    checkpoint_seconds,
    progress,
):
    """Train SPEC_FILE's missing runs (resuming interrupted ones), then collect the table.

    Several processes may run one spec at once (see docs/parallel.md): each run trains once.
    """
    from aerec.experiments import Overrides, load_spec, plan, run_experiment

    spec = load_spec(spec_file)
    overrides = Overrides(seeds, epochs, dataset)
    if dry_run:
        planned = plan(spec, runs_dir, overrides, reuse, only)
        lines = pd.DataFrame(
            [(p.status, p.run.row.label, p.run.fold, p.run.seed, str(p.folder)) for p in planned],
            columns=["status", "configuration", "fold", "seed", "folder"],
        )
        if lines["fold"].isna().all():
            lines = lines.drop(columns="fold")
        click.echo(lines.to_string(index=False))
        counts = lines["status"].value_counts().to_dict()
        click.echo(f"{len(planned)} runs: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        return
    options = RunOptions(
        device=device,
        threads=threads,
        checkpoint_every=checkpoint_every,
        checkpoint_seconds=checkpoint_seconds,
    )
    options.torch_device()  # a bad device fails before anything is written
    say = lambda line: click.echo(line, err=True)  # noqa: E731
    table = run_experiment(
        spec, runs_dir, overrides, data_dir, options, progress, say, tensorboard, reuse, only
    )
    _print_summary(table)


@experiment.command("collect")
@_SPEC
@_RUNS_DIR
@_EPOCHS
@_SEEDS
@_DATASET
def collect_cmd(spec_file, runs_dir, epochs, seeds, dataset):
    """Rebuild SPEC_FILE's results table from its finished run folders (give the same
    --epochs/--seeds/--dataset as to run)."""
    from aerec.experiments import Overrides, collect, load_spec

    spec = load_spec(spec_file)
    table = collect(
        spec, runs_dir, Overrides(seeds, epochs, dataset), say=lambda s: click.echo(s, err=True)
    )
    _print_summary(table)


@experiment.command("blend")
@_SPEC
@_RUNS_DIR
@DATA_DIR
@_SEEDS
@click.option(
    "--rows",
    "rows",
    multiple=True,
    required=True,
    metavar="ROW",
    help="A row label of the spec to blend; give two or more.",
)
def blend_cmd(spec_file, runs_dir, data_dir, seeds, rows):
    """Blend finished rows of SPEC_FILE: per seed, least-squares weights of their
    predictions fitted on validation, scored on test; writes RUNS_DIR/<spec>/blend-<rows>.csv."""
    from aerec.experiments import Overrides, load_spec
    from aerec.experiments.blend import blend_experiment, blend_summary

    spec = load_spec(spec_file)
    table = blend_experiment(
        spec, runs_dir, rows, Overrides(seeds), data_dir, say=lambda s: click.echo(s, err=True)
    )
    click.echo(table.to_string(index=False))
    click.echo()
    click.echo(blend_summary(table, rows).to_string(index=False))


def _print_summary(table: pd.DataFrame) -> None:
    from aerec.experiments.stats import compare_to_baselines, summarize
    from aerec.reporting import tables

    if table.empty:
        click.echo("no finished runs yet")
        return
    summary = summarize(table, tables.METRICS)
    click.echo(tables.results_table(table, summary).to_string(index=False))
    ranking = tables.ranking_metrics(table)
    if ranking:
        click.echo()
        ranked = tables.ranking_table(table, summarize(table, ranking))
        click.echo(ranked.to_string(index=False))
    if tables.has_folds(table):
        click.echo()
        click.echo(tables.fold_table(table).to_string(index=False))
    paired = [compare_to_baselines(table, m) for m in ("test_rmse", "test_user_rmse")]
    if not paired[0].empty:
        click.echo()
        over = "folds x seeds" if tables.has_folds(table) else "seeds"
        click.echo(tables.paired_table(*paired, over).to_string(index=False))


@click.command("report")
@click.argument("runs_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for report.html, report.md and the PNG files.",
)
@click.option(
    "--skip",
    type=int,
    default=0,
    show_default=True,
    help="Leave out the first N epochs of the curves (the notebook skips 20 to 300).",
)
def report(runs_dir: Path, out: Path, skip: int) -> None:
    """Build a report from RUNS_DIR's experiment tables and run folders (no training)."""
    from aerec.reporting.report import build_report

    if skip < 0:
        raise ConfigError(f"--skip must be >= 0, got {skip}")
    paths = build_report(runs_dir, out, skip)
    click.echo(f"report: {paths['html']}  {paths['md']}")


cli.add_command(experiment)
cli.add_command(report)
