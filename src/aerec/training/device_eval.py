"""Scoring a validation set without leaving the device: the numbers of ``Trainer.evaluate``.

``Trainer.evaluate`` on CPU gathers the cells as NumPy arrays, predicts them and sums the
squared errors with NumPy. On CUDA that is a round trip per epoch (index arrays up, one
prediction chunk per batch of rows, the predictions down) and a host-side pass over every
cell. :func:`evaluate_on_device` predicts the same rows in the same batches (each row with a
cell once, in ascending order, ``batch_size`` at a time: the same model calls, so the same
float32 predictions), and forms the sums in float64 with torch on the device; the one
transfer is the few floats of the result. Sums in a different order than NumPy's: the same
numbers to float64 rounding (relative 1e-15), not always the same bits.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import torch

from aerec.data.types import RatingScale
from aerec.ops.batches import RowBatcher
from aerec.training.losses import Loss
from aerec.training.predict import Predictor


@dataclass(frozen=True)
class DeviceCells:
    """A scored set's cells, on its device, and how they fall into prediction batches."""

    local: torch.Tensor  # each cell's position among the rows that have cells
    rows: torch.Tensor  # each cell's row
    cols: torch.Tensor
    true: torch.Tensor  # float64
    unique: np.ndarray  # the rows with cells, ascending (host)
    bounds: np.ndarray  # cell offset of each of them, and the end (host)

    @classmethod
    def of(cls, target: RowBatcher) -> DeviceCells:
        counts = np.diff(target.indptr_host)
        unique = np.flatnonzero(counts > 0)
        bounds = np.append(target.indptr_host[unique], target.indptr_host[-1])
        device = target.device
        local = torch.repeat_interleave(
            torch.arange(len(unique), device=device),
            torch.as_tensor(counts[unique], device=device),
            output_size=int(target.indptr_host[-1]),
        )
        rows = torch.as_tensor(unique, device=device)[local]
        return cls(local, rows, target.indices, target.values.double(), unique, bounds)


_CELLS: weakref.WeakKeyDictionary[RowBatcher, DeviceCells] = weakref.WeakKeyDictionary()


def cells_of(target: RowBatcher) -> DeviceCells:
    """The target's :class:`DeviceCells`, built once per batcher."""
    if target not in _CELLS:
        _CELLS[target] = DeviceCells.of(target)
    return _CELLS[target]


@torch.no_grad()
def predict_cells(predictor: Predictor, cells: DeviceCells) -> torch.Tensor:
    """Unclipped float32 predictions of every cell, on the device: ``Predictor.cells``'s
    batches of rows, without the host."""
    parts = []
    device = cells.local.device
    size = predictor.batch_size
    for a in range(0, len(cells.unique), size):
        b = min(a + size, len(cells.unique))
        seg = slice(int(cells.bounds[a]), int(cells.bounds[b]))
        batch = torch.as_tensor(cells.unique[a:b], device=device)
        parts.append(predictor._chunk(batch, cells.local[seg] - a, cells.cols[seg]))
    if not parts:
        return torch.empty(0, device=device)
    return torch.cat(parts)


def per_group_rmse(groups: torch.Tensor, sq_err: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Mean over the groups that have cells of each group's RMSE (float64, on the device)."""
    se = torch.zeros(n_groups, dtype=torch.float64, device=sq_err.device).index_add_(
        0, groups, sq_err
    )
    n = torch.bincount(groups, minlength=n_groups).double()
    return _mean_where_seen((se / n.clamp(min=1)).sqrt(), n > 0)


def _mean_where_seen(values: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` where ``seen`` (no boolean indexing: that would sync)."""
    return torch.where(seen, values, 0.0).sum() / seen.sum()


def evaluate_on_device(
    predictor: Predictor, target: RowBatcher, loss: Loss, scale: RatingScale, user_based: bool
) -> dict:
    """``Trainer.evaluate``'s loss, RMSE and per-user RMSE of ``target``'s cells, summed on
    the device; one transfer of three floats at the end."""
    cells = cells_of(target)
    if not len(cells.true):
        return {"loss": float("nan"), "rmse": float("nan"), "user_rmse": float("nan")}
    pred = predict_cells(predictor, cells).double()
    sq_err = (pred - cells.true).square()
    row_se = torch.zeros(target.n_rows, dtype=torch.float64, device=pred.device)
    row_se.index_add_(0, cells.rows, sq_err)
    row_n = torch.bincount(cells.rows, minlength=target.n_rows).double()
    if loss.kind == "row_mse":
        loss_value = _mean_where_seen(row_se / row_n.clamp(min=1), row_n > 0)
    else:
        loss_value = row_se.sum() / row_n.sum().clamp(min=1)
    clipped = (scale.clip(pred) - cells.true).square()
    rmse = clipped.mean().sqrt()
    users = cells.rows if user_based else cells.cols
    n_users = target.n_rows if user_based else target.n_cols
    user_rmse = per_group_rmse(users, clipped, n_users)
    values = torch.stack([loss_value, rmse, user_rmse]).tolist()
    return dict(zip(("loss", "rmse", "user_rmse"), values, strict=True))
