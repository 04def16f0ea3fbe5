"""``aerec train / evaluate / recommend`` end to end on small synthetic data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from aerec.cli import main
from tests.helpers import history_scalars, read_scalars, run_cli

DATASET = "synthetic-300x150x15000"
FAST = ["--epochs", "3", "--batch-size", "32", "--no-progress", "--threads", "1"]


def u_autorec_args(out: Path) -> list[str]:
    """The small U-AutoRec run both the fixture and the determinism test train."""
    args = ["train", "--dataset", DATASET, "--model", "autorec", "--based", "user"]
    return [*args, "--hidden", "32", "--seed", "1", "--out", str(out), *FAST]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "u-autorec"
    try:
        main(u_autorec_args(out))
    except SystemExit as exc:
        assert not exc.code
    return out


def test_train_writes_a_complete_run_folder(run_dir):
    for name in (
        "config.toml",
        "history.json",
        "history.csv",
        "metrics.json",
        "loss.png",
        "rmse.png",
        "model/model.safetensors",
        "model/model.json",
        "model/vocab.json",
    ):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (run_dir / "checkpoint").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in (
        "test_rmse",
        "test_mae",
        "test_user_rmse",
        "best_epoch",
        "epochs_run",
        "train_seconds",
    ):
        assert key in metrics
    assert metrics["epochs_run"] == 3 and 1 <= metrics["best_epoch"] <= 3
    assert len(json.loads((run_dir / "history.json").read_text())) == 3


def test_metrics_hold_the_test_ranking(run_dir, capsys):
    ranking = json.loads((run_dir / "metrics.json").read_text())["ranking"]
    assert ranking["k"] == [5, 10, 20] and ranking["relevance"] == 4.0
    for key in ("precision@5", "recall@10", "ndcg@20", "map@10", "hit_rate@5"):
        assert 0.0 <= ranking[key] <= 1.0, key
    assert ranking["users"] > 0 and ranking["tie_break"] == "lower item index"


def test_train_kfold_trains_the_fold_it_is_given(tmp_path, capsys):
    """aerec train --split kfold --fold 2 tests fold 2 (it used to train fold 0 only)."""
    reports = []
    for fold in ("0", "2"):
        out = tmp_path / f"fold{fold}"
        args = ["train", "--dataset", DATASET, "--hidden", "8", "--split", "kfold", "--k", "3"]
        off = ["--ranking-k", ""] if fold == "2" else []  # and the ranking turned off
        code, _, err = run_cli([*args, "--fold", fold, *off, "--out", str(out), *FAST], capsys)
        assert code == 0, err
        assert f"fold = {fold}" in (out / "config.toml").read_text()
        reports.append(json.loads((out / "metrics.json").read_text())["split"])
    assert [r["fold"] for r in reports] == [0, 2] and reports[0] != reports[1]
    assert json.loads((tmp_path / "fold2" / "metrics.json").read_text())["ranking"] is None


def test_train_on_files_with_ranking_options(tmp_path, capsys):
    rows = [(u, i, 1 + (u * i) % 5) for u in range(1, 31) for i in range(1, 13)]
    train = tmp_path / "a.base"
    train.write_text("".join(f"{u}\t{i}\t{r}\t0\n" for u, i, r in rows if (u + i) % 4))
    test = tmp_path / "a.test"
    test.write_text("".join(f"{u}\t{i}\t{r}\t0\n" for u, i, r in rows if not (u + i) % 4))
    out = tmp_path / "files"
    args = ["train", "--split", "files", "--train", str(train), "--test", str(test)]
    args += ["--hidden", "8", "--relevance", "3", "--ranking-k", "1,3", "--out", str(out)]
    code, printed, err = run_cli([*args, *FAST], capsys)
    assert "test ranking (" in printed
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_n"] == sum(1 for u, i, _ in rows if not (u + i) % 4)
    assert metrics["ranking"]["k"] == [1, 3] and metrics["ranking"]["relevance"] == 3.0
    assert metrics["split"]["method"] == "files" and metrics["split"]["val_from_train"]
    assert 'split = "files"' in (out / "config.toml").read_text()
    code, _, err = run_cli(["evaluate", str(out), "--json"], capsys)
    assert code == 0, err


def test_evaluate_reproduces_the_stored_metrics(run_dir, capsys):
    code, out, _ = run_cli(["evaluate", str(run_dir), "--json"], capsys)
    assert code == 0
    again = json.loads(out)
    stored = json.loads((run_dir / "metrics.json").read_text())
    assert again["test_rmse"] == pytest.approx(stored["test_rmse"], abs=1e-6)
    for key in ("ndcg@10", "recall@20", "map@5"):
        assert again["ranking"][key] == pytest.approx(stored["ranking"][key], abs=1e-6)
    code, out, _ = run_cli(["evaluate", str(run_dir)], capsys)
    assert code == 0 and "test_ndcg@10 " in out
    assert again["test_user_rmse"] == pytest.approx(stored["test_user_rmse"], abs=1e-6)


def test_recommend_lists_titles(run_dir, capsys):
    code, out, _ = run_cli(["recommend", str(run_dir), "--user", "5", "-n", "4"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["item", "score", "title"] and len(lines) == 5
    assert "Synthetic" in out


def test_same_seed_gives_the_same_metrics(run_dir, tmp_path, capsys):
    out = tmp_path / "again"
    code, _, _ = run_cli(
        u_autorec_args(out),
        capsys,
    )
    assert code == 0
    a = json.loads((run_dir / "metrics.json").read_text())
    b = json.loads((out / "metrics.json").read_text())
    assert a["test_rmse"] == b["test_rmse"] and a["test_user_rmse"] == b["test_user_rmse"]


def test_tensorboard_logs_the_history_and_changes_nothing(run_dir, tmp_path, capsys):
    out, board = tmp_path / "logged", tmp_path / "board"
    code, _, err = run_cli([*u_autorec_args(out), "--tensorboard", str(board)], capsys)
    assert code == 0, err
    history = json.loads((out / "history.json").read_text())
    assert read_scalars(board) == history_scalars(history)
    logged = json.loads((out / "metrics.json").read_text())
    plain = json.loads((run_dir / "metrics.json").read_text())
    assert logged["test_rmse"] == plain["test_rmse"] and logged["val_rmse"] == plain["val_rmse"]


def test_missing_tensorboard_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    out = tmp_path / "x"
    code, _, err = run_cli([*u_autorec_args(out), "--tensorboard", str(tmp_path / "tb")], capsys)
    assert code == 2 and "pip install 'aerec[tensorboard]'" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()  # refused before any work


def test_config_file_and_options(tmp_path, capsys):
    config = tmp_path / "deep.toml"
    config.write_text(
        'seed = 3\n[data]\ndataset = "synthetic-200x100x8000"\nsplit = "random"\n'
        '[model]\nname = "deep"\nlayers = [16, 8, 16]\ndropout = 0.2\n'
        "[train]\nepochs = 2\n"
    )
    out = tmp_path / "deep"
    code, _, err = run_cli(
        ["train", "--config", str(config), "--side", "input", "--out", str(out), "--no-progress"],
        capsys,
    )
    assert code == 0, err
    text = (out / "config.toml").read_text()
    assert 'side = "input"' in text and "layers = [\n    16," in text and "seed = 3" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "deep", "--activation", "swish"], "'swish' is not one of"),
        (["--model", "deep", "--dropout", "1.0"], "dropout must be in [0, 1)"),
        (["--model", "deep", "--layers", ""], "layers must be a non-empty list"),
        (["--model", "deep", "--layers", "a,b"], "comma-separated list"),
        (["--model", "deep", "--hidden", "10"], "unknown key 'hidden'"),
        (["--model", "autorec", "--input-fill", "constant", "--fill-value", "9"], "0..5"),
        (["--dataset", "synthetic-3x3"], "synthetic"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, message):
    code, _, err = run_cli(["train", *args, "--out", str(tmp_path / "x"), *FAST], capsys)
    assert code != 0
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x" / "metrics.json").exists()


def test_missing_run_dir_is_a_clear_error(tmp_path, capsys):
    code, _, err = run_cli(["evaluate", str(tmp_path / "nope")], capsys)
    assert code == 2 and "not a run folder" in err


def test_corrupt_weights_are_a_clear_error(run_dir, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "model" / "model.safetensors").write_bytes(b"\x00" * 64)
    code, _, err = run_cli(["recommend", str(broken), "--user", "1"], capsys)
    assert code == 2 and "corrupt model file" in err


def test_foreign_checkpoint_is_refused(run_dir, capsys):
    code, _, err = run_cli(
        ["evaluate", str(run_dir), "--dataset", "synthetic-300x150x16000"], capsys
    )
    assert code == 2 and "was trained on" in err


def test_finished_run_is_not_overwritten(run_dir, capsys):
    code, _, err = run_cli(["train", "--dataset", DATASET, "--out", str(run_dir), *FAST], capsys)
    assert code == 2 and "already holds a finished run" in err


def test_train_refit_writes_its_selection_run_and_evaluates_like_any_run(tmp_path, capsys):
    out = tmp_path / "refit"
    args = ["train", "--dataset", DATASET, "--split", "random", "--based", "item"]
    args += ["--hidden", "16", "--activation", "sigmoid", "--last-activation", "identity"]
    args += ["--lr", "0.01", "--refit", "--out", str(out), *FAST]
    code, printed, err = run_cli(args, capsys)
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    chosen = metrics["refit"]["epochs"]["train"]
    assert (
        f"refit on train + validation for the epochs chosen on validation (train {chosen};"
        in printed
    )
    assert "refit = true" in (out / "config.toml").read_text()
    assert (out / "selection" / "metrics.json").is_file()
    assert "refit" not in (out / "selection" / "config.toml").read_text()
    code, shown, err = run_cli(["evaluate", str(out), "--json"], capsys)
    assert code == 0, err
    assert json.loads(shown)["test_rmse"] == pytest.approx(metrics["test_rmse"], abs=1e-12)
    code, _, err = run_cli([*args, "--resume"], capsys)  # finished: read back, not retrained
    assert code == 0, err
