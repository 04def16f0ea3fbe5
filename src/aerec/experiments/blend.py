"""Blends of finished runs: a linear combination of their predictions, fitted on validation.

For each seed at which every named row of a spec has finished, the rows' predictions on the
validation ratings are regressed on those ratings by least squares (one weight per row and an
intercept); the same weights on their test predictions, clipped to the scale, are scored by
aerec's one scoring function. The weights see validation only: the test set chooses nothing.
The runs of a seed must share one split (the same data config and split seed), which is
checked, as is the data each was trained on.

A refit run (``refit = true``) was trained on the validation ratings too, so its own
predictions there say nothing: its weight is fitted on the predictions of its selection run
(the same config without refit, trained without those ratings) and applied to the refit
model's test predictions, the usual way to blend models refitted on all their data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from aerec.errors import CheckpointError, ConfigError
from aerec.evaluation.metrics import score
from aerec.experiments.runner import Overrides, experiment_dir, plan
from aerec.experiments.spec import ExperimentSpec
from aerec.experiments.stats import mean_std, paired
from aerec.io import atomic_write
from aerec.recommender import AutoRecommender
from aerec.runs import fingerprint, load_data, read_run


@dataclass(frozen=True)
class Blend:
    """One seed's blend: the weights fitted on validation and the scores on test."""

    seed: int
    weights: dict[str, float]
    """Row label -> its weight."""
    intercept: float
    val_rmse: float
    member_val_rmse: dict[str, float]
    """Row label -> that run's own RMSE on the validation ratings."""
    test: dict
    """The blend's :func:`~aerec.evaluation.metrics.score` on the test ratings."""
    members: dict[str, dict]
    """Row label -> that run's own score on the same test ratings."""


def blend_folders(folders: dict[str, Path], data_dir=None) -> Blend:
    """Blend the finished runs ``folders`` (row label -> run folder), all on one split."""
    if len(folders) < 2:
        raise ConfigError(f"a blend needs two or more runs, got {len(folders)}")
    runs = {label: read_run(folder) for label, folder in folders.items()}
    (first, (config, _)), *others = runs.items()
    split_seed = config.data.split_seed if config.data.split_seed is not None else config.seed
    for label, (other, _) in others:
        other_seed = other.data.split_seed if other.data.split_seed is not None else other.seed
        if other.data != config.data or other_seed != split_seed:
            raise ConfigError(
                f"{label!r} and {first!r} were trained on different splits (their [data] or "
                "split seed differ); blend runs of one split"
            )
    data, parts = load_data(config.data, config.seed, data_dir)
    for label, (_, run_metrics) in runs.items():
        if fingerprint(data) != run_metrics["data"]:
            raise CheckpointError(
                f"{folders[label]} was trained on other data than {data.name} has now; "
                "blend runs on the data they were trained on"
            )
    if len(parts.val) == 0:
        raise ConfigError("the blend weights are fitted on validation ratings; this split has none")
    recs = {label: AutoRecommender.load(Path(f) / "model") for label, f in folders.items()}
    scale = recs[first].scale_
    val_pred, test_pred = ({}, {})
    for label, rec in recs.items():
        on_val = rec
        if runs[label][0].refit:  # its validation predictions are its selection run's
            on_val = AutoRecommender.load(
                _selection(Path(folders[label]), runs[label][1]) / "model"
            )
        val_pred[label] = on_val.predict_inner(parts.val.users, parts.val.items).astype(np.float64)
        test_pred[label] = rec.predict_inner(parts.test.users, parts.test.items).astype(np.float64)
    labels = list(folders)
    design = np.column_stack([val_pred[k] for k in labels] + [np.ones(len(parts.val))])
    coef, *_ = np.linalg.lstsq(design, parts.val.ratings.astype(np.float64), rcond=None)
    weights, intercept = coef[:-1], float(coef[-1])

    def blended(pred: dict) -> np.ndarray:
        return sum(w * pred[k] for w, k in zip(weights, labels, strict=True)) + intercept

    true = parts.test.ratings.astype(np.float64)
    val = score(parts.val.users, parts.val.ratings.astype(np.float64), blended(val_pred), scale)
    return Blend(
        seed=config.seed,
        weights=dict(zip(labels, map(float, weights), strict=True)),
        intercept=intercept,
        val_rmse=val["rmse"],
        member_val_rmse={
            k: score(parts.val.users, parts.val.ratings, val_pred[k], scale)["rmse"] for k in labels
        },
        test=score(parts.test.users, true, blended(test_pred), scale),
        members={k: score(parts.test.users, true, test_pred[k], scale) for k in labels},
    )


