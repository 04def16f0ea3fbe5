"""The runner: trains what is missing, skips what is done, resumes, collects the table."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from aerec.errors import CheckpointError, DataError
from aerec.experiments import Overrides, collect, load_spec, plan, run_experiment
from aerec.experiments import runner as runner_module
from aerec.experiments.runner import RESULTS_CSV, RESULTS_PARQUET
from tests.experiments.tiny import SMALL_ITEM_AUTOREC, TINY_SPEC, write_spec

COLUMNS = (
    "row",
    "baseline",
    "variant",
    "seed",
    "run_id",
    "test_rmse",
    "test_mae",
    "test_user_rmse",
    "val_rmse",
    "best_epoch",
    "epochs_run",
    "train_seconds",
    "ref_user_rmse",
    "rmse@<50",
    "n@<50",
)


def _copy(tiny_experiment, tmp_path):
    spec, runs_dir, _ = tiny_experiment
    copy = tmp_path / "runs"
    shutil.copytree(runs_dir, copy)
    return spec, copy


def _no_training(monkeypatch, calls=None, error=None):
    def fake(
        config,
        out,
        options=None,
        data_dir=None,
        resume=False,
        tensorboard=None,
        wait=False,
        selection=None,
    ):
        if calls is not None:
            calls.append((out.name, resume))
        if error is not None:
            raise error

    monkeypatch.setattr(runner_module, "train_run", fake)


def test_runs_every_row_and_seed_into_one_table(tiny_experiment):
    _, runs_dir, table = tiny_experiment
    root = runs_dir / "tiny"
    assert len(table) == 6 and all(c in table for c in COLUMNS)
    assert list(table["row"]) == ["sigmoid", "elu"] * 3 and list(table["seed"]) == [
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    assert set(table["baseline"]) == {"", "sigmoid"}
    assert (table["epochs_run"] == 2).all() and table["test_rmse"].between(0, 5).all()
    assert table.loc[table["row"] == "sigmoid", "ref_user_rmse"].eq(0.916).all()
    for run_id in table["run_id"]:
        assert (root / run_id / "metrics.json").is_file()
    metrics = json.loads((root / table["run_id"][0] / "metrics.json").read_text())
    assert table["test_rmse"][0] == metrics["test_rmse"]
    parquet, csv = pd.read_parquet(root / RESULTS_PARQUET), pd.read_csv(root / RESULTS_CSV)
    pd.testing.assert_frame_equal(parquet, table)
    assert list(csv["run_id"]) == list(table["run_id"])
    info = json.loads((root / "experiment.json").read_text())
    assert info["axes"] == ["variant"] and info["seeds"] == [1, 2, 3]


def test_finished_runs_are_skipped(tiny_experiment, tmp_path, monkeypatch):
    spec, runs_dir = _copy(tiny_experiment, tmp_path)
    calls = []
    _no_training(monkeypatch, calls)
    table = run_experiment(spec, runs_dir, progress=False, say=lambda s: None)
    assert calls == [] and len(table) == 6


def test_missing_runs_are_started_and_checkpointed_ones_resumed(
    tiny_experiment, tmp_path, monkeypatch
):
    spec, runs_dir = _copy(tiny_experiment, tmp_path)
    planned = plan(spec, runs_dir)
    shutil.rmtree(planned[1].folder)
    (planned[2].folder / "metrics.json").unlink()
    (planned[2].folder / "checkpoint").mkdir()
    assert [p.status for p in plan(spec, runs_dir)][:3] == ["done", "todo", "resume"]
    calls = []
    _no_training(monkeypatch, calls)
    lines = []
    table = run_experiment(spec, runs_dir, progress=False, say=lines.append)
    # always resume: safe in any state, as a run's folder is named by its config
    assert calls == [(planned[1].run.run_id, True), (planned[2].run.run_id, True)]
    assert "6 runs: 4 done, 1 to resume, 1 to start" in lines[0]
    assert len(table) == 4 and "4 of 6 runs finished" in lines[-1]


def test_interrupt_keeps_finished_runs_and_writes_the_table(tiny_experiment, tmp_path, monkeypatch):
    spec, runs_dir = _copy(tiny_experiment, tmp_path)
    first = plan(spec, runs_dir)[0]
    shutil.rmtree(first.folder)
    (runs_dir / "tiny" / RESULTS_CSV).unlink()
    _no_training(monkeypatch, error=KeyboardInterrupt())
    lines = []
    with pytest.raises(KeyboardInterrupt):
        run_experiment(spec, runs_dir, progress=False, say=lines.append)
    assert any("run the same command again to resume" in line for line in lines)
    assert len(pd.read_csv(runs_dir / "tiny" / RESULTS_CSV)) == 5


def test_a_failing_run_names_its_folder(tiny_experiment, tmp_path, monkeypatch):
    spec, runs_dir = _copy(tiny_experiment, tmp_path)
    folder = plan(spec, runs_dir)[3].folder
    shutil.rmtree(folder)
    _no_training(monkeypatch, error=DataError("no such data set"))
    with pytest.raises(DataError, match=f"run {folder}: no such data set"):
        run_experiment(spec, runs_dir, progress=False, say=lambda s: None)


def test_collect_rebuilds_the_table_from_folders(tiny_experiment, tmp_path):
    spec, runs_dir = _copy(tiny_experiment, tmp_path)
    original = pd.read_parquet(runs_dir / "tiny" / RESULTS_PARQUET)
    for name in (RESULTS_CSV, RESULTS_PARQUET):
        (runs_dir / "tiny" / name).unlink()
    lines = []
    table = collect(spec, runs_dir, say=lines.append)
    pd.testing.assert_frame_equal(table, original)
    assert (runs_dir / "tiny" / RESULTS_PARQUET).is_file() and "6 of 6" in lines[0]


def test_overrides_are_part_of_the_run_ids(tiny_experiment, tmp_path):
    spec, runs_dir = _copy(tiny_experiment, tmp_path)
    capped = plan(spec, runs_dir, Overrides(seeds=(1, 9), epochs=1))
    assert len(capped) == 4 and {p.status for p in capped} == {"todo"}
    assert collect(spec, runs_dir, Overrides(epochs=1)).empty


def test_collect_refuses_a_folder_whose_config_was_edited(tiny_experiment, tmp_path):
    spec, runs_dir = _copy(tiny_experiment, tmp_path)
    config = plan(spec, runs_dir)[0].folder / "config.toml"
    config.write_text(config.read_text().replace("hidden = 8", "hidden = 9"))
    with pytest.raises(CheckpointError, match="differs from the spec's config"):
        collect(spec, runs_dir)


def test_an_empty_experiment_collects_an_empty_table(tmp_path):
    spec = load_spec(write_spec(tmp_path, TINY_SPEC))
    table = collect(spec, tmp_path / "runs")
    assert table.empty and (tmp_path / "runs" / "tiny" / RESULTS_CSV).is_file()


OTHER_SPEC = (
    TINY_SPEC.split("[[variants]]")[0]
    .replace('name = "tiny"', 'name = "other"')
    .replace('baseline = "sigmoid"', 'baseline = "elu again"')
    + """
