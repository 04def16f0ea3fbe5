"""Refit: choose each phase's epochs on validation, then train afresh on train + validation
for those epochs (RunConfig.refit, aerec.plan.refit_plan)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from aerec.errors import ConfigError
from aerec.plan import TrainConfig, refit_plan
from aerec.runs import RunConfig, train_run
from aerec.training import RunOptions

DATASET = "synthetic-300x150x15000"
VALUES = {
    "data": {"dataset": DATASET, "split": "random"},
    "model": {
        "name": "autorec",
        "based": "item",
        "hidden": 16,
        "activation": "sigmoid",
        "last_activation": "identity",
    },
    "train": {"epochs": 8, "lr": 0.01, "batch_size": 16, "patience": 0},
}


def _records(phase_scores: dict[str, list[float]], named: bool = True) -> list[dict]:
    return [
        {"epoch": k, "val_rmse": score, **({"phase": name} if named else {})}
        for name, scores in phase_scores.items()
        for k, score in enumerate(scores, 1)
    ]


def test_refit_plan_keeps_the_first_lowest_validation_epoch_of_each_phase():
    plan = (
        TrainConfig(name="pretrain", epochs=5, keep="best", patience=3),
        TrainConfig(name="middle", epochs=3, keep="last"),
        TrainConfig(name="finetune", epochs=6, keep="best"),
    )
    history = _records(
        {
            "pretrain": [0.9, 0.8, 0.7, 0.7, 0.75],  # ties: the trainer keeps the first
            "middle": [0.7, 0.69],  # stopped early: keeps the 2 it ran
            "finetune": [0.69, 0.68, 0.685, 0.70],
        }
    )
    refit = refit_plan(plan, history)
    assert [p.epochs for p in refit] == [3, 2, 2]
    assert all(p.keep == "last" and p.patience == 0 for p in refit)
    assert [replace(p, epochs=1, keep="last", patience=0) for p in plan] == [
        replace(p, epochs=1) for p in refit
    ]  # nothing else changes
    one = refit_plan((TrainConfig(epochs=9),), _records({"x": [1.0, 0.5, 0.6]}, named=False))
    assert one[0].epochs == 2


@pytest.mark.parametrize(
    ("plan", "history", "message"),
    [
        ((TrainConfig(keep="last"),), [], "no phase of this plan keeps its best epoch"),
        (
            (TrainConfig(name="a"), TrainConfig(name="b")),
            _records({"a": [1.0]}),
            "no epoch of phase 'b'",
        ),
        ((TrainConfig(),), [{"epoch": 1, "train_rmse": 1.0}], "no validation RMSE"),
    ],
)
def test_refit_plan_refuses_what_it_cannot_refit(plan, history, message):
    with pytest.raises(ConfigError, match=message):
        refit_plan(plan, history)


def test_a_refit_run_equals_a_run_on_train_and_validation_for_the_chosen_epochs(tmp_path):
    """The refit's model is exactly the one a plain run trains on train + validation (the
    random split's val_size 0 train) for the epochs the selection run chose, to its last."""
    options = RunOptions(seed=42, threads=1, progress=False)
    config = RunConfig.from_dict(VALUES | {"refit": True})
    metrics = train_run(config, tmp_path / "refit", options)
    selection = tmp_path / "refit" / "selection"
    history = json.loads((selection / "history.json").read_text())
    scores = [r["val_rmse"] for r in history]
    chosen = scores.index(min(scores)) + 1
    assert len(history) == 8 and 1 < chosen < 8  # a real choice, not the first or last
    assert metrics["refit"]["epochs"] == {"train": chosen}
    assert metrics["refit"]["selection"] == "selection"
    selected = json.loads((selection / "metrics.json").read_text())
    assert metrics["refit"]["selection_val_rmse"] == selected["val_rmse"]
    assert selected["best_epoch"] == chosen and math.isnan(metrics["val_rmse"])
    assert metrics["split"]["n_val"] == 0
    assert metrics["split"]["n_train"] == selected["split"]["n_train"] + selected["split"]["n_val"]

    plain = RunConfig.from_dict(
        VALUES
        | {"data": VALUES["data"] | {"val_size": 0.0}}
        | {"train": VALUES["train"] | {"epochs": chosen, "keep": "last"}}
    )
    direct = train_run(plain, tmp_path / "direct", options)
    for key in ("test_rmse", "test_mae", "test_user_rmse", "ranking"):
        assert metrics[key] == direct[key]
    assert metrics["test_rmse"] != selected["test_rmse"]  # the refit is another model


def test_a_refit_loads_its_data_once_for_both_fits(tmp_path, monkeypatch):
    from aerec import runs

    calls = []
    load = runs.load_data
    monkeypatch.setattr(runs, "load_data", lambda *a, **k: calls.append(a) or load(*a, **k))
    options = RunOptions(seed=42, threads=1, progress=False)
    train_run(RunConfig.from_dict(VALUES | {"refit": True}), tmp_path / "r", options)
    assert len(calls) == 1 and (tmp_path / "r" / "selection" / "metrics.json").is_file()


def test_a_refit_reads_a_finished_selection_back_instead_of_training_it_again(tmp_path):
    options = RunOptions(seed=42, threads=1, progress=False)
    config = RunConfig.from_dict(VALUES | {"refit": True})
    first = train_run(config, tmp_path / "r", options)
    stamp = (tmp_path / "r" / "selection" / "metrics.json").stat().st_mtime_ns
    (tmp_path / "r" / "metrics.json").unlink()  # as if the refit stage had been cut short
    again = train_run(config, tmp_path / "r", options, resume=True)
    assert (tmp_path / "r" / "selection" / "metrics.json").stat().st_mtime_ns == stamp
    assert again["test_rmse"] == first["test_rmse"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"refit": "yes"}, "refit in .* must be true or false"),
        ({"data": {"dataset": DATASET, "val_size": 0.0}}, "val_size is 0"),
        ({"train": {"keep": "last"}}, "no phase of this plan keeps its best epoch"),
        ({"model": {"name": "svd"}, "train": None}, "peer"),
    ],
)
def test_bad_refit_configs_are_one_line_errors(values, message):
    merged = {k: v for k, v in (VALUES | {"refit": True} | values).items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(merged)
