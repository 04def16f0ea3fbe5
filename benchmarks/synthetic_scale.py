"""How long and how much memory building a synthetic data set takes.

    python benchmarks/synthetic_scale.py [--shape ml-25m] [--seed 0] [--json FILE]

The build runs in a fresh (spawned) process, so the figures are that process's alone: wall
seconds of ``aerec.data.synthetic.generate`` and the peak resident set size of the process
(``ru_maxrss``, imports included). Exits 1 when over ``--max-seconds`` or ``--max-rss-mib``
(default: 120 s and 4096 MiB, the budget for ``synthetic-ml-25m``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def _rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(shape: str, seed: int) -> dict[str, object]:
    """Build the data set in this process and describe the cost and the result."""
    import numpy as np

    from aerec.data.synthetic import generate

    import_rss = _rss_mib()
    start = time.perf_counter()
    data = generate(shape, seed)
    seconds = time.perf_counter() - start
    peak_rss = _rss_mib()
    ratings = data.ratings
    per_user = np.bincount(ratings["user"].to_numpy())[1:]
    per_item = np.bincount(ratings["item"].to_numpy())[1:]
    stars = np.bincount(ratings["rating"].to_numpy().astype(np.int64), minlength=6)[1:]
    return {
        "name": data.name,
        "seed": seed,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_rss, 1),
        "import_rss_mib": round(import_rss, 1),
        "n_ratings": len(ratings),
        "n_users": int((per_user > 0).sum()),
        "n_items": int((per_item > 0).sum()),
        "min_per_user": int(per_user.min()),
        "max_per_user": int(per_user.max()),
        "max_per_item": int(per_item.max()),
        "rating_shares": [round(float(s), 4) for s in stars / stars.sum()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="ml-25m", help="ml-100k, ml-1m, ml-25m or UxIxR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--max-rss-mib", type=float, default=4096.0)
    args = parser.parse_args(argv)

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        result = pool.submit(build, args.shape, args.seed).result()
    ok = result["seconds"] <= args.max_seconds and result["peak_rss_mib"] <= args.max_rss_mib
    result["within_limits"] = ok

    print(
        f"{result['name']} (seed {result['seed']}): {result['n_users']:,} users, "
        f"{result['n_items']:,} items, {result['n_ratings']:,} ratings"
    )
    print(
        f"build {result['seconds']:.1f} s wall, peak RSS {result['peak_rss_mib']:,.0f} MiB "
        f"(after imports {result['import_rss_mib']:,.0f} MiB), {result['cpus']} CPUs"
    )
    print(
        f"per user {result['min_per_user']}..{result['max_per_user']}, "
        f"most-rated item {result['max_per_item']:,}, shares of 1..5 {result['rating_shares']}"
    )
    limits = f"{args.max_seconds:g} s, {args.max_rss_mib:g} MiB"
    print(f"within limits ({limits}): {'yes' if ok else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
