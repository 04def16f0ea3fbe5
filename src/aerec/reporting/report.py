"""``aerec report``: one HTML page and one Markdown file from run folders and collected tables.

Nothing is retrained or re-evaluated: every number comes from ``results.csv`` /
``results.parquet`` and every curve and weight plot from the run folders, so the report can be
rebuilt at any time. The protocol (splits, seeds, metric definitions) is stated at the top.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aerec.experiments.expand import slugify
from aerec.experiments.stats import compare_by_activity, compare_to_baselines, summarize
from aerec.render.document import Block, Heading, Image, Items, Table, Text, write_report
from aerec.reporting import figures
from aerec.reporting.collected import Experiment, discover, first_layer_weight, read_history
from aerec.reporting.tables import (
    METRICS,
    activity_table,
    bucket_means,
    fold_table,
    has_folds,
    overview_table,
    paired_table,
    ranking_metrics,
    ranking_table,
    results_table,
)

TITLE = "aerec report"
PROTOCOL = (
    "**Global RMSE** (`test_rmse`, listed first): sqrt(sum of squared errors / number of "
    "ratings) over all test ratings, accumulated over all batches, predictions clipped to "
    "the rating scale. **Per-user RMSE** (`test_user_rmse`, beside it): each test user's "
    "RMSE averaged over users, the notebook's `masked_rmse_clip` and the metric of its "
    "figures. MAE is global.",
    "Test metrics are taken at the epoch with the best validation RMSE: the test set chooses "
    "nothing. Model inputs at prediction time are training ratings only.",
    "Splits: `stratified` is the notebook's (per user 90/10 train/test, then 10% of train for "
    "validation); with `split_seed` 42 fixed the seeds change only the initialisation, "
    "batches and noise. `random` is the papers' (90/10 over all ratings); without a fixed "
    "split seed every seed is a new split. Each experiment's split and seeds are listed below.",
    "Mean ± sample standard deviation over seeds. A configuration is compared with its "
    "baseline by the paired difference (configuration − baseline) over the same seeds with "
    "a 95% t confidence interval: **better** or **worse** only when the interval excludes "
    "zero, otherwise **no significant difference**.",
    "Ranking metrics (Precision, Recall, NDCG, MAP, hit rate at K): for each test user, "
    "every item not rated in train is ranked by predicted rating (ties to the lower item "
    "index); relevant items are the user's test ratings >= 4. Users without a relevant "
    "test item are left out of the means and counted. Recall@K = hits / relevant; NDCG "
    "with binary gains; MAP@K divides by min(K, relevant).",
    "Cross-validation (a fold column): every configuration is trained on each fold; "
    "mean ± std are over folds x seeds and paired differences match seed and fold.",
    "Published figures are shown beside ours for orientation only: the notebook's per-user "
    "RMSE on ML-1M (500 epochs, evaluated after the last one, one split with seed 42) and the "
    "papers' global RMSE (random 90/10 splits).",
)


def build_report(runs_dir: str | Path, out: str | Path, skip: int = 0) -> dict[str, Path]:
    """Write ``report.html`` (self-contained), ``report.md`` and its PNGs into ``out``."""
    experiments = discover(runs_dir)
    blocks = report_blocks(experiments, skip, f"aerec report {runs_dir} --out {out}")
    return write_report(TITLE, blocks, out)


def report_blocks(experiments: list[Experiment], skip: int, command: str) -> list[Block]:
    """The whole report: protocol, an overview, then one section per experiment."""
    blocks: list[Block] = [
        Heading(TITLE, 1),
        Text(f"Built only from run folders and collected tables; rebuild with `{command}`."),
        Heading("Protocol"),
        Items(PROTOCOL),
        Table(overview_table(experiments), "Experiments in this report"),
    ]
    for experiment in experiments:
        blocks += experiment_blocks(experiment, skip)
    return blocks


def experiment_blocks(experiment: Experiment, skip: int) -> list[Block]:
    """Tables with statistics, then the figures, of one experiment."""
    table, name = experiment.table, experiment.name
    blocks: list[Block] = [Heading(name)]
    if experiment.info.get("description"):
        blocks.append(Text(experiment.info["description"]))
    if table.empty:
        return [*blocks, Text("No finished runs yet.")]
    summary = summarize(table, METRICS)
    over = "folds x seeds" if has_folds(table) else "seeds"
    blocks.append(Table(results_table(table, summary), f"Test metrics, mean ± std over {over}"))
    ranking = ranking_metrics(table)
    if ranking:
        caption = (
            f"Top-N ranking on test, mean ± std over {over} (relevant: test rating >= the "
            "run's relevance, 4 by default; see Protocol)"
        )
        blocks.append(Table(ranking_table(table, summarize(table, ranking)), caption))
    if has_folds(table):
        blocks.append(Table(fold_table(table), "Cross-validation: each fold's figures"))
    paired = [compare_to_baselines(table, m) for m in ("test_rmse", "test_user_rmse")]
    if not paired[0].empty:
        caption = f"Paired difference with the baseline over the same {over}, 95% t interval"
        blocks.append(Table(paired_table(*paired, over), caption))
    blocks += _figures(experiment, summary, skip)
    return blocks


def _figures(experiment: Experiment, summary: pd.DataFrame, skip: int) -> list[Block]:
    table, slug = experiment.table, slugify(experiment.name)
    refs = table.groupby("row", sort=False)[["ref_rmse", "ref_user_rmse"]].first()
    bars = figures.bars_figure(summary.join(refs, on="row"))
    blocks: list[Block] = [
        Image(
            f"{slug}-bars",
            figures.png_bytes(bars),
            f"{experiment.name}: test RMSE",
            "Bars: mean over seeds, error bars: std; black marks: published figures. "
            "The y axis does not start at zero.",
        )
    ]
    blocks += _activity(experiment, slug)
    histories = _histories(experiment)
    for curve in ("loss", "rmse"):
        fig = figures.curves_figure(histories, curve, skip)
        left_out = f"epochs 1 to {skip} left out" if skip else "all epochs"
        caption = f"First seed of each configuration; {left_out}."
        blocks.append(Image(f"{slug}-{curve}", figures.png_bytes(fig), f"{curve} curves", caption))
    return blocks + _weights(experiment, slug)


def _activity(experiment: Experiment, slug: str) -> list[Block]:
    means, stds, counts = bucket_means(experiment.table)
    if means.empty:
        return []
    fig = figures.activity_figure(means, stds, counts)
    caption = "Users grouped by their number of training ratings; mean ± std over seeds."
    blocks: list[Block] = [
        Image(f"{slug}-activity", figures.png_bytes(fig), "RMSE by user activity", caption)
    ]
    by_bucket = compare_by_activity(experiment.table)
    if (by_bucket["n"] > 0).any():
        caption = (
            "Paired difference in test RMSE with the baseline within each activity bucket, "
            "95% t interval (n.s.: no significant difference)"
        )
        blocks.append(Table(activity_table(by_bucket), caption))
    return blocks


def _histories(experiment: Experiment) -> dict[str, list[dict]]:
    first = experiment.table.sort_values(["row_index", "seed"]).groupby("row", sort=False).first()
    return {
        f"{label} (seed {run.seed})": read_history(experiment.run_folder(run.run_id))
        for label, run in first.iterrows()
    }


def _weights(experiment: Experiment, slug: str) -> list[Block]:
    table = experiment.table.sort_values(["row_index", "seed"])
    baselines = set(table["baseline"].fillna(""))
    chosen = table[table["row"].isin(baselines)]
    run = (chosen if not chosen.empty else table).iloc[0]
    weight = first_layer_weight(experiment.run_folder(run["run_id"]))
    if weight is None:
        return []
    title = f"first-layer weights: {run['row']} (seed {run['seed']})"
    caption = (
        "`W[:, 0..2]` of `model.layers.0.weight`: the weights from each of the first three "
        "inputs to every unit of the first layer, as the notebook plots "
        "`first_layer_weights[0..2]`."
    )
    fig = figures.weights_figure(weight, title)
    return [Image(f"{slug}-weights", figures.png_bytes(fig), title, caption)]
