"""Seconds per AutoRec training epoch: dense mini-batches against the sparse kernels.

    python benchmarks/sparse_kernels.py [--repeats 5] [--hidden 500] [--batch-size 256]
                                        [--fill constant|user_mean|item_mean] [--seed 0]
                                        [--adam default|foreach|fused]

The problem is ``synthetic-ml-1m`` (6040 x 3706, ML-1M's popularity) with a random 90% of its
ratings kept (about 900k, as a training split). Both variants train the same AutoRec (sigmoid
encoder, identity decoder, mean squared error over the observed cells, Adam) from the same
initial weights on the same batches:

* ``dense``: dense input rows, ``nn.Linear`` both layers, dense output, masked loss;
* ``sparse``: :func:`~aerec.ops.sparse.sparse_input_linear` encoder and
  :func:`~aerec.ops.sparse.observed_linear` decoder;
* ``sparse-cm``: the same, with the encoder weight stored column-major (see ``AutoRec``).

One untimed epoch of each first (numba compiles, or loads its cache), then ``--repeats``
epochs of each, alternating; the table gives the median, the fastest and every run. The last
line is the largest difference between the two variants' weights after the warm-up epoch
(float32 rounding, amplified by Adam on near-zero gradients).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch
from torch import nn

from aerec.data import load
from aerec.data.matrix import InputFill, RatingMatrix
from aerec.data.types import encode
from aerec.ops.batches import RowBatcher
from aerec.ops.sparse import CellBatch, observed_linear, sparse_input_linear


def batcher(fill: str, seed: int) -> RowBatcher:
    """A 90% subsample of synthetic-ml-1m as user rows."""
    data = encode(load("synthetic-ml-1m", seed=seed))
    inter = data.interactions
    keep = np.random.default_rng(seed).random(len(inter.users)) < 0.9
    matrix = RatingMatrix.build(
        type(inter)(
            users=inter.users[keep],
            items=inter.items[keep],
            ratings=inter.ratings[keep],
            timestamps=inter.timestamps[keep],
        ),
        data.n_users,
        data.n_items,
    )
    return RowBatcher(matrix, fill=InputFill(fill))


class AutoRec(nn.Module):
    """``column_major``: the encoder's parameter is the (n x hidden) transpose of its weight, the
    layout the sparse encoder reads and writes, so neither its forward nor its backward needs a
    transposing copy. Same values, same training."""

    def __init__(self, n: int, hidden: int, seed: int, column_major: bool = False) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.encoder, self.decoder = nn.Linear(n, hidden), nn.Linear(hidden, n)
        for layer in (self.encoder, self.decoder):
            nn.init.xavier_uniform_(layer.weight, generator=gen)
            nn.init.zeros_(layer.bias)
        self.column_major = column_major
        if column_major:
            self.encoder_t = nn.Parameter(self.encoder.weight.detach().t().contiguous())
            del self.encoder.weight

    def encoder_weight(self) -> torch.Tensor:
        return self.encoder_t.t() if self.column_major else self.encoder.weight

    def weights(self) -> list[torch.Tensor]:
        return [self.encoder_weight(), self.encoder.bias, self.decoder.weight, self.decoder.bias]


def dense_loss(model: AutoRec, data: RowBatcher, rows: torch.Tensor) -> torch.Tensor:
    target, mask = data.targets(rows)
    pred = model.decoder(torch.sigmoid(model.encoder(data.inputs(rows))))
    return (mask * (pred - target)).square().sum() / mask.sum()


def sparse_loss(model: AutoRec, data: RowBatcher, rows: torch.Tensor) -> torch.Tensor:
    pos, cols, ratings = data.observed(rows)
    cells = CellBatch.from_observed(pos, cols, ratings, len(rows), data.n_cols)
    fill_row, fill_col = data.fill_row[rows], data.fill_col
    delta = cells.minus_fill(fill_row, fill_col)
    bias, dec = model.encoder.bias, model.decoder
    code = sparse_input_linear(delta, model.encoder_weight(), bias, fill_row, fill_col)
    pred = observed_linear(torch.sigmoid(code), dec.weight, dec.bias, cells)
    return (pred - ratings).square().mean()


def epoch(loss_fn, model, optimizer, data: RowBatcher, order: torch.Tensor, batch: int) -> float:
    """Seconds for one pass of Adam steps over ``order``."""
    start = time.perf_counter()
    for rows in order.split(batch):
        loss = loss_fn(model, data, rows)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def time_epochs(args, data: RowBatcher) -> tuple[dict[str, list[float]], float, float]:
    """Per-variant epoch seconds, the first sparse epoch's seconds (numba compiles or loads
    its cache), and the largest weight difference after that first epoch."""
    rows = torch.nonzero(data.row_counts() > 0).squeeze(1)
    order = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(args.seed))]
    variants = {"dense": dense_loss, "sparse": sparse_loss, "sparse-cm": sparse_loss}
    models = {
        name: AutoRec(data.n_cols, args.hidden, args.seed, column_major=name == "sparse-cm")
        for name in variants
    }
    adam = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[args.adam]
    optims = {name: torch.optim.Adam(m.parameters(), lr=1e-3, **adam) for name, m in models.items()}

    def run(name: str) -> float:
        return epoch(variants[name], models[name], optims[name], data, order, args.batch_size)

    run("dense")
    first_sparse = run("sparse")
    run("sparse-cm")
    weights_diff = max(
        (a - b).abs().max().item()
        for name in ("sparse", "sparse-cm")
        for a, b in zip(models["dense"].weights(), models[name].weights(), strict=True)
    )
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name in variants:
            seconds[name].append(run(name))
    return seconds, first_sparse, weights_diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--fill", default="constant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--adam",
        choices=["default", "foreach", "fused"],
        default="default",
        help="torch.optim.Adam implementation (default: the for-loop one the trainer uses)",
    )
    args = parser.parse_args()
    import numba

    data = batcher(args.fill, args.seed)
    load_before = os.getloadavg()[0]
    seconds, first_sparse, weights_diff = time_epochs(args, data)
    print(
        f"{data.n_rows} x {data.n_cols}, {data.values.numel()} ratings, hidden {args.hidden}, "
        f"batch {args.batch_size}, fill {args.fill}, {args.adam} Adam, {args.repeats} repeats"
    )
    print(
        f"torch threads {torch.get_num_threads()}, numba threads {numba.get_num_threads()} "
        f"({numba.threading_layer()} layer), OMP_WAIT_POLICY="
        f"{os.environ.get('OMP_WAIT_POLICY', '(unset)')}, {os.cpu_count()} CPUs, load average "
        f"{load_before:.2f} before / {os.getloadavg()[0]:.2f} after"
    )
    dense = statistics.median(seconds["dense"])
    print(f"{'variant':10} {'median s/epoch':>13} {'min':>7} {'speed-up':>9}  all runs")
    for name, times in seconds.items():
        median = statistics.median(times)
        runs = " ".join(f"{t:.2f}" for t in times)
        print(f"{name:10} {median:13.3f} {min(times):7.3f} {dense / median:8.2f}x  {runs}")
    print(f"first sparse epoch (numba compile or cache load included): {first_sparse:.2f} s")
    print(f"max |weight difference| after one epoch from the same start: {weights_diff:.2e}")


if __name__ == "__main__":
    main()
