"""Time of the test-set ranking metrics (``aerec.evaluation.ranking``) on a data set: the
recommender's row scorer (what ``train_run`` uses) against ``predict_inner`` cell by cell.

    AEREC_DATA_DIR=... python benchmarks/ranking_time.py [--dataset ml-1m] [--epochs 3]

Trains I-AutoRec and U-AutoRec for a few epochs on a random 90/10 split (seed 1), then ranks
every item not rated in train for every test user with a relevant item, both ways, and prints
the seconds and NDCG@10 of each (the two must agree up to float rounding).
"""

from __future__ import annotations

import argparse
import time

from aerec.evaluation.ranking import predict_inner_scorer, ranking_metrics, recommender_scorer
from aerec.models.config import model_config
from aerec.recommender import AutoRecommender
from aerec.runs import DataConfig, load_data
from aerec.training import RunOptions, TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    data, parts = load_data(DataConfig(args.dataset, split="random"), seed=1)
    print(f"{args.dataset}: {data.n_users} users x {data.n_items} items, {len(parts.test)} test")
    for based in ("item", "user"):
        config = model_config("autorec", based=based, hidden=500)
        train = TrainConfig(epochs=args.epochs)
        options = RunOptions(seed=1, threads=args.threads, progress=False)
        rec = AutoRecommender(config, train, options).fit(data, parts.train, parts.val)
        fast, by = recommender_scorer(rec)
        for name, scorer, order in (
            ("rows", fast, by),
            ("predict_inner", predict_inner_scorer(rec.predict_inner), "users"),
        ):
            start = time.perf_counter()
            m = ranking_metrics(scorer, parts.train, parts.test, data.n_items, by=order)
            seconds = time.perf_counter() - start
            print(
                f"{based}-based  {name:13s}  {seconds:6.2f} s  NDCG@10 {m['ndcg@10']:.4f}  "
                f"users {m['users']}"
            )


if __name__ == "__main__":
    main()
