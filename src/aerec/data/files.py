"""Predefined splits: train / test (/ validation) ratings given as files.

Two ways to name them:

- ``split = "files"``: any ratings files aerec reads. A file is recognised by its first line:
  ``::``-separated (``ratings.dat``), headerless tab- or comma-separated numbers
  (``u.data``, ``u1.base``: user, item, rating[, timestamp]), MovieLens' ``ratings.csv``
  header (``userId,movieId,...``), else a CSV / TSV / Parquet file of your own with a
  header (``user,item,rating[,timestamp]``; see :class:`~aerec.data.parsers.CustomFormat`).
- ``split = "predefined"``: a release's own fold by name, read from the release's folder:
  ML-100K ``u1`` .. ``u5`` (``u1.base`` / ``u1.test``: the five disjoint 80/20 folds of its
  5-fold cross-validation) and ``ua``, ``ub`` (10 test ratings per user).

Ids are encoded over the union of the files, so a test user or item that is not in train
gets an inner index with no training rating: the model predicts the documented fallback for
it (the mean training rating) and the metrics count it (``test_fallback``; the split report's
``test_cold_*``). Without a validation file, validation is carved from train: ``val_size``
(default 5%, as in the papers' protocol) of the training ratings drawn at random with the
split seed.

Bad input is one line: a missing or unreadable file, a test (or validation) file that
shares a (user, item) pair with train, files on different rating scales.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from aerec.data.parsers import (
    CustomFormat,
    Table,
    Where,
    float_column,
    read_custom,
    read_items,
    read_table,
    read_users,
    validate_ratings,
)
from aerec.data.registry import FOLDS_100K, HALF_STARS, STARS, DatasetSpec
from aerec.data.types import RATING_COLUMNS, RatingScale, RatingsData
from aerec.errors import ConfigError, DataError

PART = "part"
"""The column of :func:`read_parts`' ratings that says which file a rating came from."""
TRAIN, VAL, TEST = 0, 1, 2
PREDEFINED_FOLDS: dict[str, tuple[str, ...]] = {"ml-100k": FOLDS_100K}
"""The folds each release ships, by registry name."""
CV_FOLDS: dict[str, tuple[str, ...]] = {"ml-100k": ("u1", "u2", "u3", "u4", "u5")}
"""The folds that partition a release's ratings: its cross-validation."""
ALL_FOLDS = tuple(dict.fromkeys(f for folds in PREDEFINED_FOLDS.values() for f in folds))


def read_parts(
    train: str | Path,
    test: str | Path,
    val: str | Path | None = None,
    fmt: CustomFormat | None = None,
) -> RatingsData:
    """The union of the files as one data set; column ``part`` says which file (0 train,
    1 validation, 2 test). Checks that the files exist, share a scale and do not overlap."""
    named = [(TRAIN, "train", train), (TEST, "test", test)]
    if val is not None:
        named.append((VAL, "validation", val))
    parsed = [(code, label, Path(p), read_ratings_file(Path(p), fmt)) for code, label, p in named]
    _check_scales(parsed)
    frames = [data.ratings.assign(part=np.int8(code)) for code, _, _, data in parsed]
    _check_disjoint(parsed)
    ratings = pd.concat(frames, ignore_index=True)
    name = f"files-{Path(train).stem}-{Path(test).stem}"
    return RatingsData(name, ratings, parsed[0][3].scale)


def read_fold(folder: Path, spec: DatasetSpec, fold: str, name: str) -> RatingsData:
    """A release's own fold ``fold`` (``u1`` -> ``u1.base`` / ``u1.test``) from its extracted
    ``folder``, with the release's users and items tables."""
    folds = PREDEFINED_FOLDS.get(spec.name, ())
    if fold not in folds:
        known = ", ".join(folds) or "none"
        raise ConfigError(f"{spec.name} has no predefined fold {fold!r}; its folds: {known}")
    files = [folder / f"{fold}.base", folder / f"{fold}.test"]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(
            f"{folder}: no {', '.join(missing)}; put the whole extracted {spec.folder}/ "
            f"folder of the official {spec.zip_name} there (its folds come with it)"
        )
    parts = read_parts(*files, fmt=CustomFormat(scale=spec.scale))
    users = read_users(folder / spec.users, spec.kind) if spec.users else None
    items = read_items(folder / spec.items, spec.kind) if spec.items else None
    return RatingsData(f"{name}/{fold}", parts.ratings, spec.scale, users, items)


