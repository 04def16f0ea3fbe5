"""The training losses: one :class:`Loss` per kind, over dense rows or observed cells.

The notebook's ``masked_se`` and ``masked_mse`` are the dense building blocks (one value per
row; in the notebook the mask is ``target != 0``, here it is explicit, so a rating can never be
confused with a fill value). The notebook's ``masked_rmse_clip`` is a metric, not a loss: it
is :func:`aerec.evaluation.metrics.user_rmse` of clipped predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aerec.plan import LOSSES


def masked_se(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors over the observed cells of each row."""
    return (mask * (target - pred)).square().sum(dim=-1)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row mean squared error over observed cells (0 for a row with none)."""
    return masked_se(pred, target, mask) / mask.sum(dim=-1).clamp(min=1)


@dataclass(frozen=True)
class Loss:
    """A loss kind of :data:`aerec.plan.LOSSES`. Each method returns ``(total, n)``: the sum
    of the batch's loss terms and their number; the objective is the total over the number
    in the whole (global) batch, except for ``sse``, which is not normalised (n = 1).

    - ``row_mse``: a term per row, the row's masked MSE (the notebook's);
    - ``mse``: a term per observed cell, its squared error;
    - ``sse``: one term, half the sum of squared errors (the kernel models' authors').

    ``n`` is a Python int, except for ``mse`` over dense rows: a 0-dim int64 tensor on the
    device, so that counting the cells never waits for the device.
    """

    kind: str

    def __post_init__(self) -> None:
        assert self.kind in LOSSES, self.kind

    def dense(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple:
        if self.kind == "row_mse":
            return masked_mse(pred, target, mask).sum(), len(pred)
        total = masked_se(pred, target, mask).sum()
        if self.kind == "sse":
            return 0.5 * total, 1
        return total, mask.sum().long()  # counted on the device: no sync per step

    def cells(self, sq_err: torch.Tensor, rows: torch.Tensor, indptr: torch.Tensor) -> tuple:
        """From the squared error of each observed cell, its batch row and the batch's
        CSR ``indptr``."""
        if self.kind == "row_mse":
            n_rows = len(indptr) - 1
            per_row = torch.zeros(n_rows, device=sq_err.device).index_add_(0, rows, sq_err)
            counts = (indptr[1:] - indptr[:-1]).clamp(min=1)
            return (per_row / counts).sum(), n_rows
        if self.kind == "sse":
            return 0.5 * sq_err.sum(), 1
        return sq_err.sum(), len(sq_err)

    def of_rows(self, row_se: np.ndarray, row_n: np.ndarray) -> float:
        """The loss reported on a scored set, from each row's squared-error sum and count:
        the mean of row MSEs (``row_mse``) or the MSE over cells (``mse``, ``sse``)."""
        if self.kind == "row_mse":
            seen = row_n > 0
            return float(np.mean(row_se[seen] / row_n[seen])) if seen.any() else float("nan")
        return float(row_se.sum() / max(row_n.sum(), 1))

    def normaliser(self, n_cells: int, n_rows: int) -> int:
        """The number the whole training set's total is divided by (full-batch phases)."""
        return {"row_mse": n_rows, "mse": n_cells, "sse": 1}[self.kind]
