"""Experiments: specs (a base config, grid axes, variants, seeds, baselines), the resumable
runner that trains one run folder per (row, seed), the collected table and its statistics."""

from aerec.experiments.expand import ExperimentRun, Row, expand_rows, expand_runs
from aerec.experiments.runner import (
    Overrides,
    PlannedRun,
    collect,
    experiment_dir,
    plan,
    read_results,
    run_experiment,
)
from aerec.experiments.spec import ExperimentSpec, load_spec, parse_spec

__all__ = [
    "ExperimentRun",
    "ExperimentSpec",
    "Overrides",
    "PlannedRun",
    "Row",
    "collect",
    "expand_rows",
    "expand_runs",
    "experiment_dir",
    "load_spec",
    "parse_spec",
    "plan",
    "read_results",
    "run_experiment",
]
