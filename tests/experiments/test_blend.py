"""``aerec experiment blend``: rows' predictions combined with weights fitted on validation."""

from __future__ import annotations

import shutil

import pytest

from aerec.errors import CheckpointError, ConfigError
from aerec.experiments.blend import blend_experiment, blend_folders, blend_summary
from aerec.runs import read_run
from tests.experiments.tiny import SMALL_ITEM_AUTOREC, write_spec
from tests.helpers import run_cli

ROWS = ("sigmoid", "elu")


@pytest.fixture
def runs(tiny_experiment, tmp_path, monkeypatch):
    """(spec, a copy of the tiny experiment's runs dir, its table)."""
    spec, runs_dir, table = tiny_experiment
    monkeypatch.setenv("AEREC_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "runs"
    shutil.copytree(runs_dir, copy)
    return spec, copy, table


def _folders(runs_dir, table, seed):
    rows = table[table["seed"] == seed]
    return {
        row: runs_dir / "tiny" / run for row, run in zip(rows["row"], rows["run_id"], strict=True)
    }


def test_the_blend_is_at_least_as_good_as_each_member_on_validation(runs):
    _spec, runs_dir, table = runs
    result = blend_folders(_folders(runs_dir, table, 1))
    assert set(result.weights) == set(ROWS) and result.seed == 1
    # least squares with an intercept contains each member alone: on the ratings it was
    # fitted on, the blend cannot be worse than any of them
    assert result.val_rmse <= min(result.member_val_rmse.values()) + 1e-9
    for row in ROWS:  # the members' own test scores are the runs' own
        member = table[(table["seed"] == 1) & (table["row"] == row)]
        assert result.members[row]["rmse"] == pytest.approx(member["test_rmse"].item(), abs=1e-6)
    assert result.test["n"] == table["test_n"].iloc[0]


def test_every_seed_with_every_row_finished_is_blended_and_written(runs):
    spec, runs_dir, _table = runs
    out = blend_experiment(spec, runs_dir, ROWS)
    assert out["seed"].tolist() == [1, 2, 3]
    assert (runs_dir / "tiny" / "blend-sigmoid-elu.csv").is_file()
    summary = blend_summary(out, ROWS)
    assert summary["configuration"].tolist() == ["blend", *ROWS]
    assert summary["seeds"].tolist() == [3, 3, 3]


def test_runs_of_different_splits_are_refused(runs):
    _spec, runs_dir, table = runs
    folders = _folders(runs_dir, table, 1)
    other = runs_dir / "tiny" / "other-split"
    shutil.copytree(folders["elu"], other)
    config = (other / "config.toml").read_text()
    (other / "config.toml").write_text(config.replace("split_seed = 42", "split_seed = 7"))
    assert read_run(other)[0].data.split_seed == 7
    with pytest.raises(ConfigError, match="different splits"):
        blend_folders({"sigmoid": folders["sigmoid"], "elu": other})


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["--rows", "sigmoid"], "two or more different rows"),
        (["--rows", "sigmoid", "--rows", "sigmoid"], "two or more different rows"),
        (["--rows", "sigmoid", "--rows", "tanh"], "'tanh' is not a row of tiny"),
        (["--rows", "sigmoid", "--rows", "elu", "--seeds", "9"], "no seed has every one"),
    ],
)
def test_bad_rows_are_one_line_and_write_nothing(runs, tmp_path, capsys, rows, message):
    _, runs_dir, _ = runs
    spec = write_spec(tmp_path)
    code, _out, err = run_cli(
        ["experiment", "blend", str(spec), "--runs-dir", str(runs_dir), *rows], capsys
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not list((runs_dir / "tiny").glob("blend-*"))


def test_the_command_prints_the_seeds_and_the_summary(runs, tmp_path, capsys):
    _, runs_dir, _ = runs
    spec = write_spec(tmp_path)
    args = ["--rows", "sigmoid", "--rows", "elu"]
    code, out, err = run_cli(
        ["experiment", "blend", str(spec), "--runs-dir", str(runs_dir), *args], capsys
    )
    assert code == 0, err
    assert "weight sigmoid" in out and "blend - row, global" in out
    assert "seed 3: blend test RMSE" in err


REFIT_BLEND_SPEC = f"""
[experiment]
name = "refit-blend"
description = "Two rows and the refit of one."
seeds = [1]
baseline = "sigmoid"
{SMALL_ITEM_AUTOREC}
[[variants]]
label = "sigmoid"
model = {{ activation = "sigmoid" }}

[[variants]]
label = "elu"
model = {{ activation = "elu" }}

[[variants]]
label = "elu, refit"
model = {{ activation = "elu" }}
run = {{ refit = true }}
"""


def test_a_refit_member_is_weighted_on_its_selection_runs_validation(tmp_path, monkeypatch):
    """The refit row's weight is fitted on its selection run's validation predictions (here
    the "elu" row's run): the same weights as the blend of the rows themselves; its test
    predictions are the refit model's."""
    from aerec.experiments import load_spec, run_experiment

    monkeypatch.setenv("AEREC_CACHE_DIR", str(tmp_path / "cache"))
    spec = load_spec(write_spec(tmp_path, REFIT_BLEND_SPEC, "rb.toml"))
    table = run_experiment(spec, tmp_path / "runs", progress=False, say=lambda s: None)
    folders = dict(
        zip(table["row"], tmp_path / "runs" / "refit-blend" / table["run_id"], strict=True)
    )
    plain = blend_folders({k: folders[k] for k in ("sigmoid", "elu")})
    refit = blend_folders({"sigmoid": folders["sigmoid"], "elu": folders["elu, refit"]})
    assert refit.weights == plain.weights and refit.intercept == plain.intercept
    assert refit.member_val_rmse == plain.member_val_rmse
    refit_rmse = table.loc[table["row"] == "elu, refit", "test_rmse"].item()
    assert refit.members["elu"]["rmse"] == pytest.approx(refit_rmse, abs=1e-6)
    assert refit.test["rmse"] != plain.test["rmse"]
    shutil.rmtree(folders["elu"])  # the refit's selection run, gone: one clear error
    with pytest.raises(CheckpointError, match=r"selection run .* is missing"):
        blend_folders({"sigmoid": folders["sigmoid"], "elu": folders["elu, refit"]})
