"""The notebook's U-AutoRec recipe, all 500 epochs, with denormals kept and flushed.

    python benchmarks/notebook_500.py [--data-dir DIR] [--threads N] [--epochs N] [--json FILE]

Issue 12's target: the notebook recipe's 500 epochs (the main job's ``aerec run --recipe
notebook`` U-AutoRec: elu/elu, the user-mean input, L2 5e-4, Adam 1e-4, the notebook's split)
at least 2x faster than before the issue, when denormal floats slowed every epoch down. Each
side trains in a fresh process with the same code, once keeping denormals (what aerec did
before issue 12) and once flushing them (what it does now), and prints the whole fit's wall
seconds, the median epoch, the drift (median of the second half of the epochs over the
first half's, minus one) and the test RMSEs. Real ML-1M when the data dir holds it, else
``synthetic-ml-1m``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path


def fit(keep_denormals: bool, data_dir, threads: int, epochs: int) -> dict:
    from dataclasses import replace

    from aerec.ops import fpenv
    from aerec.pipeline import choose_dataset, default_runs
    from aerec.runs import train_run
    from aerec.training import RunOptions

    fpenv.FLUSH_DENORMALS = not keep_denormals
    dataset = choose_dataset(data_dir, lambda line: None)
    config = default_runs(dataset, seed=42, recipe="notebook")["u-autorec-notebook"]
    config = replace(config, train=tuple(replace(p, epochs=epochs) for p in config.plan))
    options = RunOptions(seed=42, threads=threads, progress=False)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        metrics = train_run(config, f"{out}/run", options, data_dir)
        wall = time.perf_counter() - start
        history = json.loads(Path(out, "run", "history.json").read_text())
    seconds = [r["seconds"] for r in history]
    half = len(seconds) // 2
    return {
        "denormals": "kept" if keep_denormals else "flushed",
        "dataset": dataset,
        "epochs": len(seconds),
        "fit_s": wall,
        "epoch_s": statistics.median(seconds),
        "drift": statistics.median(seconds[half:]) / statistics.median(seconds[:half]) - 1,
        "test_rmse": metrics["test_rmse"],
        "test_user_rmse": metrics["test_user_rmse"],
        "best_epoch": metrics["best_epoch"],
    }


def main() -> None:
    from _machine import cpu_model, load_average

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("AEREC_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    print(
        f"{cpu_model()}, {os.cpu_count()} CPUs, {args.threads} threads; load average "
        f"{load_average():.2f}",
        flush=True,
    )
    ctx = mp.get_context("spawn")
    results = []
    for keep in (True, False):
        with ctx.Pool(1) as pool:
            got = pool.apply(fit, (keep, args.data_dir, args.threads, args.epochs))
        results.append(got)
        print(
            f"denormals {got['denormals']}: {got['epochs']} epochs in {got['fit_s']:.1f} s "
            f"(median epoch {got['epoch_s']:.3f} s, drift {got['drift']:+.0%}); test RMSE "
            f"{got['test_rmse']:.4f}, per-user {got['test_user_rmse']:.4f} (best epoch "
            f"{got['best_epoch']}, {got['dataset']})",
            flush=True,
        )
    kept, flushed = results
    print(
        f"kept / flushed: {kept['fit_s'] / flushed['fit_s']:.2f}x (issue 12's target: 2x); "
        f"load average after {load_average():.2f}",
        flush=True,
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {"cpu": cpu_model(), "threads": args.threads, "results": results}, fh, indent=2
            )


if __name__ == "__main__":
    main()
