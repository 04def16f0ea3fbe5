"""Statistics over seeds: mean and spread per row, paired comparisons with a baseline.

In cross-validation (a ``fold`` column) the replicates are the (seed, fold) pairs: means and
standard deviations are over folds x seeds, and pairs are matched on seed and fold.

Per ``EVALUATION.md`` a difference between two configurations counts when the paired
difference over the same seeds has a 95% confidence interval that excludes zero. The interval
is the t interval ``mean(d) +- t(1 - a/2, n - 1) * sd(d) / sqrt(n)`` of the per-seed
differences ``d = row - baseline``. Pure functions over the collected results table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

BETTER, WORSE, SAME, TOO_FEW = "better", "worse", "no significant difference", "too few seeds"
"""The verdicts; ``too few seeds`` when fewer than two seeds are paired."""

ACTIVITY_PREFIX = "rmse@"


@dataclass(frozen=True)
class Paired:
    """A paired comparison: mean of ``row - baseline`` over ``n`` shared seeds, its CI."""

    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    verdict: str


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof 1; NaN for one value) and count; NaNs dropped."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if not len(x):
        return math.nan, math.nan, 0
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else math.nan, len(x)


def paired_ci(diffs: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """The t confidence interval of the mean of paired differences (NaN for n < 2)."""
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)


def verdict(low: float, high: float, lower_is_better: bool = True) -> str:
    """``better`` / ``worse`` when the CI of ``row - baseline`` excludes zero, else ``same``."""
    if math.isnan(low) or math.isnan(high):
        return TOO_FEW
    if high < 0:
        return BETTER if lower_is_better else WORSE
    if low > 0:
        return WORSE if lower_is_better else BETTER
    return SAME


def paired(
    values: dict[int, float],
    baseline: dict[int, float],
    confidence: float = 0.95,
    lower_is_better: bool = True,
) -> Paired:
    """Compare ``values`` with ``baseline`` (both seed -> metric) over their shared seeds."""
    seeds = sorted(
        s
        for s in set(values) & set(baseline)
        if not (math.isnan(values[s]) or math.isnan(baseline[s]))
    )
    d = np.array([values[s] - baseline[s] for s in seeds], dtype=float)
    low, high = paired_ci(d, confidence)
    mean = float(d.mean()) if len(d) else math.nan
    return Paired(len(d), mean, low, high, verdict(low, high, lower_is_better))


def summarize(table: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per row (config without seed): ``n`` and ``<metric>_mean``, ``<metric>_std``."""
    out = []
    for label, group in _rows(table):
        record: dict = {"row": label, "n": len(set(_replicates(group)))}
        for metric in metrics:
            mean, std, _ = mean_std(group[metric])
            record |= {f"{metric}_mean": mean, f"{metric}_std": std}
        out.append(record)
    return pd.DataFrame(out, columns=_summary_columns(metrics))


def compare_to_baselines(
    table: pd.DataFrame,
    metric: str = "test_rmse",
    confidence: float = 0.95,
    lower_is_better: bool = True,
) -> pd.DataFrame:
    """One line per row that has a baseline: the paired difference in ``metric``."""
    out = []
    for label, baseline in _pairs(table):
        result = paired(
            _by_seed(table, label, metric),
            _by_seed(table, baseline, metric),
            confidence,
            lower_is_better,
        )
        out.append({"row": label, "baseline": baseline, "metric": metric, **asdict(result)})
    return pd.DataFrame(out, columns=["row", "baseline", "metric", *Paired.__dataclass_fields__])


def compare_by_activity(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """The paired comparison of the test RMSE within each user-activity bucket."""
    parts = [
        compare_to_baselines(table, column, confidence).assign(
            bucket=column.removeprefix(ACTIVITY_PREFIX)
        )
        for column in activity_columns(table)
    ]
    columns = ["row", "baseline", "bucket", *Paired.__dataclass_fields__]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def activity_columns(table: pd.DataFrame) -> list[str]:
    """The ``rmse@<bucket>`` columns, in bucket order."""
    return [c for c in table.columns if str(c).startswith(ACTIVITY_PREFIX)]


def _rows(table: pd.DataFrame):
    order = table.sort_values("row_index") if "row_index" in table else table
    for label in dict.fromkeys(order["row"]):
        yield label, table[table["row"] == label]


def _pairs(table: pd.DataFrame) -> list[tuple[str, str]]:
    if "baseline" not in table:
        return []
    pairs = {}
    for label, group in _rows(table):
        baseline = group["baseline"].fillna("").iloc[0]
        if baseline:
            pairs[label] = baseline
    return list(pairs.items())


def _by_seed(table: pd.DataFrame, label: str, metric: str) -> dict:
    """Replicate (the seed; (seed, fold) in cross-validation) -> the row's metric."""
    rows = table[table["row"] == label]
    return {
        r: math.nan if v is None else float(v)
        for r, v in zip(_replicates(rows), rows[metric], strict=True)
    }


def _replicates(rows: pd.DataFrame) -> list:
    """Each run's replicate key: its seed, or (seed, fold) when the table has folds."""
    seeds = [int(s) for s in rows["seed"]]
    if "fold" not in rows or rows["fold"].isna().all():
        return seeds
    return [(s, str(f)) for s, f in zip(seeds, rows["fold"], strict=True)]


def _summary_columns(metrics: Sequence[str]) -> list[str]:
    return ["row", "n", *[f"{m}_{s}" for m in metrics for s in ("mean", "std")]]
