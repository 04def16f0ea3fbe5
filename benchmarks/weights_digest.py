"""Digests of trained weights: did a change alter training, to the bit?

    python benchmarks/weights_digest.py [--epochs 3] [--data-dir DIR] [--threads 1]
        [--only VARIANT ...] [--keep-denormals]

Trains a few variants (U-AutoRec with the notebook's settings, I-AutoRec, Deep AE with and
without side information, U-AutoRec with mask-out noise, two on the dense engine, Sparse FC:
``--epochs`` L-BFGS rounds) for
``--epochs`` epochs on the notebook's split of real ML-1M (``synthetic-ml-1m`` without the
data dir) and prints, per variant, the SHA-256 of its final weights and its last validation
RMSE, training loss and training RMSE. Run it on two commits (``git stash`` / ``git
checkout``) with the same thread count and compare the lines: equal digests mean bitwise
identical training. ``--keep-denormals`` trains as aerec did before it flushed denormals
(``aerec.ops.fpenv``), to see whether and when a denormal reaches a result.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import replace

VARIANTS = {
    "u-autorec-average": (
        "autorec",
        {"based": "user", "activation": "elu", "last_activation": "elu", "input_fill": "user_mean"},
        {},
    ),
    "i-autorec": ("autorec", {"based": "item"}, {}),
    "deep": ("deep", {}, {}),
    "deep-side": ("deep", {"side": "input"}, {}),
    "u-autorec-maskout": ("autorec", {"based": "user"}, {"noise": "maskout", "noise_level": 0.2}),
    "u-autorec-dense": ("autorec", {"based": "user"}, {"engine": "dense"}),
    "deep-dense-row-mse": ("deep", {}, {"engine": "dense", "loss": "row_mse"}),
    "sparse-fc": ("sparse-fc", {}, {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir", default=os.environ.get("AEREC_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", action="append", choices=sorted(VARIANTS), default=None)
    parser.add_argument("--keep-denormals", action="store_true")
    args = parser.parse_args()
    if args.keep_denormals:
        from aerec.ops import fpenv

        fpenv.FLUSH_DENORMALS = False  # the switch every fit's flush reads (as run.py sets it)

    from aerec.models.registry import default_plan
    from aerec.pipeline import choose_dataset
    from aerec.recommender import AutoRecommender, set_threads
    from aerec.runs import DataConfig, load_data
    from aerec.training import RunOptions

    set_threads(args.threads)
    dataset = choose_dataset(args.data_dir, print)  # ML-1M when it loads, else its twin
    data, parts = load_data(DataConfig(dataset, "stratified", split_seed=42), 42, args.data_dir)
    kept = ", denormals kept" if args.keep_denormals else ""
    print(f"{dataset}, {args.epochs} epochs, {args.threads} thread(s){kept}")
    for name, (model, params, noise) in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        train = replace(default_plan(model)[0], epochs=args.epochs, patience=0, **noise)
        rec = AutoRecommender(model, train, RunOptions(seed=7), **params)
        rec.fit(data, parts.train, parts.val)
        digest = hashlib.sha256()
        for key, value in rec.model_.state_dict().items():
            digest.update(key.encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        last = rec.history_[-1]
        print(
            f"{name:<20} {digest.hexdigest()[:16]}  val RMSE {last['val_rmse']:.10f}"
            f"  train loss {last['train_loss']!r}  train RMSE {last['train_rmse']!r}",
            flush=True,
        )


if __name__ == "__main__":
    main()
