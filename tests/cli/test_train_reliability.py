"""``aerec train`` never gives a silent wrong result, never overwrites a user's file, and
fails in one line leaving nothing behind (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli

DATASET = "synthetic-300x150x15000"
FAST = ["--epochs", "2", "--batch-size", "64", "--no-progress", "--threads", "1"]
FAST += ["--checkpoint-seconds", "0"]  # a save after every epoch: the saves are tested here


def train_args(out: Path, *extra: str) -> list[str]:
    args = ["train", "--dataset", DATASET, "--model", "autorec", "--based", "item"]
    return [*args, "--hidden", "16", "--seed", "1", *FAST, "--out", str(out), *extra]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished run folder (do not change it: copy it)."""
    from tests.helpers import run_cli as run

    out = tmp_path_factory.mktemp("finished") / "R1"

    class _Capsys:  # run_cli wants capsys; a module fixture cannot have it
        def readouterr(self):
            return type("R", (), {"out": "", "err": ""})()

    code, _, _ = run(train_args(out), _Capsys())
    assert code == 0
    return out


def _one_error_line(code: int, err: str, text: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], err


def _copy(folder: Path, to: Path) -> Path:
    import shutil

    shutil.copytree(folder, to)
    return to


# 1. a silent wrong result ---------------------------------------------------------------------
def test_resume_of_a_finished_run_with_other_options_is_refused(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path / "R1")
    before = (out / "metrics.json").read_text()
    args = ["train", "--dataset", "synthetic-200x100x8000", "--model", "deep", "--seed", "1"]
    code, stdout, err = run_cli(
        [*args, "--layers", "8,4,8", *FAST, "--out", str(out), "--resume"], capsys
    )
    _one_error_line(code, err, "holds a finished run with other options")
    assert "data.dataset" in err and stdout == ""
    assert (out / "metrics.json").read_text() == before


def test_resume_of_a_finished_run_with_its_own_options_reads_it_back(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path / "R1")
    code, stdout, err = run_cli(train_args(out, "--resume"), capsys)
    assert code == 0, err
    stored = json.loads((out / "metrics.json").read_text())
    assert f"{stored['test_rmse']:.4f}" in stdout


# 2. a user's files overwritten ----------------------------------------------------------------
def test_an_out_folder_holding_other_files_is_refused(tmp_path, capsys, monkeypatch):
    config = tmp_path / "config.toml"
    text = f'# my settings\n[data]\ndataset = "{DATASET}"\n'
    config.write_text(text)
    (tmp_path / "notes.md").write_text("mine")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(
        [*train_args(Path("."))[:1], "--config", "config.toml", *FAST, "--out", "."], capsys
    )
    _one_error_line(code, err, "not an aerec run folder")
    assert config.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "notes.md"]


def test_an_out_folder_holding_only_a_users_config_is_refused(tmp_path, capsys):
    (tmp_path / "config.toml").write_text(f'# mine\n[data]\ndataset = "{DATASET}"\n')
    code, _, err = run_cli(train_args(tmp_path), capsys)
    _one_error_line(code, err, "aerec did not write")


def test_an_empty_out_folder_is_accepted(tmp_path, capsys):
    code, _, err = run_cli(train_args(tmp_path), capsys)
    assert code == 0, err
    assert (tmp_path / "metrics.json").is_file() and not (tmp_path / ".aerec.lock").exists()


# 3. the lock ----------------------------------------------------------------------------------
def test_a_run_another_process_holds_is_refused(tmp_path, capsys):
    from aerec.runfolder import RunLock

    with RunLock(tmp_path / "R"):
        code, _, err = run_cli(train_args(tmp_path / "R"), capsys)
    _one_error_line(code, err, "is in use by process")
    assert not (tmp_path / "R" / "config.toml").exists()


# 5. disk full ---------------------------------------------------------------------------------
def test_disk_full_is_one_line_and_resume_is_exact(finished, tmp_path, capsys, monkeypatch):
    from safetensors import SafetensorError

    from aerec.training import checkpoint

    save = checkpoint.save

    def full_at_epoch_2(folder, model, optimizer, scheduler, state):
        if state.epoch == 2:
            raise SafetensorError(
                "Error while serializing: IoError(Os { code: 28, kind: "
                'StorageFull, message: "No space left on device" })'
            )
        save(folder, model, optimizer, scheduler, state)

    monkeypatch.setattr(checkpoint, "save", full_at_epoch_2)
    out = tmp_path / "R"
    code, _, err = run_cli(train_args(out), capsys)
    _one_error_line(code, err, "no space left on device")
    assert "rerun with --resume" in err and (out / "checkpoint").is_dir()
    monkeypatch.setattr(checkpoint, "save", save)
    code, _, err = run_cli(train_args(out, "--resume"), capsys)
    assert code == 0, err
    again, first = (json.loads((f / "history.json").read_text()) for f in (out, finished))
    assert [r["val_rmse"] for r in again] == [r["val_rmse"] for r in first]


