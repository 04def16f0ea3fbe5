"""``aerec data fetch | info | split`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import run_cli


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(list(args), capsys)


def ml1m(root: Path, n_users: int = 12, n_items: int = 15) -> Path:
    """A small, dense ML-1M-format folder: every user rates every item."""
    rng = np.random.default_rng(0)
    folder = root / "ml-1m"
    folder.mkdir(parents=True)
    lines = [
        f"{u}::{10 * i}::{rng.integers(1, 6)}::{978300000 + 60 * (u * n_items + i)}"
        for u in range(1, n_users + 1)
        for i in range(1, n_items + 1)
    ]
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n")
    users = [f"{u}::M::25::{u % 21}::0{u:04d}" for u in range(1, n_users + 1)]
    (folder / "users.dat").write_text("\n".join(users) + "\n")
    movies = [f"{10 * i}::Movie {i} (1990)::Drama" for i in range(1, n_items + 1)]
    (folder / "movies.dat").write_text("\n".join(movies) + "\n")
    return folder


@pytest.mark.real_data
def test_info_json_on_real_ml1m(capsys: pytest.CaptureFixture[str], real_data_dir: Path) -> None:
    code, out, _ = run(capsys, "data", "info", "ml-1m", "--data-dir", str(real_data_dir), "--json")
    stats = json.loads(out)
    assert code == 0
    assert (stats["n_ratings"], stats["n_users"], stats["n_items"]) == (1000209, 6040, 3706)
    histogram = {int(k): v for k, v in stats["rating_histogram"].items()}
    assert histogram == {1: 56174, 2: 107557, 3: 261197, 4: 348971, 5: 226310}
    assert stats["timestamps_unknown"] == 199435 and stats["timestamps_known"] == 800774


@pytest.mark.real_data
def test_split_real_ml1m(
    capsys: pytest.CaptureFixture[str], real_data_dir: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "split"
    args = ("data", "split", "ml-1m", "--data-dir", str(real_data_dir), "--out", str(out_dir))
    code, _, err = run(capsys, *args, "--method", "stratified", "--seed", "3")
    assert code == 0, err
    sizes = [len(pd.read_parquet(out_dir / f"{p}.parquet")) for p in ("train", "val", "test")]
    assert sum(sizes) == 1000209
    assert json.loads((out_dir / "split.json").read_text())["n_train"] == sizes[0]


def test_info_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ml1m(tmp_path)
    code, out, _ = run(capsys, "data", "info", "ml-1m", "--data-dir", str(tmp_path))
    assert code == 0
    assert "ratings           180" in out and "users             12" in out
    assert "timestamps        180 known, 0 unknown" in out and "user features     yes" in out


def test_data_dir_from_env(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ml1m(tmp_path)
    monkeypatch.setenv("AEREC_DATA_DIR", str(tmp_path))
    code, out, _ = run(capsys, "data", "info", "ml-1m", "--json", "--no-download")
    assert code == 0 and json.loads(out)["n_items"] == 15


def test_fetch_says_where(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = ml1m(tmp_path)
    code, out, _ = run(capsys, "data", "fetch", "ml-1m", "--data-dir", str(tmp_path))
    assert code == 0 and "ml-1m: 180 ratings" in out
    assert f"source: {folder}" in out and "cached: " in out and "/etl/ml-1m-" in out


def test_split_writes_raw_ids(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    ml1m(tmp_path)
    out_dir = tmp_path / "out"
    code, out, err = run(
        capsys, "data", "split", "ml-1m", "--data-dir", str(tmp_path), "--method", "random",
        "--seed", "1", "--test-size", "0.2", "--val-size", "0.1", "--out", str(out_dir),
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "split.json",
        "test.parquet",
        "train.parquet",
        "val.parquet",
    ]
    parts = {p: pd.read_parquet(out_dir / f"{p}.parquet") for p in ("train", "val", "test")}
    both = pd.concat(parts.values())
    assert list(both.columns) == ["user", "item", "rating", "timestamp"]
    assert len(both) == 180 and not both.duplicated(["user", "item"]).any()
    assert set(both["item"]) == {10 * i for i in range(1, 16)}  # raw ids, not 0..14
    report = json.loads((out_dir / "split.json").read_text())
    assert report["n_test"] == len(parts["test"]) == 36 and report["method"] == "random"
    assert "test_cold_users" in report and f"-> {out_dir}" in out


def test_split_passes_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aerec.data import splits

    ml1m(tmp_path)
    seen: dict = {}
    real = splits.split

    def spy(encoded, **kwargs):
        seen.update(kwargs)
        return real(encoded, **kwargs)

    monkeypatch.setattr(splits, "split", spy)
    code, _, err = run(
        capsys, "data", "split", "ml-1m", "--data-dir", str(tmp_path), "--method", "kfold",
        "--k", "4", "--fold", "2", "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 0, err
    assert seen == {"method": "kfold", "seed": 42, "test_size": 0.1, "val_size": None, "k": 4,
                    "fold": 2}  # fmt: skip


def test_user_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = ml1m(tmp_path)
    (folder / "ratings.dat").write_text("1,10,5,978300000\n")
    code, out, err = run(capsys, "data", "info", str(folder))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "ratings.dat:1: fields must be separated by '::'" in err


def test_unknown_method_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "data", "split", "ml-1m", "--method", "magic", "--out", "x")
    assert code == 2 and "magic" in err


def test_info_on_a_custom_file_with_its_own_columns_and_scale(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "mine.tsv"
    path.write_text("who\twhat\tstars\nu1\ti1\t0.5\nu1\ti2\t10\nu2\ti1\t7.5\n")
    args = ("data", "info", str(path), "--columns", "who,what,stars", "--scale", "0.5,10", "--json")
    code, out, err = run(capsys, *args)
    assert code == 0, err
    stats = json.loads(out)
    assert (stats["n_ratings"], stats["n_users"], stats["n_items"]) == (3, 2, 2)
    code, _, err = run(capsys, "data", "info", str(path), "--columns", "who,what")
    assert code != 0 and "3 or 4 names" in err
