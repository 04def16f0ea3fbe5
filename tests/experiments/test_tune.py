"""``aerec tune``: the [tune] table, the search, resuming, pruning, the trials table, errors."""

from __future__ import annotations

import json
import sys

import optuna
import pandas as pd
import pytest

from aerec.config import read_toml
from aerec.errors import ConfigError
from aerec.experiments import expand_rows, load_spec
from aerec.experiments.spec import Range
from aerec.experiments.tune import (
    STARTUP_TRIALS,
    PruneOnValRMSE,
    TuneOptions,
    best_trial,
    median_pruner,
    suggest_config,
    tune,
)
from aerec.recommender import AutoRecommender
from aerec.runs import RunConfig
from aerec.training import RunOptions
from aerec.training.trainer import Trainer
from tests.experiments.tiny import write_spec
from tests.helpers import read_scalars, run_cli

SEARCH = """
[experiment]
name = "search"
seeds = [7]

[data]
dataset = "synthetic-200x100x8000"
split_seed = 42

[model]
name = "autorec"
based = "user"

[train]
epochs = 3
batch_size = 64

[grid]
"model.activation" = ["sigmoid", "elu"]

[tune]
"train.lr" = { low = 1e-3, high = 3e-2, log = true }
"model.hidden" = { low = 4, high = 16 }
"""
GRID_ONLY = SEARCH.split("[tune]")[0]
ONE_THREAD = RunOptions(threads=1)


def tune_cli(spec, study_dir, *args) -> list[str]:
    return ["tune", str(spec), "--study-dir", str(study_dir), "--threads", "1", *args]


