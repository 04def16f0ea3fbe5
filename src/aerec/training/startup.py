"""One-time process start-up, paid before the first fit instead of inside it.

A first fit in a fresh process spends, before its first epoch (cProfile of
``AutoRecommender.fit``, ML-1M I-AutoRec, one epoch, on our 2-core machine): about 2.9 s
importing ``torch._dynamo``, which the first ``torch.optim`` optimizer pulls in
(``Optimizer.add_param_group`` is wrapped by ``torch._disable_dynamo``, which imports dynamo
on its first call), against about 0.15 s for building the matrix and the model. Every torch
optimizer does it, so it cannot be avoided, only moved. On CUDA the first fit also creates
the context, the cuBLAS handle and its workspace, and loads the kernels it launches.

:func:`warm_up` pays all of that once, up front (a benchmark calls it before loading the
data, so a timed fit measures training alone); later fits in the process find it done.
"""

from __future__ import annotations

import time

import torch


def warm_up(device: torch.device | str = "cpu") -> float:
    """Import ``torch._dynamo`` and, on CUDA, start the device (context, cuBLAS, a fused
    Adam step); the seconds it took."""
    start = time.perf_counter()
    import torch._dynamo  # what the first optimizer would import

    device = torch.device(device)
    weight = torch.nn.Parameter(torch.ones(8, 8, device=device))
    optimizer = torch.optim.Adam([weight], lr=1e-3, fused=True)
    (weight @ weight).sum().backward()
    optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start
