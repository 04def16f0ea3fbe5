"""Cross-validation through the experiment runner: every fold is a run folder, the table
has a fold column, means are over folds, reruns resume, the report reads it."""

from __future__ import annotations

import numpy as np
import pytest

from aerec.errors import ConfigError
from aerec.experiments import load_spec, plan, run_experiment
from aerec.experiments.stats import compare_to_baselines, summarize
from aerec.reporting.report import build_report
from aerec.training import RunOptions
from tests.data.test_files import grid_rows, ml100k
from tests.experiments.tiny import write_spec

KFOLD_SPEC = """
[experiment]
name = "cv"
seeds = [1]
folds = "all"
baseline = "sigmoid"

[data]
dataset = "synthetic-200x100x8000"
split = "kfold"
k = 3
split_seed = 42

[model]
name = "autorec"
based = "user"
hidden = 8

[train]
epochs = 2
batch_size = 64

[[variants]]
label = "sigmoid"

[[variants]]
label = "elu"
model = { activation = "elu", last_activation = "elu" }
"""


@pytest.fixture(scope="module")
def kfold_cv(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv")
    spec = load_spec(write_spec(root, KFOLD_SPEC, "cv.toml"))
    options = RunOptions(threads=1)
    table = run_experiment(spec, root / "runs", options=options, progress=False, say=print)
    return spec, root / "runs", table


def test_every_fold_of_every_row_is_a_run(kfold_cv):
    spec, runs_dir, table = kfold_cv
    assert len(table) == 6 and sorted(table["fold"].unique()) == [0, 1, 2]
    assert all("-f" in run_id for run_id in table["run_id"])
    splits = [p.run.config.data for p in plan(spec, runs_dir)]
    assert sorted({(d.k, d.fold) for d in splits}) == [(3, 0), (3, 1), (3, 2)]
    # each fold tests other ratings, so the folds' test RMSEs differ
    assert table[table["row"] == "sigmoid"]["test_rmse"].nunique() == 3


def test_rerunning_trains_nothing(kfold_cv):
    spec, runs_dir, _ = kfold_cv
    assert {p.status for p in plan(spec, runs_dir)} == {"done"}


def test_means_are_over_folds_and_pairs_match_folds(kfold_cv):
    _, _, table = kfold_cv
    summary = summarize(table, ["test_rmse", "test_ndcg@10"]).set_index("row")
    sigmoid = table[table["row"] == "sigmoid"]
    assert summary.loc["sigmoid", "n"] == 3
    assert summary.loc["sigmoid", "test_rmse_mean"] == pytest.approx(sigmoid["test_rmse"].mean())
    assert summary.loc["sigmoid", "test_rmse_std"] == pytest.approx(sigmoid["test_rmse"].std())
    paired = compare_to_baselines(table).set_index("row")
    elu = table[table["row"] == "elu"].sort_values("fold")["test_rmse"].to_numpy()
    diff = elu - sigmoid.sort_values("fold")["test_rmse"].to_numpy()
    assert paired.loc["elu", "n"] == 3 and paired.loc["elu", "mean_diff"] == pytest.approx(
        np.mean(diff)
    )


def test_the_report_shows_each_fold_and_the_ranking(kfold_cv, tmp_path):
    _, runs_dir, _ = kfold_cv
    md = build_report(runs_dir, tmp_path / "report")["md"].read_text()
    assert "Cross-validation: each fold's figures" in md
    assert "mean ± std over folds x seeds" in md and "Top-N ranking on test" in md
    assert "NDCG@10" in md and "| folds |" in md


def test_the_release_folds_as_cross_validation(tmp_path, monkeypatch):
    rows = grid_rows(range(1, 21), range(1, 9))
    folds = {
        f"u{f}": ([r for j, r in enumerate(rows) if j % 5 != f - 1], rows[f - 1 :: 5])
        for f in range(1, 6)
    }
    folder = ml100k(tmp_path, folds)
    text = KFOLD_SPEC.replace('dataset = "synthetic-200x100x8000"', f'dataset = "{folder}"')
    text = text.replace('split = "kfold"\nk = 3', 'split = "predefined"')
    spec = load_spec(write_spec(tmp_path, text, "cv.toml"))
    runs = plan(spec, tmp_path / "runs")
    assert [p.run.fold for p in runs] == [f for f in ("u1", "u2", "u3", "u4", "u5") for _ in (0, 1)]
    one = text.replace('folds = "all"', 'folds = ["u2"]').replace(
        '[[variants]]\nlabel = "elu"\nmodel = { activation = "elu", last_activation = "elu" }\n', ""
    )
    spec = load_spec(write_spec(tmp_path, one, "one.toml"))
    table = run_experiment(spec, tmp_path / "runs", progress=False, say=lambda s: None)
    assert table["fold"].tolist() == ["u2"] and table["test_n"].tolist() == [len(rows[1::5])]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'split = "kfold"\nk = 3',
            'split = "random"',
            "folds need split = 'kfold' or 'predefined'",
        ),
        ('folds = "all"', 'folds = "some"', "folds must be"),
        ('folds = "all"', "folds = [0, 0]", "folds must be"),
        ('folds = "all"', "folds = [0, 5]", "fold 5"),
    ],
)
def test_bad_folds_are_one_line_errors(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message):
        load_spec(write_spec(tmp_path, KFOLD_SPEC.replace(old, new), "bad.toml"))
