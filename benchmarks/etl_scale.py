"""ETL time and memory of a 25M-row (or, ``--shape netflix``, 100M-row) MovieLens CSV
release: first parse (validation and cache write) and reload from the Parquet cache, each in
a fresh process.

    python benchmarks/etl_scale.py [--shape ml-25m|netflix] [--keep DIR]

The release is written from ``synthetic-<shape>`` in ML-25M's own format (``ratings.csv``
with userId,movieId,rating,timestamp and ``movies.csv``), so no MovieLens file is needed;
writing it runs in a process of its own too, so that no step's peak resident memory includes
another's (a child's peak starts from its parent's size at the fork).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path


def write_release(shape: str, folder: Path) -> dict:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from aerec.data.synthetic import generate

    start = time.perf_counter()
    data = generate(shape, seed=0)
    folder.mkdir(parents=True, exist_ok=True)
    names = {"user": "userId", "item": "movieId", "rating": "rating", "timestamp": "timestamp"}
    ratings = data.ratings  # columns to Arrow without a copy of the frame
    table = pa.table({new: ratings[old].to_numpy() for old, new in names.items()})
    pacsv.write_csv(table, folder / "ratings.csv")
    movies = data.items.reset_index().rename(columns={"item": "movieId"})[
        ["movieId", "title", "genres"]
    ]
    movies.to_csv(folder / "movies.csv", index=False)
    return {
        "ratings": len(ratings),
        "seconds": time.perf_counter() - start,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def timed_load(folder: str, cache: str) -> dict:
    from aerec.data import load

    start = time.perf_counter()
    data = load(folder, cache_dir=cache)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "ratings": len(data.ratings),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="ml-25m")
    parser.add_argument("--keep", help="write the release and cache here instead of a temp dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        folder, cache = root / "ml-25m", root / "cache"
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:
            wrote = pool.apply(write_release, (args.shape, folder))
        size = (folder / "ratings.csv").stat().st_size / 2**20
        print(
            f"wrote {wrote['ratings']:,} ratings ({size:,.0f} MiB ratings.csv) from "
            f"synthetic-{args.shape} in {wrote['seconds']:.1f} s, peak RSS "
            f"{wrote['peak_rss_mib']:,.0f} MiB",
            flush=True,
        )
        for label in ("first parse", "cache reload"):
            with ctx.Pool(1) as pool:
                got = pool.apply(timed_load, (str(folder), str(cache)))
            print(
                f"{label}: {got['seconds']:.1f} s for {got['ratings']:,} ratings, "
                f"peak RSS {got['peak_rss_mib']:,.0f} MiB",
                flush=True,
            )


if __name__ == "__main__":
    main()
