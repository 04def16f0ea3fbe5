"""Training as a plan of phases: optimizers, parameter sets, selection, and an exact resume
after ``kill -9`` anywhere, the phase boundary included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from aerec.errors import ConfigError
from aerec.plan import TrainConfig, as_plan
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions

PLAN = (
    TrainConfig(name="warm", epochs=3, patience=0, lr=3e-3, batch_size=32, schedule="cosine"),
    TrainConfig(
        name="polish",
        optimizer="lbfgs",
        lr=1.0,
        loss="sse",
        epochs=3,
        iterations=3,
        restart=False,  # the L-BFGS memory crosses rounds, so the checkpoint must hold it
        patience=0,
    ),
)
MODEL = {"layers": (16, 8, 16), "dropout": 0.0}

CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from aerec.data.splits import split
    from aerec.recommender import AutoRecommender
    from aerec.training import RunOptions, checkpoint
    from tests.helpers import toy_encoded
    from tests.training.test_plan import MODEL, PLAN

    kill_after, folder = int(sys.argv[1]), sys.argv[2]
    save, saves = checkpoint.save, []

    def save_then_maybe_die(*args):
        save(*args)
        saves.append(1)
        if len(saves) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    checkpoint.save = save_then_maybe_die
    data = toy_encoded(n_users=100, n_items=60, seed=2)
    parts = split(data, "stratified", seed=0)
    options = RunOptions(seed=3, checkpoint_seconds=0)  # a save after every epoch
    AutoRecommender("deep", PLAN, options, **MODEL).fit(
        data, parts.train, parts.val, checkpoint_dir=folder
    )
    """
)


def _weights(rec):
    return {k: v.clone() for k, v in rec.model_.state_dict().items()}


@pytest.fixture(scope="module")
def whole(data, parts):
    return AutoRecommender("deep", PLAN, RunOptions(seed=3), **MODEL).fit(
        data, parts.train, parts.val
    )


def test_a_two_phase_plan_runs_both_phases(whole):
    phases = [r["phase"] for r in whole.history_]
    assert phases == ["warm"] * 3 + ["polish"] * 3
    assert [r["epoch"] for r in whole.history_] == [1, 2, 3, 4, 5, 6]
    assert whole.best_epoch_ >= 4  # the kept epoch is one of the last phase


# saves: after epochs 1, 2, 3 of "warm", at the boundary (4th), after rounds 1, 2, 3
@pytest.mark.parametrize("kill_after", [2, 4, 5], ids=["mid-adam", "boundary", "mid-lbfgs"])
def test_kill_9_resumes_to_the_same_bits(data, parts, whole, tmp_path, kill_after):
    folder = tmp_path / "checkpoint"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(kill_after), str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    resumed = AutoRecommender("deep", PLAN, RunOptions(seed=3), **MODEL).fit(
        data, parts.train, parts.val, checkpoint_dir=folder, resume=True
    )
    assert resumed.history_ == [
        {**r, "seconds": s["seconds"]}
        for r, s in zip(whole.history_, resumed.history_, strict=True)
    ]
    assert resumed.best_epoch_ == whole.best_epoch_
    for x, y in zip(_weights(whole).values(), _weights(resumed).values(), strict=True):
        assert torch.equal(x, y)


def test_keep_last_keeps_the_last_epoch(data, parts):
    plan = (TrainConfig(epochs=4, patience=0, lr=0.3, batch_size=32, keep="last"),)
    rec = AutoRecommender("autorec", plan, RunOptions(seed=1), hidden=8).fit(
        data, parts.train, parts.val
    )
    assert rec.best_epoch_ == 4


@pytest.mark.parametrize("optimizer", ["adamw", "lbfgs"])
def test_other_optimizers_train(data, parts, optimizer):
    extra = {"lr": 1.0, "loss": "sse", "iterations": 4} if optimizer == "lbfgs" else {}
    phase = TrainConfig(optimizer=optimizer, epochs=3, patience=0, batch_size=32, **extra)
    rec = AutoRecommender("autorec", (phase,), RunOptions(seed=1), hidden=8).fit(
        data, parts.train, parts.val
    )
    losses = [r["train_loss"] for r in rec.history_]
    assert losses[-1] < losses[0]


def test_a_parameter_set_the_model_lacks_is_one_line(data, parts):
    phase = TrainConfig(epochs=1, params="decoder")
    with pytest.raises(ConfigError, match="no parameter sets"):
        AutoRecommender("autorec", (phase,), hidden=8).fit(data, parts.train, parts.val)


def test_plan_rules():
    with pytest.raises(ConfigError, match="phase names must differ"):
        as_plan((TrainConfig(), TrainConfig()))
    with pytest.raises(ConfigError, match="lbfgs phase"):
        TrainConfig(optimizer="lbfgs", noise="dropout", noise_level=0.2)
    with pytest.raises(ConfigError, match="lr must be > 0"):
        TrainConfig(lr=float("nan"))
