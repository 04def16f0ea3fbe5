"""Side information as feature matrices aligned with the inner indices.

Users: one-hot gender, age group and occupation (30 columns on ML-1M, as in the notebook).
Items: multi-hot genres (18 on ML-1M). Rows of users or items without side information are
all zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from aerec.data.types import EncodedData

USER_COLUMNS = ("gender", "age", "occupation")
ML1M_AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)


@dataclass(frozen=True)
class SideInfo:
    """A dense float32 feature matrix (rows follow a vocabulary) and its column names."""

    matrix: np.ndarray
    names: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return self.matrix.shape[1]


def user_features(data: EncodedData) -> SideInfo | None:
    """One-hot gender, age group and occupation, or None when the data set has no users table."""
    if data.users is None:
        return None
    table = data.users.reindex(data.user_vocab.ids)
    columns = [c for c in USER_COLUMNS if c in table.columns]
    if not columns:
        return None
    table = table[columns].copy()
    if "age" in table and not table["age"].dropna().isin(ML1M_AGE_GROUPS).all():
        table["age"] = _age_group(table["age"])
    dummies = pd.get_dummies(table.astype("string"), prefix_sep="=", dtype=np.float32)
    return SideInfo(dummies.to_numpy(np.float32), tuple(dummies.columns))


def item_features(data: EncodedData) -> SideInfo | None:
    """Multi-hot genres, or None when the data set has no genres."""
    if data.items is None or "genres" not in data.items.columns:
        return None
    genres = data.items["genres"].reindex(data.item_vocab.ids).fillna("").astype(str)
    dummies = genres.str.get_dummies(sep="|")
    dummies = dummies.drop(columns=["(no genres listed)"], errors="ignore")
    dummies.columns = [f"genre={c}" for c in dummies.columns]
    return SideInfo(dummies.to_numpy(np.float32), tuple(dummies.columns))


def _age_group(age: pd.Series) -> pd.Series:
    """Bucket raw ages into ML-1M's groups (ml-100k records ages in years)."""
    edges = np.array(ML1M_AGE_GROUPS)
    values = age.to_numpy(dtype=np.float64)
    groups = edges[np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 1)]
    return pd.Series(np.where(np.isnan(values), np.nan, groups), index=age.index)
