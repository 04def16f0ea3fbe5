"""The hostile-input suite: every command and option, and every file aerec reads, given bad
values. Each case must end in one ``error:`` line naming the problem, a non-zero exit, and
nothing written; valid files in unusual shapes (CRLF, byte-order marks, whitespace, blank
lines at the end) must be accepted (issue 13)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.hostile.conftest import DATASET, FAST, ratings_csv, snapshot

TRAIN = ["train", "--dataset", DATASET, "--hidden", "4", *FAST, "--out", "{out}"]


def _train(*extra: str) -> list[str]:
    return [*TRAIN, *extra]


def _deep(*extra: str) -> list[str]:
    return ["train", "--dataset", DATASET, "--model", "deep", *FAST, "--out", "{out}", *extra]


# (args, text the error line must hold); {tmp}, {out}, {run}, {spec} are filled in
OPTIONS = {
    # aerec train: every option
    "train-config-missing": (_train("--config", "{tmp}/none.toml"), "does not exist"),
    "train-dataset-unknown": (_train("--dataset", "ml-2m"), "unknown data set"),
    "train-dataset-synthetic": (_train("--dataset", "synthetic-3x3"), "synthetic"),
    "train-data-dir-file": (_train("--data-dir", "{tmp}/h.toml"), "--data-dir"),
    "train-model": (_train("--model", "vae"), "--model"),
    "train-based": (_train("--based", "both"), "--based"),
    "train-split": (_train("--split", "half"), "--split"),
    "train-test-size-big": (_train("--test-size", "1.5"), "test_size"),
    "train-test-size-neg": (_train("--test-size", "-0.1"), "test_size"),
    "train-test-size-nan": (_train("--test-size", "nan"), "finite"),
    "train-test-size-word": (_train("--test-size", "a"), "--test-size"),
    "train-val-size": (_train("--val-size", "2"), "val_size"),
    "train-val-size-inf": (_train("--val-size", "inf"), "finite"),
    "train-refit-no-val": (_train("--refit", "--val-size", "0"), "val_size is 0"),
    "train-refit-keep-last": (_train("--refit", "--keep", "last"), "keeps its best epoch"),
    "train-seed-neg": (_train("--seed", "-1"), "seed"),
    "train-seed-word": (_train("--seed", "x"), "--seed"),
    "train-hidden-zero": (_train("--hidden", "0"), "--hidden"),
    "train-hidden-neg": (_train("--hidden", "-3"), "--hidden"),
    "train-layers-words": (_deep("--layers", "a,b"), "comma-separated"),
    "train-layers-zero": (_deep("--layers", "0,4"), "layers"),
    "train-hidden-for-deep": (_train("--model", "deep"), "unknown key 'hidden'"),
    "train-activation": (_train("--activation", "swish"), "--activation"),
    "train-last-activation": (_train("--last-activation", "x"), "--last-activation"),
    "train-dropout-one": (_deep("--dropout", "1"), "dropout"),
    "train-dropout-nan": (_deep("--dropout", "nan"), "finite"),
    "train-l2-neg": (_train("--l2", "-1"), "l2"),
    "train-l2-nan": (_train("--l2", "nan"), "finite"),
    "train-l2-encoder": (_deep("--l2-encoder", "-1"), "l2"),
    "train-l2-decoder": (_deep("--l2-decoder", "inf"), "finite"),
    "train-input-fill": (_train("--input-fill", "mean"), "--input-fill"),
    "train-fill-value": (_train("--input-fill", "constant", "--fill-value", "9"), "0..5"),
    "train-side": (_train("--side", "all"), "--side"),
    "train-epochs-zero": (_train("--epochs", "0"), "epochs"),
    "train-lr-zero": (_train("--lr", "0"), "lr"),
    "train-lr-nan": (_train("--lr", "nan"), "finite"),
    "train-weight-decay": (_train("--weight-decay", "-1"), "weight_decay"),
    "train-lrs-word": (_train("--lrs", "fast"), "comma-separated"),
    "train-lrs-count": (_train("--lrs", "1e-3,1e-3"), "each of the 1 epochs"),
    "train-lrs-negative": (_train("--lrs", "-1"), "> 0"),
    "train-lrs-nan": (_train("--lrs", "nan"), "finite"),
    "train-lrs-schedule": (_train("--lrs", "1e-3", "--schedule", "plateau"), "schedule 'none'"),
    "train-batch-size": (_train("--batch-size", "0"), "batch_size"),
    "train-patience": (_train("--patience", "-1"), "patience"),
    "train-schedule": (_train("--schedule", "step"), "--schedule"),
    "train-loss": (_train("--loss", "mae"), "--loss"),
    "train-noise": (_train("--noise", "salt"), "--noise"),
    "train-noise-level": (_train("--noise", "dropout", "--noise-level", "2"), "noise"),
    "train-noise-level-nan": (_train("--noise", "dropout", "--noise-level", "nan"), "finite"),
    "train-out-file": (["train", "--dataset", DATASET, *FAST, "--out", "{tmp}/h.toml"], "file"),
    "train-out-foreign": (["train", "--dataset", DATASET, *FAST, "--out", "{tmp}"], "not empty"),
    "train-resume-foreign": (["train", *FAST, "--out", "{tmp}", "--resume"], "not empty"),
    "train-device": (_train("--device", "tpu"), "device"),
    "train-device-cuda": (_train("--device", "cuda:7"), "device"),
    "train-threads": (_train("--threads", "-1"), "--threads"),
    "train-checkpoint-every": (_train("--checkpoint-every", "0"), "--checkpoint-every"),
    "train-checkpoint-seconds": (_train("--checkpoint-seconds", "-5"), "--checkpoint-seconds"),
    "train-checkpoint-seconds-nan": (_train("--checkpoint-seconds", "nan"), "--checkpoint-seconds"),
    "train-columns": (_train("--columns", "a,b"), "--columns"),
    "train-scale": (_train("--scale", "5,1"), "--scale"),
    "train-scale-nan": (_train("--scale", "nan,5"), "--scale"),
    "train-sep-synthetic": (_train("--sep", ";"), "your own"),
    "train-unknown-option": (_train("--hiden", "4"), "--hiden"),
    # aerec evaluate / recommend
    "evaluate-missing": (["evaluate", "{tmp}/none"], "not a run folder"),
    "evaluate-not-a-run": (["evaluate", "{tmp}"], "not a run folder"),
    "evaluate-file": (["evaluate", "{tmp}/h.toml"], "not a run folder"),
    "evaluate-dataset": (
        ["evaluate", "{run}", "--dataset", "synthetic-300x150x15000"],
        "trained on",
    ),
    "evaluate-dataset-unknown": (["evaluate", "{run}", "--dataset", "ml-2m"], "unknown data set"),
    "recommend-user-word": (["recommend", "{run}", "--user", "abc"], "integers"),
    "recommend-user-unknown": (["recommend", "{run}", "--user", "99999"], "99999"),
    "recommend-n-zero": (["recommend", "{run}", "--user", "1", "-n", "0"], "-n"),
    "recommend-n-neg": (["recommend", "{run}", "--user", "1", "-n", "-4"], "-n"),
    "recommend-no-user": (["recommend", "{run}"], "--user"),
    "recommend-missing": (["recommend", "{tmp}/none", "--user", "1"], "not a run folder"),
    # aerec run (the main job)
    "job-epochs": (["run", "--out", "{out}", "--dataset", DATASET, "--epochs", "0"], "epochs"),
    "job-threads": (["run", "--out", "{out}", "--threads", "0"], "--threads"),
    "job-device": (["run", "--out", "{out}", "--dataset", DATASET, "--device", "x"], "device"),
    "job-dataset": (["run", "--out", "{out}", "--dataset", "ml-2m"], "unknown data set"),
    "job-out-file": (["run", "--out", "{tmp}/h.toml", "--dataset", DATASET], "file"),
    "job-seed": (["run", "--out", "{out}", "--dataset", DATASET, "--seed", "-2"], "seed"),
    # aerec data
    "data-info-unknown": (["data", "info", "ml-2m"], "unknown data set"),
    "data-info-missing-file": (["data", "info", "{tmp}/none.csv"], "unknown data set"),
    "data-fetch-unknown": (["data", "fetch", "nope"], "unknown data set"),
    "data-info-custom-registry": (
        ["data", "info", "ml-1m", "--scale", "1,10", "--no-download"],
        "custom",
    ),
    "data-split-method": (
        ["data", "split", DATASET, "--method", "x", "--out", "{out}"],
        "--method",
    ),
    "data-split-test-size": (
        ["data", "split", DATASET, "--test-size", "1", "--out", "{out}"],
        "test_size",
    ),
    "data-split-test-size-nan": (
        ["data", "split", DATASET, "--test-size", "nan", "--out", "{out}"],
        "test",
    ),
    "data-split-val-size": (
        ["data", "split", DATASET, "--val-size", "-1", "--out", "{out}"],
        "val_size",
    ),
    "data-split-k": (
        ["data", "split", DATASET, "--method", "kfold", "--k", "1", "--out", "{out}"],
        "k",
    ),
    "data-split-fold": (
        ["data", "split", DATASET, "--method", "kfold", "--fold", "9", "--out", "{out}"],
        "fold",
    ),
    "data-split-seed": (["data", "split", DATASET, "--seed", "-1", "--out", "{out}"], "seed"),
    "data-split-out-file": (["data", "split", DATASET, "--out", "{tmp}/h.toml"], "file"),
    "data-columns": (["data", "info", "{tmp}/r.csv", "--columns", "a"], "--columns"),
    "data-columns-absent": (["data", "info", "{tmp}/r.csv", "--columns", "u,i,r"], "--columns"),
    "data-scale": (["data", "info", "{tmp}/r.csv", "--scale", "1"], "--scale"),
    "data-sep": (["data", "info", "{tmp}/r.csv", "--sep", ";"], "--sep"),
    # aerec experiment / report / tune
    "exp-missing": (["experiment", "run", "{tmp}/none.toml"], "does not exist"),
    "exp-seeds": (["experiment", "run", "{spec}", "--seeds", "a"], "--seeds"),
    "exp-seeds-neg": (["experiment", "run", "{spec}", "--seeds", "-1"], "seeds"),
    "exp-epochs": (
        ["experiment", "run", "{spec}", "--epochs", "0", "--runs-dir", "{out}"],
        "epochs",
    ),
    "exp-only": (["experiment", "run", "{spec}", "--only", "zz", "--runs-dir", "{out}"], "--only"),
    "exp-dataset": (
        [
            "experiment",
            "run",
            "{spec}",
            "--dataset",
            "ml-2m",
            "--runs-dir",
            "{out}",
            "--no-progress",
        ],
        "unknown data set",
    ),
    "exp-threads": (["experiment", "run", "{spec}", "--threads", "0"], "--threads"),
    "exp-checkpoint-every": (
        ["experiment", "run", "{spec}", "--checkpoint-every", "0"],
        "--checkpoint-every",
    ),
    "exp-checkpoint-seconds": (
        ["experiment", "run", "{spec}", "--checkpoint-seconds", "x"],
        "--checkpoint-seconds",
    ),
    "exp-device": (
        ["experiment", "run", "{spec}", "--device", "x", "--runs-dir", "{out}", "--no-progress"],
        "device",
    ),
    "exp-runs-dir-file": (["experiment", "run", "{spec}", "--runs-dir", "{tmp}/h.toml"], "file"),
    "collect-missing": (["experiment", "collect", "{tmp}/none.toml"], "does not exist"),
    "collect-epochs": (
        ["experiment", "collect", "{spec}", "--epochs", "-1", "--runs-dir", "{out}"],
        "epochs",
    ),
    "report-missing": (["report", "{tmp}/none", "--out", "{out}"], "none"),
    "report-skip": (["report", "{tmp}", "--out", "{out}", "--skip", "-1"], "--skip"),
    "report-out-file": (["report", "{tmp}", "--out", "{tmp}/h.toml"], "file"),
    "tune-missing": (["tune", "{tmp}/none.toml", "--study-dir", "{out}"], "does not exist"),
    "tune-trials": (["tune", "{spec}", "--trials", "0", "--study-dir", "{out}"], "trials"),
    "tune-timeout": (["tune", "{spec}", "--timeout", "-5", "--study-dir", "{out}"], "timeout"),
    "tune-threads": (["tune", "{spec}", "--threads", "0", "--study-dir", "{out}"], "--threads"),
    "tune-warmup": (["tune", "{spec}", "--warmup-epochs", "-1", "--study-dir", "{out}"], "warmup"),
    "tune-seed": (["tune", "{spec}", "--seed", "x", "--study-dir", "{out}"], "--seed"),
    "tune-device": (["tune", "{spec}", "--device", "x", "--study-dir", "{out}"], "device"),
    "tune-study-dir-file": (["tune", "{spec}", "--study-dir", "{tmp}/h.toml"], "file"),
    "tune-storage": (
        ["tune", "{spec}", "--storage", "bogus://x", "--study-dir", "{out}"],
        "storage",
    ),
    "train-tensorboard-file": (_train("--tensorboard", "{tmp}/h.toml"), "file"),
    "exp-tensorboard-file": (
        ["experiment", "run", "{spec}", "--tensorboard", "{tmp}/h.toml"],
        "file",
    ),
    "exp-dry-run-seeds": (["experiment", "run", "{spec}", "--dry-run", "--seeds", ","], "seeds"),
    "collect-seeds": (
        ["experiment", "collect", "{spec}", "--seeds", "a", "--runs-dir", "{out}"],
        "--seeds",
    ),
    "evaluate-data-dir-file": (["evaluate", "{run}", "--data-dir", "{tmp}/h.toml"], "--data-dir"),
    "data-fetch-data-dir-file": (
        ["data", "fetch", "ml-1m", "--data-dir", "{tmp}/h.toml"],
        "--data-dir",
    ),
    "recommend-user-empty": (["recommend", "{run}", "--user", ""], "user"),
    "recommend-user-space": (["recommend", "{run}", "--user", " 1 x"], "user"),
    "recommend-n-word": (["recommend", "{run}", "--user", "1", "-n", "ten"], "-n"),
}


def _fill(args: list[str], tmp: Path, run: Path, spec: Path) -> list[str]:
    names = {"tmp": tmp, "out": tmp / "out", "run": run, "spec": spec}
    return [a.format(**names) for a in args]


def assert_one_error(tmp: Path, args: list[str], text: str, capsys, before=None) -> str:
    """Run ``aerec ARGS``: one ``error:`` line holding ``text``, exit 2, nothing written.

    The error is the last line; only the progress lines of ``experiment run`` and ``run``
    (``NAME: ...``) may come before it, never a traceback."""
    before = snapshot(tmp) if before is None else before
    code, out, err = run_cli(args, capsys)
    lines = err.strip().splitlines()
    assert code == 2, (args, out, err)
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert len(lines) == 1 or args[0] in ("run", "experiment"), err
    assert "Traceback" not in err
    assert text.lower() in errors[0].lower(), errors[0]
    assert snapshot(tmp) == before, "something was written"
    return errors[0]


@pytest.mark.parametrize("case", sorted(OPTIONS))
def test_every_option_with_a_bad_value(case, tmp_path, run, spec, capsys):
    args, text = OPTIONS[case]
    ratings_csv(tmp_path / "r.csv")
    assert_one_error(tmp_path, _fill(args, tmp_path, run, spec), text, capsys)


# -- files aerec reads ---------------------------------------------------------------------------
CSV_HEAD = "user,item,rating,timestamp\n"
DATA_FILES: dict[str, tuple[str, bytes | str, str]] = {
    # name: (file name, content, text of the error)
    "csv-empty": ("r.csv", "", "empty"),
    "csv-header-only": ("r.csv", CSV_HEAD, "no data lines"),
    "csv-no-rating-column": ("r.csv", "user,item,score\n1,2,3\n", "--columns"),
    "csv-rating-outside": ("r.csv", CSV_HEAD + "1,2,9,5\n", "--scale"),
    "csv-rating-word": ("r.csv", CSV_HEAD + "1,2,good,5\n", "not a number"),
    "csv-rating-nan": ("r.csv", CSV_HEAD + "1,2,nan,5\n", "rating"),
    "csv-rating-empty": ("r.csv", CSV_HEAD + "1,2,,5\n", "empty"),
    "csv-duplicate": ("r.csv", CSV_HEAD + "1,2,3,5\n1,2,4,6\n", "1"),
    "csv-timestamp-word": ("r.csv", CSV_HEAD + "1,2,3,soon\n", "timestamp"),
    "csv-too-many-fields": ("r.csv", CSV_HEAD + "1,2,3,4,5,6\n", "r.csv"),
    "csv-binary": ("r.csv", b"\x00\x01\x02\xff\xfe" * 50, "r.csv"),
    "tsv-wrong-sep": ("r.tsv", CSV_HEAD + "1,2,3,4\n", "--sep"),
    "parquet-corrupt": ("r.parquet", b"PAR1 not really", "parquet"),
    "zip-corrupt": ("r.zip", b"PK\x03\x04 broken", "r.zip"),
    "ml100k-bad-line": ("ml-100k/u.data", "1\t2\t3\t881250949\n1\t2\n", "u.data"),
    "ml100k-bad-id": ("ml-100k/u.data", "1\tx\t3\t881250949\n", "u.data"),
    "ml1m-bad-rating": ("ml-1m/ratings.dat", "1::2::7::978300760\n", "ratings.dat"),
    "ml1m-wrong-sep": ("ml-1m/ratings.dat", "1,2,3,978300760\n", "ratings.dat"),
    "latest-bad-header": ("ml-latest-small/ratings.csv", "user,movie,rating\n1,2,3\n", "header"),
    "latest-bad-rating": (
        "ml-latest-small/ratings.csv",
        "userId,movieId,rating,timestamp\n1,2,7.5,964982703\n",
        "ratings.csv",
    ),
}
RELEASE_FILES = {  # the other files of a release, valid
    "ml-100k/u.user": "1|24|M|technician|85711\n",
    "ml-100k/u.item": "2|Item (1995)|01-Jan-1995||http://x|" + "|".join("0" * 19) + "\n",
    "ml-1m/users.dat": "1::F::1::10::48067\n",
    "ml-1m/movies.dat": "2::Item (1995)::Comedy\n",
    "ml-latest-small/movies.csv": "movieId,title,genres\n2,Item (1995),Comedy\n",
}


def _write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize("case", sorted(DATA_FILES))
def test_every_bad_data_file(case, tmp_path, capsys):
    name, content, text = DATA_FILES[case]
    for other, valid in RELEASE_FILES.items():
        if other.split("/")[0] == name.split("/")[0]:
            _write(tmp_path / other, valid)
    path = _write(tmp_path / name, content)
    target = str(path if "/" not in name else path.parent)
    assert_one_error(tmp_path, ["data", "info", target, "--no-download"], text, capsys)
    assert_one_error(tmp_path, [*TRAIN, "--dataset", target], text, capsys)


def test_a_parquet_file_without_the_columns(tmp_path, capsys):
    import pandas as pd

    pd.DataFrame({"a": [1], "b": [2]}).to_parquet(tmp_path / "r.parquet")
    assert_one_error(tmp_path, ["data", "info", str(tmp_path / "r.parquet")], "--columns", capsys)


def test_a_zip_without_a_movielens_layout(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "r.zip", "w") as archive:
        archive.writestr("x/readme.txt", "hello")
    assert_one_error(tmp_path, ["data", "info", str(tmp_path / "r.zip")], "layout", capsys)


TOML_CONFIGS = {
    "toml-syntax": ("[model\nhidden = 4\n", "not valid TOML"),
    "toml-unknown-section": ("[models]\nhidden = 4\n", "unknown section"),
    "toml-unknown-key": ("[model]\nhiden = 4\n", "hiden"),
    "toml-model-plain": ('model = "autorec"\n', "[model] section"),
    "toml-train-plain": ("train = 5\n", "[train] section"),
    "toml-data-plain": ('data = "ml-1m"\n', "[data] section"),
    "toml-wrong-type": ('[model]\nhidden = "big"\n', "wrong type"),
    "toml-lr-nan": ("[train]\nlr = nan\n", "finite"),
    "toml-lr-inf": ("[train]\nlr = inf\n", "finite"),
    "toml-lrs-type": ('[train]\nlrs = ["fast"]\n', "wrong type"),
    "toml-lrs-count": ("[train]\nlrs = [0.001, 0.001]\n", "each of the 1 epochs"),
    "toml-seed": ("seed = -4\n", "seed"),
    "toml-seed-float": ("seed = 1.5\n", "seed"),
    "toml-bool-for-int": ("[model]\nhidden = true\n", "wrong type"),
    "toml-scale": ("[data]\nscale = [5, 1]\n", "scale"),
    "toml-scale-short": ('[data]\ndataset = "r.csv"\nscale = [1]\n', "scale"),
    "toml-columns": ('[data]\ndataset = "r.csv"\ncolumns = ["a"]\n', "columns"),
    "toml-sep-empty": ('[data]\ndataset = "r.csv"\nsep = ""\n', "sep"),
    "toml-binary": (b"\xff\xfe\x00junk", "TOML"),
    "toml-model-name": ('[model]\nname = "vae"\n', "unknown model"),
    "toml-refit-word": ('refit = "yes"\n', "refit"),
    "toml-refit-no-val": ("refit = true\n[data]\nval_size = 0.0\n", "val_size is 0"),
}


@pytest.mark.parametrize("case", sorted(TOML_CONFIGS))
def test_every_bad_toml_config(case, tmp_path, capsys, monkeypatch):
    content, text = TOML_CONFIGS[case]
    monkeypatch.chdir(tmp_path)
    ratings_csv(tmp_path / "r.csv")
    config = _write(tmp_path / "c.toml", content)
    args = ["train", "--config", str(config), *FAST, "--out", str(tmp_path / "out")]
    assert_one_error(tmp_path, args, text, capsys)


SPECS = {
    "spec-syntax": ("[experiment\n", "TOML"),
    "spec-no-head": ("[model]\nhidden = 4\n", "seeds"),
    "spec-head-plain": ('experiment = "x"\n', "experiment"),
    "spec-model-plain": ('[experiment]\nname = "s"\nseeds = [1]\nmodel = "x"\n', "model"),
    "spec-seeds": ('[experiment]\nname = "s"\nseeds = "one"\n', "seeds"),
    "spec-name": ('[experiment]\nname = "../up"\nseeds = [1]\n', "name"),
    "spec-grid-empty": (
        '[experiment]\nname = "s"\nseeds = [1]\n[grid]\n"model.hidden" = []\n',
        "grid",
    ),
    "spec-variants-plain": ('[experiment]\nname = "s"\nseeds = [1]\nvariants = 3\n', "variants"),
    "spec-lr-nan": ('[experiment]\nname = "s"\nseeds = [1]\n[train]\nlr = nan\n', "finite"),
    "spec-unknown-key": ('[experiment]\nname = "s"\nseeds = [1]\n[model]\nhiden = 3\n', "hiden"),
}


@pytest.mark.parametrize("case", sorted(SPECS))
def test_every_bad_spec(case, tmp_path, capsys):
    content, text = SPECS[case]
    spec = _write(tmp_path / "s.toml", content)
    for command in ("run", "collect"):
        args = ["experiment", command, str(spec), "--runs-dir", str(tmp_path / "out")]
        assert_one_error(tmp_path, args, text, capsys)


# -- damaged run folders: config, metrics, weights, checkpoints ----------------------------------
def _tensors(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


RUN_DAMAGE = {
    "run-no-config": (lambda r: (r / "config.toml").unlink(), "not a run folder"),
    "run-config-syntax": (lambda r: (r / "config.toml").write_text("[model\n"), "TOML"),
    "run-config-plain": (lambda r: (r / "config.toml").write_text('model = "x"\n'), "section"),
    "run-config-key": (lambda r: (r / "config.toml").write_text("[model]\nx = 1\n"), "'x'"),
    "run-no-metrics": (lambda r: (r / "metrics.json").unlink(), "unfinished"),
    "run-metrics-corrupt": (lambda r: (r / "metrics.json").write_text("{"), "corrupt"),
    "run-metrics-list": (lambda r: (r / "metrics.json").write_text("[1]"), "metrics file"),
    "run-metrics-keys": (lambda r: (r / "metrics.json").write_text('{"a": 1}'), "metrics file"),
    "run-metrics-binary": (lambda r: (r / "metrics.json").write_bytes(b"\xff\xfe"), "corrupt"),
    "run-no-model": (lambda r: __import__("shutil").rmtree(r / "model"), "model"),
    "run-weights-truncated": (lambda r: _tensors(r / "model" / "model.safetensors"), "model"),
    "run-weights-empty": (lambda r: (r / "model" / "model.safetensors").write_bytes(b""), "model"),
    "run-model-json": (lambda r: (r / "model" / "model.json").write_text("{"), "model"),
    "run-model-json-list": (lambda r: (r / "model" / "model.json").write_text("[]"), "model"),
    "run-vocab": (lambda r: (r / "model" / "vocab.json").write_text("nope"), "model"),
    "run-vocab-missing": (lambda r: (r / "model" / "vocab.json").unlink(), "vocab"),
}


@pytest.mark.parametrize("case", sorted(RUN_DAMAGE))
@pytest.mark.parametrize("command", ["evaluate", "recommend"])
def test_every_damaged_run_folder(case, command, run, tmp_path, capsys):
    damage, text = RUN_DAMAGE[case]
    damage(run)
    args = [command, str(run)] + (["--user", "1"] if command == "recommend" else [])
    assert_one_error(tmp_path, args, text, capsys)


def test_weights_of_the_wrong_shape_are_one_line(run, tmp_path, capsys):
    import torch
    from safetensors.torch import load_file, save_file

    path = run / "model" / "model.safetensors"
    tensors = {k: torch.zeros(v.shape[0] + 1, *v.shape[1:]) for k, v in load_file(path).items()}
    save_file(tensors, str(path))
    for args in (["evaluate", str(run)], ["recommend", str(run), "--user", "1"]):
        assert_one_error(tmp_path, args, "model", capsys)


def test_a_damaged_runs_config_blocks_resume_in_one_line(run, tmp_path, capsys):
    (run / "config.toml").write_text("train = 5\n")
    args = ["train", "--dataset", DATASET, *FAST, "--out", str(run), "--resume"]
    assert_one_error(tmp_path, args, "section", capsys)


@pytest.mark.parametrize(
    ("content", "text"),
    [
        (b"", "checkpoint"),
        (b"\x08\x00\x00\x00\x00\x00\x00\x00{}", "checkpoint"),
        (b"junk" * 9, "checkpoint"),
    ],
)
def test_a_corrupt_checkpoint_is_one_line(run, tmp_path, capsys, content, text):
    (run / "metrics.json").unlink()
    (run / "checkpoint").mkdir()
    (run / "checkpoint" / "checkpoint.safetensors").write_bytes(content)
    args = ["train", "--dataset", DATASET, "--hidden", "4", "--seed", "1", *FAST, "--out", str(run)]
    assert_one_error(tmp_path, [*args, "--resume"], text, capsys)


def test_a_foreign_checkpoint_is_one_line(run, tmp_path, capsys):
    """A checkpoint of another model (another hidden size) in the folder."""
    import torch
    from safetensors.torch import save_file

    (run / "metrics.json").unlink()
    (run / "checkpoint").mkdir()
    meta = {"aerec": json.dumps({"format": "aerec-checkpoint-1"})}
    tensors = {"model.encoder.weight": torch.zeros(3, 3)}
    save_file(tensors, str(run / "checkpoint" / "checkpoint.safetensors"), metadata=meta)
    args = ["train", "--dataset", DATASET, "--hidden", "4", "--seed", "1", *FAST, "--out", str(run)]
    assert_one_error(tmp_path, [*args, "--resume"], "checkpoint", capsys)


@pytest.mark.parametrize(
    ("files", "text"),
    [
        ({"experiment.json": "{", "results.csv": "run_id\n"}, "experiment.json is corrupt"),
        ({"experiment.json": "[]", "results.csv": "run_id\n"}, "experiment.json is not"),
        ({"results.parquet": b"PAR1 broken"}, "results.parquet is corrupt"),
        ({"results.csv": b'\x00\xff\xfe,\n"\n'}, "results.csv is corrupt"),
        ({"results.csv": ""}, "results.csv is corrupt"),
    ],
)
def test_a_damaged_experiment_folder_is_one_line(tmp_path, capsys, files, text):
    root = tmp_path / "runs" / "x"
    for name, content in files.items():
        _write(root / name, content)
    args = ["report", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    assert_one_error(tmp_path, args, text, capsys)


@pytest.mark.parametrize("text", ["{", "[1, 2]", '{"epoch": 1}'])
def test_a_damaged_history_is_one_line_in_report(run, tmp_path, capsys, text):
    (run / "history.json").write_text(text)
    args = ["report", str(tmp_path), "--out", str(tmp_path / "out")]
    assert_one_error(tmp_path, args, "history.json", capsys)


# -- valid files in unusual shapes -------------------------------------------------------------
def _shapes(text: str) -> dict[str, bytes]:
    lines = text.strip("\n").split("\n")
    return {
        "crlf": "\r\n".join(lines).encode() + b"\r\n",
        "bom": b"\xef\xbb\xbf" + text.encode(),
        "bom-crlf": b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n",
        "blank-lines-at-end": text.encode() + b"\n\n\n",
        "no-newline-at-end": text.rstrip("\n").encode(),
        "spaces": "\n".join([lines[0], *(_spaced(line) for line in lines[1:])]).encode() + b"\n",
    }


def _spaced(line: str) -> str:
    """A data line with spaces around every field."""
    return ", ".join(f" {v} " for v in line.split(","))


@pytest.mark.parametrize(
    "shape", ["crlf", "bom", "bom-crlf", "blank-lines-at-end", "no-newline-at-end", "spaces"]
)
@pytest.mark.parametrize("suffix", ["csv", "tsv"])
def test_ratings_files_in_unusual_shapes_are_accepted(shape, suffix, tmp_path, capsys):
    plain = ratings_csv(tmp_path / "plain.csv").read_text()
    sep = "\t" if suffix == "tsv" else ","
    content = _shapes(plain)[shape]
    if suffix == "tsv":
        content = content.replace(b", ", b"\t").replace(b",", b"\t")
    path = _write(tmp_path / f"r.{suffix}", content)
    code, out, err = run_cli(["data", "info", str(path), "--json"], capsys)
    assert code == 0, err
    expected = json.loads(
        run_cli(["data", "info", str(tmp_path / "plain.csv"), "--json"], capsys)[1]
    )
    got = json.loads(out)
    assert {k: got[k] for k in ("n_ratings", "n_users", "n_items", "rating_histogram")} == {
        k: expected[k] for k in ("n_ratings", "n_users", "n_items", "rating_histogram")
    }
    assert sep


@pytest.mark.parametrize(
    "shape", ["crlf", "bom", "bom-crlf", "blank-lines-at-end", "no-newline-at-end"]
)
def test_toml_configs_and_specs_in_unusual_shapes_are_accepted(shape, tmp_path, capsys):
    from tests.hostile.conftest import SPEC

    config = _write(
        tmp_path / "c.toml",
        _shapes(f'seed = 3\n[data]\ndataset = "{DATASET}"\n[model]\nhidden = 4\n')[shape],
    )
    out = tmp_path / "out"
    code, _, err = run_cli(["train", "--config", str(config), *FAST, "--out", str(out)], capsys)
    assert code == 0, err
    assert "seed = 3" in (out / "config.toml").read_text()
    spec = _write(tmp_path / "s.toml", _shapes(SPEC)[shape])
    code, _, err = run_cli(
        ["experiment", "run", str(spec), "--runs-dir", str(tmp_path / "runs"), *FAST[-3:]], capsys
    )
    assert code == 0, err
