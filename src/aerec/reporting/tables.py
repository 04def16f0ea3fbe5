"""The report's tables, formatted for reading: mean ± std, paired differences with CIs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from aerec.experiments.stats import SAME, TOO_FEW, activity_columns

if TYPE_CHECKING:
    from aerec.reporting.collected import Experiment

METRICS = (
    "test_rmse",
    "test_user_rmse",
    "test_mae",
    "best_epoch",
    "epochs_run",
    "train_seconds",
    "fit_seconds",
)
SHORT_VERDICT = {SAME: "n.s.", TOO_FEW: "n < 2"}


def overview_table(experiments: list[Experiment]) -> pd.DataFrame:
    """One line per experiment: data, split, seeds, finished runs, command-line overrides."""
    lines = []
    for exp in experiments:
        t = exp.table
        overrides = {k: v for k, v in exp.info.get("overrides", {}).items() if v is not None}
        lines.append(
            {
                "experiment": exp.name,
                "dataset": _distinct(t, "dataset"),
                "split": _distinct(t, "split"),
                "split seed": _split_seed(t),
                "seeds": _distinct(t, "seed"),
                **({"folds": _distinct(t, "fold")} if has_folds(t) else {}),
                "configurations": t["row"].nunique() if not t.empty else 0,
                "finished runs": len(t),
                "overrides": ", ".join(f"--{k} {_plain(v)}" for k, v in overrides.items()),
            }
        )
    return pd.DataFrame(lines).fillna("")


def results_table(table: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: global RMSE first, per-user RMSE beside it, published figure.
    In cross-validation the runs are counted as folds x seeds."""
    refs = table.groupby("row", sort=False)[["ref_source", "ref_rmse", "ref_user_rmse"]].first()
    runs = "folds x seeds" if has_folds(table) else "seeds"
    out = []
    for s in summary.itertuples(index=False):
        ref = refs.loc[s.row]
        out.append(
            {
                "configuration": s.row,
                runs: s.n,
                "global RMSE": pm(s.test_rmse_mean, s.test_rmse_std),
                "per-user RMSE": pm(s.test_user_rmse_mean, s.test_user_rmse_std),
                "published": _published(ref),
                "MAE": pm(s.test_mae_mean, s.test_mae_std),
                "best epoch": _whole(s.best_epoch_mean),
                "epochs run": _whole(s.epochs_run_mean),
                "seconds / run": _whole(_fit_seconds(s)),
            }
        )
    return pd.DataFrame(out)


RANKING = ("precision", "recall", "ndcg", "map", "hit_rate")
RANKING_HEADERS = {
    "precision": "Precision",
    "recall": "Recall",
    "ndcg": "NDCG",
    "map": "MAP",
    "hit_rate": "hit rate",
}


def ranking_ks(table: pd.DataFrame) -> list[int]:
    """The K of the table's ranking columns (``test_ndcg@10``), ascending."""
    ks = {int(c.rpartition("@")[2]) for c in table.columns if str(c).startswith("test_ndcg@")}
    return sorted(k for k in ks if table[f"test_ndcg@{k}"].notna().any())


def ranking_metrics(table: pd.DataFrame) -> list[str]:
    """The ranking columns of the table, for :func:`~aerec.experiments.stats.summarize`."""
    return [f"test_{m}@{k}" for k in ranking_ks(table) for m in RANKING if f"test_{m}@{k}" in table]


def ranking_table(table: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Per configuration and K: the test ranking metrics, mean ± std."""
    out = []
    for s in summary.to_dict("records"):
        for k in ranking_ks(table):
            line = {"configuration": s["row"], "K": k}
            for m in RANKING:
                key = f"test_{m}@{k}"
                line[RANKING_HEADERS[m]] = pm(s.get(f"{key}_mean"), s.get(f"{key}_std"))
            out.append(line)
    return pd.DataFrame(out)


def has_folds(table: pd.DataFrame) -> bool:
    return "fold" in table and table["fold"].notna().any()


def fold_table(table: pd.DataFrame) -> pd.DataFrame:
    """One line per run of a cross-validation: configuration, fold, seed and its figures."""
    k = 10 if 10 in ranking_ks(table) else (ranking_ks(table) or [None])[-1]
    out = []
    for r in table.sort_values(["row_index", "seed"], kind="stable").to_dict("records"):
        line = {
            "configuration": r["row"],
            "fold": _plain(r["fold"]),
            "seed": r["seed"],
            "global RMSE": _number(r.get("test_rmse")),
            "MAE": _number(r.get("test_mae")),
            "test fallbacks": _plain(r.get("test_fallback", "")),
        }
        if k is not None:
            line[f"NDCG@{k}"] = _number(r.get(f"test_ndcg@{k}"))
            line[f"Recall@{k}"] = _number(r.get(f"test_recall@{k}"))
        out.append(line)
    return pd.DataFrame(out)


def _number(value: object) -> str:
    return "" if _nan(value) else f"{value:.4f}"


def _whole(value: float) -> str:
    """A mean rounded to a whole number; ``-`` where there is none (a peer has no epochs)."""
    return "-" if value is None or math.isnan(value) else f"{value:.0f}"


def _fit_seconds(s) -> float:
    """The whole fit's seconds (``fit_seconds``: every epoch with its validation, or a peer's
    fit); runs from before it was recorded give the sum of their epochs' seconds."""
    fit = getattr(s, "fit_seconds_mean", math.nan)
    return s.train_seconds_mean if fit is None or math.isnan(fit) else fit


