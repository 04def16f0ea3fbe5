"""The notebook's U-AutoRec recipe, all 500 epochs, with denormals kept and flushed.

    python benchmarks/notebook_500.py [--data-dir DIR] [--threads N] [--epochs N] [--json FILE]
                                      [--before REF]

Issue 12's target: the notebook recipe's 500 epochs (the main job's ``aerec run --recipe
notebook`` U-AutoRec: elu/elu, the user-mean input, L2 5e-4, Adam 1e-4, the notebook's split)
at least 2x faster than before the issue, when denormal floats slowed every epoch down. Each
side trains in a fresh process with the same code, once keeping denormals (what aerec did
before issue 12) and once flushing them (what it does now), and prints the whole fit's wall
seconds, the seconds spent in the epochs themselves (the rest is loading, compiling,
checkpoints and the final scoring), the median epoch, the drift (median of the second half
of the epochs over the first half's, minus one) and the test RMSEs. Real ML-1M when the data
dir holds it, else ``synthetic-ml-1m``.

``--before REF`` (a commit, e.g. a42fa2a, the main line just before issue 12's work) adds a
first fit with the code of REF itself: a temporary git work tree of REF, its ``src`` first on
the path of a fresh process (the editable install's code is not imported there). That is
"before the issue" on this machine, measured in the same run: the target's 2x is then the
before-fit's seconds over the flushed fit's. The old code compiles its numba kernels inside
its fit (a few seconds; the median epoch leaves them out).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def fit(keep_denormals: bool, data_dir, threads: int, epochs: int) -> dict:
    from dataclasses import replace

    from aerec.pipeline import choose_dataset, default_runs
    from aerec.runs import train_run
    from aerec.training import RunOptions

    try:
        from aerec.ops import fpenv
    except ImportError:  # code from before issue 12 (--before): it never flushed denormals
        fpenv = None
    if fpenv is not None:
        fpenv.FLUSH_DENORMALS = not keep_denormals
    dataset = choose_dataset(data_dir, lambda line: None)
    try:
        config = default_runs(dataset, seed=42, recipe="notebook")["u-autorec-notebook"]
    except TypeError:  # before named recipes (--before): the notebook's was the default
        config = default_runs(dataset, seed=42)["u-autorec-notebook"]
    if hasattr(config, "plan"):
        config = replace(config, train=tuple(replace(p, epochs=epochs) for p in config.plan))
    else:  # one TrainConfig (--before)
        config = replace(config, train=replace(config.train, epochs=epochs))
    options = RunOptions(seed=42, threads=threads, progress=False)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        metrics = train_run(config, f"{out}/run", options, data_dir)
        wall = time.perf_counter() - start
        history = json.loads(Path(out, "run", "history.json").read_text())
    seconds = [r["seconds"] for r in history]
    half = len(seconds) // 2
    return {
        "code": "now",
        "denormals": "kept" if keep_denormals else "flushed",
        "dataset": dataset,
        "epochs": len(seconds),
        "fit_s": wall,
        "epoch_s": statistics.median(seconds),
        "epochs_s": sum(seconds),  # the rest of fit_s: loading, compiling, checkpoints, scoring
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
    parser.add_argument("--before", metavar="REF", help="also fit with the code of commit REF")
    parser.add_argument("--fit-kept-into", help=argparse.SUPPRESS)  # the --before child
    args = parser.parse_args()
    if args.fit_kept_into:
        got = fit(True, args.data_dir, args.threads, args.epochs)
        Path(args.fit_kept_into).write_text(json.dumps(got))
        return
    print(
        f"{cpu_model()}, {os.cpu_count()} CPUs, {args.threads} threads; load average "
        f"{load_average():.2f}",
        flush=True,
    )
    ctx = mp.get_context("spawn")
    results = []
    if args.before:
        results.append(fit_before(args.before, args))
        _report(results[-1])
    for keep in (True, False):
        with ctx.Pool(1) as pool:
            got = pool.apply(fit, (keep, args.data_dir, args.threads, args.epochs))
        results.append(got)
        _report(got)
    *before, kept, flushed = results
    print(
        f"kept / flushed: {kept['fit_s'] / flushed['fit_s']:.2f}x (issue 12's target: 2x); "
        f"load average after {load_average():.2f}",
        flush=True,
    )
    if before:
        old = before[0]
        print(
            f"before ({old['code']}) / now, flushed: {old['fit_s'] / flushed['fit_s']:.2f}x "
            f"the fit, {old['epoch_s'] / flushed['epoch_s']:.2f}x the median epoch",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {"cpu": cpu_model(), "threads": args.threads, "results": results}, fh, indent=2
            )


def fit_before(ref: str, args) -> dict:
    """:func:`fit` (denormals kept) with the code of commit ``ref``, in a fresh process whose
    path starts with a temporary work tree of it."""
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory() as tmp:
        tree, report = Path(tmp, "tree"), Path(tmp, "fit.json")
        git = ["git", "-C", str(here)]
        subprocess.run(
            [*git, "worktree", "add", "--detach", str(tree), ref], check=True, capture_output=True
        )
        try:
            env = {**os.environ, "PYTHONPATH": str(tree / "src")}
            command = [
                sys.executable,
                __file__,
                "--fit-kept-into",
                str(report),
                "--threads",
                str(args.threads),
                "--epochs",
                str(args.epochs),
            ]
            if args.data_dir:
                command += ["--data-dir", str(args.data_dir)]
            subprocess.run(command, check=True, env=env, cwd=here)
            got = json.loads(report.read_text())
        finally:
            subprocess.run(
                [*git, "worktree", "remove", "--force", str(tree)], check=False, capture_output=True
            )
    return {**got, "code": ref}


def _report(got: dict) -> None:
    print(
        f"{got['code']}, denormals {got['denormals']}: {got['epochs']} epochs in "
        f"{got['fit_s']:.1f} s ({got['epochs_s']:.1f} s in the epochs, median "
        f"{got['epoch_s']:.3f} s, drift "
        f"{got['drift']:+.0%}); test RMSE "
        f"{got['test_rmse']:.4f}, per-user {got['test_user_rmse']:.4f} (best epoch "
        f"{got['best_epoch']}, {got['dataset']})",
        flush=True,
    )


if __name__ == "__main__":
    main()
