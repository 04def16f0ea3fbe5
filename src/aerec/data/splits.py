"""Train / validation / test splits, deterministic by seed.

Every method returns a :class:`Split` of :class:`~aerec.data.types.Interactions` over the same
inner indices, and a report that counts the users and items of validation and test that have
no training rating (cold start). Models predict a documented fallback for those; nothing
crashes on them.

Methods:

- ``stratified``: the notebook's. Per user, ``test_size`` of the ratings go to test, then
  ``val_size`` of the remaining ones to validation (each user keeps at least one training
  rating; users with 20+ ratings are in all three sets).
- ``random``: the AutoRec papers'. ``test_size`` of all ratings, then ``val_size`` of the rest.
- ``kfold``: ``k`` per-user-stratified folds; fold ``fold`` is the test set, validation is
  carved per user from the other folds.
- ``temporal``: per user, the latest ``test_size`` of the ratings with a known timestamp go to
  test and the next latest ``val_size`` to validation. Ratings whose timestamp is unknown (0)
  cannot be ordered: they stay in train (``unknown_timestamps="train"``) or are dropped
  (``"drop"``); the report counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from aerec.data.types import UNKNOWN_TIMESTAMP, EncodedData, Interactions
from aerec.errors import ConfigError

SplitMethod = Literal["stratified", "random", "kfold", "temporal"]
SPLIT_METHODS: tuple[str, ...] = ("stratified", "random", "kfold", "temporal")
FILE_SPLITS: tuple[str, ...] = ("files", "predefined")
"""Splits given as files (:mod:`aerec.data.files`), made by :func:`split_labelled`."""
RUN_SPLITS: tuple[str, ...] = SPLIT_METHODS + FILE_SPLITS
"""Every split a run can use."""
DEFAULT_VAL_SIZE = {
    "stratified": 0.1,
    "random": 0.05,
    "kfold": 0.1,
    "temporal": 0.1,
    "files": 0.05,
    "predefined": 0.05,
}
"""Validation fractions: the notebook's 10%; EVALUATION.md's 5% for the papers' protocol."""


@dataclass(frozen=True)
class Split:
    """Three disjoint sets of ratings and a report of their sizes and cold-start counts."""

    train: Interactions
    val: Interactions
    test: Interactions
    report: dict