def test_disk_full_before_any_checkpoint_leaves_nothing(tmp_path, capsys, monkeypatch):
    from safetensors import SafetensorError

    from aerec.training import checkpoint

    def full(*args):
        raise SafetensorError("Error while serializing: No space left on device (os error 28)")

    monkeypatch.setattr(checkpoint, "save", full)
    out = tmp_path / "R"
    code, _, err = run_cli(train_args(out), capsys)
    _one_error_line(code, err, "no checkpoint was saved")
    assert "--resume" not in err and not out.exists()


def test_disk_full_as_an_oserror_is_one_line(tmp_path, capsys, monkeypatch):
    import errno

    from aerec import runs

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "history.json")

    monkeypatch.setattr(runs, "write_json", full)
    code, _, err = run_cli(train_args(tmp_path / "R"), capsys)
    _one_error_line(code, err, "no space left on device")


# 6. tracebacks on bad configs and values ------------------------------------------------------
@pytest.mark.parametrize("line", ['model = "autorec"', "train = 5", 'data = "ml-1m"'])
def test_a_section_given_as_a_plain_value_is_one_line(tmp_path, capsys, line):
    config = tmp_path / "c.toml"
    config.write_text(line + "\n")
    out = tmp_path / "R"
    code, _, err = run_cli(
        ["train", "--config", str(config), "--model", "autorec", *FAST, "--out", str(out)], capsys
    )
    _one_error_line(code, err, f"must be a [{line.split()[0]}] section")
    assert not out.exists()


@pytest.mark.parametrize("line", ['model = "autorec"', "train = 5"])
def test_a_run_folders_config_with_a_plain_section_is_one_line(finished, tmp_path, capsys, line):
    out = _copy(finished, tmp_path / "R1")
    (out / "config.toml").write_text(line + "\n")
    for args in (["evaluate", str(out)], ["recommend", str(out), "--user", "1"]):
        code, _, err = run_cli(args, capsys)
        _one_error_line(code, err, "section")


@pytest.mark.parametrize("text", ["[]", '{"a": 1}', '{"test_rmse": "x", "data": {}}', "null"])
def test_a_metrics_file_that_is_json_but_not_metrics_is_one_line(finished, tmp_path, capsys, text):
    out = _copy(finished, tmp_path / "R1")
    (out / "metrics.json").write_text(text)
    for args in (
        ["evaluate", str(out)],
        ["recommend", str(out), "--user", "1"],
        train_args(out, "--resume"),
    ):
        code, _, err = run_cli(args, capsys)
        _one_error_line(code, err, "not an aerec metrics file")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--lr", "nan"], "lr = nan must be a finite number"),
        (["--lr", "inf"], "must be a finite number"),
        (["--l2", "nan"], "must be a finite number"),
        (["--threads", "-1"], "--threads"),
        (["--threads", "0"], "--threads"),
    ],
)
def test_bad_numbers_are_one_line(tmp_path, capsys, args, text):
    out = tmp_path / "R"
    code, _, err = run_cli([*train_args(out), *args], capsys)
    _one_error_line(code, err, text)
    assert not out.exists()


def test_nan_in_a_toml_config_is_one_line(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[train]\nlr = nan\n")
    code, _, err = run_cli(
        ["train", "--config", str(config), *FAST, "--out", str(tmp_path / "R")], capsys
    )
    _one_error_line(code, err, "must be a finite number")


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough "
            "memory: you tried to allocate 60000000000 bytes."
        ),
        MemoryError(),
    ],
)
def test_a_model_too_large_for_memory_is_one_line(tmp_path, capsys, monkeypatch, error):
    from aerec import recommender

    def too_large(*args, **kwargs):
        raise error

    monkeypatch.setattr(recommender, "assemble", too_large)
    out = tmp_path / "R"
    code, _, err = run_cli(train_args(out, "--hidden", "100000000"), capsys)
    _one_error_line(code, err, "does not fit in memory")
    assert "--hidden" in err and not out.exists()


def test_ctrl_c_while_importing_is_one_line(capsys, monkeypatch):
    import aerec.cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(aerec.cli, "_register", interrupted)
    code, _, err = run_cli(["train", "--help"], capsys)
    assert code == 130 and err.strip() == "aborted"


