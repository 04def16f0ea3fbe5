"""``aerec experiment run / collect`` end to end on a tiny spec."""

from __future__ import annotations

import json

import pytest

from tests.experiments.tiny import TINY_SPEC, write_spec
from tests.helpers import history_scalars, read_scalars, run_cli, spy_checkpoint_saves


def test_run_then_collect(tmp_path, capsys):
    spec = write_spec(tmp_path)
    runs = tmp_path / "runs"
    args = ["--runs-dir", str(runs), "--epochs", "1", "--seeds", "4,5"]
    code, out, err = run_cli(["experiment", "run", str(spec), *args, "--dry-run"], capsys)
    assert code == 0 and "4 runs: 4 todo" in out and "sigmoid" in out
    code, out, err = run_cli(
        ["experiment", "run", str(spec), *args, "--no-progress", "--threads", "1"], capsys
    )
    assert code == 0, err
    assert "tiny: 4 runs: 0 done, 0 to resume, 4 to start" in err
    assert "global RMSE" in out and "0.916 per-user (notebook)" in out
    assert "elu  sigmoid" in out  # the paired comparison with the baseline
    assert len(list((runs / "tiny").glob("*/metrics.json"))) == 4
    code, again, err = run_cli(["experiment", "collect", str(spec), *args], capsys)
    assert code == 0 and again == out and "4 of 4 runs finished" in err
    code, out, _ = run_cli(["experiment", "run", str(spec), *args, "--dry-run"], capsys)
    assert "4 runs: 4 done" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seeds", "a,b"], "not a comma-separated list of seeds"),
        (["--seeds", "1,1"], "seeds must be distinct"),
        (["--epochs", "0"], "--epochs must be >= 1"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, message):
    spec = write_spec(tmp_path)
    code, _, err = run_cli(["experiment", "run", str(spec), "--dry-run", *args], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_bad_spec_is_a_one_line_error(tmp_path, capsys):
    spec = write_spec(tmp_path, TINY_SPEC.replace("hidden = 8", "hiden = 8"))
    code, _, err = run_cli(["experiment", "run", str(spec), "--dry-run"], capsys)
    assert code == 2 and "unknown key 'hiden'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["experiment", "collect", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "does not exist" in err


def test_tensorboard_logs_each_run_to_its_own_folder(tmp_path, capsys):
    spec, runs, board = write_spec(tmp_path), tmp_path / "runs", tmp_path / "board"
    args = ["--runs-dir", str(runs), "--epochs", "2", "--seeds", "4", "--threads", "1"]
    code, _, err = run_cli(
        ["experiment", "run", str(spec), *args, "--no-progress", "--tensorboard", str(board)],
        capsys,
    )
    assert code == 0, err
    folders = sorted(p.parent for p in (runs / "tiny").glob("*/metrics.json"))
    assert len(folders) == 2
    for folder in folders:
        history = json.loads((folder / "history.json").read_text())
        assert read_scalars(board / "tiny" / folder.name) == history_scalars(history)


def test_checkpoint_every_and_seconds_reach_each_run(tmp_path, capsys, monkeypatch):
    saved = spy_checkpoint_saves(monkeypatch)
    spec = write_spec(tmp_path)
    base = ["--seeds", "4", "--threads", "1", "--no-progress"]

    def run(folder: str, *extra: str) -> None:
        args = ["experiment", "run", str(spec), "--runs-dir", str(tmp_path / folder)]
        code, _, err = run_cli([*args, *base, *extra], capsys)
        assert code == 0, err

    run("runs")
    assert saved == []  # two runs of 2 epochs, well within the default 30 s between saves
    run("runs2", "--checkpoint-seconds", "0")
    assert saved == [1, 2, 1, 2]  # a save after every epoch
    saved.clear()
    run("runs3", "--checkpoint-every", "2", "--checkpoint-seconds", "0")
    assert saved == [2, 2]
    for option, bad in (("--checkpoint-every", "0"), ("--checkpoint-seconds", "-1")):
        code, _, err = run_cli(["experiment", "run", str(spec), option, bad], capsys)
        assert code == 2 and option in err
