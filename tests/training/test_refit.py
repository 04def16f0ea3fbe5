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


PLATEAU = VALUES | {"train": VALUES["train"] | {"lr": 0.1, "epochs": 10, "schedule": "plateau"}}
"""A run whose plateau schedule halves the learning rate before its best epoch (9 of 10)."""


def _lrs(folder) -> list[float]:
    return [r["lr"] for r in json.loads((folder / "history.json").read_text())]


def test_lrs_replay_a_scheduled_run_to_the_bit(tmp_path):
    options = RunOptions(seed=42, threads=1, progress=False)
    train = PLATEAU["train"] | {"keep": "last"}
    scheduled = train_run(RunConfig.from_dict(PLATEAU | {"train": train}), tmp_path / "a", options)
    lrs = _lrs(tmp_path / "a")
    assert len(set(lrs)) > 1  # the schedule changed the rate: the replay has to follow it
    replay = RunConfig.from_dict(PLATEAU | {"train": train | {"schedule": "none", "lrs": lrs}})
    replayed = train_run(replay, tmp_path / "b", options)
    assert _lrs(tmp_path / "b") == lrs
    for key in ("test_rmse", "val_rmse", "test_mae", "ranking"):
        assert replayed[key] == scheduled[key]


def test_refit_plan_replays_the_learning_rates_of_a_scheduled_phase():
    history = [
        {"epoch": k, "val_rmse": s, "lr": lr}
        for k, (s, lr) in enumerate([(0.9, 1e-3), (0.8, 1e-3), (0.7, 5e-4), (0.75, 2.5e-4)], 1)
    ]
    for schedule in ("plateau", "cosine"):
        (phase,) = refit_plan((TrainConfig(epochs=9, schedule=schedule),), history)
        assert (phase.epochs, phase.schedule, phase.lrs) == (3, "none", (1e-3, 1e-3, 5e-4))
    (plain,) = refit_plan((TrainConfig(epochs=9),), history)
    assert plain.lrs is None  # no schedule: lr is every epoch's rate
    with pytest.raises(ConfigError, match="no learning rates"):
        refit_plan((TrainConfig(schedule="plateau"),), [{"epoch": 1, "val_rmse": 1.0}])


def test_a_refit_of_a_plateau_run_follows_its_learning_rates(tmp_path):
    """Without the replay a refit's plateau schedule would read the training RMSE (there is
    no validation) and halve the rate at other epochs."""
    options = RunOptions(seed=42, threads=1, progress=False)
    metrics = train_run(RunConfig.from_dict(PLATEAU | {"refit": True}), tmp_path / "r", options)
    chosen = metrics["refit"]["epochs"]["train"]
    lrs = _lrs(tmp_path / "r" / "selection")[:chosen]
    assert 1 < chosen < 10 and len(set(lrs)) > 1
    assert _lrs(tmp_path / "r") == lrs
    train = PLATEAU["train"] | {"epochs": chosen, "keep": "last", "schedule": "none", "lrs": lrs}
    plain = PLATEAU | {"data": PLATEAU["data"] | {"val_size": 0.0}, "train": train}
    direct = train_run(RunConfig.from_dict(plain), tmp_path / "direct", options)
    for key in ("test_rmse", "test_mae", "ranking"):
        assert metrics[key] == direct[key]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 3, "lrs": (1e-3, 1e-3)}, "one learning rate for each of the 3 epochs"),
        ({"epochs": 2, "lrs": (1e-3, -1e-3)}, "must be > 0 and finite"),
        ({"epochs": 2, "lrs": (1e-3, float("nan"))}, "must be > 0 and finite"),
        ({"epochs": 1, "lrs": (1e-3,), "schedule": "plateau"}, "schedule 'none'"),
        ({"epochs": 1, "lrs": (1.0,), "optimizer": "lbfgs"}, "optimizer 'adam' or 'adamw'"),
    ],
)
def test_bad_lrs_are_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**values)


def test_capped_epochs_cap_the_lrs_too():
    from aerec.plan import cap_epochs

    (phase,) = cap_epochs((TrainConfig(epochs=3, lrs=(3e-3, 2e-3, 1e-3)),), 2)
    assert (phase.epochs, phase.lrs) == (2, (3e-3, 2e-3))
