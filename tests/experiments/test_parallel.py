"""Several ``aerec experiment run`` processes on one spec: each run trains once, every
process exits 0 with the whole table (issue 13), and ``--only`` picks rows."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd

import aerec
from aerec.experiments import Overrides, load_spec, plan
from tests.experiments.tiny import TINY_SPEC, write_spec
from tests.helpers import run_cli

SRC = str(Path(aerec.__file__).parents[1])

# Runs aerec with aerec.runs._train counting each training in LOG (one line per run trained)
# and taking a little longer, so that the second process surely meets runs the first holds.
LAUNCHER = """
import os, sys, time
import aerec.runs as runs
train = runs._train
def counted(config, out, *args):
    with open(os.environ["LOG"], "a") as log:
        log.write(out.name + "\\n")
    time.sleep(0.3)
    return train(config, out, *args)
runs._train = counted
from aerec.cli import main
main(sys.argv[1:])
"""


def _start(spec: Path, runs_dir: Path, log: Path, launcher: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": SRC, "LOG": str(log)}
    args = ["experiment", "run", str(spec), "--runs-dir", str(runs_dir), "--seeds", "1,2"]
    return subprocess.Popen(
        [sys.executable, str(launcher), *args, "--no-progress", "--threads", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_on_one_spec_train_each_run_once(tmp_path):
    spec_file = write_spec(tmp_path)
    launcher = tmp_path / "launch.py"
    launcher.write_text(textwrap.dedent(LAUNCHER))
    runs_dir, log = tmp_path / "runs", tmp_path / "trained.log"
    first = _start(spec_file, runs_dir, log, launcher)
    root = runs_dir / "tiny"
    while not log.exists() and first.poll() is None:  # the first holds its first run
        time.sleep(0.05)
    second = _start(spec_file, runs_dir, log, launcher)
    results = [p.communicate(timeout=300) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], results
    planned = plan(load_spec(spec_file), runs_dir, Overrides(seeds=(1, 2)))
    trained = log.read_text().split()
    assert sorted(trained) == sorted(p.run.run_id for p in planned)  # each exactly once
    assert all(p.status == "done" for p in planned)
    assert any("collected at the end" in err for _, err in results)
    for out, _ in results:  # both print the whole table
        assert out.count("sigmoid") >= 1 and "elu" in out
    table = pd.read_csv(root / "results.csv")
    assert len(table) == 4
    assert not list(root.glob("*/.aerec.lock")) and not list(root.glob(".*.tmp"))


def test_a_killed_holders_run_is_trained_by_the_waiting_process(tmp_path, capsys):
    """A run whose holder died (its lock file left behind) is resumed, not skipped."""
    spec_file = write_spec(tmp_path)
    runs_dir = tmp_path / "runs"
    planned = plan(load_spec(spec_file), runs_dir, Overrides(seeds=(1,)), only=("sigmoid",))
    folder = planned[0].folder
    folder.mkdir(parents=True)
    (folder / ".aerec.lock").write_text("999999\n")  # left by a process killed with -9
    args = ["experiment", "run", str(spec_file), "--runs-dir", str(runs_dir), "--seeds", "1"]
    code, _, err = run_cli([*args, "--only", "sigmoid", "--no-progress", "--threads", "1"], capsys)
    assert code == 0, err
    assert (folder / "metrics.json").is_file() and not (folder / ".aerec.lock").exists()


def test_only_runs_the_matching_rows(tmp_path, capsys):
    spec_file = write_spec(tmp_path)
    runs_dir = tmp_path / "runs"
    base = ["experiment", "run", str(spec_file), "--runs-dir", str(runs_dir), "--no-progress"]
    code, out, err = run_cli([*base, "--only", "el*", "--dry-run"], capsys)
    assert code == 0, err
    assert "3 runs: 3 todo" in out and "sigmoid" not in out
    code, out, err = run_cli([*base, "--only", "elu", "--threads", "1"], capsys)
    assert code == 0, err
    status = {p.run.row.label: p.status for p in plan(load_spec(spec_file), runs_dir)}
    assert status == {"elu": "done", "sigmoid": "todo"}
    assert "3 of 6 runs finished" in err
    code, _, err = run_cli([*base, "--only", "swish"], capsys)
    assert code == 2 and "matches no row; the rows are: sigmoid, elu" in err
    assert len(err.strip().splitlines()) == 1


def test_disk_full_in_an_experiment_says_run_the_same_command(tmp_path, capsys, monkeypatch):
    from safetensors import SafetensorError

    from aerec.training import checkpoint

    def full(*args):
        raise SafetensorError("Error while serializing: No space left on device (os error 28)")

    monkeypatch.setattr(checkpoint, "save", full)
    spec_file = write_spec(tmp_path, TINY_SPEC)
    args = ["experiment", "run", str(spec_file), "--runs-dir", str(tmp_path / "runs")]
    code, _, err = run_cli(
        [*args, "--no-progress", "--threads", "1", "--checkpoint-seconds", "0"], capsys
    )
    lines = [line for line in err.strip().splitlines() if line.startswith("error")]
    assert code == 2 and len(lines) == 1 and "no space left on device" in lines[0]
    assert "run the same command again" in lines[0] and "--resume" not in lines[0]
