"""Predictions from a trained autoencoder, for whole rows or for (row, column) cells.

Inputs are training ratings only. A row with no training rating (a user or item the model
never saw) or a column with none has no learned signal: its cells get the fallback, the mean
training rating.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from aerec.ops.batches import RowBatcher
from aerec.ops.fpenv import flush_denormals
from aerec.ops.sparse import CellBatch

if TYPE_CHECKING:
    from torch import nn


class Predictor:
    """Model outputs with the cold-start fallback applied."""

    def __init__(
        self, model: nn.Module, inputs: RowBatcher, batch_size: int = 1024, sparse: bool = False
    ) -> None:
        flush_denormals()  # a fit and a loaded model both start here (aerec.ops.fpenv)
        self.model, self.inputs, self.batch_size = model, inputs, batch_size
        self.sparse = sparse
        self.cold_rows = inputs.row_counts() == 0
        col_counts = torch.bincount(inputs.indices, minlength=inputs.n_cols)
        self.cold_cols = col_counts == 0
        self.fallback = float(inputs.values.mean()) if len(inputs.values) else 0.0

    @torch.no_grad()
    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Dense predictions (unclipped) for ``rows``."""
        self.model.eval()
        pred = self.model(self.inputs.inputs(rows), self.inputs.side_of(rows), rows=rows)
        cold = self.cold_rows[rows, None] | self.cold_cols[None, :]  # no boolean index: no sync
        return torch.where(cold, self.fallback, pred)

    def cells(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Unclipped predictions for cells (rows[k], cols[k]); each row is computed once."""
        if not len(rows):
            return np.empty(0, dtype=np.float32)
        order = None if _sorted(rows, cols) else np.lexsort((cols, rows))
        if order is not None:
            rows, cols = rows[order], cols[order]
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        unique, bounds = rows[first], np.append(first, len(rows))
        parts = []  # kept on the device: one copy to the host at the end
        for a in range(0, len(unique), self.batch_size):
            b = min(a + self.batch_size, len(unique))
            seg = slice(bounds[a], bounds[b])
            local = np.searchsorted(unique[a:b], rows[seg])
            parts.append(self._chunk(unique[a:b], local, cols[seg]))
        pred = torch.cat(parts).cpu().numpy()
        if order is None:
            return pred
        out = np.empty(len(rows), dtype=np.float32)
        out[order] = pred
        return out

    @torch.no_grad()
    def _chunk(self, rows: np.ndarray, local: np.ndarray, cols: np.ndarray) -> torch.Tensor:
        """Predictions at (rows[local[k]], cols[k]); ``local`` ascending, cols sorted within."""
        device = self.inputs.device
        batch = torch.as_tensor(rows, device=device)
        local_t = torch.as_tensor(local, device=device)
        cols_t = torch.as_tensor(cols, device=device)
        if not self.sparse:
            return self.rows(batch)[local_t, cols_t]
        self.model.eval()
        inputs = self.inputs.cells(batch)
        fill_row, fill_col = self.inputs.fill_row[batch], self.inputs.fill_col
        outputs = CellBatch.from_observed(
            local_t, cols_t, torch.zeros(len(cols), device=device), len(rows), self.inputs.n_cols
        )
        pred = self.model(
            inputs.minus_fill(fill_row, fill_col),
            self.inputs.side_of(batch),
            None,
            outputs,
            fill_row,
            fill_col,
            rows=batch,
        )
        cold = self.cold_rows[batch][local_t] | self.cold_cols[cols_t]
        return torch.where(cold, self.fallback, pred)


def _sorted(rows: np.ndarray, cols: np.ndarray) -> bool:
    """Whether cells are in CSR order already: rows ascending, columns rising within a row."""
    step_row, step_col = np.diff(rows), np.diff(cols)
    return bool(np.all((step_row > 0) | ((step_row == 0) & (step_col > 0))))
