"""``aerec report`` from experiment folders and loose run folders; figures from run data."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file

from aerec.cli import main
from aerec.errors import CheckpointError
from aerec.reporting.collected import discover, first_layer_weight
from aerec.reporting.figures import curves_figure, weights_figure
from aerec.reporting.report import build_report


@pytest.fixture(scope="module")
def report_dir(tiny_experiment, tmp_path_factory):
    runs_dir = tiny_experiment[1]
    out = tmp_path_factory.mktemp("report")
    build_report(runs_dir, out, skip=1)
    return out


def test_report_states_the_protocol_then_each_experiment(report_dir):
    page = (report_dir / "report.html").read_text()
    protocol, tiny = page.index("Protocol"), page.index("<h2>tiny</h2>")
    assert protocol < tiny
    assert page.index("Global RMSE") < page.index("Per-user RMSE") < tiny
    for text in (
        "Two activations on synthetic data.",
        "0.916 per-user (notebook)",
        "synthetic-200x100x8000",
        "stratified",
        "Δ global RMSE [95% CI]",
        "RMSE by user activity",
        "epochs 1 to 1 left out",
        "model.layers.0.weight",
    ):
        assert text in page, text


def test_every_figure_is_embedded_in_html_and_beside_the_markdown(report_dir):
    page = (report_dir / "report.html").read_text()
    md = (report_dir / "report.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", md)
    assert {
        "tiny-bars.png",
        "tiny-activity.png",
        "tiny-loss.png",
        "tiny-rmse.png",
        "tiny-weights.png",
    } == set(linked)
    assert page.count('<img src="data:image/png;base64,') == len(linked)
    for name in linked:
        assert (report_dir / name).read_bytes().startswith(b"\x89PNG")


def test_tables_carry_the_statistics(tiny_experiment, report_dir):
    md = (report_dir / "report.md").read_text()
    table = tiny_experiment[2]
    sigmoid = table[table["row"] == "sigmoid"]["test_rmse"]
    assert f"| sigmoid | 3 | {sigmoid.mean():.4f} ± {sigmoid.std():.4f} |" in md
    assert re.search(
        r"\| elu \| sigmoid \| 3 \| [+-]\d\.\d{4} \[[+-]\d\.\d{4}, [+-]\d\.\d{4}\]", md
    )


def test_loose_run_folders_are_reported_too(tiny_experiment, tmp_path):
    _, runs_dir, table = tiny_experiment
    loose = tmp_path / "aerec-out"
    shutil.copytree(runs_dir / "tiny" / table["run_id"][0], loose / "deep-notebook")
    [experiment] = discover(loose)
    assert experiment.table["row"].tolist() == ["deep-notebook"]
    # the notebook's 0.857 is an ML-1M figure: not beside a run on synthetic data
    assert experiment.table["ref_user_rmse"].isna().all()
    paths = build_report(loose, tmp_path / "out")
    assert "aerec-out (single runs)" in paths["html"].read_text()


def test_first_layer_weights_are_read_with_safetensors(tiny_experiment):
    _, runs_dir, table = tiny_experiment
    folder = runs_dir / "tiny" / table["run_id"][0]
    weight = first_layer_weight(folder)
    expected = load_file(folder / "model" / "model.safetensors")["model.layers.0.weight"]
    assert weight.shape == (8, 100) and np.allclose(weight, expected)
    fig = weights_figure(weight, "w")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3 and np.allclose(lines[2].get_ydata(), expected[:, 2])
    assert first_layer_weight(folder / "nope") is None


def test_curves_skip_the_first_epochs():
    history = [
        {"epoch": e, "train_loss": 1.0 / e, "val_loss": 2.0 / e, "train_rmse": 1.0, "val_rmse": 1.1}
        for e in range(1, 11)
    ]
    fig = curves_figure({"a": history, "b": history}, "loss", skip=4)
    train, val = fig.axes[0].get_lines()
    assert list(train.get_xdata()) == list(range(5, 11))
    assert val.get_ydata()[0] == pytest.approx(2.0 / 5)


def test_report_cli_and_its_errors(tiny_experiment, tmp_path, capsys):
    _, runs_dir, _ = tiny_experiment
    with pytest.raises(CheckpointError, match="holds no experiment results"):
        discover(tmp_path)
    out = tmp_path / "r"
    main(["report", str(runs_dir / "tiny"), "--out", str(out), "--skip", "0"])
    assert "report.html" in capsys.readouterr().out and (out / "report.md").is_file()
    for args, message in (
        ([str(tmp_path / "missing")], "is not a folder"),
        ([str(runs_dir), "--skip", "-1"], "--skip must be >= 0"),
    ):
        with pytest.raises(SystemExit) as info:
            main(["report", *args, "--out", str(out)])
        err = capsys.readouterr().err
        assert info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
