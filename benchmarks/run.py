"""aerec's training speed against a faithful dense PyTorch version of the notebook's method.

    python benchmarks/run.py [--quick] [--json FILE] [--data-dir DIR] [--threads N]
                             [--models NAME,...] [--epochs N] [--max-epochs N]
                             [--keep-denormals]

For U-AutoRec, I-AutoRec and Deep AE [256, 512, 256] on real ML-1M (when ``--data-dir`` or
``AEREC_DATA_DIR`` holds ``ml-1m/``) or else ``synthetic-ml-1m``, each side in a fresh
process, from the same initial weights, with the same recipe (Adam at a constant 1e-3, batch
size 256, the per-row masked MSE plus the L2 penalty, seed 42):

* **the headline**, ``to_target_s`` / ``dense_to_target_s``: seconds of training and one
  validation pass per epoch until the validation RMSE first reaches ``target_val_rmse``
  (null if not within ``--max-epochs``); ``to_target_speedup`` is their ratio;
* ``epoch_s`` / ``dense_epoch_s``: the median seconds of one training epoch (validation
  excluded) over at least ``--epochs`` epochs of that same training; ``speedup`` their ratio;
  ``spread``: (slowest - fastest) / median; ``drift``: the median of the second half of the
  epochs over that of the first half, minus one (a warning is printed past 20 %);
* ``user_s``, ``system_s``, ``minor_faults``: per training epoch (medians, getrusage of the
  process: every thread);
* ``bytes_per_step``: the memory traffic a step needs at least, estimated from the passes it
  makes over the weights (:data:`WEIGHT_PASSES`) and, for the dense side, over its dense
  batch tensors; ``floor_s``: an epoch's steps at the bandwidth the STREAM triad of this same
  run measured; ``over_floor`` = epoch_s / floor_s (1 would be memory-bound at full speed);
* ``shared_s`` (Deep AE): seconds per epoch of the work both sides do alike, the middle
  layers' forward (code dropout included) and backward, timed alone in aerec's process: what
  no sparse engine can take off, so ``dense_epoch_s / shared_s`` bounds the per-epoch ratio;
* ``peak_rss_mib``, the CPU model, the load average before and after (other processes
  running beside the benchmark show there), the measured bandwidth.

The reference is the notebook's method: the dense train matrix with its fill built once,
full-width input and output rows, the masked loss plus the L2 penalty in the graph, plain
(unfused) Adam. Both sides flush denormal floats to zero (as aerec does for every fit);
``--keep-denormals`` measures both without (what aerec did before issue 12).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import statistics

from _machine import Usage, cpu_model, load_average, peak_rss_mib, stream_triad

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
        1.02,
    ),
    "I-AutoRec": ("autorec", {"based": "item", "l2": 1e-4}, "random", 0.90),
    "Deep AE": ("deep", {"layers": (256, 512, 256)}, "stratified", 0.93),
}
"""name: (model, parameters, split, target validation RMSE). U-AutoRec's target: at a
constant 1e-3 with the per-row loss aerec ended 20 epochs at 0.9756 and the dense reference
at 1.0106 on ML-1M (at a42fa2a, from the warmed-up state, 0.9811 and 0.9739): a target both
reach."""

WEIGHT_PASSES = {
    "aerec": 10,
    "dense": 16,
}
"""Passes over all the weights (parameters, gradients and Adam's two moments counted apart,
4 bytes per value) one training step makes, by reading the code:

* aerec (sparse engine): forward, the first weight's column sums (1, with a row fill) and the
  weight rows of the observed columns (at most 1); backward, each weight gradient written
  once (1), into fresh memory after ``zero_grad(set_to_none=True)``; fused Adam with the L2
  penalty as weight decay reads parameter, gradient and both moments and writes parameter
  and both moments (7). 10 in all.
