"""The main job end to end on small synthetic data: run folders, summary, reuse, refusal."""

import pytest

from aerec.errors import ConfigError
from aerec.pipeline import default_runs, run_default_job
from aerec.reporting.collected import published
from aerec.training import RunOptions

DATASET = "synthetic-300x150x15000"


def test_main_job_writes_runs_and_a_summary_then_reuses_them(tmp_path):
    lines = []
    options = RunOptions(threads=1)
    summary = run_default_job(
        tmp_path, dataset=DATASET, epochs=1, options=options, say=lines.append
    )
    assert list(summary["run"]) == ["u-autorec-notebook", "deep-notebook", "i-autorec", "bias"]
    assert (summary["epochs_run"] == 1).all() and summary["test_rmse"].notna().all()
    text = (tmp_path / "summary.md").read_text()
    assert text.count("\n| ") == 5  # header + 4 rows
    assert "0.877" not in text and summary["notebook_user_rmse"].isna().all()  # ML-1M figures
    report = (tmp_path / "report.html").read_text()
    assert "u-autorec-notebook" in report and "bias" in report
    assert "<img" in report and 'src="data:image/png;base64,' in report
    for name in summary["run"]:
        assert (tmp_path / name / "metrics.json").is_file()
    again = run_default_job(tmp_path, dataset=DATASET, epochs=1, options=options, say=lines.append)
    assert sum("done before" in line for line in lines) == 4
    assert again["test_rmse"].tolist() == summary["test_rmse"].tolist()
    with pytest.raises(ConfigError, match="holds a different run"):
        run_default_job(tmp_path, dataset=DATASET, epochs=2, options=options, say=lines.append)


def test_offline_without_ml1m_falls_back_to_synthetic(tmp_path, monkeypatch):
    from aerec import pipeline

    def offline(*args, **kwargs):
        from aerec.errors import DataError

        raise DataError("ml-1m not found and the download failed")

    monkeypatch.setattr(pipeline, "load", offline)
    lines = []
    assert pipeline.choose_dataset(tmp_path / "data", lines.append) == "synthetic-ml-1m"
    assert len(lines) == 1 and "could not be downloaded" in lines[0]
    assert f"ml-1m/ folder (or ml-1m.zip from grouplens.org) in {tmp_path / 'data'}" in lines[0]
    assert "download failed" not in lines[0]  # the nested exception text is left out


def test_the_job_recipes_fast_and_notebook_and_full():
    fast = default_runs("ml-1m", 1)
    assert list(fast) == ["u-autorec-notebook", "deep-notebook", "i-autorec", "bias"]
    assert max(p.epochs for p in fast["u-autorec-notebook"].plan) == 60
    assert fast["deep-notebook"].plan[0].lr == 1e-3
    notebook = default_runs("ml-1m", 1, recipe="notebook")
    for name in ("u-autorec-notebook", "deep-notebook"):
        assert [(p.lr, p.epochs) for p in notebook[name].plan] == [(1e-4, 500)]
    assert list(default_runs("ml-1m", 1, full=True))[-2:] == ["sparse-fc", "glocal-k"]
    with pytest.raises(ConfigError, match="unknown job recipe"):
        default_runs("ml-1m", 1, recipe="slow")


def test_published_figures_stand_beside_ml1m_runs_only():
    assert published("u-autorec-notebook", "ml-1m") == (0.877, None)
    assert published("i-autorec", "ml-1m") == (None, 0.831)
    assert published("i-autorec", "synthetic-ml-1m") == (None, None)
    assert published("bias", "ml-1m") == (None, None)
