"""Native MovieLens files and custom ratings files -> validated pandas tables.

Parsing is vectorised (pandas' C engine; ``::`` is rewritten to a one-byte separator first).
Validation is vectorised too; only when something is wrong is the file read again line by line,
to say exactly where. Every problem is one :class:`~aerec.errors.DataError` line: what is
wrong, where (``file:line``), and how to fix it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd

from aerec.data.registry import DatasetSpec
from aerec.data.types import RATING_COLUMNS, UNKNOWN_TIMESTAMP, RatingScale, RatingsData
from aerec.errors import ConfigError, DataError

PARSER_VERSION = 1
"""Bump when parsing changes what comes out: it is part of the ETL cache key."""

GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_UNIT_SEP = "\x1f"
_SEPARATORS = ("::", "\t", ",", ";", "|", ":")


@dataclass(frozen=True)
class Table:
    """How one delimited text file is laid out."""

    sep: str
    columns: tuple[str, ...]
    """Our column names, in file order."""
    header: tuple[str, ...] | None = None
    """The names the file's header line must hold (in ``columns`` order); None: no header."""
    encoding: str = "latin-1"
    quoted: bool = False
    text: tuple[str, ...] = ()
    """Columns kept as strings (titles, zip codes)."""
    required: tuple[str, ...] = ()
    """Columns that may not be empty."""

    @property
    def first_line(self) -> int:
        """The line number of the first data row."""
        return 1 if self.header is None else 2


@dataclass(frozen=True)
class CustomFormat:
    """A ratings file of your own: CSV, TSV or Parquet with a header of column names."""

    user: str = "user"
    item: str = "item"
    rating: str = "rating"
    timestamp: str | None = None
    """Timestamp column (seconds or dates); None: use a ``timestamp`` column if there is one."""
    sep: str | None = None
    """Field separator of a text file; None: ``\\t`` for .tsv/.tab, else ``,``."""
    scale: RatingScale = field(default_factory=RatingScale)


def custom_format(
    columns: Sequence[str] | None = None,
    sep: str | None = None,
    scale: Sequence[float] | None = None,
    where: str = "options",
) -> CustomFormat | None:
    """The format of a ratings file of your own from ``--columns USER,ITEM,RATING[,TIMESTAMP]``,
    ``--sep`` and ``--scale LOW,HIGH`` (or the same keys of ``[data]``); None if none given."""
    if columns is None and sep is None and scale is None:
        return None
    names = tuple(columns or ())
    if columns is not None and (not 3 <= len(names) <= 4 or not all(_is_name(n) for n in names)):
        raise ConfigError(f"columns in {where} must be 3 or 4 names: USER,ITEM,RATING[,TIMESTAMP]")
    if sep is not None and (not isinstance(sep, str) or not sep or "\n" in sep or "\r" in sep):
        raise ConfigError(f"sep in {where} must be a non-empty separator such as ',' or '\\t'")
    low, high = _scale(scale, where) if scale is not None else (1.0, 5.0)
    fields = dict(zip(("user", "item", "rating", "timestamp"), names, strict=False))
    return CustomFormat(**fields, sep=sep, scale=RatingScale(low, high))


def _is_name(name: object) -> bool:
    return isinstance(name, str) and bool(name.strip())


def _scale(scale: Sequence[float], where: str) -> tuple[float, float]:
    values = tuple(scale)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if len(values) != 2 or not numbers or not all(np.isfinite(values)) or values[0] >= values[1]:
        raise ConfigError(
            f"scale in {where} must be LOW,HIGH with LOW < HIGH, e.g. 0.5,5; got {scale!r}"
        )
    return float(values[0]), float(values[1])


