"""Dense mini-batches of rows, built on the device from a sparse matrix.

The full matrix stays sparse (indptr / indices / values tensors, resident on the device);
each batch of rows is densified on its own: the fill of unobserved cells is the outer sum
of a per-row and a per-column vector (see :meth:`RatingMatrix.fill_vectors`).
"""

from __future__ import annotations

import numpy as np
import torch

from aerec.data.matrix import InputFill, RatingMatrix
from aerec.ops.sparse import CellBatch, uses_numba


class RowBatcher:
    """Rows of a :class:`RatingMatrix` as dense (inputs, targets, mask) tensors."""

    def __init__(
        self,
        matrix: RatingMatrix,
        device: torch.device | str = "cpu",
        fill: InputFill | None = None,
        side: np.ndarray | None = None,
    ) -> None:
        csr = matrix.csr
        self.device = torch.device(device)
        self.based = matrix.based
        self.n_rows, self.n_cols = matrix.shape
        self.indptr_host = np.asarray(csr.indptr, dtype=np.int64)
        self.indptr = torch.as_tensor(self.indptr_host, device=self.device)
        self.indices = torch.as_tensor(csr.indices, dtype=torch.int64, device=self.device)
        self.values = torch.as_tensor(csr.data, dtype=torch.float32, device=self.device)
        row, col = matrix.fill_vectors(fill or InputFill())
        self.fill_row = torch.as_tensor(row, device=self.device)
        self.fill_col = torch.as_tensor(col, device=self.device)
        self.side = None if side is None else torch.tensor(side, device=self.device)
        self._cell_arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def row_counts(self) -> torch.Tensor:
        return self.indptr[1:] - self.indptr[:-1]

    def cell_counts(self, rows: np.ndarray, batch_size: int) -> list[int]:
        """Observed cells of each batch of ``batch_size`` of ``rows`` (host indices, in order),
        from the host copy of ``indptr``: what :meth:`observed` takes as ``n_cells`` so that
        building a batch on the device never waits for the device."""
        counts = self.indptr_host[rows + 1] - self.indptr_host[rows]
        starts = np.arange(0, len(rows), batch_size)
        return np.add.reduceat(counts, starts).tolist() if len(rows) else []

    def observed(
        self, rows: torch.Tensor, n_cells: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(position in batch, column, rating) of every observed cell of ``rows``; ``n_cells``,
        their number when known (see :meth:`cell_counts`), spares a device-to-host sync."""
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        arange = torch.arange(len(rows), device=self.device)
        pos = torch.repeat_interleave(arange, counts, output_size=n_cells)
        first = torch.cumsum(counts, 0) - counts
        offsets = torch.arange(len(pos), device=self.device) - first[pos]
        cells = starts[pos] + offsets
        return pos, self.indices[cells], self.values[cells]

    def cells(self, rows: torch.Tensor, n_cells: int | None = None) -> CellBatch:
        """The observed cells of ``rows``, CSR-style over the batch (on the CPU gathered by
        one numba kernel, the same arrays as the torch ops of :meth:`observed`)."""
        if uses_numba(self.values):
            arrays = self.indptr_host, self.indices.numpy(), self.values.numpy()
            return CellBatch.from_rows(*arrays, rows.numpy(), self.n_cols)
        pos, cols, vals = self.observed(rows, n_cells)
        return CellBatch.from_observed(pos, cols, vals, len(rows), self.n_cols)

    def inputs(self, rows: torch.Tensor) -> torch.Tensor:
        """Dense input rows: observed ratings, the fill elsewhere."""
        return self._inputs(rows, *self.observed(rows))

    def targets(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense (ratings, mask) of ``rows``: zero and unmasked where unobserved."""
        return self._targets(len(rows), *self.observed(rows))

    def dense(
        self, rows: torch.Tensor, n_cells: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``inputs(rows)`` and ``targets(rows)`` from one look-up of the rows' cells."""
        observed = self.observed(rows, n_cells)
        return self._inputs(rows, *observed), *self._targets(len(rows), *observed)

    def cell_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every cell as NumPy (row, column, rating as float64), in CSR order; computed once."""
        if self._cell_arrays is None:
            rows = np.repeat(np.arange(self.n_rows), self.row_counts().cpu().numpy())
            cols = self.indices.cpu().numpy()
            self._cell_arrays = rows, cols, self.values.cpu().numpy().astype(np.float64)
        return self._cell_arrays

    def _inputs(self, rows, pos, cols, vals) -> torch.Tensor:
        x = self.fill_row[rows, None] + self.fill_col[None, :]
        x[pos, cols] = vals
        return x

    def _targets(self, n_rows: int, pos, cols, vals) -> tuple[torch.Tensor, torch.Tensor]:
        target = torch.zeros(n_rows, self.n_cols, device=self.device)
        mask = torch.zeros_like(target)
        target[pos, cols] = vals
        mask[pos, cols] = 1.0
        return target, mask

    def side_of(self, rows: torch.Tensor) -> torch.Tensor | None:
        return None if self.side is None else self.side[rows]
