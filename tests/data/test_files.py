"""Predefined splits: train / test (/ validation) files, and ML-100K's own folds.

Every file is written here, in tmp_path, in the ML-100K format (tab-separated user, item,
rating, timestamp; no header); no MovieLens file is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aerec.data.parsers import GENRES_100K
from aerec.errors import ConfigError, DataError
from aerec.runs import DataConfig, load_data


def write(path: Path, rows: list[tuple]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def grid_rows(users: range, items: range, skip: set = frozenset()) -> list[tuple]:
    return [
        (u, i, 1 + (u + i) % 5, 880000000 + u * 100 + i)
        for u in users
        for i in items
        if (u, i) not in skip
    ]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """40 users x 10 items in train; test: 2 held-out cells per user, plus user 99 and
    item 77, which are not in train."""
    test_cells = {(u, (u % 5) * 2) for u in range(1, 41)} | {
        (u, (u % 5) * 2 + 1) for u in range(1, 41)
    }
    train = write(tmp_path / "u1.base", grid_rows(range(1, 41), range(10), test_cells))
    test_rows = [(u, i, 4, 890000000) for u, i in sorted(test_cells)]
    test_rows += [(99, 3, 5, 890000001), (5, 77, 2, 890000002)]
    test = write(tmp_path / "u1.test", test_rows)
    return train, test


def test_files_are_encoded_over_their_union(pair):
    train, test = pair
    data, parts = load_data(DataConfig(split="files", train=str(train), test=str(test)), seed=1)
    assert 99 in data.user_vocab.ids and 77 in data.item_vocab.ids
    assert data.n_users == 41 and data.n_items == 11
    assert len(parts.test) == 82 and len(parts.train) + len(parts.val) == 320
    # the test user and item without training ratings are counted
    assert parts.report["test_cold_users"] == 1 and parts.report["test_cold_items"] == 1
    assert parts.report["test_cold_ratings"] == 2 and parts.report["method"] == "files"


def test_validation_is_carved_from_train_with_the_split_seed(pair):
    train, test = pair
    config = DataConfig(split="files", train=str(train), test=str(test))
    _, a = load_data(config, seed=1)
    _, b = load_data(config, seed=1)
    _, c = load_data(config, seed=2)
    assert a.report["val_from_train"] and len(a.val) == round(0.05 * 320)
    assert np.array_equal(a.val.items, b.val.items) and np.array_equal(a.val.users, b.val.users)
    assert not np.array_equal(np.c_[a.val.users, a.val.items], np.c_[c.val.users, c.val.items])
    _, d = load_data(DataConfig(split="files", train=str(train), test=str(test), val_size=0.25), 1)
    assert len(d.val) == 80


def test_a_validation_file_is_used_as_given(pair, tmp_path):
    train, test = pair
    val = write(tmp_path / "val.tsv", [(1, 20, 3, 0), (2, 21, 4, 0)])
    config = DataConfig(split="files", train=str(train), test=str(test), val=str(val))
    data, parts = load_data(config, seed=1)
    assert len(parts.val) == 2 and len(parts.train) == 320 and not parts.report["val_from_train"]
    assert {20, 21} <= set(data.item_vocab.ids)


def test_other_formats_read_as_files(tmp_path):
    train = tmp_path / "ratings.dat"
    train.write_text("1::10::5::0\n1::11::3::0\n2::10::4::0\n")
    test = tmp_path / "test.csv"
    test.write_text("user,item,rating\n2,11,2\n")
    data, parts = load_data(DataConfig(split="files", train=str(train), test=str(test)), seed=1)
    assert len(parts.test) == 1 and data.n_users == 2


def test_missing_file_is_one_line(pair, tmp_path):
    train, _ = pair
    with pytest.raises(DataError, match=r"nope\.test: file not found"):
        load_data(DataConfig(split="files", train=str(train), test=str(tmp_path / "nope.test")), 1)


def test_an_unreadable_file_is_one_line(pair, tmp_path):
    train, _ = pair
    bad = tmp_path / "bad.test"
    bad.write_text("1\tx\t3\t0\n")
    with pytest.raises(DataError, match=r"bad\.test:1"):
        load_data(DataConfig(split="files", train=str(train), test=str(bad)), 1)


def test_a_test_file_overlapping_train_is_refused(pair, tmp_path):
    train, _ = pair
    test = write(tmp_path / "leak.test", [(3, 6, 4, 0), (1, 1, 4, 0)])  # (1, 1) is in train
    with pytest.raises(DataError, match=r"shares 1 .user, item. pairs with the train file"):
        load_data(DataConfig(split="files", train=str(train), test=str(test)), 1)


def test_files_on_different_scales_are_refused(pair, tmp_path):
    train, _ = pair
    test = tmp_path / "ratings.csv"  # MovieLens' half-star ratings.csv
    test.write_text("userId,movieId,rating,timestamp\n1,500,4.5,0\n")
    with pytest.raises(DataError, match=r"on the 0\.5-5 scale but the train file .* 1-5"):
        load_data(DataConfig(split="files", train=str(train), test=str(test)), 1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"split": "files", "train": "a"}, "needs a train and a test file"),
        ({"split": "random", "train": "a"}, "is for split = 'files'"),
        ({"split": "random", "k": 3}, "k is the number of folds"),
        ({"split": "random", "fold": 1}, "fold is for split"),
        ({"split": "kfold", "k": 3, "fold": 3}, "kfold needs k >= 2 and a fold 0..k-1"),
        ({"split": "kfold", "fold": "u1"}, "kfold needs"),
        ({"split": "kfold", "k": 0}, "kfold needs k >= 2"),
        ({"split": "predefined", "fold": "u9"}, "needs the release's fold"),
        ({"split": "nope"}, "unknown split"),
    ],
)
def test_split_fields_are_checked_when_the_config_is_made(fields, message):
    with pytest.raises(ConfigError, match=message):
        DataConfig(**fields)


def ml100k(root: Path, folds: dict[str, tuple[list, list]]) -> Path:
    """A fake ML-100K folder: u.data (all ratings), u.user, u.item and the given folds."""
    folder = root / "ml-100k"
    everything = sorted({r for base, test in folds.values() for r in base + test})
    write(folder / "u.data", everything)
    users = sorted({r[0] for r in everything})
    items = sorted({r[1] for r in everything})
    (folder / "u.user").write_text("".join(f"{u}|30|M|writer|00000\n" for u in users))
    flags = "|".join(["0"] * len(GENRES_100K))
    (folder / "u.item").write_text(
        "".join(f"{i}|Film {i}|01-Jan-1997||http://x|{flags}\n" for i in items)
    )
    for name, (base, test) in folds.items():
        write(folder / f"{name}.base", base)
        write(folder / f"{name}.test", test)
    return folder


def test_the_release_folds_by_name(tmp_path):
    rows = grid_rows(range(1, 21), range(1, 9))
    folds = {
        f"u{f}": ([r for j, r in enumerate(rows) if j % 5 != f - 1], rows[f - 1 :: 5])
        for f in range(1, 6)
    }
    folder = ml100k(tmp_path, folds)
    tests = []
    for fold in ("u1", "u2", "u3", "u4", "u5"):
        data, parts = load_data(DataConfig(str(folder), split="predefined", fold=fold), seed=1)
        assert data.name == f"ml-100k/{fold}" and data.users is not None
        assert len(parts.test) == len(folds[fold][1]) and parts.report["fold"] == fold
        users, items = data.user_vocab.ids[parts.test.users], data.item_vocab.ids[parts.test.items]
        tests.append(set(zip(users.tolist(), items.tolist(), strict=True)))
    assert set.union(*tests) == {(r[0], r[1]) for r in rows} and sum(map(len, tests)) == len(rows)


def test_a_missing_fold_file_says_where_to_get_it(tmp_path):
    rows = grid_rows(range(1, 5), range(1, 5))
    folder = ml100k(tmp_path, {"u1": (rows[:10], rows[10:])})
    with pytest.raises(DataError, match=r"no ua\.base, ua\.test"):
        load_data(DataConfig(str(folder), split="predefined", fold="ua"), seed=1)


def test_the_folds_come_out_of_the_official_zip(tmp_path):
    import zipfile

    rows = grid_rows(range(1, 9), range(1, 6))
    folder = ml100k(tmp_path / "src", {"u1": (rows[:30], rows[30:])})
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.iterdir()):
            z.write(path, f"ml-100k/{path.name}")
    data, parts = load_data(DataConfig(str(archive), split="predefined", fold="u1"), seed=1)
    assert len(parts.test) == 10 and data.name == "ml-100k/u1"


@pytest.mark.parametrize("based", ["user", "item"])
def test_cold_test_pairs_get_the_fallback_and_are_counted(pair, tmp_path, based):
    """User 99 and item 77 of the test file have no training rating: the model predicts the
    mean training rating for both pairs and metrics.json counts them."""
    import json

    from aerec.models import model_config
    from aerec.runs import RunConfig, train_run
    from aerec.training import TrainConfig

    train, test = pair
    config = RunConfig(
        model_config("autorec", based=based, hidden=4),
        DataConfig(split="files", train=str(train), test=str(test)),
        TrainConfig(epochs=1),
        seed=1,
    )
    metrics = train_run(config, tmp_path / "run")
    assert metrics["test_fallback"] == 2 and metrics["split"]["test_cold_ratings"] == 2
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test_fallback"] == 2
    assert metrics["ranking"]["cold_users"] == 1  # user 99 rated item 3 with 5: relevant


def test_a_validation_file_overlapping_test_is_refused(pair, tmp_path):
    train, test = pair
    val = write(tmp_path / "v.tsv", [(99, 3, 5, 0)])  # the test file's (99, 3)
    config = DataConfig(split="files", train=str(train), test=str(test), val=str(val))
    with pytest.raises(DataError, match=r"the validation file shares 1 .* with the test file"):
        load_data(config, 1)


def test_half_star_dat_files_are_on_the_half_star_scale(tmp_path):
    train = tmp_path / "ratings.dat"
    train.write_text("1::10::4.5::0\n1::11::0.5::0\n2::10::4::0\n")
    test = tmp_path / "test.dat"
    test.write_text("2::11::3.5::0\n")
    data, parts = load_data(DataConfig(split="files", train=str(train), test=str(test)), seed=1)
    assert (data.scale.low, data.scale.high) == (0.5, 5.0) and len(parts.test) == 1
