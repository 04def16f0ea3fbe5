"""Statistics over seeds against hand-computed values and scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from aerec.experiments.stats import (
    BETTER,
    SAME,
    TOO_FEW,
    WORSE,
    compare_by_activity,
    compare_to_baselines,
    mean_std,
    paired,
    paired_ci,
    summarize,
    verdict,
)

T_975_DF2 = 4.302652729911275  # t(0.975, 2), from tables


def test_mean_std_by_hand():
    mean, std, n = mean_std([1.0, 2.0, 3.0, 4.0])
    assert (mean, n) == (2.5, 4)
    assert std == pytest.approx(math.sqrt(5 / 3))  # sum of squares 5, over n - 1
    assert math.isnan(mean_std([0.9])[1]) and mean_std([0.9])[:1] == (0.9,)
    assert mean_std([1.0, float("nan"), 3.0])[::2] == (2.0, 2)
    assert math.isnan(mean_std([])[0])


def test_paired_ci_by_hand_and_against_scipy():
    d = [0.01, 0.02, 0.03]  # mean 0.02, sd 0.01
    low, high = paired_ci(d)
    half = T_975_DF2 * 0.01 / math.sqrt(3)
    assert (low, high) == pytest.approx((0.02 - half, 0.02 + half))
    rng = np.random.default_rng(0)
    for n in (2, 5, 10):
        x = rng.normal(0.01, 0.02, n)
        expected = sps.t.interval(0.95, n - 1, loc=x.mean(), scale=sps.sem(x))
        assert paired_ci(x) == pytest.approx(expected)
        assert paired_ci(x, 0.9) == pytest.approx(
            sps.t.interval(0.9, n - 1, loc=x.mean(), scale=sps.sem(x))
        )
    assert all(math.isnan(v) for v in paired_ci([0.1]))


def test_ci_excludes_zero_exactly_when_the_paired_t_test_rejects():
    rng = np.random.default_rng(1)
    for _ in range(50):
        a = rng.normal(0.85, 0.01, 5)
        b = a + rng.normal(0.004, 0.006, 5)
        result = paired(dict(enumerate(b)), dict(enumerate(a)))
        p = sps.ttest_rel(b, a).pvalue
        assert (result.verdict != SAME) == (p < 0.05)
        assert result.mean_diff == pytest.approx(float(np.mean(b - a)))


def test_verdicts():
    assert verdict(-0.02, -0.01) == BETTER
    assert verdict(0.01, 0.02) == WORSE
    assert verdict(-0.01, 0.01) == SAME
    assert verdict(-0.02, -0.01, lower_is_better=False) == WORSE
    assert verdict(float("nan"), float("nan")) == TOO_FEW


def test_paired_uses_shared_seeds_only_and_drops_nans():
    row = {1: 0.80, 2: 0.81, 3: 0.82, 4: float("nan"), 9: 0.5}
    base = {1: 0.85, 2: 0.86, 3: 0.87, 4: 0.88}
    result = paired(row, base)
    assert result.n == 3 and result.mean_diff == pytest.approx(-0.05)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.05, -0.05))  # zero spread
    assert result.verdict == BETTER
    single = paired({1: 0.8}, {1: 0.9})
    assert single.n == 1 and single.verdict == TOO_FEW and single.mean_diff == pytest.approx(-0.1)
    assert paired({}, base).n == 0


def _table() -> pd.DataFrame:
    base = [0.90, 0.91, 0.92]
    rows = []
    for label, baseline, shift in (("a", "", 0.0), ("b", "a", -0.02), ("c", "a", 0.001)):
        for seed, value in zip((1, 2, 3), base, strict=True):
            wobble = 0.001 * seed if label == "c" else 0.0
            rows.append(
                {
                    "row_index": "abc".index(label),
                    "row": label,
                    "baseline": baseline,
                    "seed": seed,
                    "test_rmse": value + shift + wobble - 0.002,
                    "rmse@<50": value + shift,
                    "rmse@500+": float("nan"),
                }
            )
    return pd.DataFrame(rows)


def test_summarize_per_row():
    summary = summarize(_table(), ["test_rmse"])
    assert list(summary["row"]) == ["a", "b", "c"] and list(summary["n"]) == [3, 3, 3]
    assert summary["test_rmse_mean"].iloc[0] == pytest.approx(0.908)
    assert summary["test_rmse_std"].iloc[0] == pytest.approx(0.01)


def test_compare_to_baselines():
    out = compare_to_baselines(_table())
    assert list(out["row"]) == ["b", "c"] and set(out["baseline"]) == {"a"}
    b, c = out.iloc[0], out.iloc[1]
    assert b["mean_diff"] == pytest.approx(-0.02) and b["verdict"] == BETTER
    d = np.array([0.002, 0.003, 0.004])  # c's per-seed differences
    low, high = sps.t.interval(0.95, 2, loc=d.mean(), scale=sps.sem(d))
    assert (c["ci_low"], c["ci_high"]) == pytest.approx((low, high))
    assert c["verdict"] == WORSE
    flipped = compare_to_baselines(_table(), lower_is_better=False)
    assert list(flipped["verdict"]) == [WORSE, BETTER]


def test_compare_by_activity_per_bucket():
    out = compare_by_activity(_table())
    assert list(out.columns[:3]) == ["row", "baseline", "bucket"]
    small = out[out["bucket"] == "<50"].set_index("row")
    assert small.loc["b", "mean_diff"] == pytest.approx(-0.02) and small.loc["b", "n"] == 3
    assert small.loc["c", "verdict"] == WORSE
    empty = out[out["bucket"] == "500+"]
    assert list(empty["n"]) == [0, 0] and set(empty["verdict"]) == {TOO_FEW}


def test_no_baselines_gives_empty_tables():
    table = _table().assign(baseline="")
    assert compare_to_baselines(table).empty and compare_by_activity(table).empty
