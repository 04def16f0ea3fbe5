"""The data types every stage of the pipeline passes along.

raw files -> :class:`RatingsData` (raw ids) -> :class:`EncodedData` (inner indices)
-> :class:`Split` of :class:`Interactions` -> :class:`~aerec.data.matrix.RatingMatrix`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

RATING_COLUMNS = ("user", "item", "rating", "timestamp")
UNKNOWN_TIMESTAMP = 0
"""A timestamp of 0 means unknown (199,435 lines of the ML-1M copy we test on)."""


@dataclass(frozen=True)
class RatingScale:
    """The closed interval ratings live in; predictions are clipped to it."""

    low: float = 1.0
    high: float = 5.0

    def __post_init__(self) -> None:
        if not self.low < self.high:
            from aerec.errors import ConfigError

            raise ConfigError(f"rating scale low {self.low} must be below high {self.high}")

    def contains(self, values: np.ndarray) -> np.ndarray:
        return (values >= self.low) & (values <= self.high)

    def clip(self, values):
        """``values`` (a NumPy array or a torch tensor) clipped to the scale: the one place
        aerec clips a prediction."""
        if isinstance(values, np.ndarray):
            return np.clip(values, self.low, self.high)
        return values.clamp(self.low, self.high)


@dataclass(frozen=True)
class RatingsData:
    """A loaded data set with raw ids, as parsed from its native files.

    ``ratings`` has the columns ``user``, ``item`` (raw ids), ``rating`` (float32) and
    ``timestamp`` (int64 seconds, 0 = unknown). ``users`` is indexed by raw user id with
    demographic columns (``gender``, ``age``, ``occupation`` where known); ``items`` is indexed
    by raw item id with ``title`` and ``genres`` (a ``|``-joined string) where known.
    """

    name: str
    ratings: pd.DataFrame
    scale: RatingScale = field(default_factory=RatingScale)
    users: pd.DataFrame | None = None
    items: pd.DataFrame | None = None


@dataclass(frozen=True)
class Interactions:
    """Ratings as parallel arrays of inner indices (int64), values and timestamps."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    def __len__(self) -> int:
        return len(self.ratings)

    def take(self, index: np.ndarray) -> Interactions:
        return Interactions(
            self.users[index], self.items[index], self.ratings[index], self.timestamps[index]
        )

    def concat(self, other: Interactions) -> Interactions:
        """These ratings, then ``other``'s."""
        return Interactions(
            *(
                np.concatenate([getattr(self, name), getattr(other, name)])
                for name in ("users", "items", "ratings", "timestamps")
            )
        )


@dataclass(frozen=True)
class Vocab:
    """Raw id <-> inner index. ``ids[k]`` is the raw id of inner index ``k``."""

    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, raw: object | np.ndarray) -> np.ndarray:
        """Inner indices of raw ids; -1 where a raw id is unknown."""
        index = pd.Index(self.ids)
        return np.asarray(index.get_indexer(np.atleast_1d(np.asarray(raw))), dtype=np.int64)


@dataclass(frozen=True)
class EncodedData:
    """A data set with inner indices: interactions, both vocabularies, scale, side tables."""

    name: str
    interactions: Interactions
    user_vocab: Vocab
    item_vocab: Vocab
    scale: RatingScale
    users: pd.DataFrame | None = None
    items: pd.DataFrame | None = None

    @property
    def n_users(self) -> int:
        return len(self.user_vocab)

    @property
    def n_items(self) -> int:
        return len(self.item_vocab)


def encode(data: RatingsData) -> EncodedData:
    """Label-encode raw ids to inner indices 0..n-1 in sorted raw-id order (the notebook's
    LabelEncoder)."""
    ratings = data.ratings
    user_codes, user_ids = pd.factorize(ratings["user"], sort=True)
    item_codes, item_ids = pd.factorize(ratings["item"], sort=True)
    inter = Interactions(
        users=user_codes.astype(np.int64),
        items=item_codes.astype(np.int64),
        ratings=ratings["rating"].to_numpy(np.float32),
        timestamps=ratings["timestamp"].to_numpy(np.int64),
    )
    return EncodedData(
        name=data.name,
        interactions=inter,
        user_vocab=Vocab(np.asarray(user_ids)),
        item_vocab=Vocab(np.asarray(item_ids)),
        scale=data.scale,
        users=data.users,
        items=data.items,
    )
