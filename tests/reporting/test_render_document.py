"""Rendering blocks to self-contained HTML and to Markdown with PNG files beside it."""

from __future__ import annotations

import base64
import re

import pandas as pd
from matplotlib.figure import Figure

from aerec.render.document import Heading, Image, Items, Table, Text, to_html, write_report
from aerec.reporting.figures import png_bytes
from aerec.reporting.tables import diff_ci, pm


def _png() -> bytes:
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    return png_bytes(fig)


def _blocks():
    return [
        Heading("Report <1>", 1),
        Text("a `code` span, **bold** & <tags>"),
        Items(("one", "two")),
        Table(pd.DataFrame({"row": ["a|b"], "rmse": [0.87654321], "n": [3]}), "cap"),
        Image("exp-bars", _png(), "bars", "a caption"),
    ]


def test_html_is_self_contained_and_escaped():
    page = to_html("t", _blocks())
    assert "<h1>Report &lt;1&gt;</h1>" in page
    assert "<code>code</code>" in page and "<strong>bold</strong> &amp; &lt;tags&gt;" in page
    assert "<td>0.8765</td>" in page and "<li>one</li>" in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert base64.b64decode(sources[0].split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not re.search(r"(src|href)=\"(https?:|//|file:)", page) and "<script" not in page


def test_markdown_links_png_files_beside_it(tmp_path):
    paths = write_report("t", _blocks(), tmp_path)
    md = paths["md"].read_text()
    assert "# Report <1>" in md and "| a\\|b | 0.8765 | 3 |" in md
    assert "![bars](exp-bars.png)" in md and "*a caption*" in md
    assert (tmp_path / "exp-bars.png").read_bytes().startswith(b"\x89PNG")
    assert paths["html"].read_text().count("<img") == 1


def test_number_formats():
    assert pm(0.87654, 0.01234) == "0.8765 ± 0.0123"
    assert pm(0.87654, float("nan")) == "0.8765" and pm(float("nan"), 0.1) == ""
    assert diff_ci(-0.0123, -0.02, -0.0046) == "-0.0123 [-0.0200, -0.0046]"
    assert diff_ci(0.01, float("nan"), float("nan")) == "+0.0100"


def test_activity_counts_are_per_row_and_shown_as_a_range_where_rows_differ():
    import pandas as pd
    import pytest

    from aerec.reporting.figures import _count_range
    from aerec.reporting.tables import bucket_means

    table = pd.DataFrame(
        {
            "row": ["a", "a", "b", "b"],
            "row_index": [0, 0, 1, 1],
            "rmse@<50": [0.9, 0.92, 0.95, 0.97],
            "n@<50": [100, 100, 900, 900],
        }
    )
    means, _, counts = bucket_means(table)
    assert means.loc["b", "<50"] == pytest.approx(0.96)
    assert counts["<50"].to_dict() == {"a": 100, "b": 900}
    assert _count_range(counts["<50"]) == "100-900"
    assert _count_range(counts["<50"].loc[["a"]]) == "100"