def _selection(folder: Path, metrics: dict) -> Path:
    """The selection run of the refit run in ``folder`` (its metrics name it)."""
    named = (metrics.get("refit") or {}).get("selection")
    selection = folder / named if named else None
    if selection is None or not (selection / "metrics.json").is_file():
        raise CheckpointError(
            f"{folder} is a refit run whose selection run ({named or 'not named'}) is missing; "
            "its blend weight is fitted on that run's validation predictions: train it again"
        )
    return selection


def blend_experiment(
    spec: ExperimentSpec,
    runs_dir: str | Path,
    rows: tuple[str, ...],
    overrides: Overrides | None = None,
    data_dir=None,
    say=lambda line: None,
) -> pd.DataFrame:
    """One line per seed at which every row of ``rows`` (labels of ``spec``) has finished:
    the blend's and each member's test scores and the weights; written to
    ``RUNS_DIR/<spec>/blend-<rows>.csv``."""
    if len(set(rows)) < 2:
        raise ConfigError(f"a blend needs two or more different rows, got {list(rows)}")
    planned = plan(spec, runs_dir, overrides, reuse=False)
    labels = list(dict.fromkeys(p.run.row.label for p in planned))
    for row in rows:
        if row not in labels:
            raise ConfigError(f"{row!r} is not a row of {spec.name}; the rows are: {labels}")
    done: dict[int, dict[str, Path]] = {}
    for p in planned:
        if p.run.row.label in rows and p.status == "done" and p.run.fold is None:
            done.setdefault(p.run.seed, {})[p.run.row.label] = p.folder
    seeds = sorted(seed for seed, found in done.items() if len(found) == len(set(rows)))
    if not seeds:
        raise ConfigError(
            f"no seed has every one of {list(rows)} finished; train them first with "
            "aerec experiment run"
        )
    records = []
    for seed in seeds:
        result = blend_folders({row: done[seed][row] for row in rows}, data_dir)
        say(f"seed {seed}: blend test RMSE {result.test['rmse']:.4f}")
        record = {
            "seed": seed,
            "test_rmse": result.test["rmse"],
            "test_mae": result.test["mae"],
            "test_user_rmse": result.test["user_rmse"],
            "val_rmse": result.val_rmse,
            "intercept": result.intercept,
        }
        for row in rows:
            record[f"weight {row}"] = result.weights[row]
            record[f"test_rmse {row}"] = result.members[row]["rmse"]
            record[f"test_user_rmse {row}"] = result.members[row]["user_rmse"]
        records.append(record)
    table = pd.DataFrame(records)
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(rows).lower()).strip("-")
    out = experiment_dir(spec, runs_dir) / f"blend-{slug}.csv"
    atomic_write(out, lambda tmp: table.to_csv(tmp, index=False))
    return table


def blend_summary(table: pd.DataFrame, rows: tuple[str, ...]) -> pd.DataFrame:
    """Mean ± std over the seeds of the blend and of each member, and the blend's paired
    difference with each member (95 % t interval)."""
    blend = dict(zip(table["seed"], table["test_rmse"], strict=True))
    blend_user = dict(zip(table["seed"], table["test_user_rmse"], strict=True))
    lines = [_line("blend", table["test_rmse"], table["test_user_rmse"])]
    for row in rows:
        rmse, user = table[f"test_rmse {row}"], table[f"test_user_rmse {row}"]
        line = _line(row, rmse, user)
        for name, ours, theirs in (
            ("global", blend, rmse),
            ("per-user", blend_user, user),
        ):
            result = paired(ours, dict(zip(table["seed"], theirs, strict=True)))
            line[f"blend - row, {name}"] = (
                f"{result.mean_diff:+.4f} [{result.ci_low:+.4f}, {result.ci_high:+.4f}] "
                f"{result.verdict}"
            )
        lines.append(line)
    return pd.DataFrame(lines).fillna("")


def _line(label: str, rmse: pd.Series, user: pd.Series) -> dict:
    (m, s, n), (um, us, _) = mean_std(rmse), mean_std(user)
    return {
        "configuration": label,
        "seeds": n,
        "global RMSE": f"{m:.4f} ± {s:.4f}",
        "per-user RMSE": f"{um:.4f} ± {us:.4f}",
    }
