"""Finding, downloading and extracting releases; never touches the network.

Downloads go through a fake pooch downloader that copies a zip written by the test.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pooch
import pytest
import requests

from aerec.data import DATASETS, fetch, load
from aerec.data.registry import DatasetSpec
from aerec.data.sources import cache_root, extract_release, locate
from aerec.errors import DataError

FILES = {
    "ratings.dat": "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::0\n",
    "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n",
    "movies.dat": "661::James (1996)::Musical\n1193::Cuckoo (1975)::Drama\n",
}


def make_zip(path: Path, members: dict[str, str] | None = None) -> Path:
    members = members if members is not None else {f"ml-1m/{k}": v for k, v in FILES.items()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def copying_downloader(source: Path, calls: list[str]):
    def download(url: str, output_file: str, pooch_instance: object) -> None:
        calls.append(url)
        shutil.copyfile(source, output_file)

    return download


def pin(monkeypatch: pytest.MonkeyPatch, checksum: str) -> DatasetSpec:
    spec = replace(DATASETS["ml-1m"], checksum=checksum)
    monkeypatch.setitem(DATASETS, "ml-1m", spec)
    return spec


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any real download attempt fails the test; no data folder unless a test sets one."""

    def refuse(self: object, url: str, *args: object, **kwargs: object) -> None:
        pytest.fail(f"a test tried to download {url}")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", refuse)
    monkeypatch.delenv("AEREC_DATA_DIR", raising=False)  # the real data must not be found


def leftovers(folder: Path) -> list[str]:
    """Names of temporary or partial files and folders anywhere under ``folder``."""
    return [p.name for p in folder.rglob("*") if p.name.startswith(".") or "tmp" in p.name]


def test_data_dir_folder_is_used(tmp_path: Path) -> None:
    for name, text in FILES.items():
        (tmp_path / "ml-1m").mkdir(exist_ok=True)
        (tmp_path / "ml-1m" / name).write_text(text)
    assert locate(DATASETS["ml-1m"], data_dir=tmp_path, download=False) == tmp_path / "ml-1m"


def test_data_dir_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_zip(tmp_path / "ml-1m.zip")
    monkeypatch.setenv("AEREC_DATA_DIR", str(tmp_path))
    folder = locate(DATASETS["ml-1m"], download=False)
    assert folder.is_relative_to(cache_root()) and (folder / "ratings.dat").is_file()


def test_named_zip_is_extracted_once(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "copy.zip")
    got = fetch(str(zip_path))
    assert got.data.name == "ml-1m" and len(got.data.ratings) == 3
    ratings = got.source / "ratings.dat"
    mtime = ratings.stat().st_mtime_ns
    assert fetch(str(zip_path)).source == got.source and ratings.stat().st_mtime_ns == mtime
    assert leftovers(cache_root()) == []


def test_zip_missing_member(tmp_path: Path) -> None:
    members = {"ml-1m/ratings.dat": FILES["ratings.dat"], "ml-1m/movies.dat": FILES["movies.dat"]}
    zip_path = make_zip(tmp_path / "ml-1m.zip", members)
    with pytest.raises(DataError, match=r"ml-1m\.zip: the zip has no member ml-1m/users\.dat"):
        load("ml-1m", data_dir=tmp_path, download=False)
    assert list(cache_root().rglob("*.dat")) == [] and leftovers(cache_root()) == []
    assert zip_path.is_file()


def test_zip_slip_is_refused(tmp_path: Path) -> None:
    members = {f"ml-1m/{k}": v for k, v in FILES.items()} | {"ml-1m/../../evil.txt": "x"}
    zip_path = make_zip(tmp_path / "bad.zip", members)
    target = tmp_path / "out"
    with pytest.raises(DataError, match=r"bad\.zip: entry 'ml-1m/\.\./\.\./evil\.txt' would be"):
        extract_release(zip_path, DATASETS["ml-1m"], target)
    assert not list(tmp_path.rglob("evil.txt")) and not target.exists()


def test_corrupt_zip(tmp_path: Path) -> None:
    (tmp_path / "ml-1m.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"ml-1m\.zip: not a valid zip file"):
        locate(DATASETS["ml-1m"], data_dir=tmp_path, download=False)


def test_download_checks_and_extracts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_zip(tmp_path / "official.zip")
    pin(monkeypatch, f"md5:{md5(source)}")
    calls: list[str] = []
    got = fetch("ml-1m", downloader=copying_downloader(source, calls))
    assert calls == ["https://files.grouplens.org/datasets/movielens/ml-1m.zip"]
    assert got.source == cache_root() / "ml-1m" and len(got.data.ratings) == 3
    assert (cache_root() / "downloads" / "ml-1m.zip").is_file()
    fetch("ml-1m", downloader=copying_downloader(source, calls))
    assert len(calls) == 1  # found in the cache the second time
    assert leftovers(cache_root()) == []


def test_checksum_mismatch_deletes_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_zip(tmp_path / "tampered.zip")
    pin(monkeypatch, "md5:" + "0" * 32)
    with pytest.raises(DataError, match=r"ml-1m\.zip: the download does not match the pinned"):
        fetch("ml-1m", downloader=copying_downloader(source, []))
    downloads = cache_root() / "downloads"
    assert [p.name for p in downloads.iterdir()] == []
    assert not (cache_root() / "ml-1m").exists()


def test_offline_says_where_to_put_files(tmp_path: Path) -> None:
    def offline(url: str, output_file: str, pooch_instance: object) -> None:
        raise requests.ConnectionError("no network")

    with pytest.raises(DataError) as info:
        fetch("ml-1m", data_dir=tmp_path, downloader=offline)
    message = str(info.value)
    assert "ml-1m not found" in message and "no network" in message and "\n" not in message
    assert str(tmp_path / "ml-1m") in message and str(cache_root() / "ml-1m") in message
    assert f"put the extracted ml-1m/ folder or ml-1m.zip in {tmp_path}" in message
    assert "--data-dir" in message


def test_download_off(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"ml-10m not found .*download is off.*ml-10M100K/"):
        load("ml-10m", data_dir=tmp_path, download=False)


def test_unwritable_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    make_zip(tmp_path / "ml-1m.zip")
    with pytest.raises(DataError, match=r"cannot write to the cache folder .*file/cache"):
        load("ml-1m", data_dir=tmp_path, cache_dir=blocker / "cache", download=False)


def test_failed_extraction_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zip_path = make_zip(tmp_path / "ml-1m.zip")
    copies = []

    def flaky_copy(src, dst, length=0) -> None:
        copies.append(1)
        if len(copies) == 2:
            raise OSError(28, "No space left on device")
        shutil.copyfileobj(src, dst)

    monkeypatch.setattr("aerec.data.sources.shutil.copyfileobj", flaky_copy)
    with pytest.raises(OSError, match="No space left"):
        extract_release(zip_path, DATASETS["ml-1m"], tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
