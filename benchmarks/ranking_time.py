"""Time of the test-set ranking metrics (``aerec.evaluation.ranking``) on a data set.

    AEREC_DATA_DIR=... python benchmarks/ranking_time.py [--dataset ml-1m] [--epochs 3]
    python benchmarks/ranking_time.py --dataset synthetic-ml-25m --scorer random

``--scorer model`` (the default) trains I-AutoRec and U-AutoRec for a few epochs on a random
90/10 split (seed 1), then ranks every item not rated in train for every test user with a
relevant item, with the recommender's row scorer (what ``train_run`` uses) and with
``predict_inner`` cell by cell, and prints the seconds and NDCG@10 of each (the two must
agree up to float rounding). ``--scorer random`` trains nothing: the scores are seeded random
numbers, so the figure is the ranking machinery's own cost at the data set's shape.

Both ways, the top-K selection runs twice in the same run: aerec's numba kernel (one pass per
row, rows in parallel) and numpy's partition (the fallback without numba); the metrics must be
identical, and the ratio of the seconds is printed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _machine import cpu_model, load_average

from aerec.evaluation import ranking
from aerec.evaluation.ranking import predict_inner_scorer, ranking_metrics, recommender_scorer
from aerec.models.registry import model_config
from aerec.recommender import AutoRecommender, set_threads
from aerec.runs import DataConfig, load_data
from aerec.training import RunOptions, TrainConfig


def random_scorer(seed: int = 0):
    """Seeded random scores, drawn per block (the metrics do not depend on the block size)."""
    rng = np.random.default_rng(seed)

    def score(users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return rng.random((len(users), len(items)), dtype=np.float32)

    return score


def timed(scorer_factory, parts, n_items: int, by: str) -> dict:
    """The metrics and seconds of one ranking with each top-K selection."""
    out = {}
    kernel = ranking._merge_kernel
    for name, rows in (("numba", kernel), ("numpy", None)):
        ranking._merge_kernel = rows
        try:
            start = time.perf_counter()
            m = ranking_metrics(scorer_factory(), parts.train, parts.test, n_items, by=by)
            out[name] = (time.perf_counter() - start, m)
        finally:
            ranking._merge_kernel = kernel
    return out


def report(label: str, runs: dict) -> None:
    (fast, m_fast), (slow, m_slow) = runs["numba"], runs["numpy"]
    same = "identical" if m_fast == m_slow else "DIFFER"
    print(
        f"{label:28s} numba {fast:7.2f} s  numpy {slow:7.2f} s  ({slow / fast:.1f}x, metrics "
        f"{same})  NDCG@10 {m_fast['ndcg@10']:.4f}  users {m_fast['users']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--scorer", choices=("model", "random"), default="model")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    print(f"{cpu_model()}, {args.threads} threads, load average {load_average():.1f}")
    data, parts = load_data(DataConfig(args.dataset, split="random"), seed=1)
    print(f"{args.dataset}: {data.n_users} users x {data.n_items} items, {len(parts.test)} test")
    for dtype in (np.float32, np.float64):  # compile outside the timing
        ranking.top_k(np.zeros((1, 2), dtype), np.zeros((1, 2), bool), 1)
    if args.scorer == "random":
        report("random scores", timed(random_scorer, parts, data.n_items, "users"))
        return
    for based in ("item", "user"):
        config = model_config("autorec", based=based, hidden=500)
        train = TrainConfig(epochs=args.epochs)
        options = RunOptions(seed=1, threads=args.threads, progress=False)
        rec = AutoRecommender(config, train, options).fit(data, parts.train, parts.val)
        rows, by = recommender_scorer(rec)
        cells = predict_inner_scorer(rec.predict_inner)
        report(f"{based}-based rows", timed(lambda s=rows: s, parts, data.n_items, by))
        cell_runs = timed(lambda s=cells: s, parts, data.n_items, "users")
        report(f"{based}-based predict_inner", cell_runs)


if __name__ == "__main__":
    main()
