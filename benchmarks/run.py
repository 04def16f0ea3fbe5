"""aerec's training speed against a faithful dense PyTorch version of the notebook's method.

    python benchmarks/run.py [--quick] [--json FILE] [--data-dir DIR] [--threads N]

For U-AutoRec, I-AutoRec and Deep AE [256, 512, 256] on real ML-1M (when ``--data-dir`` or
``AEREC_DATA_DIR`` holds ``ml-1m/``) or else ``synthetic-ml-1m``, each in a fresh process:

* ``epoch_s``: median seconds of one training epoch of aerec's trainer (its default engine:
  the sparse one on CPU), validation excluded;
* ``dense_epoch_s``: the same for the reference, the notebook's method in PyTorch: the dense
  train matrix with its fill built once, full-width input and output rows, the masked per-row
  MSE plus the L2 penalty in the loss, plain Adam; the same model, batches and settings;
* ``speedup`` = dense_epoch_s / epoch_s; ``ratings_per_s``: training ratings per second;
* ``peak_rss_mib`` / ``dense_peak_rss_mib``: the peak resident memory of each process;
* ``to_target_s`` / ``dense_to_target_s``: wall seconds (validation included) until the
  validation RMSE first reaches ``target_val_rmse``, or null if it does not within
  ``max_epochs``.

Both sides use the same learning rate (1e-3), batch size (256) and seed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import time

MODELS = {
    "U-AutoRec": (
        "autorec",
        {
            "based": "user",
            "activation": "elu",
            "last_activation": "elu",
            "input_fill": "user_mean",
            "l2": 5e-4,
        },
        "stratified",
        0.93,
    ),
    "I-AutoRec": ("autorec", {"based": "item", "l2": 1e-4}, "random", 0.90),
    "Deep AE": ("deep", {"layers": (256, 512, 256)}, "stratified", 0.93),
}


def measure(
    name: str, impl: str, dataset: str, data_dir, threads: int, epochs: int, max_epochs: int
) -> dict:
    """One model and implementation, in this (fresh) process."""
    import numpy as np
    import torch

    from aerec.data.matrix import RatingMatrix
    from aerec.ops.batches import RowBatcher
    from aerec.recommender import AutoRecommender, set_threads
    from aerec.runs import DataConfig, load_data
    from aerec.training import RunOptions, TrainConfig
    from aerec.training.trainer import Trainer

    set_threads(threads)
    model_name, params, split, target = MODELS[name]
    data, parts = load_data(DataConfig(dataset, split), seed=42, data_dir=data_dir)
    rec = AutoRecommender(
        model_name, TrainConfig(epochs=1, patience=0, loss="row_mse"), RunOptions(seed=0), **params
    )
    rec.fit(data, parts.train, None)  # builds the model and the batcher; one warm-up epoch
    based = rec.config.based
    val = RowBatcher(RatingMatrix.build(parts.val, data.n_users, data.n_items, based))
    trainer = Trainer(rec.model_, rec.inputs_, val, rec.plan, rec.options, data.scale)
    step = trainer.train_epoch if impl == "aerec" else _dense_reference(trainer, rec)
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        step(epoch + 2)
        seconds.append(time.perf_counter() - start)
    to_target, elapsed = None, 0.0
    for epoch in range(max_epochs):
        start = time.perf_counter()
        step(epoch + 100)
        rmse = trainer.evaluate(val)["rmse"]
        elapsed += time.perf_counter() - start
        if rmse <= target:
            to_target = elapsed
            break
    return {
        "epoch_s": statistics.median(seconds),
        "epochs": seconds,
        "to_target_s": to_target,
        "target_val_rmse": target,
        "n_train": len(parts.train),
        "threads": torch.get_num_threads(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "dataset": data.name,
        "engine": "sparse" if trainer.sparse else "dense",
        "final_val_rmse": float(np.round(rmse, 4)),
    }


def _dense_reference(trainer, rec):
    """The notebook's method: a dense matrix, dense rows in and out, penalty in the loss."""
    import torch

    from aerec.training.losses import masked_mse

    batcher, model = rec.inputs_, rec.model_
    rows = torch.arange(batcher.n_rows)
    inputs = batcher.inputs(rows)  # the dense train matrix with its fill, built once
    targets, masks = batcher.targets(rows)
    optimizer = torch.optim.Adam(model.parameters(), lr=rec.plan[0].lr)

    def epoch(number: int) -> dict:
        model.train()
        gen = torch.Generator().manual_seed(number)  # the order and the code dropout
        order = torch.randperm(batcher.n_rows, generator=gen)
        total, steps = 0.0, 0
        for batch in order.split(rec.plan[0].batch_size):
            pred = model(inputs[batch], None, gen)
            loss = masked_mse(pred, targets[batch], masks[batch]).mean() + model.penalty()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
        return {"train_loss": total / steps, "train_rmse": float("nan")}  # as train_epoch

    trainer.predictor.sparse = False  # the reference also validates densely
    return epoch


def _child(args) -> dict:
    return measure(*args)


def main() -> None:
    from aerec.pipeline import choose_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 timed epochs, 15 to target")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--data-dir", default=os.environ.get("AEREC_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    dataset = choose_dataset(args.data_dir, print)  # ML-1M when it loads, else its twin
    epochs, max_epochs = (3, 15) if args.quick else (5, 60)
    results = []
    ctx = mp.get_context("spawn")
    for name in MODELS:
        row = {"model": name}
        for impl, prefix in (("aerec", ""), ("dense", "dense_")):
            with ctx.Pool(1) as pool:
                got = pool.apply(
                    _child,
                    ((name, impl, dataset, args.data_dir, args.threads, epochs, max_epochs),),
                )
            row |= {f"{prefix}{k}": v for k, v in got.items()}
        row["speedup"] = row["dense_epoch_s"] / row["epoch_s"]
        row["ratings_per_s"] = row["n_train"] / row["epoch_s"]
        results.append(row)
        _print_row(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


def _print_row(row: dict) -> None:
    def fmt(v):
        return "-" if v is None else f"{v:.2f}"

    print(
        f"{row['model']:<10} {row['dataset']} {row['engine']} engine, {row['threads']} threads: "
        f"epoch {row['epoch_s']:.3f} s vs dense {row['dense_epoch_s']:.3f} s = "
        f"{row['speedup']:.2f}x, {row['ratings_per_s']:,.0f} ratings/s, peak "
        f"{row['peak_rss_mib']:.0f} / {row['dense_peak_rss_mib']:.0f} MiB, to val RMSE "
        f"{row['target_val_rmse']}: {fmt(row['to_target_s'])} s vs "
        f"{fmt(row['dense_to_target_s'])} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