def read_ratings_file(path: Path, fmt: CustomFormat | None = None) -> RatingsData:
    """One ratings file in any layout aerec reads (see the module docstring)."""
    if not path.is_file():
        raise DataError(f"{path}: file not found; check the path")
    if path.suffix.lower() == ".parquet":
        return read_custom(path, fmt or CustomFormat())
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            first = f.readline().strip()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc}); check it") from None
    layout = _layout(first)
    if layout is None:
        return read_custom(path, fmt or CustomFormat())
    table, scale = layout
    raw = read_table(path, table)
    scale = fmt.scale if fmt is not None else scale or _inferred_scale(raw, path, table)
    ratings = validate_ratings(raw, Where(path, table.first_line), scale, numeric_ids=True)
    return RatingsData(path.stem, ratings, scale)


def _layout(first: str) -> tuple[Table, RatingScale | None] | None:
    """The release layout a first line shows and its scale (None: from the ratings); None:
    a custom file."""
    if "::" in first:
        return Table("::", RATING_COLUMNS, required=RATING_COLUMNS), None
    if first.replace('"', "").startswith("userId,movieId,rating"):
        header = ("userId", "movieId", "rating", "timestamp")
        return Table(
            ",", RATING_COLUMNS, header, "utf-8", True, required=RATING_COLUMNS
        ), HALF_STARS
    for sep in ("\t", ","):
        fields = first.split(sep)
        if len(fields) in (3, 4) and all(_is_number(v) for v in fields):
            columns = RATING_COLUMNS[: len(fields)]
            return Table(sep, columns, required=columns), None
    return None


def _inferred_scale(raw: pd.DataFrame, path: Path, table: Table) -> RatingScale:
    """Half stars (0.5-5, ML-10M's ``ratings.dat``) when a rating is not a whole number, else
    whole stars (1-5, ``u.data``, ML-1M's ``ratings.dat``)."""
    ratings = float_column(raw, "rating", Where(path, table.first_line), "rating")
    return HALF_STARS if (ratings != np.round(ratings)).any() else STARS


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_scales(parsed: list) -> None:
    (_, _, train_path, train), *others = parsed
    for _, label, path, data in others:
        if data.scale != train.scale:
            raise DataError(
                f"{path}: the {label} file is on the {_scale(data.scale)} scale but the train "
                f"file {train_path} is on {_scale(train.scale)}; use files of one data set"
            )


def _scale(scale: RatingScale) -> str:
    return f"{scale.low:g}-{scale.high:g}"


def _check_disjoint(parsed: list) -> None:
    """No (user, item) pair in two files: a test rating also in train would leak."""
    frames = [data.ratings for *_, data in parsed]
    users, _ = pd.factorize(pd.concat([f["user"] for f in frames], ignore_index=True))
    items, item_ids = pd.factorize(pd.concat([f["item"] for f in frames], ignore_index=True))
    keys = np.split(users * len(item_ids) + items, np.cumsum([len(f) for f in frames])[:-1])
    for j in range(1, len(parsed)):
        for i in range(j):
            shared = np.isin(keys[j], keys[i])
            if shared.any():
                _overlap_error(parsed[j], parsed[i], shared)


def _overlap_error(part: tuple, other: tuple, shared: np.ndarray) -> None:
    (_, label, path, data), (_, other_label, other_path, _) = part, other
    row = int(np.argmax(shared))
    user, item = data.ratings["user"].iloc[row], data.ratings["item"].iloc[row]
    raise DataError(
        f"{path}: the {label} file shares {int(shared.sum())} (user, item) pairs with the "
        f"{other_label} file {other_path}, first user {user} item {item}; the sets must be "
        f"disjoint"
    )
