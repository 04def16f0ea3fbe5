"""The sparse engine's numba kernels taking several cells per pass, against one cell per pass.

    python benchmarks/cells_per_pass.py [--data-dir DIR] [--threads 2] [--repeats 7]

``_row_spmm`` (the encoder's forward, the decoder's input gradient) and ``_col_spmm`` (both
weight gradients) add four cells' terms per pass over an output row, ``_row_sddmm`` (the
decoder at the observed cells) computes two cells' dot products per pass over a code row.
Each output is the same chain of additions as with one cell per pass, so the same bits; this
script checks that on every batch and times both, alternating, on the cells of an epoch of
real ML-1M batches (``synthetic-ml-1m`` without the data dir): 256 rows a batch, the shapes
of the benchmark models (U-AutoRec and Deep AE rows are users, I-AutoRec's items; hidden 500
or Deep AE's 256). Per kernel and shape it prints the median seconds per epoch of each form
over ``--repeats`` alternated epochs and their ratio, measured in the same run.

The one-cell forms below are the kernels as they were before (commit ef13366), compiled with
the same numba flags (parallel, fast-math); ``tests/ops/test_sparse.py`` checks the bits
against them too.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numba
import numpy as np
from numba import prange

from aerec.ops import sparse

_one_cell_kernel = numba.njit(parallel=True, fastmath=True)
"""The flags of ``aerec.ops.sparse._kernel`` but its on-disk cache (which a module loaded by
path, as the tests load this one, cannot use)."""


@_one_cell_kernel
def row_spmm_one_cell(indptr, cols, vals, mat, a, u, v, out):
    k = out.shape[1]
    for r in prange(out.shape[0]):
        ar = a[r]
        for t in range(k):
            out[r, t] = ar * u[t] + v[t]
        for p in range(indptr[r], indptr[r + 1]):
            x = vals[p]
            c = cols[p]
            for t in range(k):
                out[r, t] += x * mat[c, t]


@_one_cell_kernel
def col_spmm_one_cell(cptr, cells, rows, vals, mat, a, u, v, out, sums):
    k = out.shape[1]
    for j in prange(out.shape[0]):
        for t in range(k):
            out[j, t] = 0
        total = vals.dtype.type(0)
        for q in range(cptr[j], cptr[j + 1]):
            x = vals[cells[q]]
            r = rows[q]
            total += x
            for t in range(k):
                out[j, t] += x * mat[r, t]
        for t in range(k):
            out[j, t] = out[j, t] + a[j] * u[t] + v[t]
        sums[j] = total


@_one_cell_kernel
def row_sddmm_one_cell(indptr, cols, h, w, bias, out):
    k = h.shape[1]
    for r in prange(h.shape[0]):
        for p in range(indptr[r], indptr[r + 1]):
            c = cols[p]
            acc = h.dtype.type(0)
            for t in range(k):
                acc += h[r, t] * w[c, t]
            out[p] = acc + bias[c]


SHAPES = {"U-AutoRec": ("user", 500), "I-AutoRec": ("item", 500), "Deep AE": ("user", 256)}
"""name: (what a row is, hidden size)."""


def epoch_batches(data_dir, based: str, batch_size: int = 256) -> list:
    """(indptr, cols, values, n_cols) of the cells of every batch of one epoch of a protocol-B
    training split (the notebook's), rows in a fixed shuffled order."""
    import torch

    from aerec.data.matrix import RatingMatrix
    from aerec.ops.batches import RowBatcher
    from aerec.pipeline import choose_dataset
    from aerec.runs import DataConfig, load_data

    dataset = choose_dataset(data_dir, print)
    data, parts = load_data(DataConfig(dataset, "stratified", split_seed=42), 42, data_dir)
    matrix = RatingMatrix.build(parts.train, data.n_users, data.n_items, based)
    rows = RowBatcher(matrix)
    order = torch.randperm(rows.n_rows, generator=torch.Generator().manual_seed(0))
    batches = []
    for batch in order.split(batch_size):
        cells = rows.cells(batch)
        values = cells.values.numpy().astype(np.float32)
        batches.append((cells.indptr.numpy(), cells.cols.numpy(), values, cells.n_cols))
    return batches


def _calls(batches, hidden: int, seed: int = 0):
    """Per kernel, the argument tuples of the blocked and of the one-cell form for every
    batch (random float32 weights and code rows, outputs allocated once)."""
    rng = np.random.default_rng(seed)
    n_cols = batches[0][3]
    f32 = np.float32
    weight = rng.standard_normal((n_cols, hidden)).astype(f32) * f32(0.05)
    bias = rng.standard_normal(n_cols).astype(f32)
    zero_k, zero_n = np.zeros(hidden, f32), np.zeros(n_cols, f32)
    calls = {"_row_spmm": [], "_col_spmm": [], "_row_sddmm": []}
    for indptr, cols, values, _ in batches:
        b = len(indptr) - 1
        code = rng.random((b, hidden)).astype(f32)
        cptr, cells, rows = sparse._column_index(indptr, cols, n_cols)
        spmm = (indptr, cols, values, weight, np.zeros(b, f32), zero_k, zero_k)
        calls["_row_spmm"].append((spmm, np.empty((b, hidden), f32), np.empty((b, hidden), f32)))
        col = (cptr, cells, rows, values, code, zero_n, zero_k, zero_k)
        outs = (np.empty((n_cols, hidden), f32), np.empty(n_cols, f32))
        calls["_col_spmm"].append((col, outs, (np.empty_like(outs[0]), np.empty_like(outs[1]))))
        sddmm = (indptr, cols, code, weight, bias)
        calls["_row_sddmm"].append((sddmm, np.empty(len(cols), f32), np.empty(len(cols), f32)))
    return calls


def _blocked(name, args, out):
    if name == "_col_spmm":
        sparse._col_spmm(*args, out[0])
        sparse._col_sums(args[0], args[1], args[3], out[1])
    else:
        getattr(sparse, name)(*args, out)


def _one_cell(name, args, out):
    kernel = {"_row_spmm": row_spmm_one_cell, "_col_spmm": col_spmm_one_cell}.get(
        name, row_sddmm_one_cell
    )
    if name == "_col_spmm":
        kernel(*args, *out)
    else:
        kernel(*args, out)


def _same_bits(a, b) -> bool:
    pairs = zip(a, b, strict=True) if isinstance(a, tuple) else [(a, b)]
    return all(np.array_equal(x.view(np.uint32), y.view(np.uint32)) for x, y in pairs)


def measure(calls: list, name: str, repeats: int) -> dict:
    for args, new, old in calls:  # compile (or load the cache) and check the bits
        _blocked(name, args, new)
        _one_cell(name, args, old)
        if not _same_bits(new, old):
            raise SystemExit(f"{name}: the blocked kernel's bits differ from one cell per pass")
    times = {"blocked": [], "one_cell": []}
    for _ in range(repeats):
        for form, run in (("one_cell", _one_cell), ("blocked", _blocked)):
            start = time.perf_counter()
            for args, new, old in calls:
                run(name, args, new if form == "blocked" else old)
            times[form].append(time.perf_counter() - start)
    return {form: statistics.median(values) for form, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("AEREC_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from _machine import cpu_model

    from aerec.recommender import set_threads

    set_threads(args.threads)
    print(f"{cpu_model()}, {args.threads} threads; same bits checked on every batch")
    print(f"{'shape':<10} {'kernel':<10} {'one cell s':>10} {'blocked s':>10} {'ratio':>6}")
    by_side = {}
    for shape, (based, hidden) in SHAPES.items():
        if based not in by_side:
            by_side[based] = epoch_batches(args.data_dir, based)
        calls = _calls(by_side[based], hidden)
        for name in calls:
            got = measure(calls[name], name, args.repeats)
            ratio = got["one_cell"] / got["blocked"]
            print(
                f"{shape:<10} {name:<10} {got['one_cell']:>10.4f} {got['blocked']:>10.4f} "
                f"{ratio:>5.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
