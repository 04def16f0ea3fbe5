"""Every TOML under experiments/ loads and expands; each spec dry-runs from the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from aerec.cli import main
from aerec.config import read_toml
from aerec.experiments import expand_rows, expand_runs, load_spec, plan
from aerec.runs import RunConfig

ROOT = Path(__file__).resolve().parents[2] / "experiments"
FILES = sorted(ROOT.glob("*.toml"))
SPECS = [f for f in FILES if "experiment" in read_toml(f)]
NOTEBOOK = [f for f in SPECS if f.stem.startswith("notebook-")]


def test_the_notebook_and_our_experiments_are_shipped():
    names = {f.stem for f in SPECS}
    for name in (
        "notebook-autorec-activations",
        "notebook-autorec-default-rating",
        "notebook-deep-shapes",
        "notebook-noise-gaussian-autorec",
        "notebook-noise-gaussian-deep",
        "notebook-noise-dropout-deep",
        "notebook-hybrid",
        "notebook-demographic-group",
        "ours-item-autorec",
        "ours-maskout-deep",
        "ours-refeed-deep",
        "ours-side-every-layer",
        "ours-hybrid-activity",
    ):
        assert name in names


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_every_shipped_toml_loads(path, tmp_path):
    values = read_toml(path)
    if "experiment" not in values:  # a plain run config for aerec train --config
        RunConfig.from_dict(values, str(path))
        return
    spec = load_spec(path)
    runs = expand_runs(spec)
    folds = len({r.fold for r in runs})
    assert len(runs) == len(expand_rows(spec)) * len(spec.seeds) * folds
    assert len({r.run_id for r in runs}) == len(runs)
    assert {p.status for p in plan(spec, tmp_path)} == {"todo"}
    if spec.folds is not None:  # cross-validation: the folds are the replicates
        assert folds == 5
        return
    assert len(spec.seeds) >= 3 and all(r.config.data.dataset == "ml-1m" for r in runs)


def test_the_cross_validation_specs_are_shipped():
    for name, dataset, split in (
        ("ml100k-folds", "ml-100k", "predefined"),
        ("ml1m-kfold", "ml-1m", "kfold"),
    ):
        runs = expand_runs(load_spec(ROOT / f"{name}.toml"))
        assert {(r.config.data.dataset, r.config.data.split) for r in runs} == {(dataset, split)}


@pytest.mark.parametrize("path", NOTEBOOK, ids=[f.name for f in NOTEBOOK])
def test_notebook_specs_use_the_notebook_split_and_settings(path):
    for row in expand_rows(load_spec(path)):
        config = row.config(1)
        assert (config.data.split, config.data.split_seed, config.data.test_size) == (
            "stratified",
            42,
            0.1,
        )
        assert config.model.based == "user"
        train = config.plan[0]
        recipe = (train.lr, train.batch_size, train.epochs, train.loss, train.schedule)
        assert recipe == (0.0001, 256, 500, "row_mse", "none")  # not the family's defaults


def test_comparisons_have_baselines():
    for path in SPECS:
        rows = expand_rows(load_spec(path))
        if len(rows) > 1:
            assert sum(r.baseline is None for r in rows) < len(rows), path.name


def test_notebook_figures_are_attached():
    figures = {
        "notebook-autorec-activations": {0.916},
        "notebook-autorec-default-rating": {0.916, 0.912, 0.877},
        "notebook-deep-shapes": {0.856, 0.857},
    }
    for name, expected in figures.items():
        rows = expand_rows(load_spec(ROOT / f"{name}.toml"))
        assert {r.reference.user_rmse for r in rows if r.reference} == expected


def test_dry_run_from_the_cli(tmp_path, capsys):
    main(
        [
            "experiment",
            "run",
            str(ROOT / "notebook-deep-shapes.toml"),
            "--runs-dir",
            str(tmp_path),
            "--dry-run",
        ]
    )
    out = capsys.readouterr().out
    assert "40 runs: 40 todo" in out and "zero, layers=512-256-512" in out  # 4 x 2 x 5 seeds
    assert not (tmp_path / "notebook-deep-shapes").exists()
