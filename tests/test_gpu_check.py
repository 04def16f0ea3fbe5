"""benchmarks/gpu_check.py's dry run: every step of the lent-device script, on CPU, tiny."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_gpu_check_dry_run_runs_every_step(tmp_path):
    out = tmp_path / "gpu.json"
    # compile only in the "compiled" step (inductor on CPU compiles slowly)
    command = [sys.executable, "gpu_check.py", "--dry-run", "--compile", "off", "--json", str(out)]
    done = subprocess.run(command, cwd=BENCHMARKS, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(out.read_text())
    assert got["device"] == "cpu" and got["dry_run"]
    assert got["ops_max_abs_diff"] < 1e-4 and got["predict_max_abs_diff"] < 1e-4
    assert got["compiled_val_rmse_max_rel_diff"] < 1e-4
    assert got["compiled_weights_max_abs_diff"] < 1e-3
    assert math.isfinite(got["autorec_off"]["test_rmse"])
    assert math.isfinite(got["glocal_k"]["test_rmse"]) and got["glocal_k"]["fit_s"] > 0
    scale = [key for key in got if key.startswith("scale_")]
    assert len(scale) == 4 and all(got[key]["epoch_s"] > 0 for key in scale)
    assert "target:" in done.stdout
