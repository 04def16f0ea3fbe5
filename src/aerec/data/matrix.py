"""The sparse rating matrix a model trains on, and the input encodings of unobserved cells.

Ratings stay sparse (scipy CSR); a dense view exists only per mini-batch, on the device
(:mod:`aerec.ops.batches`). User-based models use the user x item matrix, item-based ones
its transpose. Unobserved input cells get a fill: a constant 0..5, the user's average or the
item's average (the notebook's ``dataPreprocessor``), expressed as a per-row plus a per-column
vector so that the dense full matrix is never built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from aerec.data.types import Interactions
from aerec.errors import ConfigError, DataError

Based = Literal["user", "item"]
FILL_KINDS: tuple[str, ...] = ("constant", "user_mean", "item_mean")


@dataclass(frozen=True)
class InputFill:
    """What an unobserved input cell holds: ``constant`` (``value`` in 0..5), ``user_mean`` or
    ``item_mean`` (the mean of that user's / item's training ratings; the global training
    mean where there are none)."""

    kind: str = "constant"
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in FILL_KINDS:
            raise ConfigError(f"unknown input fill {self.kind!r}; choose one of {FILL_KINDS}")
        if self.kind == "constant" and not 0.0 <= self.value <= 5.0:
            raise ConfigError(f"constant input fill must be in 0..5, got {self.value}")


@dataclass(frozen=True)
class RatingMatrix:
    """Observed ratings, rows = the model's examples (users for user-based models)."""

    csr: sp.csr_array
    based: Based = "user"

    @classmethod
    def build(
        cls, inter: Interactions, n_users: int, n_items: int, based: Based = "user"
    ) -> RatingMatrix:
        """Build from interactions of inner indices; ``based`` picks the row side."""
        if based not in ("user", "item"):
            raise ConfigError(f"based must be 'user' or 'item', got {based!r}")
        rows, cols, shape = inter.users, inter.items, (n_users, n_items)
        if based == "item":
            rows, cols, shape = cols, rows, (n_items, n_users)
        coo = sp.coo_array((inter.ratings.astype(np.float32), (rows, cols)), shape=shape)
        csr = coo.tocsr()
        csr.sum_duplicates()
        if csr.nnz != len(inter):
            raise DataError(
                f"{len(inter) - csr.nnz} duplicate (user, item) pairs; keep one rating per pair"
            )
        csr.sort_indices()
        return cls(csr=csr, based=based)

    @property
    def shape(self) -> tuple[int, int]:
        return self.csr.shape

    @property
    def nnz(self) -> int:
        return self.csr.nnz

    def global_mean(self) -> float:
        return float(self.csr.data.mean()) if self.csr.nnz else 0.0

    def row_counts(self) -> np.ndarray:
        return np.diff(self.csr.indptr)

    def means(self, axis: int) -> np.ndarray:
        """Mean observed rating per row (axis=1) or column (axis=0); global mean if none."""
        sums = np.asarray(self.csr.sum(axis=axis)).ravel()
        counts = (
            np.bincount(self.csr.indices, minlength=self.shape[1])
            if axis == 0
            else (self.row_counts())
        )
        out = np.full(len(sums), self.global_mean(), dtype=np.float32)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out

    def fill_vectors(self, fill: InputFill) -> tuple[np.ndarray, np.ndarray]:
        """(per-row, per-column) vectors whose outer sum is the fill of every cell."""
        row = np.zeros(self.shape[0], dtype=np.float32)
        col = np.zeros(self.shape[1], dtype=np.float32)
        if fill.kind == "constant":
            row[:] = fill.value
        else:
            on_rows = (fill.kind == "user_mean") == (self.based == "user")
            if on_rows:
                row = self.means(axis=1)
            else:
                col = self.means(axis=0)
        return row, col
