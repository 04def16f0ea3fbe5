"""The report's figures, drawn with matplotlib's object API (no pyplot global state).

Each function returns a :class:`matplotlib.figure.Figure`; :func:`png_bytes` renders one.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aerec.render.plots import CURVES

COLUMNS = 3


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def curves_figure(histories: dict[str, list[dict]], curve: str, skip: int = 0) -> Figure:
    """Train vs validation ``curve`` (``loss`` or ``rmse``) per epoch, one panel per row,
    the first ``skip`` epochs left out as the notebook does."""
    train_key, val_key, label = CURVES[curve]
    n = max(len(histories), 1)
    cols = min(COLUMNS, n)
    fig = Figure(figsize=(4.2 * cols, 3.0 * math.ceil(n / cols)), dpi=100)
    axes = np.atleast_1d(fig.subplots(math.ceil(n / cols), cols, squeeze=False)).ravel()
    for ax, (title, history) in zip(axes, histories.items(), strict=False):
        rows = [r for r in history if r["epoch"] > skip]
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r[train_key] for r in rows], label="train")
        if rows and val_key in rows[0]:
            ax.plot(epochs, [r[val_key] for r in rows], label="validation")
        if not rows:
            ax.text(0.5, 0.5, f"no epochs after {skip}", ha="center", transform=ax.transAxes)
        ax.set_title(title, fontsize=9)
        ax.set(xlabel="epoch", ylabel=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="best", fontsize=8)
    for ax in axes[len(histories) :]:
        ax.set_visible(False)
    name = {"loss": "loss", "rmse": "RMSE"}.get(curve, curve)
    fig.suptitle(f"train vs validation {name}" + (f" (epochs after {skip})" if skip else ""))
    fig.tight_layout()
    return fig


def bars_figure(summary: pd.DataFrame) -> Figure:
    """Mean global and per-user test RMSE per row with std error bars; references as marks.

    ``summary`` has ``row``, ``test_rmse_mean/_std``, ``test_user_rmse_mean/_std`` and the
    optional ``ref_rmse``, ``ref_user_rmse``."""
    fig = Figure(figsize=(max(6.0, 0.9 * len(summary) + 2), 4.6), dpi=100)
    ax = fig.subplots()
    x, width = np.arange(len(summary)), 0.38
    series = (("test_rmse", "global RMSE", -1), ("test_user_rmse", "per-user RMSE", 1))
    for metric, name, side in series:
        pos = x + side * width / 2
        ax.bar(
            pos,
            summary[f"{metric}_mean"],
            width,
            yerr=_err(summary[f"{metric}_std"]),
            capsize=3,
            label=name,
        )
        ref = f"ref_{metric.removeprefix('test_')}"
        if ref in summary and summary[ref].notna().any():
            ax.plot(pos, summary[ref], "k_", markersize=18, mew=2, label=f"published {name}")
    ax.set_xticks(x, summary["row"], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(*_zoom(summary))
    ax.set(ylabel="test RMSE (mean ± std over seeds)", title="test RMSE per configuration")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def activity_figure(means: pd.DataFrame, stds: pd.DataFrame, counts: pd.DataFrame) -> Figure:
    """Test RMSE by user-activity bucket, one line per row (``means``, ``stds`` and the test
    rating ``counts``: rows x buckets)."""
    fig = Figure(figsize=(6.5, 4.2), dpi=100)
    ax = fig.subplots()
    x = np.arange(len(means.columns))
    shifts = np.linspace(-0.08, 0.08, len(means.index)) if len(means.index) > 1 else [0.0]
    for label, shift in zip(means.index, shifts, strict=True):
        ax.errorbar(
            x + shift,
            means.loc[label],
            yerr=_err(stds.loc[label]),
            marker="o",
            capsize=3,
            label=label,
        )
    ticks = [f"{b}\n{_count_range(counts.get(b))}\ntest ratings" for b in means.columns]
    ax.set_xticks(x, ticks, fontsize=7)
    ax.set(xlabel="training ratings per user", ylabel="test RMSE (global, in the bucket)")
    ax.set_title("test RMSE by user activity")
    ax.legend(loc="best", fontsize=7)
    fig.tight_layout()
    return fig


def weights_figure(weight: np.ndarray, title: str, inputs: int = 3) -> Figure:
    """The first layer's weights from the first ``inputs`` inputs, ``W[:, 0..inputs-1]`` of
    a torch ``(out, in)`` weight: the notebook's ``first_layer_weights[0..2]`` plot."""
    fig = Figure(figsize=(6.5, 3.6), dpi=100)
    ax = fig.subplots()
    units = np.arange(weight.shape[0])
    for j in range(min(inputs, weight.shape[1])):
        ax.plot(units, weight[:, j], linewidth=0.9, label=f"input {j}")
    ax.set(xlabel="unit of the first layer", ylabel="weight", title=title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def _count_range(counts: pd.Series | None) -> str:
    """``7947``, or ``7947-49141`` where the rows differ."""
    if counts is None or counts.isna().all():
        return "0"
    low, high = int(counts.min()), int(counts.max())
    return f"{low}" if low == high else f"{low}-{high}"


def _err(std: pd.Series) -> np.ndarray:
    return np.nan_to_num(np.asarray(std, dtype=float), nan=0.0)


def _zoom(summary: pd.DataFrame) -> tuple[float, float]:
    """Y limits around the bars and marks (RMSEs differ in the 2nd or 3rd decimal)."""
    cols = [c for c in ("test_rmse", "test_user_rmse") if f"{c}_mean" in summary]
    lows = [summary[f"{c}_mean"] - _err(summary[f"{c}_std"]) for c in cols]
    highs = [summary[f"{c}_mean"] + _err(summary[f"{c}_std"]) for c in cols]
    refs = [summary[c] for c in ("ref_rmse", "ref_user_rmse") if c in summary]
    values = pd.concat([*lows, *highs, *refs]).dropna()
    if values.empty:
        return 0.0, 1.0
    lo, hi = float(values.min()), float(values.max())
    pad = max(hi - lo, 0.01) * 0.3
    return max(lo - pad, 0.0), hi + pad
