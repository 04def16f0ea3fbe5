"""Predictions from a trained autoencoder, for whole rows or for (row, column) cells.

Inputs are training ratings only. A row with no training rating (a user or item the model
never saw) or a column with none has no learned signal: its cells get the fallback, the mean
training rating.
"""

from __future__ import annotations

import numpy as np
import torch

from aerec.models.autoencoder import AutoEncoder
from aerec.training.batches import RowBatcher


class Predictor:
    """Model outputs with the cold-start fallback applied."""

    def __init__(self, model: AutoEncoder, inputs: RowBatcher, batch_size: int = 1024) -> None:
        self.model, self.inputs, self.batch_size = model, inputs, batch_size
        self.cold_rows = inputs.row_counts() == 0
        col_counts = torch.bincount(inputs.indices, minlength=inputs.n_cols)
        self.cold_cols = col_counts == 0
        self.fallback = float(inputs.values.mean()) if len(inputs.values) else 0.0

    @torch.no_grad()
    def rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Dense predictions (unclipped) for ``rows``."""
        self.model.eval()
        pred = self.model(self.inputs.inputs(rows), self.inputs.side_of(rows))
        pred[self.cold_rows[rows]] = self.fallback
        pred[:, self.cold_cols] = self.fallback
        return pred

    def cells(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Unclipped predictions for cells (rows[k], cols[k]); each row is computed once."""
        out = np.empty(len(rows), dtype=np.float32)
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        unique, first = np.unique(sorted_rows, return_index=True)
        bounds = np.append(first, len(rows))
        device = self.inputs.device
        for a in range(0, len(unique), self.batch_size):
            b = min(a + self.batch_size, len(unique))
            pred = self.rows(torch.as_tensor(unique[a:b], device=device))
            seg = order[bounds[a] : bounds[b]]
            local = np.searchsorted(unique[a:b], rows[seg])
            values = pred[
                torch.as_tensor(local, device=device), torch.as_tensor(cols[seg], device=device)
            ]
            out[seg] = values.cpu().numpy()
        return out
