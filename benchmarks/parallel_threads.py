"""Concurrent ``aerec train`` processes and their threads: the oversubscription of issue 13.

Trains the same small run alone, then N copies at once with every process taking all cores
(``--threads <cores>``, torch's default before aerec shared them), with aerec's default
(no ``--threads``: each run's share of the cores among the aerec processes training), and
with ``--threads 1``. Prints each setting's training seconds (the sum of the epochs' times
in ``metrics.json``), per process::

    python benchmarks/parallel_threads.py [--processes 2] [--dataset synthetic-ml-100k]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def train_seconds(folders: list[Path], args: list[str]) -> list[float]:
    """Start one ``aerec train`` per folder at once; their training seconds."""
    procs = [
        subprocess.Popen([sys.executable, "-m", "aerec", "train", *args, "--out", str(f)])
        for f in folders
    ]
    if any(p.wait() for p in procs):
        raise SystemExit("a training process failed")
    return [json.loads((f / "metrics.json").read_text())["train_seconds"] for f in folders]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--dataset", default="synthetic-ml-100k")
    parser.add_argument("--epochs", type=int, default=10)
    opts = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    base = ["--dataset", opts.dataset, "--model", "autorec", "--based", "item"]
    base += ["--epochs", str(opts.epochs), "--patience", "0", "--no-progress"]
    settings = {
        "alone, default threads": (1, []),
        f"{opts.processes} at once, --threads {cores} (every process all cores)": (
            opts.processes,
            ["--threads", str(cores)],
        ),
        f"{opts.processes} at once, default threads (shared)": (opts.processes, []),
        f"{opts.processes} at once, --threads 1": (opts.processes, ["--threads", "1"]),
    }
    print(f"{cores} cores; {opts.dataset}, I-AutoRec, {opts.epochs} epochs")
    with tempfile.TemporaryDirectory() as tmp:
        train_seconds([Path(tmp) / "warm-up"], [*base, "--epochs", "1"])  # the ETL cache
        for i, (label, (n, extra)) in enumerate(settings.items()):
            folders = [Path(tmp) / f"{i}-{k}" for k in range(n)]
            seconds = train_seconds(folders, [*base, *extra])
            print(f"{label:<60} " + "  ".join(f"{s:6.2f} s" for s in seconds))


if __name__ == "__main__":
    main()