_TABLES: dict[tuple[str, str], Table] = {
    ("ml-100k", "ratings"): Table("\t", RATING_COLUMNS, required=RATING_COLUMNS),
    ("ml-100k", "users"): Table(
        "|", ("user", "age", "gender", "occupation", "zip"), text=("gender", "occupation", "zip"),
        required=("user",),
    ),
    ("ml-100k", "items"): Table(
        "|", ("item", "title", "release", "video", "url", *GENRES_100K),
        text=("title", "release", "video", "url"), required=("item",),
    ),
    ("dat", "ratings"): Table("::", RATING_COLUMNS, required=RATING_COLUMNS),
    ("dat", "users"): Table(
        "::", ("user", "gender", "age", "occupation", "zip"), text=("gender", "zip"),
        required=("user",),
    ),
    ("dat", "items"): Table("::", ("item", "title", "genres"), text=("title", "genres"),
                            required=("item",)),
    ("csv", "ratings"): Table(
        ",", RATING_COLUMNS, ("userId", "movieId", "rating", "timestamp"), "utf-8", True,
        required=RATING_COLUMNS,
    ),
    ("csv", "items"): Table(
        ",", ("item", "title", "genres"), ("movieId", "title", "genres"), "utf-8", True,
        text=("title", "genres"), required=("item",),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Where:
    """Turns a 0-based data row into ``file:line`` (text) or ``file (row n)`` (Parquet)."""

    path: Path
    first_line: int | None = 1

    def at(self, row: int) -> str:
        if self.first_line is None:
            return f"{self.path} (row {row + 1})"
        return f"{self.path}:{row + self.first_line}"


def read_release(folder: Path, spec: DatasetSpec, name: str | None = None) -> RatingsData:
    """Parse the ratings, users and items files of one MovieLens release in ``folder``."""
    table = _TABLES[(spec.kind, "ratings")]
    raw = read_table(folder / spec.ratings, table)
    where = Where(folder / spec.ratings, table.first_line)
    ratings = validate_ratings(raw, where, spec.scale, numeric_ids=True)
    users = read_users(folder / spec.users, spec.kind) if spec.users else None
    items = read_items(folder / spec.items, spec.kind) if spec.items else None
    return RatingsData(name or spec.name, ratings, spec.scale, users, items)


def read_users(path: Path, kind: str) -> pd.DataFrame:
    """Users indexed by raw id: ``gender``, ``age``, ``occupation`` (code or name), ``zip``."""
    df = read_table(path, _TABLES[(kind, "users")])
    where = Where(path)
    df["user"] = int_column(df, "user", where, "user id")
    df["age"] = int_column(df, "age", where, "age")
    if kind == "dat":
        df["occupation"] = int_column(df, "occupation", where, "occupation code")
    df = df.set_index("user")
    return df[["gender", "age", "occupation", "zip"]]


def read_items(path: Path, kind: str) -> pd.DataFrame:
    """Items indexed by raw id: ``title`` and ``genres`` (``|``-joined).

    Titles are utf-8 where the file decodes as utf-8, else latin-1 (ML-100K and ML-1M are
    latin-1; later releases are utf-8).
    """
    table = replace(_TABLES[(kind, "items")], encoding=_text_encoding(path))
    df = read_table(path, table)
    df["item"] = int_column(df, "item", Where(path, table.first_line), "item id")
    if kind == "ml-100k":
        flags = df[list(GENRES_100K)].fillna(0).to_numpy(dtype=bool)
        names = np.asarray(GENRES_100K)
        df["genres"] = ["|".join(names[row]) for row in flags]
    df["genres"] = df["genres"].fillna("").astype(str)
    return df.set_index("item")[["title", "genres"]]


def _text_encoding(path: Path) -> str:
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    except OSError:
        pass  # read_table says what is wrong with the file
    return "utf-8"


def read_custom(path: Path, fmt: CustomFormat) -> RatingsData:
    """Parse a ratings file of your own (see :class:`CustomFormat`)."""
    if path.suffix.lower() == ".parquet":
        raw, where = _read_parquet(path), Where(path, None)
    else:
        sep = fmt.sep or ("\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
        raw, where = read_table(path, Table(sep, (), (), "utf-8", True)), Where(path, 2)
    ts = fmt.timestamp or ("timestamp" if "timestamp" in raw.columns else None)
    wanted = {"user": fmt.user, "item": fmt.item, "rating": fmt.rating, "timestamp": ts}
    for ours, theirs in wanted.items():
        if theirs is not None and theirs not in raw.columns:
            found = ", ".join(map(str, raw.columns))
            raise DataError(
                f"{path}: no column {theirs!r} for the {ours}s (columns: {found}); "
                f"name your file's columns with --columns USER,ITEM,RATING[,TIMESTAMP]"
            )
    df = pd.DataFrame({ours: raw[theirs] for ours, theirs in wanted.items() if theirs})
    _check_complete(df, where, list(df.columns))
    if ts is not None:
        df["timestamp"] = _timestamps(df["timestamp"], where)
    return RatingsData(path.stem, validate_ratings(df, where, fmt.scale), fmt.scale)


def read_table(path: Path, table: Table) -> pd.DataFrame:
    """Read a delimited file into a frame with ``table.columns``; checks shape, not values."""
    header_line = _first_line(path, table.encoding)
    if not header_line.strip():
        raise DataError(f"{path}: the file is empty; extract or download it again")
    _check_separator(path, header_line, table.sep)
    if table.header is not None or not table.columns:
        _check_first_row(path, table)
    source: Path | io.BytesIO = path
    sep = table.sep
    if len(sep) > 1:
        source, sep = io.BytesIO(path.read_bytes().replace(sep.encode(), b"\x1f")), _UNIT_SEP
    try:
        df = pd.read_csv(
            source, sep=sep, header=0 if table.header is not None else None,
            names=None if table.header is not None else list(table.columns),
            index_col=False, skip_blank_lines=False, keep_default_na=False, na_values=[""],
            quoting=csv.QUOTE_MINIMAL if table.quoted else csv.QUOTE_NONE,
            encoding=table.encoding, encoding_errors="replace",
            dtype={c: str for c in table.text}, low_memory=False,
        )  # fmt: skip
    except pd.errors.ParserError as exc:
        error = _first_bad_count(path, table)
        raise error or DataError(f"{path}: cannot be read as {table.sep!r}-separated text") from exc
    df = _drop_blank_end(df)
    df = _select_header(df, path, table) if table.header else df
    if df.empty:
        raise DataError(f"{path}: the file has a header but no data lines; use a complete copy")
    if df.iloc[:, -1].isna().any():  # a line with too few fields, or an empty last field
        error = _first_bad_count(path, table)
        if error is not None:
            raise error
    _check_complete(df, Where(path, table.first_line), table.required)
    return df


def validate_ratings(
    df: pd.DataFrame, where: Where, scale: RatingScale, *, numeric_ids: bool = False
) -> pd.DataFrame:
    """Check ids, ratings and duplicates; return ``user, item, rating, timestamp``."""
    if numeric_ids:
        users, items = (int_column(df, c, where, f"{c} id") for c in ("user", "item"))
    else:
        users, items = df["user"].to_numpy(), df["item"].to_numpy()
    rating = float_column(df, "rating", where, "rating")
    outside = ~scale.contains(rating)
    if outside.any():
        row = int(np.argmax(outside))
        raise DataError(
            f"{where.at(row)}: rating {rating[row]:g} is outside the scale "
            f"{scale.low:g}-{scale.high:g}; fix the line, or give your own file's scale "
            "with --scale LOW,HIGH (e.g. 0.5,5)"
        )
    stamps = np.full(len(df), UNKNOWN_TIMESTAMP, np.int64)
    if "timestamp" in df.columns:
        stamps = int_column(df, "timestamp", where, "timestamp")
    out = pd.DataFrame(dict(zip(RATING_COLUMNS, (users, items, rating, stamps), strict=True)))
    _check_duplicates(out, where)
    return out


def int_column(df: pd.DataFrame, column: str, where: Where, label: str) -> np.ndarray:
    """``df[column]`` as int64; a DataError at the first value that is not a whole number."""
    values = df[column]
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy(np.int64)
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"{where.at(row)}: {label} {_show(values.iloc[row])} is not a whole number; "
            f"fix the line (is this the right file?)"
        )
    return numbers.astype(np.int64)


def float_column(df: pd.DataFrame, column: str, where: Where, label: str) -> np.ndarray:
    """``df[column]`` as float32; a DataError at the first value that is not a number."""
    values = df[column]
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        row = int(np.argmax(bad))
        shown = _show(values.iloc[row])
        raise DataError(f"{where.at(row)}: {label} {shown} is not a number; fix that line")
    return numbers.astype(np.float32)


def _show(value: object) -> str:
    return "(empty)" if pd.isna(value) else repr(str(value))


def _timestamps(values: pd.Series, where: Where) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values.dtype):
        return int_column(values.to_frame("t"), "t", where, "timestamp")
    parsed = pd.to_datetime(values, errors="coerce", utc=True)
    if parsed.isna().any():
        row = int(np.argmax(parsed.isna().to_numpy()))
        raise DataError(
            f"{where.at(row)}: timestamp {_show(values.iloc[row])} is neither seconds nor a date; "
            f"fix it or leave the timestamp column out"
        )
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return seconds.to_numpy(np.int64)


def _check_duplicates(df: pd.DataFrame, where: Where) -> None:
    users, items = df["user"].to_numpy(), df["item"].to_numpy()
    if _packable(users, items):
        dup = pd.Series(users * (int(items.max()) + 1) + items).duplicated().to_numpy()
    else:
        dup = df.duplicated(["user", "item"]).to_numpy()
    if dup.any():
        row = int(np.argmax(dup))
        first = int(np.argmax((users == users[row]) & (items == items[row])))
        raise DataError(
            f"{where.at(row)}: user {users[row]} rated item {items[row]} again "
            f"(first at {where.at(first)}); keep one of the two lines"
        )


def _packable(users: np.ndarray, items: np.ndarray) -> bool:
    """Whether (user, item) fits one int64 key ``user * (max item + 1) + item``."""
    if users.dtype.kind != "i" or items.dtype.kind != "i" or not len(users):
        return False
    if min(users.min(), items.min()) < 0:
        return False
    return float(users.max()) * (float(items.max()) + 1) < 2.0**62


def _check_complete(df: pd.DataFrame, where: Where, required: Sequence[str]) -> None:
    missing = df[list(required)].isna().any(axis=1).to_numpy() if required else np.zeros(0)
    if missing.any():
        row = int(np.argmax(missing))
        raise DataError(f"{where.at(row)}: a required field is empty; fill it in or drop the line")


def _expected_fields(path: Path, table: Table) -> int:
    if table.header is None:
        return len(table.columns)
    return len(_split(_line(path, 1, table.encoding), table))


def _drop_blank_end(df: pd.DataFrame) -> pd.DataFrame:
    """Without the empty rows of blank lines at the end of the file (editors leave them)."""
    filled = np.flatnonzero(df.notna().any(axis=1).to_numpy())
    end = filled[-1] + 1 if len(filled) else 0
    return df if end == len(df) else df.iloc[:end]


def _check_first_row(path: Path, table: Table) -> None:
    """pandas silently drops extra fields of the first data line of a file with a header;
    say so instead."""
    lines = _numbered_fields(path, table)
    (_, header), second = next(lines, (1, [])), next(lines, None)
    if second is not None and second[1] and len(second[1]) > len(header):
        raise _count_error(path, second[0], second[1], table)


def _first_bad_count(path: Path, table: Table) -> DataError | None:
    """The first line whose number of fields is wrong (a slow scan, for error paths only);
    blank lines at the end of the file are fine."""
    expected = _expected_fields(path, table)
    blank = None
    for number, fields in _numbered_fields(path, table):
        if fields == [] and blank is None:
            blank = number, fields
        elif fields != []:
            if blank is not None:
                return _count_error(path, *blank, table)
            if len(fields) != expected:
                return _count_error(path, number, fields, table)
    return None


def _count_error(path: Path, line: int, fields: list[str], table: Table) -> DataError:
    expected = _expected_fields(path, table)
    found = "a blank line" if fields == [] else f"{len(fields)} fields"
    return DataError(
        f"{path}:{line}: {found} where {expected} fields separated by {table.sep!r} are "
        f"expected; fix or delete that line"
    )


def _numbered_fields(path: Path, table: Table) -> Iterator[tuple[int, list[str]]]:
    with path.open(encoding=table.encoding, errors="replace", newline="") as f:
        for number, line in enumerate(f, start=1):
            yield number, _split(line, table)


def _split(line: str, table: Table) -> list[str]:
    line = line.rstrip("\r\n")
    if not line:
        return []
    if table.quoted:
        return next(csv.reader([line], delimiter=table.sep))
    return line.split(table.sep)


def _line(path: Path, number: int, encoding: str) -> str:
    with path.open(encoding=encoding, errors="replace", newline="") as f:
        return next(islice(f, number - 1, None), "")


def _first_line(path: Path, encoding: str) -> str:
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path or extract the zip again")
    with path.open(encoding=encoding, errors="replace") as f:
        head = f.readline()
        return head if head.strip() else head + f.read(4096)


def _check_separator(path: Path, first_line: str, sep: str) -> None:
    if sep in first_line:
        return
    found = next((s for s in _SEPARATORS if s in first_line), None)
    seen = f"found {found!r}" if found else "found no separator"
    raise DataError(
        f"{path}:1: fields must be separated by {sep!r}, {seen}; check that this is the right "
        f"file (or give your own file's separator with --sep)"
    )


def _select_header(df: pd.DataFrame, path: Path, table: Table) -> pd.DataFrame:
    absent = [name for name in table.header if name not in df.columns]
    if absent:
        raise DataError(
            f"{path}:1: the header lacks {', '.join(map(repr, absent))}; expected "
            f"{table.sep.join(table.header)} (is this the right file?)"
        )
    return df[list(table.header)].set_axis(list(table.columns), axis=1)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc}); write it again") from exc
    if df.empty:
        raise DataError(f"{path}: the file has no ratings; write a complete copy")
    return df.reset_index(drop=True)