# 7. --scale, --columns and --sep --------------------------------------------------------------
def _half_stars(
    path: Path, header: str = "userId,movieId,rating,timestamp", sep: str = ","
) -> Path:
    from tests.helpers import toy_ratings

    ratings = toy_ratings(n_users=60, n_items=40).ratings
    lines = [header.replace(",", sep)]
    for row in ratings.itertuples():
        stars = max(0.5, row.rating - 0.5 * (row.user % 2))
        lines.append(sep.join(map(str, (row.user, row.item, stars, row.timestamp))))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_reads_a_half_star_movielens_style_csv(tmp_path, capsys):
    data = _half_stars(tmp_path / "ratings.csv")
    base = ["train", "--dataset", str(data), "--hidden", "8", *FAST]
    code, _, err = run_cli([*base, "--out", str(tmp_path / "no")], capsys)
    _one_error_line(code, err, "--columns")
    columns = ["--columns", "userId,movieId,rating,timestamp"]
    code, _, err = run_cli([*base, *columns, "--out", str(tmp_path / "no")], capsys)
    _one_error_line(code, err, "--scale")
    assert not (tmp_path / "no").exists()
    out = tmp_path / "R"
    code, _, err = run_cli([*base, *columns, "--scale", "0.5,5", "--out", str(out)], capsys)
    assert code == 0, err
    text = (out / "config.toml").read_text()
    assert "scale = [\n    0.5,\n    5.0,\n]" in text and "userId" in text
    model = json.loads((out / "model" / "model.json").read_text())
    assert "0.5" in json.dumps(model)


def test_data_section_and_specs_take_the_format(tmp_path, capsys):
    data = _half_stars(tmp_path / "ratings.tsv", "u;i;r;t", ";")
    fmt = f'dataset = "{data}"\nsep = ";"\ncolumns = ["u", "i", "r", "t"]\nscale = [0.5, 5]\n'
    config = tmp_path / "c.toml"
    config.write_text(f"[data]\n{fmt}[model]\nhidden = 8\n")
    code, _, err = run_cli(
        ["train", "--config", str(config), *FAST, "--out", str(tmp_path / "R")], capsys
    )
    assert code == 0, err
    spec = tmp_path / "s.toml"
    spec.write_text(
        f'[experiment]\nname = "half"\nseeds = [1]\n[data]\n{fmt}[model]\nhidden = 8\n'
        '[train]\nepochs = 1\n[[variants]]\nlabel = "a"\n'
    )
    code, _, err = run_cli(
        [
            "experiment",
            "run",
            str(spec),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--no-progress",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert code == 0, err
    assert "1 of 1 runs finished" in err


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--scale", "5,1"], "--scale"),
        (["--scale", "nan,5"], "--scale"),
        (["--scale", "a"], "--scale"),
        (["--columns", "a,b"], "--columns"),
    ],
)
def test_bad_format_options_are_one_line(tmp_path, capsys, args, text):
    code, _, err = run_cli([*train_args(tmp_path / "R"), *args], capsys)
    _one_error_line(code, err, text)


# 8. leftovers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["--test-size", "1.5"],
        ["--device", "foo"],
        ["--dataset", "missing.csv"],
        ["--val-size", "-1"],
    ],
)
def test_errors_found_late_leave_no_folder(tmp_path, capsys, args):
    out = tmp_path / "R"
    code, _, err = run_cli([*train_args(out), *args], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_bad_csv_leaves_no_folder(tmp_path, capsys):
    data = tmp_path / "r.csv"
    data.write_text("user,item,rating\n1,2,3\n1,3,high\n")
    out = tmp_path / "R"
    code, _, err = run_cli(["train", "--dataset", str(data), *FAST, "--out", str(out)], capsys)
    _one_error_line(code, err, "r.csv")
    assert not out.exists()


def test_temporary_files_and_a_finished_runs_checkpoint_are_swept(finished, tmp_path, capsys):
    out = _copy(finished, tmp_path / "R1")
    model, checkpoint = out / "model", out / "checkpoint"
    leftovers = [
        out / ".metrics.json.a1b2.tmp",
        model / ".tmpXy12Zw",
        model / ".model.safetensors.q9.tmp",
        checkpoint / "checkpoint.safetensors",
    ]
    (out / "checkpoint").mkdir()
    for path in leftovers:
        path.write_text("left by kill -9")
    code, _, err = run_cli(train_args(out, "--resume"), capsys)
    assert code == 0, err
    assert not any(p.exists() for p in leftovers) and not (out / "checkpoint").exists()
    assert (out / "model" / "model.safetensors").is_file()


def test_an_unfinished_runs_temporary_files_are_swept(tmp_path, capsys):
    out = tmp_path / "R"
    out.mkdir()
    (out / ".tmpA1b2C3").write_text("4.7 MB of safetensors")
    code, _, err = run_cli(train_args(out), capsys)
    assert code == 0, err
    assert not (out / ".tmpA1b2C3").exists()


def test_a_run_that_diverged_in_its_first_epoch_does_not_block_the_retry(
    tmp_path, capsys, monkeypatch
):
    from aerec.training.trainer import Trainer

    epoch = Trainer.train_epoch
    monkeypatch.setattr(Trainer, "train_epoch", lambda self, e: {"train_loss": float("nan")})
    out = tmp_path / "R"
    code, _, err = run_cli(train_args(out, "--lr", "10"), capsys)
    _one_error_line(code, err, "lower the learning rate")
    assert not out.exists()
    monkeypatch.setattr(Trainer, "train_epoch", epoch)
    code, _, err = run_cli(train_args(out, "--lr", "0.001"), capsys)  # what the error says
    assert code == 0, err
