"""``load``, ``fetch`` and ``info``: dispatch, the ETL cache, and the real ML-1M numbers."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aerec.data.loading as loading
from aerec.data import CustomFormat, RatingScale, RatingsData, fetch, info, load
from aerec.data.cache import load_entry, store_entry
from aerec.errors import ConfigError, DataError

RATINGS = "1::10::5::978300760\n1::20::3::0\n2::10::4::978302109\n3::30::4::978301968\n"
USERS = "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n"
MOVIES = "10::Ten (1995)::Drama\n20::Twenty (1996)::Comedy|Drama\n30::Thirty (1997)::Horror\n"


def ml1m(root: Path) -> Path:
    folder = root / "ml-1m"
    folder.mkdir(parents=True)
    for name, text in (("ratings.dat", RATINGS), ("users.dat", USERS), ("movies.dat", MOVIES)):
        (folder / name).write_text(text, encoding="latin-1")
    return folder


def entries() -> list[Path]:
    return sorted((Path(os.environ["AEREC_CACHE_DIR"]) / "etl").iterdir())


def test_registry_name_with_data_dir(tmp_path: Path) -> None:
    ml1m(tmp_path)
    got = fetch("ml-1m", data_dir=tmp_path, download=False)
    assert got.source == tmp_path / "ml-1m" and got.data.name == "ml-1m"
    assert got.data.ratings["user"].tolist() == [1, 1, 2, 3]


def test_second_load_comes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ml1m(tmp_path)
    first = load("ml-1m", data_dir=tmp_path)
    monkeypatch.setattr(loading, "read_release", lambda *a: pytest.fail("parsed again"))
    again = load("ml-1m", data_dir=tmp_path)
    assert again.ratings.equals(first.ratings)
    assert again.users.equals(first.users) and again.items.equals(first.items)
    assert again.scale == first.scale and again.name == "ml-1m"
    assert [p.name.startswith("ml-1m-") for p in entries()] == [True]


def test_changed_source_is_parsed_again(tmp_path: Path) -> None:
    folder = ml1m(tmp_path)
    assert len(load("ml-1m", data_dir=tmp_path).ratings) == 4
    with (folder / "ratings.dat").open("a") as f:
        f.write("3::20::1::978301999\n")
    assert len(load("ml-1m", data_dir=tmp_path).ratings) == 5
    assert len(entries()) == 2


def test_cache_entry_is_complete_and_alone(tmp_path: Path) -> None:
    ml1m(tmp_path)
    entry = fetch("ml-1m", data_dir=tmp_path).cache_entry
    assert sorted(p.name for p in entry.iterdir()) == [
        "items.parquet",
        "meta.json",
        "ratings.parquet",
        "users.parquet",
    ]
    assert json.loads((entry / "meta.json").read_text())["name"] == "ml-1m"
    assert [p for p in entry.parent.iterdir() if p.name.startswith(".")] == []
    (entry / "meta.json").write_text("{broken")
    assert load_entry(entry) is None
    assert len(load("ml-1m", data_dir=tmp_path).ratings) == 4  # re-parsed and rewritten
    assert load_entry(entry) is not None


def test_concurrent_writer_keeps_one_complete_entry(tmp_path: Path) -> None:
    folder = ml1m(tmp_path)
    got = fetch("ml-1m", data_dir=tmp_path)
    store_entry(got.cache_entry, got.data, [folder / "ratings.dat"])  # a second writer
    assert load_entry(got.cache_entry).ratings.equals(got.data.ratings)
    assert [p.name for p in got.cache_entry.parent.iterdir()] == [got.cache_entry.name]


def test_csv_release_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "ml-25m"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,2,3.5,1\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n2,Two (2000),Drama\n")
    data = load("ml-25m", data_dir=tmp_path, download=False)
    assert data.scale == RatingScale(0.5, 5) and data.ratings["rating"].tolist() == [3.5]


def test_synthetic_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    import aerec.data.synthetic as synthetic

    ratings = pd.DataFrame({"user": [1], "item": [1], "rating": np.float32([3]), "timestamp": [0]})
    made = RatingsData("synthetic-tiny", ratings)
    calls: list[tuple[str, int]] = []

    def generate(shape: str, seed: int) -> RatingsData:
        calls.append((shape, seed))
        return made

    monkeypatch.setattr(synthetic, "generate", generate)
    assert load("synthetic-tiny", seed=7) is made and calls == [("tiny", 7)]
    assert fetch("synthetic-tiny").cache_entry is None


def test_custom_format_with_registry_name() -> None:
    with pytest.raises(ConfigError, match="custom format applies to your own ratings file"):
        load("ml-1m", custom=CustomFormat())


def test_unknown_name() -> None:
    with pytest.raises(DataError, match=r"unknown data set 'ml-2m': not one of ml-100k, ml-1m"):
        load("ml-2m")


def test_folder_without_layout(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="no MovieLens layout found"):
        load(str(tmp_path))


def test_info_on_tiny_data(tmp_path: Path) -> None:
    ml1m(tmp_path)
    stats = info(load("ml-1m", data_dir=tmp_path))
    assert stats["n_ratings"] == 4 and stats["n_users"] == 3 and stats["n_items"] == 3
    assert stats["density"] == pytest.approx(4 / 9)
    assert stats["rating_histogram"] == {"3": 1, "4": 2, "5": 1}
    assert stats["ratings_per_user"] == {"min": 1, "median": 1.0, "max": 2}
    assert stats["ratings_per_item"] == {"min": 1, "median": 1.0, "max": 2}
    assert (stats["timestamps_known"], stats["timestamps_unknown"]) == (3, 1)
    assert stats["scale"] == {"low": 1.0, "high": 5.0}
    assert stats["has_user_features"] and stats["has_item_features"]
    assert json.loads(json.dumps(stats)) == stats


def test_info_half_stars_and_no_side_tables(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n1,1,0.5\n1,2,4.5\n")
    stats = info(load(str(path), custom=CustomFormat(scale=RatingScale(0.5, 5))))
    assert stats["rating_histogram"] == {"0.5": 1, "4.5": 1}
    assert not stats["has_user_features"] and not stats["has_item_features"]


@pytest.mark.real_data
def test_real_ml1m(real_data_dir: Path) -> None:
    start = time.perf_counter()
    data = load("ml-1m", data_dir=real_data_dir, download=False)
    parse_s = time.perf_counter() - start
    start = time.perf_counter()
    again = load("ml-1m", data_dir=real_data_dir, download=False)
    reload_s = time.perf_counter() - start
    print(f"ML-1M first parse {parse_s:.3f} s, cache reload {reload_s:.3f} s")
    assert reload_s < 1.0 and again.ratings.equals(data.ratings)
    stats = info(again)
    assert (stats["n_ratings"], stats["n_users"], stats["n_items"]) == (1000209, 6040, 3706)
    assert stats["timestamps_unknown"] == 199435
    assert len(data.users) == 6040 and len(data.items) == 3883
    assert data.users["gender"].value_counts().to_dict() == {"M": 4331, "F": 1709}