* dense: forward reads the weights (1); backward reads them again for the input gradients (1)
  and writes their gradients (1); the L2 penalty reads them (1), its gradient is written (1)
  and added into the gradient (3); unfused (foreach) Adam reads and writes parameter, both
  moments and its temporaries in separate passes (8). 16 in all. Its dense batch tensors
  (input, target, mask, output, their gradients and the loss terms) add
  :data:`DENSE_BATCH_PASSES` passes over ``batch x n_cols`` floats.
"""
DENSE_BATCH_PASSES = 10


def measure(
    name: str,
    impl: str,
    dataset: str,
    data_dir,
    threads: int,
    epochs: int,
    max_epochs: int,
    keep_denormals: bool,
) -> dict:
    """One model and implementation, in this (fresh) process."""
    import torch
    from _target import fresh_trainer

    from aerec.ops import fpenv
    from aerec.recommender import set_threads
    from aerec.runs import DataConfig
    from aerec.training import TrainConfig

    fpenv.FLUSH_DENORMALS = not keep_denormals
    set_threads(threads)
    model_name, params, split, target = MODELS[name]
    config = TrainConfig(epochs=max_epochs, patience=0, loss="row_mse", lr=1e-3)
    trainer, rec, data, val, _ = fresh_trainer(
        model_name, params, DataConfig(dataset, split), 42, config, data_dir
    )
    step = trainer.train_epoch if impl == "aerec" else _dense_reference(trainer, rec)
    train, val_s, rmses, to_target = [], [], [], None
    while len(train) < epochs or (to_target is None and len(train) < max_epochs):
        start = Usage.now()
        step(len(train) + 1)
        trained = Usage.now()
        rmses.append(trainer.evaluate(val)["rmse"])
        val_s.append(Usage.now().wall - trained.wall)
        train.append(trained.since(start))
        if to_target is None and rmses[-1] <= target:
            to_target = sum(t["wall_s"] for t in train) + sum(val_s)
    n_params = sum(p.numel() for p in rec.model_.parameters())
    steps = math.ceil(len(trainer.rows) / config.batch_size)
    shared = None
    if impl == "aerec":
        shared = _shared_seconds(rec.model_, len(trainer.rows), config.batch_size)
    return {
        "shared_s": shared,
        "epochs": [t["wall_s"] for t in train],
        "user_s": statistics.median(t["user_s"] for t in train),
        "system_s": statistics.median(t["system_s"] for t in train),
        "minor_faults": statistics.median(t["minor_faults"] for t in train),
        "to_target_s": to_target,
        "to_target_epochs": next((i + 1 for i, r in enumerate(rmses) if r <= target), None),
        "target_val_rmse": target,
        "final_val_rmse": round(rmses[-1], 4),
        "n_train": trainer.train.values.numel(),
        "n_params": n_params,
        "steps": steps,
        "bytes_per_step": _step_bytes(impl, n_params, config.batch_size, trainer.train.n_cols),
        "threads": torch.get_num_threads(),
        "denormals": "flushed" if fpenv.denormals_flushed() else "kept",
        "peak_rss_mib": peak_rss_mib(),
        "dataset": data.name,
        "engine": "sparse" if trainer.sparse and impl == "aerec" else "dense",
    }


def _shared_seconds(model, n_rows: int, batch_size: int, repeats: int = 3) -> float | None:
    """Seconds per epoch (the best of ``repeats``) of the work a step of either side does
    alike: the middle layers of a deep autoencoder (all but the first and the last, the two
    aerec's sparse engine computes from the observed cells), forward with their activations
    and the code dropout, and backward to their weights and input; for ``n_rows`` rows in
    batches of ``batch_size``. The optimizer is left out (aerec's fused Adam and the
    reference's plain one differ). None for a model with one hidden layer (AutoRec): nothing
    there is computed alike."""
    import time

    import torch
    import torch.nn.functional as F

    from aerec.models.activations import dropout

    layers = getattr(model, "layers", None)
    if layers is None or len(layers) < 3:
        return None
    gen = torch.Generator().manual_seed(0)
    sizes = [min(batch_size, n_rows - start) for start in range(0, n_rows, batch_size)]
    inputs = [torch.randn(n, layers[0].out_features, requires_grad=True) for n in sizes]
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for x in inputs:
            h = x
            for j in range(1, len(layers) - 1):
                h = model.activations[j](F.linear(h, model.weight(j), model.layers[j].bias))
                if j == model.code_layer:
                    h = dropout(h, model.code_dropout, gen)
            h.backward(torch.ones_like(h))
        best = min(best, time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    return best


def _step_bytes(impl: str, n_params: int, batch: int, n_cols: int) -> int:
    """The bytes one step moves at least (see :data:`WEIGHT_PASSES`)."""
    moved = WEIGHT_PASSES[impl] * 4 * n_params
    if impl == "dense":
        moved += DENSE_BATCH_PASSES * 4 * batch * n_cols
    return moved


def _dense_reference(trainer, rec):
    """The notebook's method: a dense matrix, dense rows in and out, penalty in the loss,
    plain Adam (the trainer's schedule, if any, steps it). Returns an epoch function."""
    import torch

    from aerec.ops.fpenv import flush_denormals
    from aerec.training.losses import masked_mse, masked_se
    from aerec.training.optim import build_scheduler

    flush_denormals()  # as aerec does (unless --keep-denormals)
    batcher, model, config = rec.inputs_, rec.model_, rec.plan[0]
    rows = torch.arange(batcher.n_rows)
    inputs = batcher.inputs(rows)  # the dense train matrix with its fill, built once
    targets, masks = batcher.targets(rows)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    trainer.optimizer, trainer.scheduler = optimizer, build_scheduler(optimizer, config)

    def loss_of(pred, target, mask):
        if config.loss == "row_mse":
            return masked_mse(pred, target, mask).mean()
        return masked_se(pred, target, mask).sum() / mask.sum().clamp(min=1)

    def epoch(number: int) -> dict:
        model.train()
        gen = torch.Generator().manual_seed(number)  # the order and the code dropout
        order = torch.randperm(batcher.n_rows, generator=gen)
        total, steps = 0.0, 0
        for batch in order.split(config.batch_size):
            pred = model(inputs[batch], None, gen)
            loss = loss_of(pred, targets[batch], masks[batch]) + model.penalty()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, steps = total + loss.item(), steps + 1
        return {"train_loss": total / steps, "train_rmse": float("nan")}  # as train_epoch

    trainer.predictor.sparse = False  # the reference also validates densely
    return epoch


def _child(args) -> dict:
    return measure(*args)


def summarise(got: dict, bandwidth: float) -> dict:
    """Per-epoch statistics of one side's measurement."""
    seconds = got["epochs"]
    median = statistics.median(seconds)
    half = len(seconds) // 2
    drift = (  # the second half of the epochs against the first; none from one epoch
        statistics.median(seconds[half:]) / statistics.median(seconds[:half]) - 1 if half else 0.0
    )
    floor = got["steps"] * got["bytes_per_step"] / bandwidth
    return got | {
        "epoch_s": median,
        "spread": (max(seconds) - min(seconds)) / median,
        "drift": drift,
        "floor_s": floor,
        "over_floor": median / floor,
    }


def main() -> None:
    from aerec.pipeline import choose_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 epochs at least, 15 at most")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--data-dir", default=os.environ.get("AEREC_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--epochs", type=int, help="epochs at least (default 10, quick 4)")
    parser.add_argument("--max-epochs", type=int, help="to the target at most (60, quick 15)")
    parser.add_argument(
        "--keep-denormals", action="store_true", help="do not flush denormals (either side)"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.models.split(",")]
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    dataset = choose_dataset(args.data_dir, print)  # ML-1M when it loads, else its twin
    epochs = args.epochs or (4 if args.quick else 10)
    max_epochs = max(args.max_epochs or (15 if args.quick else 60), epochs)
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:  # its arrays stay out of this process's (and children's) peak
        bandwidth = pool.apply(stream_triad, (args.threads,))
    machine = {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "threads": args.threads,
        "bandwidth_gb_s": bandwidth / 1e9,
        "load_before": load_average(),
        "denormals": "kept" if args.keep_denormals else "flushed",
    }
    print(
        f"{machine['cpu']}, {machine['cpus']} CPUs, {args.threads} threads; STREAM triad "
        f"{machine['bandwidth_gb_s']:.1f} GB/s; load average {machine['load_before']:.2f}",
        flush=True,
    )
    results = []
    for name in names:
        row = {"model": name}
        for impl, prefix in (("aerec", ""), ("dense", "dense_")):
            job = (name, impl, dataset, args.data_dir, args.threads, epochs, max_epochs)
            with ctx.Pool(1) as pool:
                got = pool.apply(_child, ((*job, args.keep_denormals),))
            row |= {f"{prefix}{k}": v for k, v in summarise(got, bandwidth).items()}
        row["speedup"] = row["dense_epoch_s"] / row["epoch_s"]
        both = row["to_target_s"] and row["dense_to_target_s"]
        row["to_target_speedup"] = row["dense_to_target_s"] / row["to_target_s"] if both else None
        row["ratings_per_s"] = row["n_train"] / row["epoch_s"]
        results.append(row)
        _print_row(row)
    machine["load_after"] = load_average()
    print(f"load average after: {machine['load_after']:.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": machine, "results": results}, fh, indent=2)


def _print_row(row: dict) -> None:
    def fmt(seconds, epochs):
        return "not reached" if seconds is None else f"{seconds:.2f} s ({epochs} epochs)"

    head = (
        f"{row['model']:<10} {row['dataset']} {row['engine']} engine, {row['threads']} threads, "
        f"denormals {row['denormals']}: to val RMSE {row['target_val_rmse']}: "
        f"{fmt(row['to_target_s'], row['to_target_epochs'])} vs dense "
        f"{fmt(row['dense_to_target_s'], row['dense_to_target_epochs'])}"
    )
    if row["to_target_speedup"]:
        head += f" = {row['to_target_speedup']:.2f}x"
    lines = [head]
    lines.append(
        f"    epoch {row['epoch_s']:.3f} s vs dense {row['dense_epoch_s']:.3f} s = "
        f"{row['speedup']:.2f}x, {row['ratings_per_s']:,.0f} ratings/s, peak "
        f"{row['peak_rss_mib']:.0f} / {row['dense_peak_rss_mib']:.0f} MiB"
    )
    if row["shared_s"] is not None:
        shared, aerec, dense = row["shared_s"], row["epoch_s"], row["dense_epoch_s"]
        lines.append(
            f"    done alike by both (middle layers forward and backward, code dropout): "
            f"{shared:.3f} s per epoch; the rest: aerec {aerec - shared:.3f} s, dense "
            f"{dense - shared:.3f} s; 3x per epoch needs aerec's rest <= "
            f"{dense / 3 - shared:.3f} s; with it free, at most {dense / shared:.1f}x"
        )
    for side, prefix in (("aerec", ""), ("dense", "dense_")):
        lines.append(
            f"    {side}: user {row[prefix + 'user_s']:.3f} s, system "
            f"{row[prefix + 'system_s']:.3f} s, {row[prefix + 'minor_faults']:,.0f} minor faults "
            f"per epoch; spread {row[prefix + 'spread']:.0%}, drift {row[prefix + 'drift']:+.0%}; "
            f"{row[prefix + 'bytes_per_step'] / 2**20:.0f} MiB per step, floor "
            f"{row[prefix + 'floor_s']:.3f} s = {row[prefix + 'over_floor']:.1f}x above it"
        )
        if abs(row[prefix + "drift"]) > 0.2:
            lines.append(
                f"    WARNING: {side} epoch times drift by {row[prefix + 'drift']:+.0%} within "
                f"the run: {', '.join(f'{s:.2f}' for s in row[prefix + 'epochs'])}"
            )
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