[[variants]]
label = "elu again"
model = { activation = "elu", last_activation = "elu" }

[[variants]]
label = "tanh"
model = { activation = "tanh" }
"""
)


def test_a_run_another_spec_trained_with_the_same_config_is_copied(
    tiny_experiment, tmp_path, monkeypatch
):
    spec, runs_dir = _copy(tiny_experiment, tmp_path)
    (plan(spec, runs_dir)[1].folder / "checkpoint").mkdir()  # a leftover: not copied
    other = load_spec(write_spec(tmp_path, OTHER_SPEC, "other.toml"))
    planned = plan(other, runs_dir)
    elu = {p.run.seed: p.folder for p in plan(spec, runs_dir) if p.run.row.label == "elu"}
    assert [(p.status, p.source) for p in planned] == [
        ("copy", elu[1]), ("todo", None), ("copy", elu[2]), ("todo", None),
        ("copy", elu[3]), ("todo", None),
    ]  # fmt: skip
    calls, lines = [], []
    _no_training(monkeypatch, calls)
    table = run_experiment(other, runs_dir, progress=False, say=lines.append)
    assert sorted(calls) == sorted((p.run.run_id, True) for p in planned[1::2])
    assert "6 runs: 0 done, 3 to copy from identical runs, 0 to resume, 3 to start" in lines[0]
    copied = planned[0].folder
    assert (copied / "reused_from.txt").read_text() == f"{elu[1]}\n"
    assert (copied / "metrics.json").read_text() == (elu[1] / "metrics.json").read_text()
    assert not (copied / "checkpoint").exists() and (copied / "model").is_dir()
    assert (
        list(table["row"]) == ["elu again"] * 3
        and table["run_id"]
        .str.endswith(tuple(p.folder.name.rsplit("-", 2)[-1] for p in planned[::2]))
        .all()
    )


def test_reuse_can_be_switched_off_and_needs_the_same_config(
    tiny_experiment, tmp_path, monkeypatch
):
    _, runs_dir = _copy(tiny_experiment, tmp_path)
    other = load_spec(write_spec(tmp_path, OTHER_SPEC, "other.toml"))
    assert {p.status for p in plan(other, runs_dir, reuse=False)} == {"todo"}
    source = plan(other, runs_dir)[0].source
    config = source / "config.toml"  # same id, edited config: not the same run
    config.write_text(config.read_text().replace("hidden = 8", "hidden = 9"))
    assert plan(other, runs_dir)[0].status == "todo"
    calls = []
    _no_training(monkeypatch, calls)
    run_experiment(other, runs_dir, progress=False, say=lambda s: None, reuse=False)
    assert len(calls) == 6


REFIT_SPEC = f"""
[experiment]
name = "refit"
description = "A row and its refit."
seeds = [1]
baseline = "plain"
{SMALL_ITEM_AUTOREC}
[[variants]]
label = "refit"
model = {{ activation = "sigmoid" }}
run = {{ refit = true }}

[[variants]]
label = "plain"
model = {{ activation = "sigmoid" }}
"""


@pytest.mark.parametrize("only", [(), ("refit",)])
def test_a_refit_row_chooses_on_the_run_of_its_plain_row(tmp_path, only):
    """The refit row's selection run is the plain row's run, trained once for both (the
    refit row comes first here: it trains the plain row's folder, which the plain row then
    finds done); with --only refit, the plain row's folder is made all the same."""
    spec = load_spec(write_spec(tmp_path, REFIT_SPEC, "refit.toml"))
    runs = tmp_path / "runs"
    run_experiment(spec, runs, progress=False, say=lambda s: None, only=only)
    refit, plain = (p.folder for p in plan(spec, runs))
    metrics = json.loads((refit / "metrics.json").read_text())
    assert metrics["refit"]["selection"] == str(plain.resolve())
    assert sorted(p.name for p in refit.parent.iterdir() if p.is_dir()) == sorted(
        [refit.name, plain.name]
    )
    assert not (refit / "selection").exists() and (plain / "metrics.json").is_file()
    table = collect(spec, runs, say=lambda s: None, write=False)
    assert list(table["row"]) == ["refit", "plain"]  # both collected, --only or not
