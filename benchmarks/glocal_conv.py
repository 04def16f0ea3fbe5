"""GLocal-K's global convolution on the CPU: torch's dense conv2d against aerec's
``sparse_conv2d`` (formed from the observed cells), forward and backward to the kernel.

    python benchmarks/glocal_conv.py [--data-dir DIR] [--threads 2] [--repeats 3]

On the item x user training matrix of ML-1M, protocol A, seed 1 (``synthetic-ml-1m``
without ``--data-dir`` / ``AEREC_DATA_DIR``), a 3 x 3 kernel; prints the best of
``--repeats`` seconds of each and their ratio, and the largest differences of the outputs
and of the kernel gradients.
"""

from __future__ import annotations

import argparse
import os
import time


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("AEREC_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    from aerec.data.matrix import RatingMatrix
    from aerec.ops.sparse import CellBatch, sparse_conv2d
    from aerec.pipeline import choose_dataset
    from aerec.recommender import set_threads
    from aerec.runs import DataConfig, load_data

    set_threads(args.threads)
    dataset = choose_dataset(args.data_dir, print)
    data, parts = load_data(DataConfig(dataset, "random", val_size=0.05), 1, args.data_dir)
    csr = RatingMatrix.build(parts.train, data.n_users, data.n_items, "item").csr
    cells = CellBatch(
        torch.as_tensor(csr.indptr, dtype=torch.int64),
        torch.as_tensor(csr.indices, dtype=torch.int64),
        torch.as_tensor(csr.data, dtype=torch.float32),
        csr.shape[1],
    )
    dense = torch.as_tensor(csr.toarray(), dtype=torch.float32)[None, None]
    kernel = torch.randn(3, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    weights = torch.randn(csr.shape, generator=torch.Generator().manual_seed(1))
    results = {}
    for name, conv in (
        ("conv2d", lambda: F.conv2d(dense, kernel[None, None], padding=1)[0, 0]),
        ("sparse_conv2d", lambda: sparse_conv2d(cells, kernel)),
    ):
        conv()  # warm-up (numba compiles on first use)
        forward = _best(conv, args.repeats)
        out = conv()
        backward = _best(lambda o=out: torch.autograd.grad(o, kernel, weights, True), args.repeats)
        results[name] = (
            forward,
            backward,
            out.detach(),
            torch.autograd.grad(out, kernel, weights)[0],
        )
        print(f"{name:>14}: forward {forward:.3f} s, backward {backward:.3f} s")
    (f0, b0, out0, g0), (f1, b1, out1, g1) = results["conv2d"], results["sparse_conv2d"]
    print(
        f"{csr.shape[0]} x {csr.shape[1]}, {csr.nnz:,} cells, {args.threads} thread(s), {dataset}"
    )
    print(f"sparse_conv2d is {f0 / f1:.1f}x faster forward and {b0 / b1:.1f}x backward")
    print(
        f"largest differences: output {(out0 - out1).abs().max():.2e}, "
        f"kernel gradient {(g0 - g1).abs().max():.2e} (of {g0.abs().max():.2e})"
    )


if __name__ == "__main__":
    main()
