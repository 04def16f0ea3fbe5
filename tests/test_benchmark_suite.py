"""benchmarks/suite.sh refuses what it does not know before running anything, and its
notebook_500.py step runs, also with the code of a commit (two epochs on synthetic data, so no
figure is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_an_unknown_step_is_one_line_and_runs_nothing(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        ["bash", str(BENCHMARKS / "suite.sh"), str(out), "adam", "warp"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith("unknown step warp; the steps: digests run")
    assert not out.exists() and done.stdout == ""


def test_notebook_500_times_both_sides_with_the_same_results(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "AEREC_DATA_DIR"}  # synthetic-ml-1m
    env["AEREC_CACHE_DIR"] = str(tmp_path / "cache")
    report = tmp_path / "nb.json"
    args = ["--epochs", "2", "--threads", "1", "--json", str(report), "--before", "HEAD"]
    trees = _work_trees()
    done = subprocess.run(
        [sys.executable, "notebook_500.py", *args],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    before, kept, flushed = json.loads(report.read_text())["results"]
    assert (before["code"], kept["code"], flushed["code"]) == ("HEAD", "now", "now")
    assert (kept["denormals"], flushed["denormals"]) == ("kept", "flushed")
    assert before["epochs"] == kept["epochs"] == flushed["epochs"] == 2
    assert kept["dataset"] == "synthetic-ml-1m"
    # no denormal reaches two epochs: flushing them changes no result
    assert kept["test_rmse"] == flushed["test_rmse"]
    assert "kept / flushed:" in done.stdout
    assert "before (HEAD) / now, flushed:" in done.stdout
    assert _work_trees() == trees  # the commit's temporary work tree is gone


def _work_trees() -> str:
    git = ["git", "-C", str(BENCHMARKS), "worktree", "list", "--porcelain"]
    return subprocess.run(git, capture_output=True, text=True, check=True).stdout
