"""Wall time of a whole kernelised-autoencoder fit with its default recipe.

    python benchmarks/kernel_fit.py [--model glocal-k] [--seed 1] [--threads 2] [--device cpu]

Trains ``--model`` (sparse-fc or glocal-k; any registered model works) with its default
recipe on real ML-1M, protocol A (random 90/10 split of the seed, 5 % of train for
validation; ``synthetic-ml-1m`` without ``--data-dir`` / ``AEREC_DATA_DIR``), and prints the
seconds of each phase, the whole fit, and the validation-selected test RMSE. The target of
issue 15: the whole GLocal-K training within 15 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="glocal-k")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=os.environ.get("AEREC_DATA_DIR"))
    args = parser.parse_args()

    from aerec.pipeline import choose_dataset
    from aerec.recommender import AutoRecommender, set_threads
    from aerec.runs import DataConfig, load_data
    from aerec.training import RunOptions

    set_threads(args.threads)
    dataset = choose_dataset(args.data_dir, print)
    data, parts = load_data(DataConfig(dataset, "random", val_size=0.05), args.seed, args.data_dir)
    cpu = platform.processor()
    with open("/proc/cpuinfo") as info:
        cpu = next((ln.split(":", 1)[1].strip() for ln in info if "model name" in ln), cpu)
    print(f"{args.model} on {dataset}, seed {args.seed}, {args.threads} thread(s), {cpu}")
    start = time.perf_counter()
    rec = AutoRecommender(args.model, options=RunOptions(seed=args.seed, device=args.device))
    rec.fit(data, parts.train, parts.val)
    total = time.perf_counter() - start
    phases: dict[str, float] = {}
    for record in rec.history_:
        name = record.get("phase", "train")
        phases[name] = phases.get(name, 0.0) + record["seconds"]
    for name, seconds in phases.items():
        print(f"  {name:<10} {seconds:8.1f} s")
    test = rec.evaluate(parts.test)
    print(
        f"whole fit {total:.1f} s (target for glocal-k: 900 s); best epoch {rec.best_epoch_}; "
        f"test RMSE {test['rmse']:.4f}, per-user {test['user_rmse']:.4f}"
    )


if __name__ == "__main__":
    main()
