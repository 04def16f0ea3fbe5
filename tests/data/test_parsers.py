"""Parsing each native format, and one test per kind of bad input.

Every fixture is written here, in tmp_path, in the exact native format of its release.
Bad inputs go through :func:`aerec.data.load`, so each test also checks that no ETL cache
entry (complete or partial) is left behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aerec.data import CustomFormat, RatingScale, load
from aerec.data.parsers import GENRES_100K
from aerec.errors import DataError

ML1M_RATINGS = ["1::1193::5::978300760", "1::661::3::978302109", "2::1193::4::0"]
ML1M_USERS = ["1::F::1::10::48067", "2::M::56::16::02460"]
ML1M_MOVIES = [
    "661::James and the Giant Peach (1996)::Animation|Children's|Musical",
    "1193::One Flew Over the Cuckoo's Nest (1975)::Drama",
    "2000::Café: Star Wars: Episode IV (1977)::Action|Sci-Fi",
]


def write(path: Path, lines: list[str], encoding: str = "latin-1") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def ml1m(root: Path, ratings: list[str] | None = None, name: str = "ml-1m") -> Path:
    folder = root / name
    write(folder / "ratings.dat", ML1M_RATINGS if ratings is None else ratings)
    write(folder / "users.dat", ML1M_USERS)
    write(folder / "movies.dat", ML1M_MOVIES)
    return folder


def etl_entries() -> list[str]:
    etl = Path(os.environ["AEREC_CACHE_DIR"]) / "etl"
    return sorted(p.name for p in etl.iterdir()) if etl.exists() else []


def test_ml1m_dat(tmp_path: Path) -> None:
    data = load(str(ml1m(tmp_path)))
    assert data.name == "ml-1m" and data.scale == RatingScale(1, 5)
    r = data.ratings
    assert list(r.columns) == ["user", "item", "rating", "timestamp"]
    assert [str(t) for t in r.dtypes] == ["int64", "int64", "float32", "int64"]
    assert r["rating"].tolist() == [5.0, 3.0, 4.0] and r["timestamp"].iloc[2] == 0
    assert data.users.loc[2].tolist() == ["M", 56, 16, "02460"]
    assert data.items.loc[2000, "title"] == "Café: Star Wars: Episode IV (1977)"
    assert data.items.loc[661, "genres"] == "Animation|Children's|Musical"


def test_ml100k(tmp_path: Path) -> None:
    folder = tmp_path / "ml-100k"
    write(folder / "u.data", ["196\t242\t3\t881250949", "186\t302\t3\t891717742"])
    write(folder / "u.user", ["196|49|M|writer|55105", "186|39|F|executive|00000"])
    flags = ["0"] * len(GENRES_100K)
    flags[GENRES_100K.index("Comedy")] = flags[GENRES_100K.index("Drama")] = "1"
    write(
        folder / "u.item",
        [
            f"242|Kolya (1996)|24-Jan-1997||http://x|{'|'.join(flags)}",
            f"302|L.A. Confidential (1997)|01-Jan-1997||http://y|{'|'.join(flags)}",
        ],
    )
    data = load(str(folder))
    assert data.name == "ml-100k" and len(data.ratings) == 2
    assert data.users.loc[186].tolist() == ["F", 39, "executive", "00000"]
    assert data.items.loc[242].tolist() == ["Kolya (1996)", "Comedy|Drama"]


def test_ml10m_half_stars(tmp_path: Path) -> None:
    folder = tmp_path / "ml-10M100K"
    write(folder / "ratings.dat", ["1::122::5::838985046", "1::185::4.5::838983525"])
    write(
        folder / "movies.dat",
        ["122::Boomerang (1992)::Comedy|Romance", "185::Amélie (2001)::Comedy"],
        "utf-8",
    )
    data = load(str(folder))
    assert data.name == "ml-10m" and data.scale == RatingScale(0.5, 5)
    assert data.ratings["rating"].tolist() == [5.0, 4.5] and data.users is None
    assert data.items.loc[185, "title"] == "Amélie (2001)"


@pytest.mark.parametrize("name", ["ml-20m", "ml-25m", "ml-32m", "ml-latest-small"])
def test_movielens_csv(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    write(
        folder / "ratings.csv",
        [
            "userId,movieId,rating,timestamp",
            "1,1,4.0,964982703",
            "1,3,0.5,964981247",
            "2,1,2.5,1445714835",
        ],
        "utf-8",
    )
    write(
        folder / "movies.csv",
        [
            "movieId,title,genres",
            '1,"Toy Story, The (1995)",Comedy',
            "3,Amélie (2001),(no genres listed)",
        ],
        "utf-8",
    )
    data = load(str(folder))
    assert data.name == name and data.scale == RatingScale(0.5, 5)
    assert data.ratings["rating"].tolist() == [4.0, 0.5, 2.5]
    assert data.items.loc[1, "title"] == "Toy Story, The (1995)"
    assert data.items.loc[3, "title"] == "Amélie (2001)"


@pytest.mark.parametrize(("suffix", "sep"), [(".csv", ","), (".tsv", "\t")])
def test_custom_text(tmp_path: Path, suffix: str, sep: str) -> None:
    path = write(
        tmp_path / f"mine{suffix}",
        [
            sep.join(["user", "item", "rating"]),
            sep.join(["u1", "i9", "3"]),
            sep.join(["u2", "i9", "1"]),
        ],
    )
    data = load(str(path))
    assert data.name == "mine" and data.ratings["user"].tolist() == ["u1", "u2"]
    assert data.ratings["timestamp"].tolist() == [0, 0]
    assert data.ratings["rating"].dtype == np.float32


def test_custom_parquet_with_own_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pd.DataFrame(
        {"who": [7, 8], "what": [1, 1], "stars": [9.0, 2.0], "when": ["2001-01-01", "1970-01-02"]}
    ).to_parquet(path)
    fmt = CustomFormat("who", "what", "stars", "when", scale=RatingScale(1, 10))
    data = load(str(path), custom=fmt)
    assert data.ratings["timestamp"].tolist() == [978307200, 86400]
    assert data.scale == RatingScale(1, 10)


def test_custom_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", ["u,i,r", "1,2,3"])
    with pytest.raises(DataError, match=r"r\.csv: no column 'user'.*columns: u, i, r"):
        load(str(path))
    assert etl_entries() == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("2::661::3::978302109::9", r"ratings\.dat:2: 5 fields where 4 fields separated by '::'"),
        ("2::661::3", r"ratings\.dat:2: 3 fields where 4 fields separated by '::'"),
        ("", r"ratings\.dat:2: a blank line where 4 fields"),
        ("abc::661::3::978302109", r"ratings\.dat:2: user id 'abc' is not a whole number"),
        ("2::6x1::3::978302109", r"ratings\.dat:2: item id '6x1' is not a whole number"),
        ("2::661::three::978302109", r"ratings\.dat:2: rating 'three' is not a number"),
        ("2::661::7::978302109", r"ratings\.dat:2: rating 7 is outside the scale 1-5"),
        (
            "1::1193::4::978302109",
            r"ratings\.dat:2: user 1 rated item 1193 again \(first at .*ratings\.dat:1\)",
        ),
    ],
)
def test_bad_ratings_line(tmp_path: Path, line: str, message: str) -> None:
    folder = ml1m(tmp_path, [ML1M_RATINGS[0], line, ML1M_RATINGS[2]])
    with pytest.raises(DataError, match=message) as info:
        load(str(folder))
    assert "\n" not in str(info.value) and str(folder) in str(info.value)
    assert etl_entries() == []


def test_empty_file(tmp_path: Path) -> None:
    folder = ml1m(tmp_path)
    (folder / "ratings.dat").write_bytes(b"")
    with pytest.raises(DataError, match=r"ratings\.dat: the file is empty"):
        load(str(folder))
    assert etl_entries() == []


def test_header_only_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", ["user,item,rating"])
    with pytest.raises(DataError, match=r"r\.csv: the file has a header but no data lines"):
        load(str(path))


def test_wrong_separator(tmp_path: Path) -> None:
    folder = ml1m(tmp_path, ["1,1193,5,978300760", "1,661,3,978302109"])
    with pytest.raises(
        DataError, match=r"ratings\.dat:1: fields must be separated by '::', found ','"
    ):
        load(str(folder))
    assert etl_entries() == []


def test_wrong_separator_in_custom_file(tmp_path: Path) -> None:
    path = write(tmp_path / "r.tsv", ["user,item,rating", "1,2,3"])
    with pytest.raises(DataError, match=r"r\.tsv:1: fields must be separated by '\\t', found ','"):
        load(str(path))


def test_bad_line_in_users_file(tmp_path: Path) -> None:
    folder = ml1m(tmp_path)
    write(folder / "users.dat", ["1::F::1::10::48067", "2::M::56"])
    with pytest.raises(DataError, match=r"users\.dat:2: 3 fields where 5"):
        load(str(folder))


def test_custom_parquet_bad_rating_names_row(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [3.0, 6.0]}).to_parquet(path)
    with pytest.raises(DataError, match=r"r\.parquet \(row 2\): rating 6 is outside the scale"):
        load(str(path))
    assert etl_entries() == []


def test_custom_bad_date(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", ["user,item,rating,timestamp", "1,2,3,yesterday"])
    with pytest.raises(DataError, match=r"r\.csv:2: timestamp 'yesterday' is neither seconds"):
        load(str(path))
