"""``aerec data``: fetch a data set into the cache, describe it, split it to Parquet files."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

from aerec.cli.options import COLUMNS, DATA_DIR, FINITE, SCALE, SEP
from aerec.data import loading
from aerec.data.parsers import custom_format
from aerec.data.splits import SPLIT_METHODS
from aerec.data.types import EncodedData, Interactions, encode
from aerec.io import atomic_write, write_text

_PARTS = ("train", "val", "test")


def _source_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """NAME, --data-dir and --download/--no-download, shared by every command."""
    command = click.option(
        "--download/--no-download",
        default=True,
        show_default=True,
        help="Download the official zip when no local copy is found.",
    )(command)
    command = DATA_DIR(command)
    command = _custom_options(command)
    return click.argument("name")(command)


def _custom_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--columns, --sep and --scale for a ratings file of your own, folded into ``custom``."""

    @functools.wraps(command)
    def wrapper(*args, columns, sep, scale, **kwargs):
        return command(*args, custom=custom_format(columns, sep, scale), **kwargs)

    for option in (COLUMNS, SEP, SCALE):
        wrapper = option(wrapper)
    return wrapper


@click.group()
def data() -> None:
    """Fetch, describe and split data sets.

    NAME is a MovieLens release (ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-32m,
    ml-latest-small), synthetic-<shape>, a folder or zip of a MovieLens release, or your own
    .csv/.tsv/.parquet ratings file with user,item,rating[,timestamp] columns.
    """


@data.command()
@_source_options
def fetch(name: str, data_dir: Path | None, download: bool, custom) -> None:
    """Find or download NAME and parse it into the cache."""
    got = loading.fetch(name, data_dir=data_dir, download=download, progress=True, custom=custom)
    click.echo(f"{got.data.name}: {len(got.data.ratings):,} ratings")
    click.echo(f"  source: {got.source or 'generated'}")
    click.echo(f"  cached: {got.cache_entry or 'not cached (synthetic)'}")


@data.command()
@_source_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def info(name: str, data_dir: Path | None, download: bool, custom, as_json: bool) -> None:
    """Sizes, density, rating histogram and activity of NAME."""
    stats = loading.info(
        loading.load(name, data_dir=data_dir, download=download, progress=True, custom=custom)
    )
    click.echo(json.dumps(stats, indent=2) if as_json else format_info(stats))


@data.command()
@_source_options
@click.option("--method", type=click.Choice(SPLIT_METHODS), default="stratified", show_default=True)
@click.option(
    "--seed", type=click.IntRange(min=0), default=42, show_default=True, help="Seed of the split."
)
@click.option(
    "--data-seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of generated (synthetic-*) data; 0, as runs use, so that the split seed "
    "never changes the data.",
)
@click.option("--test-size", type=FINITE, default=0.1, show_default=True)
@click.option("--val-size", type=FINITE, default=None, help="Default: the method's own.")
@click.option("--k", type=int, default=5, show_default=True, help="Folds (kfold only).")
@click.option("--fold", type=int, default=0, show_default=True, help="Test fold (kfold only).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def split(
    name: str,
    data_dir: Path | None,
    download: bool,
    custom,
    method: str,
    seed: int,
    data_seed: int,
    test_size: float,
    val_size: float | None,
    k: int,
    fold: int,
    out: Path,
) -> None:
    """Split NAME into train / val / test Parquet files (raw ids) plus split.json."""
    from aerec.data import splits

    raw = loading.load(
        name, data_dir=data_dir, download=download, progress=True, seed=data_seed, custom=custom
    )
    encoded = encode(raw)
    result = splits.split(
        encoded, method=method, seed=seed, test_size=test_size, val_size=val_size, k=k, fold=fold
    )
    out.mkdir(parents=True, exist_ok=True)
    for part in _PARTS:
        _atomic_parquet(raw_frame(encoded, getattr(result, part)), out / f"{part}.parquet")
    summary = {"data": raw.name, "n_users": encoded.n_users, "n_items": encoded.n_items}
    summary |= {f"n_{part}": len(getattr(result, part)) for part in _PARTS}
    report = json.dumps(summary | result.report, indent=2, default=_jsonable)
    write_text(out / "split.json", report + "\n")
    sizes = ", ".join(f"{part} {summary[f'n_{part}']:,}" for part in _PARTS)
    click.echo(f"{raw.name} split by {method} (seed {seed}): {sizes} -> {out}")


def raw_frame(encoded: EncodedData, part: Interactions) -> pd.DataFrame:
    """One part of a split with raw ids again: ``user, item, rating, timestamp``."""
    return pd.DataFrame(
        {
            "user": encoded.user_vocab.ids[part.users],
            "item": encoded.item_vocab.ids[part.items],
            "rating": part.ratings.astype(np.float32),
            "timestamp": part.timestamps.astype(np.int64),
        }
    )


def format_info(stats: dict) -> str:
    """The ``info`` dict as an aligned two-column table."""
    scale = stats["scale"]
    hist = "  ".join(f"{k}: {v:,}" for k, v in stats["rating_histogram"].items())
    rows = [
        ("name", stats["name"]),
        ("ratings", f"{stats['n_ratings']:,}"),
        ("users", f"{stats['n_users']:,}"),
        ("items", f"{stats['n_items']:,}"),
        ("density", f"{stats['density']:.4%}"),
        ("scale", f"{scale['low']:g}-{scale['high']:g}"),
        ("histogram", hist),
        ("ratings per user", _spread(stats["ratings_per_user"])),
        ("ratings per item", _spread(stats["ratings_per_item"])),
        ("timestamps", f"{stats['timestamps_known']:,} known, "
                       f"{stats['timestamps_unknown']:,} unknown"),
        ("user features", "yes" if stats["has_user_features"] else "no"),
        ("item features", "yes" if stats["has_item_features"] else "no"),
    ]  # fmt: skip
    return "\n".join(f"{label:<18}{value}" for label, value in rows)


def _spread(spread: dict) -> str:
    return f"min {spread['min']:,} / median {spread['median']:g} / max {spread['max']:,}"


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, engine="pyarrow", index=False))


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
