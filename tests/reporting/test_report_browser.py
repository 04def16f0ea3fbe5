"""The report in a real browser: headless Chromium loads report.html from disk and a script
injected into a copy records whether every image decoded and whether any request failed.

Skips when no Chromium is on PATH (CI installs the Debian ``chromium`` package)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from aerec.reporting.report import build_report

BROWSER = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="chromium is not installed")

CHECK = """<script>
window.__failed = [];
window.addEventListener("error", (e) => {
  const t = e.target;
  if (t && t !== window) window.__failed.push(t.src || t.href || t.tagName);
}, true);
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const result = {
    images: images.length,
    broken: images.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.alt),
    widths: images.map((i) => i.naturalWidth),
    failed: window.__failed,
    requests: performance.getEntriesByType("resource").map((r) => r.name),
  };
  const pre = document.createElement("pre");
  pre.id = "aerec-check";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>"""


def browser_check(page: Path, profile: Path) -> dict:
    """Open ``page`` with the check script injected; the check's findings as a dict."""
    checked = page.with_name(f"check-{page.name}")
    checked.write_text(page.read_text().replace("<head>", "<head>" + CHECK, 1))
    command = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        checked.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    found = re.search(r'<pre id="aerec-check">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no check result; chromium said: {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def test_every_image_of_the_report_loads_and_nothing_is_fetched(tiny_experiment, tmp_path):
    out = tmp_path / "report"
    build_report(tiny_experiment[1], out, skip=1)
    result = browser_check(out / "report.html", tmp_path / "profile")
    assert result["images"] == 5
    assert result["broken"] == [] and all(w > 0 for w in result["widths"])
    assert result["failed"] == []
    assert all(r.startswith("data:") for r in result["requests"])


def test_the_check_sees_a_broken_image(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head></head><body><img src="missing.png" alt="x"></body></html>'
    )
    result = browser_check(page, tmp_path / "profile")
    assert result["broken"] == ["x"] and len(result["failed"]) == 1


def test_every_image_of_the_main_jobs_report_loads(tmp_path):
    from aerec.pipeline import run_default_job
    from aerec.training import RunOptions

    out = tmp_path / "aerec-out"
    options = RunOptions(threads=1, progress=False)
    run_default_job(out, dataset="synthetic-300x150x15000", epochs=2, options=options, say=print)
    result = browser_check(out / "report.html", tmp_path / "profile")
    assert result["images"] >= 4
    assert result["broken"] == [] and all(w > 0 for w in result["widths"])
    assert result["failed"] == [] and all(r.startswith("data:") for r in result["requests"])
