"""Rating-prediction metrics over arrays of (user, true rating, prediction) cells.

Per ``EVALUATION.md``: the RMSE over a set is sqrt(sum of squared errors / number of
ratings), predictions clipped to the rating scale. The notebook's figure, the mean over users
of each user's RMSE, is reported beside it as ``user_rmse``.
"""

from __future__ import annotations

import math

import numpy as np

from aerec.data.types import RatingScale

ACTIVITY_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (0, 50),
    (50, 100),
    (100, 200),
    (200, 500),
    (500, None),
)
"""Ratings per user in train: <50, 50-99, 100-199, 200-499, 500+."""


def bucket_name(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else (f"<{high}" if low == 0 else f"{low}-{high - 1}")


def rmse(true: np.ndarray, pred: np.ndarray) -> float:
    return (
        float(np.sqrt(np.mean(np.square(pred - true, dtype=np.float64))))
        if len(true)
        else (float("nan"))
    )


def mae(true: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(pred - true, dtype=np.float64))) if len(true) else float("nan")


def user_rmse(users: np.ndarray, true: np.ndarray, pred: np.ndarray) -> float:
    """The notebook's metric: each user's RMSE over their ratings, averaged over users."""
    if not len(true):
        return float("nan")
    _, inverse, counts = np.unique(users, return_inverse=True, return_counts=True)
    se = np.bincount(inverse, weights=np.square(pred - true, dtype=np.float64))
    return float(np.mean(np.sqrt(se / counts)))


def rmse_of_sums(squared_errors: float, n: int) -> float:
    """The RMSE from a sum of squared errors over ``n`` ratings (accumulated over batches)."""
    return math.sqrt(squared_errors / max(n, 1))


def score(users: np.ndarray, true: np.ndarray, pred: np.ndarray, scale: RatingScale) -> dict:
    """The one scoring function: global RMSE, MAE and the notebook's per-user RMSE of the
    predictions clipped to ``scale``, and the number of ratings."""
    pred = scale.clip(pred)
    return {
        "rmse": rmse(true, pred),
        "mae": mae(true, pred),
        "user_rmse": user_rmse(users, true, pred),
        "n": len(true),
    }


def rating_metrics(
    users: np.ndarray,
    true: np.ndarray,
    pred: np.ndarray,
    scale: RatingScale,
    train_counts: np.ndarray | None = None,
) -> dict:
    """:func:`score`, and the RMSE by user activity.

    ``train_counts[u]`` is the number of training ratings of user ``u``; when given, the
    result has ``rmse_by_activity`` with the RMSE and rating count of each bucket."""
    out = score(users, true, pred, scale)
    pred = scale.clip(pred)
    if train_counts is not None:
        activity = train_counts[users]
        buckets = {}
        for lo, hi in ACTIVITY_BUCKETS:
            sel = (activity >= lo) & (activity < (hi if hi is not None else np.inf))
            buckets[bucket_name(lo, hi)] = {
                "rmse": rmse(true[sel], pred[sel]),
                "n": int(sel.sum()),
                "users": len(np.unique(users[sel])),
            }
        out["rmse_by_activity"] = buckets
    return out
