"""The ETL cache: each parsed data set is stored once as Parquet and reloaded in milliseconds.

An entry is a folder ``<cache>/etl/<name>-<key>/`` with ``ratings.parquet``, optional
``users.parquet`` and ``items.parquet``, and ``meta.json`` (name, scale, what the key was made
of). The key hashes the data set name, the parser version, any format options, and each source
file's resolved path, size and mtime, so editing or replacing a source file means a re-parse.
The folder is written under a temporary name and renamed into place: an entry that exists is
complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from aerec.data.parsers import PARSER_VERSION
from aerec.data.sources import writable
from aerec.data.types import RatingScale, RatingsData

_TABLES = ("ratings", "users", "items")


def cache_key(name: str, files: Sequence[Path], options: str = "") -> str:
    """A short hex key for (name, parser version, options, each file's path, size, mtime)."""
    parts: list[object] = [name, PARSER_VERSION, options]
    for path in files:
        stat = path.stat()
        parts.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def entry_dir(cache: Path, name: str, key: str) -> Path:
    """The folder of one cache entry (it may not exist)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return cache / "etl" / f"{safe}-{key}"


def load_entry(folder: Path) -> RatingsData | None:
    """The data set stored in ``folder``, or None when there is no (readable) entry."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        tables = {t: _read(folder / f"{t}.parquet") for t in _TABLES}
    except (OSError, ValueError):
        return None  # damaged by hand: parse again and overwrite
    if tables["ratings"] is None:
        return None
    scale = RatingScale(meta["scale"]["low"], meta["scale"]["high"])
    return RatingsData(meta["name"], tables["ratings"], scale, tables["users"], tables["items"])


def store_entry(folder: Path, data: RatingsData, sources: Sequence[Path]) -> Path:
    """Write ``data`` as the entry ``folder``, atomically; return the folder."""
    writable(folder.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for table in _TABLES:
            frame = getattr(data, table)
            if frame is not None:
                keep_index = table != "ratings"  # users and items are indexed by raw id
                frame.to_parquet(tmp / f"{table}.parquet", engine="pyarrow", index=keep_index)
        meta = {
            "name": data.name,
            "scale": {"low": data.scale.low, "high": data.scale.high},
            "parser_version": PARSER_VERSION,
            "sources": [str(p.resolve()) for p in sources],
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        _publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _publish(tmp: Path, folder: Path) -> None:
    """Rename ``tmp`` to ``folder``; a complete entry already there (a concurrent writer's)
    is kept, a damaged one replaced."""
    if folder.exists() and load_entry(folder) is None:
        shutil.rmtree(folder, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:
        if load_entry(folder) is None:
            raise


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path, engine="pyarrow") if path.is_file() else None
