"""torchrun with 2 CPU processes (gloo) trains to the same metrics as a single process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

ARGS = [
    "train",
    "--dataset",
    "synthetic-300x150x15000",
    "--model",
    "autorec",
    "--based",
    "user",
    "--hidden",
    "32",
    "--epochs",
    "3",
    "--batch-size",
    "32",
    "--loss",
    "row_mse",
    "--seed",
    "3",
    "--no-progress",
]


def _run(cmd: list[str], tmp_path) -> None:
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.skipif(
    shutil.which("torchrun") is None
    and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "torchrun")),
    reason="torchrun not found",
)
@pytest.mark.parametrize(("loss", "batch"), [("row_mse", "32"), ("mse", "33")])
def test_two_processes_match_one(tmp_path, loss, batch):
    """Uneven shards (batch 33, and a last batch of 3 rows) too: the objective is global."""
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable), "torchrun")
    _run([sys.executable, "-m", "aerec", *ARGS, "--threads", "1", "--out", "single"], tmp_path)
    _run(
        [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "aerec", *ARGS, "--out", "ddp"],
        tmp_path,
    )
    single = json.loads((tmp_path / "single" / "metrics.json").read_text())
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    for key in ("test_rmse", "test_mae", "test_user_rmse", "val_rmse"):
        assert ddp[key] == pytest.approx(single[key], rel=1e-3), key
    history = json.loads((tmp_path / "ddp" / "history.json").read_text())
    assert len(history) == 3 and not (tmp_path / "ddp" / "checkpoint").exists()
