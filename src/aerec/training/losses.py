"""Masked losses and metrics over dense (prediction, target, mask) tensors.

These are the notebook's definitions (``masked_se``, ``masked_mse``, ``masked_rmse``,
``masked_rmse_clip``): each returns one value per row. In the notebook the mask is
``target != 0``; here it is explicit, so a rating can never be confused with a fill value.
"""

from __future__ import annotations

import torch


def masked_se(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of squared errors over the observed cells of each row."""
    return (mask * (target - pred)).square().sum(dim=-1)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row mean squared error over observed cells (0 for a row with none)."""
    return masked_se(pred, target, mask) / mask.sum(dim=-1).clamp(min=1)


def masked_rmse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-row RMSE over observed cells."""
    return masked_mse(pred, target, mask).sqrt()


def masked_rmse_clip(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    low: float = 1.0,
    high: float = 5.0,
) -> torch.Tensor:
    """Per-row RMSE with predictions clipped to the rating scale (the notebook's metric)."""
    return masked_rmse(pred.clamp(low, high), target, mask)
