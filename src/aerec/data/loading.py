"""``load(name)``: any supported data set as a :class:`~aerec.data.types.RatingsData`.

``name`` is a registry name (``ml-1m``), ``synthetic-<shape>``, a folder or zip with a known
MovieLens layout (recognised by the files in it), or a ratings file of your own (.csv, .tsv or
.parquet; see :class:`~aerec.data.parsers.CustomFormat`). Parsed files go through the ETL
cache, so the second load of a data set reads Parquet instead of text.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from aerec.data import cache as etl
from aerec.data.parsers import CustomFormat, read_custom, read_release
from aerec.data.registry import DATASETS, DatasetSpec, spec_for_folder
from aerec.data.sources import Downloader, cache_root, from_path, locate
from aerec.data.types import UNKNOWN_TIMESTAMP, RatingsData
from aerec.errors import ConfigError, DataError

SYNTHETIC_PREFIX = "synthetic-"


@dataclass(frozen=True)
class Fetched:
    """A loaded data set and where it came from."""

    data: RatingsData
    source: Path | None
    """The folder or file that was parsed; None for synthetic data."""
    cache_entry: Path | None
    """The ETL cache folder holding the parsed tables; None for synthetic data."""


def load(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = False,
    custom: CustomFormat | None = None,
    seed: int = 0,
) -> RatingsData:
    """Load a data set by registry name, ``synthetic-<shape>``, or path (see module doc)."""
    return fetch(
        name,
        data_dir=data_dir,
        cache_dir=cache_dir,
        download=download,
        progress=progress,
        custom=custom,
        seed=seed,
    ).data


def fetch(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = False,
    custom: CustomFormat | None = None,
    seed: int = 0,
    downloader: Downloader | None = None,
) -> Fetched:
    """Like :func:`load`, but also says which files were parsed and where they are cached."""
    if name.startswith(SYNTHETIC_PREFIX):
        from aerec.data import synthetic  # lazily: written and tested on its own

        return Fetched(synthetic.generate(name.removeprefix(SYNTHETIC_PREFIX), seed), None, None)
    if name in DATASETS:
        if custom is not None:
            raise ConfigError(f"a custom format applies to your own ratings file, not to {name}")
        spec = DATASETS[name]
        folder = locate(
            spec,
            data_dir=data_dir,
            cache_dir=cache_dir,
            download=download,
            progress=progress,
            downloader=downloader,
        )
        return _release(folder, spec, spec.name, cache_dir)
    return _from_path(name, Path(name).expanduser(), cache_dir, custom)


@dataclass(frozen=True)
class Release:
    """The extracted folder of a MovieLens release, its layout and its name."""

    folder: Path
    spec: DatasetSpec
    name: str


def locate_release(
    name: str,
    *,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    download: bool = True,
    progress: bool = False,
) -> Release:
    """The folder of release ``name`` (a registry name, or a release folder or zip), for
    reading files beside its ratings (ML-100K's own folds)."""
    if name in DATASETS:
        spec = DATASETS[name]
        folder = locate(
            spec, data_dir=data_dir, cache_dir=cache_dir, download=download, progress=progress
        )
        return Release(folder, spec, name)
    path = Path(name).expanduser()
    if not path.exists() or (path.is_file() and not zipfile.is_zipfile(path)):
        raise DataError(
            f"{name!r} is not a MovieLens release (a registry name such as ml-100k, or its "
            f"folder or zip); predefined folds come from a release"
        )
    spec, label = detect(path)
    return Release(from_path(path, spec, cache_dir), spec, label)


def _from_path(
    name: str, path: Path, cache_dir: str | Path | None, custom: CustomFormat | None
) -> Fetched:
    if path.is_file() and not zipfile.is_zipfile(path):
        fmt = custom or CustomFormat()
        parse = partial(read_custom, path, fmt)
        return _cached(f"custom-{path.stem}", [path], repr(fmt), cache_dir, path, parse)
    if not path.exists():
        known = ", ".join(DATASETS)
        raise DataError(
            f"unknown data set {name!r}: not one of {known}, not synthetic-<shape>, and no "
            f"such file or folder; check the spelling or the path"
        )
    spec, label = detect(path)
    folder = from_path(path, spec, cache_dir)
    return _release(folder, spec, label, cache_dir)


def detect(path: Path) -> tuple[DatasetSpec, str]:
    """The MovieLens layout of a folder or zip, by the files it holds, and a name for it."""
    for folder, files in _listing(path).items():
        template = _template(files)
        if template is None:
            continue
        label = folder or path.stem
        known = spec_for_folder(label)
        if known is not None and known.kind == template.kind and set(known.files) <= files:
            return replace(known, folder=folder or known.folder), known.name
        return replace(template, name=label, folder=folder or label), label
    raise DataError(
        f"{path}: no MovieLens layout found (u.data; ratings.dat; ratings.csv with movies.csv); "
        f"name an official folder or zip, or a .csv/.tsv/.parquet ratings file"
    )


def _listing(path: Path) -> dict[str, set[str]]:
    """File names per top folder ('' = the top itself) of a folder or zip."""
    out: dict[str, set[str]] = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                head, _, tail = member.rpartition("/")
                if tail and "/" not in head:
                    out.setdefault(head, set()).add(tail)
        return out
    out[""] = {p.name for p in path.iterdir() if p.is_file()}
    for sub in sorted(p for p in path.iterdir() if p.is_dir()):
        out[sub.name] = {p.name for p in sub.iterdir() if p.is_file()}
    return out


def _template(files: set[str]) -> DatasetSpec | None:
    if "u.data" in files:
        return DATASETS["ml-100k"]
    if "ratings.dat" in files:
        return DATASETS["ml-1m" if "users.dat" in files else "ml-10m"]
    if {"ratings.csv", "movies.csv"} <= files:
        return DATASETS["ml-latest-small"]
    return None


def _release(folder: Path, spec: DatasetSpec, name: str, cache_dir: str | Path | None) -> Fetched:
    files = [folder / f for f in spec.files]
    options = f"{spec.kind}:{spec.scale}"
    parse = partial(read_release, folder, spec, name)
    return _cached(name, files, options, cache_dir, folder, parse)


def _cached(
    name: str,
    files: list[Path],
    options: str,
    cache_dir: str | Path | None,
    source: Path,
    parse: Callable[[], RatingsData],
) -> Fetched:
    entry = etl.entry_dir(cache_root(cache_dir), name, etl.cache_key(name, files, options))
    data = etl.load_entry(entry)
    if data is None:
        data = parse()
        etl.store_entry(entry, data, files)
    return Fetched(data, source, entry)


def info(data: RatingsData) -> dict:
    """Sizes, density, rating histogram and per-user / per-item counts, JSON-ready."""
    ratings = data.ratings
    per_user = ratings["user"].value_counts()
    per_item = ratings["item"].value_counts()
    n_users, n_items = len(per_user), len(per_item)
    unknown = int((ratings["timestamp"].to_numpy() == UNKNOWN_TIMESTAMP).sum())
    histogram = ratings["rating"].value_counts().sort_index()
    return {
        "name": data.name,
        "n_ratings": len(ratings),
        "n_users": n_users,
        "n_items": n_items,
        "density": len(ratings) / (n_users * n_items) if n_users and n_items else 0.0,
        "rating_histogram": {f"{float(k):g}": int(v) for k, v in histogram.items()},
        "ratings_per_user": _spread(per_user),
        "ratings_per_item": _spread(per_item),
        "timestamps_known": len(ratings) - unknown,
        "timestamps_unknown": unknown,
        "scale": {"low": data.scale.low, "high": data.scale.high},
        "has_user_features": _has_features(data.users),
        "has_item_features": _has_features(data.items),
    }


def _spread(counts: pd.Series) -> dict:
    if counts.empty:
        return {"min": 0, "median": 0.0, "max": 0}
    values = counts.to_numpy()
    return {"min": int(values.min()), "median": float(np.median(values)), "max": int(values.max())}


def _has_features(table: pd.DataFrame | None) -> bool:
    return table is not None and not table.empty and len(table.columns) > 0