def split(
    data: EncodedData,
    method: str = "stratified",
    seed: int = 42,
    test_size: float = 0.1,
    val_size: float | None = None,
    k: int = 5,
    fold: int = 0,
    unknown_timestamps: Literal["train", "drop"] = "train",
) -> Split:
    """Split ``data`` into train / validation / test; see the module docstring."""
    if method in FILE_SPLITS:
        raise ConfigError(f"split {method!r} reads its sets from files; give them to load_data")
    if method not in SPLIT_METHODS:
        raise ConfigError(f"unknown split {method!r}; choose one of {', '.join(SPLIT_METHODS)}")
    val_size = DEFAULT_VAL_SIZE[method] if val_size is None else val_size
    for name, value in (("test_size", test_size), ("val_size", val_size)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {value}")
    inter = data.interactions
    rng = np.random.default_rng(seed)
    extra: dict = {}
    if method == "random":
        labels = _random_labels(len(inter), test_size, val_size, rng)
    elif method == "stratified":
        ranks, counts = _ranks_within_user(inter.users, rng.random(len(inter)), data.n_users)
        labels = _labels_from_ranks(ranks, counts[inter.users], test_size, val_size)
    elif method == "kfold":
        labels = _kfold_labels(inter.users, data.n_users, k, fold, val_size, rng)
    else:
        labels, extra = _temporal_labels(
            inter, data.n_users, test_size, val_size, unknown_timestamps, rng
        )
    if method == "kfold":
        extra |= {"k": k, "fold": fold}
    parts = [inter.take(np.flatnonzero(labels == code)) for code in (0, 1, 2)]
    report = _report(method, seed, *parts) | extra
    return Split(*parts, report=report)


def split_labelled(
    data: EncodedData,
    labels: np.ndarray,
    method: str = "files",
    seed: int = 42,
    val_size: float | None = None,
    extra: dict | None = None,
) -> Split:
    """The split ``labels`` give (0 train, 1 validation, 2 test, per rating of ``data``).

    Without validation ratings, ``val_size`` (default 5%) of the training ratings, drawn at
    random with ``seed``, become the validation set."""
    labels = np.asarray(labels, dtype=np.int8).copy()
    val_size = DEFAULT_VAL_SIZE[method] if val_size is None else val_size
    if not 0.0 <= val_size < 1.0:
        raise ConfigError(f"val_size must be in [0, 1), got {val_size}")
    carved = not (labels == VAL).any()
    if carved:
        train = np.flatnonzero(labels == TRAIN)
        order = np.random.default_rng(seed).permutation(len(train))
        labels[train[order[: int(round(val_size * len(train)))]]] = VAL
    parts = [data.interactions.take(np.flatnonzero(labels == code)) for code in (0, 1, 2)]
    info = {"val_from_train": carved} | (extra or {})
    return Split(*parts, report=_report(method, seed, *parts) | info)


TRAIN, VAL, TEST = 0, 1, 2


def _random_labels(n: int, test_size: float, val_size: float, rng) -> np.ndarray:
    order = rng.permutation(n)
    n_test = int(round(test_size * n))
    n_val = int(round(val_size * (n - n_test)))
    labels = np.zeros(n, dtype=np.int8)
    labels[order[:n_test]] = TEST
    labels[order[n_test : n_test + n_val]] = VAL
    return labels


def _ranks_within_user(users: np.ndarray, keys: np.ndarray, n_users: int):
    """Rank of each rating within its user when sorted by ``keys`` (0 = smallest key)."""
    order = np.lexsort((keys, users))
    counts = np.bincount(users, minlength=n_users)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    ranks = np.empty(len(users), dtype=np.int64)
    ranks[order] = np.arange(len(users)) - np.repeat(starts, counts)
    return ranks, counts


def _held_out(counts: np.ndarray, fraction: float) -> np.ndarray:
    """Ratings to hold out per user: round(fraction * n), at least 1 when the user has 2+
    (as a stratified split does) and never all of them."""
    n = np.rint(fraction * counts).astype(np.int64)
    if fraction > 0:
        n = np.maximum(n, (counts >= 2).astype(np.int64))
    return np.minimum(n, np.maximum(counts - 1, 0))


def _labels_from_ranks(ranks, counts, test_size: float, val_size: float) -> np.ndarray:
    """Ranks below the test quota go to test, the next ones (the val quota of the rest) to val."""
    n_test = _held_out(counts, test_size)
    n_val = _held_out(counts - n_test, val_size)
    labels = np.full(len(ranks), TRAIN, dtype=np.int8)
    labels[ranks < n_test + n_val] = VAL
    labels[ranks < n_test] = TEST
    return labels


def _kfold_labels(users, n_users: int, k: int, fold: int, val_size: float, rng) -> np.ndarray:
    if k < 2 or not 0 <= fold < k:
        raise ConfigError(f"kfold needs k >= 2 and 0 <= fold < k, got k={k}, fold={fold}")
    ranks, _ = _ranks_within_user(users, rng.random(len(users)), n_users)
    offset = rng.integers(0, k, size=n_users)  # spread each user's remainder across folds
    folds = (ranks + offset[users]) % k
    labels = np.full(len(users), TRAIN, dtype=np.int8)
    labels[folds == fold] = TEST
    rest = labels == TRAIN
    rest_ranks, rest_counts = _ranks_within_user(users[rest], rng.random(rest.sum()), n_users)
    n_val = _held_out(rest_counts, val_size)[users[rest]]
    labels[np.flatnonzero(rest)[rest_ranks < n_val]] = VAL
    return labels


def _temporal_labels(inter: Interactions, n_users: int, test_size, val_size, unknown, rng):
    if unknown not in ("train", "drop"):
        raise ConfigError(f"unknown_timestamps must be 'train' or 'drop', got {unknown!r}")
    known = inter.timestamps != UNKNOWN_TIMESTAMP
    labels = np.full(len(inter), TRAIN, dtype=np.int8)
    idx = np.flatnonzero(known)
    # latest first; random tie-break keeps equal timestamps from following file order
    keys = -inter.timestamps[idx].astype(np.float64) + rng.random(len(idx)) * 0.5
    ranks, counts = _ranks_within_user(inter.users[idx], keys, n_users)
    labels[idx] = _labels_from_ranks(ranks, counts[inter.users[idx]], test_size, val_size)
    n_unknown = int((~known).sum())
    if unknown == "drop":
        labels[~known] = -1
    return labels, {"unknown_timestamps": n_unknown, "unknown_timestamps_policy": unknown}


def _report(method: str, seed: int, train, val, test) -> dict:
    train_users = np.unique(train.users)
    train_items = np.unique(train.items)
    report: dict = {
        "method": method,
        "seed": seed,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
    }
    for name, part in (("val", val), ("test", test)):
        cold_user = ~np.isin(part.users, train_users)
        cold_item = ~np.isin(part.items, train_items)
        report[f"{name}_cold_users"] = int(len(np.unique(part.users[cold_user])))
        report[f"{name}_cold_items"] = int(len(np.unique(part.items[cold_item])))
        report[f"{name}_cold_ratings"] = int((cold_user | cold_item).sum())
    return report