def paired_table(
    global_: pd.DataFrame, per_user: pd.DataFrame, replicates: str = "seeds"
) -> pd.DataFrame:
    """Both metrics' paired comparisons side by side (from ``compare_to_baselines``)."""
    out = []
    for g, u in zip(global_.itertuples(), per_user.itertuples(), strict=True):
        out.append(
            {
                "configuration": g.row,
                "baseline": g.baseline,
                f"paired {replicates}": g.n,
                "Δ global RMSE [95% CI]": diff_ci(g.mean_diff, g.ci_low, g.ci_high),
                "verdict (global)": g.verdict,
                "Δ per-user RMSE [95% CI]": diff_ci(u.mean_diff, u.ci_low, u.ci_high),
                "verdict (per-user)": u.verdict,
            }
        )
    return pd.DataFrame(out)


def activity_table(by_bucket: pd.DataFrame) -> pd.DataFrame:
    """Configurations x buckets, each cell the paired difference, its CI and verdict;
    buckets without paired values are left out."""
    by_bucket = by_bucket[by_bucket["n"] > 0]
    cells = by_bucket.assign(
        cell=[
            f"{diff_ci(r.mean_diff, r.ci_low, r.ci_high)} {SHORT_VERDICT.get(r.verdict, r.verdict)}"
            for r in by_bucket.itertuples()
        ],
        configuration=by_bucket["row"] + " vs " + by_bucket["baseline"],
    )
    order = list(dict.fromkeys(cells["bucket"]))
    wide = cells.pivot(index="configuration", columns="bucket", values="cell")
    wide = wide.reindex(index=list(dict.fromkeys(cells["configuration"])), columns=order)
    return wide.reset_index().fillna("")


def bucket_means(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Rows x buckets: mean and std of the test RMSE, and the mean test rating count (rows
    of one experiment may differ in it, e.g. by test size); buckets without test ratings are
    left out."""
    columns = [c for c in activity_columns(table) if table[c].notna().any()]
    if not columns:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    names = {c: c.removeprefix("rmse@") for c in columns}
    ordered = table.sort_values("row_index")
    grouped = ordered.groupby("row", sort=False)[columns]
    means, stds = grouped.mean().rename(columns=names), grouped.std().rename(columns=names)
    count_columns = {f"n@{b}": b for b in names.values() if f"n@{b}" in table}
    counts = ordered.groupby("row", sort=False)[list(count_columns)].mean()
    return means, stds, counts.rename(columns=count_columns)


def pm(mean: float, std: float, digits: int = 4) -> str:
    """``mean ± std``; just the mean when the std is undefined (one seed)."""
    if _nan(mean):
        return ""
    return f"{mean:.{digits}f}" if _nan(std) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def diff_ci(mean: float, low: float, high: float) -> str:
    """``+0.0123 [+0.0046, +0.0200]``; the bare difference when the CI is undefined."""
    if _nan(mean):
        return ""
    return f"{mean:+.4f}" if _nan(low) else f"{mean:+.4f} [{low:+.4f}, {high:+.4f}]"


def _published(ref: pd.Series) -> str:
    parts = []
    if not _nan(ref["ref_rmse"]):
        parts.append(f"{ref['ref_rmse']:.3f} global")
    if not _nan(ref["ref_user_rmse"]):
        parts.append(f"{ref['ref_user_rmse']:.3f} per-user")
    return f"{', '.join(parts)} ({ref['ref_source']})" if parts else ""


def _distinct(table: pd.DataFrame, column: str) -> str:
    if column not in table or table.empty:
        return ""
    return ", ".join(_plain(v) for v in dict.fromkeys(table[column]))


def _split_seed(table: pd.DataFrame) -> str:
    if "split_seed" not in table or table.empty:
        return ""
    seeds = table["split_seed"]
    return (
        "= the run's seed"
        if seeds.isna().all()
        else _distinct(table.dropna(subset=["split_seed"]), "split_seed")
    )


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _nan(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