# -- the [tune] table --------------------------------------------------------------------------
def test_ranges_parse_in_both_spellings(tmp_path):
    nested = SEARCH.replace('"model.hidden" = { low = 4, high = 16 }', "")
    nested += "[tune.model]\nhidden = { low = 4, high = 16 }\n"
    for text in (SEARCH, nested):
        spec = load_spec(write_spec(tmp_path, text, "search.toml"))
        assert spec.tune == {
            "train.lr": Range(1e-3, 3e-2, log=True),
            "model.hidden": Range(4, 16),
        }
        assert spec.tune["model.hidden"].integer and not spec.tune["train.lr"].integer


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('"train.lrr" = { low = 1, high = 2 }', "unknown key 'lrr'"),
        ('"lr" = { low = 1, high = 2 }', "is not a config key"),
        ('"train.lr" = { low = 0.1, high = 0.01 }', "needs numbers low < high"),
        ('"train.lr" = { low = 0.0, high = 0.1, log = true }', "low must be > 0"),
        ('"train.lr" = { lo = 0.1, high = 0.2 }', "unknown key 'lo'"),
        ('"train.lr" = 0.01', "must be a range"),
        ('"model.activation" = { low = 1, high = 2 }', "also a [grid] axis"),
        ('"model.hidden" = { low = 4.0, high = 16.0 }', "has the wrong type"),
        ('"model.dropout" = { low = 0.0, high = 0.5 }', "unknown key 'dropout'"),
    ],
)
def test_bad_tune_tables_are_one_line_errors(tmp_path, line, message):
    path = write_spec(tmp_path, f"{GRID_ONLY}[tune]\n{line}\n", "search.toml")
    with pytest.raises(ConfigError) as error:
        load_spec(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_range_may_not_override_a_variant(tmp_path):
    text = f'{GRID_ONLY}[[variants]]\nlabel = "slow"\ntrain = {{ lr = 0.001 }}\n'
    text += '[tune]\n"train.lr" = { low = 1e-3, high = 1e-2 }\n'
    with pytest.raises(ConfigError, match="set by variant 'slow'"):
        load_spec(write_spec(tmp_path, text, "search.toml"))


def test_list_values_are_json_choices(tmp_path):
    text = GRID_ONLY.replace('name = "autorec"', 'name = "deep"').replace(
        '"model.activation" = ["sigmoid", "elu"]', '"model.layers" = [[8, 4, 8], [16, 8, 16]]'
    )
    spec = load_spec(write_spec(tmp_path, text, "deep.toml"))
    trial = optuna.trial.FixedTrial({"model.layers": "[16, 8, 16]"})
    assert suggest_config(trial, spec, expand_rows(spec)).model.layers == (16, 8, 16)


# -- the search ---------------------------------------------------------------------------------
def test_tune_runs_trials_writes_the_table_and_resumes(tmp_path, capsys):
    spec, studies = write_spec(tmp_path, SEARCH, "search.toml"), tmp_path / "studies"
    code, out, err = run_cli(tune_cli(spec, studies, "--trials", "3"), capsys)
    assert code == 0, err
    assert "search: 0 of 3 trials finished" in err and "trial 2: val RMSE" in err
    first = pd.read_csv(studies / "search" / "trials.csv")
    assert list(first["trial"]) == [0, 1, 2] and set(first["state"]) == {"complete"}
    assert first["train.lr"].between(1e-3, 3e-2).all()
    assert first["model.hidden"].between(4, 16).all()
    assert (first["epochs"] == 3).all() and first["val_rmse"].notna().all()
    best = first.loc[first["val_rmse"].idxmin()]
    assert f"best trial {best['trial']}: val RMSE {best['val_rmse']:.4f}" in out

    code, out, err = run_cli(tune_cli(spec, studies, "--trials", "5"), capsys)
    assert code == 0, err
    assert "search: 3 of 5 trials finished" in err and "trial 0:" not in err
    again = pd.read_csv(studies / "search" / "trials.csv")
    assert list(again["trial"]) == [0, 1, 2, 3, 4]
    pd.testing.assert_frame_equal(again.head(3), first)  # resumed, not restarted

    code, _, err = run_cli(tune_cli(spec, studies, "--trials", "5"), capsys)
    assert code == 0 and "5 of 5 trials finished" in err and "trial 5" not in err

    write_spec(tmp_path, SEARCH.replace("epochs = 3", "epochs = 4"), "search.toml")
    code, _, err = run_cli(tune_cli(spec, studies, "--trials", "6"), capsys)
    assert code == 2 and "was begun with a different" in err and len(err.splitlines()) == 1
    assert len(pd.read_csv(studies / "search" / "trials.csv")) == 5


def test_best_toml_retrains_to_the_best_validation_rmse(tmp_path, capsys):
    spec, studies = write_spec(tmp_path, SEARCH, "search.toml"), tmp_path / "studies"
    code, _, err = run_cli(tune_cli(spec, studies, "--trials", "2"), capsys)
    assert code == 0, err
    table = pd.read_csv(studies / "search" / "trials.csv")
    best = table.loc[table["val_rmse"].idxmin()]
    config = RunConfig.from_dict(read_toml(studies / "search" / "best.toml"))
    assert config.seed == 7 and config.model.hidden == best["model.hidden"]
    out = tmp_path / "best-run"
    args = ["train", "--config", str(studies / "search" / "best.toml"), "--out", str(out)]
    code, _, err = run_cli([*args, "--threads", "1", "--no-progress"], capsys)
    assert code == 0, err
    history = json.loads((out / "history.json").read_text())
    assert min(r["val_rmse"] for r in history) == pytest.approx(best["val_rmse"], rel=1e-12)
    assert best["best_epoch"] == min(history, key=lambda r: r["val_rmse"])["epoch"]


def test_identical_picks_reuse_a_trial_and_test_is_never_scored(tmp_path, monkeypatch):
    def no_test(*args, **kwargs):
        raise AssertionError("tuning must not evaluate a test split")

    fits = []
    original_fit = AutoRecommender.fit

    def counted_fit(self, *args, **kwargs):
        fits.append(self.config.activation)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(AutoRecommender, "evaluate", no_test)
    monkeypatch.setattr(AutoRecommender, "fit", counted_fit)
    spec = load_spec(write_spec(tmp_path, GRID_ONLY, "grid.toml"))
    study = tune(spec, tmp_path / "st", TuneOptions(trials=4), ONE_THREAD, say=lambda s: None)
    table = pd.read_csv(tmp_path / "st" / "search" / "trials.csv")
    assert len(table) == 4 and len(fits) == len(set(fits)) == table["model.activation"].nunique()
    reused = table[table["same_as"].notna()]
    assert len(reused) == 4 - len(fits) >= 2  # two choices, four trials
    for _, row in reused.iterrows():
        assert row["val_rmse"] == table.loc[int(row["same_as"]), "val_rmse"]
    assert best_trial(study).value == table["val_rmse"].min()


def test_trials_log_their_curves_to_tensorboard(tmp_path):
    spec = load_spec(write_spec(tmp_path, SEARCH, "search.toml"))
    options = TuneOptions(trials=1, tensorboard=tmp_path / "board")
    study = tune(spec, tmp_path / "st", options, ONE_THREAD, say=lambda s: None)
    curve = read_scalars(tmp_path / "board" / "search" / "trial-0")["rmse/val"]
    assert [step for step, _ in curve] == [1, 2, 3]
    assert min(v for _, v in curve) == pytest.approx(study.trials[0].value, rel=1e-6)


def test_timeout_stops_starting_trials(tmp_path, capsys):
    spec, studies = write_spec(tmp_path, SEARCH, "search.toml"), tmp_path / "studies"
    code, _, err = run_cli(tune_cli(spec, studies, "--trials", "1000", "--timeout", "1"), capsys)
    assert code == 0, err
    assert 1 <= len(pd.read_csv(studies / "search" / "trials.csv")) < 1000


def test_a_diverged_trial_fails_and_the_study_goes_on(tmp_path, monkeypatch):
    original = Trainer.train_epoch

    def diverge(self, epoch):
        return original(self, epoch) | {"train_loss": float("nan")}

    monkeypatch.setattr(Trainer, "train_epoch", diverge)
    spec = load_spec(write_spec(tmp_path, SEARCH, "search.toml"))
    lines = []
    tune(spec, tmp_path / "st", TuneOptions(trials=2), ONE_THREAD, say=lines.append)
    table = pd.read_csv(tmp_path / "st" / "search" / "trials.csv")
    assert list(table["state"]) == ["fail", "fail"]
    assert "trial 1: failed (training failed: diverged at epoch 1" in lines[-1]


# -- pruning ------------------------------------------------------------------------------------
class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def test_pruned_trials_stop_at_their_first_epoch(tmp_path):
    spec = load_spec(write_spec(tmp_path, SEARCH, "search.toml"))
    lines = []
    study = tune(
        spec, tmp_path / "st", TuneOptions(trials=2), ONE_THREAD, None, lines.append, AlwaysPrune()
    )
    table = pd.read_csv(tmp_path / "st" / "search" / "trials.csv")
    assert list(table["state"]) == ["pruned", "pruned"] and list(table["epochs"]) == [1, 1]
    assert table["val_rmse"].isna().all() and best_trial(study) is None
    assert "trial 1: pruned at epoch 1" in lines[-1]
    assert not (tmp_path / "st" / "search" / "best.toml").exists()
    for seed, same in ((0, True), (1, False)):  # the sampler's picks follow --seed
        options = TuneOptions(trials=2, seed=seed)
        other = tune(spec, tmp_path / f"s{seed}", options, ONE_THREAD, None, print, AlwaysPrune())
        assert ([t.params for t in other.trials] == [t.params for t in study.trials]) == same


def test_median_pruner_stops_a_bad_trial_after_the_warmup():
    study = optuna.create_study(pruner=median_pruner(TuneOptions(warmup_epochs=1)))
    for _ in range(STARTUP_TRIALS):
        trial = study.ask()
        for epoch in (1, 2):
            trial.report(1.0, epoch)
        study.tell(trial, 1.0)
    bad = PruneOnValRMSE(study.ask())
    bad({"epoch": 1, "val_rmse": 9.0})  # in the warm-up: kept
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 2"):
        bad({"epoch": 2, "val_rmse": 9.0})
    PruneOnValRMSE(study.ask())({"epoch": 2, "val_rmse": 0.5})  # better than the median: kept
    unpruned = optuna.create_study(pruner=median_pruner(TuneOptions(prune=False)))
    assert isinstance(unpruned.pruner, optuna.pruners.NopPruner)


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "--trials must be >= 1"),
        (["--timeout", "0"], "--timeout must be > 0"),
        (["--warmup-epochs", "-1"], "--warmup-epochs must be >= 0"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, message):
    spec = write_spec(tmp_path, SEARCH, "search.toml")
    code, _, err = run_cli(tune_cli(spec, tmp_path / "st", *args), capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "st").exists()


def test_a_bad_tune_table_is_a_one_line_cli_error(tmp_path, capsys):
    spec = write_spec(tmp_path, SEARCH.replace('"train.lr"', '"train.lrr"'), "search.toml")
    code, _, err = run_cli(tune_cli(spec, tmp_path / "st"), capsys)
    assert code == 2 and "unknown key 'lrr'" in err and len(err.strip().splitlines()) == 1


def test_missing_optuna_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    spec = write_spec(tmp_path, SEARCH, "search.toml")
    code, _, err = run_cli(tune_cli(spec, tmp_path / "st"), capsys)
    assert code == 2 and "aerec tune needs optuna" in err and "pip install 'aerec[tune]'" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "st").exists()


def test_a_spec_without_axes_or_ranges_has_nothing_to_tune(tmp_path):
    spec = load_spec(write_spec(tmp_path, GRID_ONLY.split("[grid]")[0], "flat.toml"))
    with pytest.raises(ConfigError, match="nothing to tune"):
        tune(spec, tmp_path / "st", TuneOptions(trials=1), ONE_THREAD)
