"""The main job end to end on small synthetic data: run folders, summary, reuse, refusal."""

import pytest

from aerec.errors import ConfigError
from aerec.pipeline import run_default_job
from aerec.training import RunOptions

DATASET = "synthetic-300x150x15000"


def test_main_job_writes_runs_and_a_summary_then_reuses_them(tmp_path):
    lines = []
    options = RunOptions(threads=1)
    summary = run_default_job(
        tmp_path, dataset=DATASET, epochs=1, options=options, say=lines.append
    )
    assert list(summary["run"]) == ["u-autorec-notebook", "deep-notebook", "i-autorec"]
    assert (summary["epochs_run"] == 1).all() and summary["test_rmse"].notna().all()
    text = (tmp_path / "summary.md").read_text()
    assert text.count("\n| ") == 4 and "0.877" in text  # header + 3 rows, notebook figure
    for name in summary["run"]:
        assert (tmp_path / name / "metrics.json").is_file()
    again = run_default_job(tmp_path, dataset=DATASET, epochs=1, options=options, say=lines.append)
    assert sum("done before" in line for line in lines) == 3
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
    assert pipeline.choose_dataset(None, lines.append) == "synthetic-ml-1m"
    assert len(lines) == 1 and "synthetic-ml-1m instead" in lines[0]
