"""Data-parallel training with PyTorch's DistributedDataParallel.

``torchrun --nproc-per-node N -m aerec train ...`` starts N processes; each trains on its share
of every mini-batch (the rows of a batch are split across ranks, so the global batch and the
objective are those of a single-process run: each rank's loss sum is scaled by the number of
loss terms in the whole batch) and DDP averages the gradients. gloo on CPU,
NCCL on CUDA. Every rank scores the validation set itself (cheap, and it keeps early stopping
identical on all ranks); only rank 0 writes files and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` processes (rank 0 of 1 when not distributed)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world() -> World:
    """The current world: from an initialised process group, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def is_main_process() -> bool:
    """Rank 0, or a single process; known from the launcher's environment before setup."""
    return (
        world().is_main
        if dist.is_available() and dist.is_initialized()
        else (int(os.environ.get("RANK", "0")) == 0)
    )


def launched() -> bool:
    """Whether torchrun (or a similar launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> World:
    """Join the process group torchrun describes; a no-op for a single process."""
    if not launched() or not dist.is_available():
        return World()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            local = int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size()))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    return world()


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The model wrapped in DDP when distributed, else the model itself."""
    if not world().size > 1:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's share of a batch of rows (contiguous, sizes differing by at most one)."""
    w = world()
    return batch if w.size == 1 else torch.tensor_split(batch, w.size)[w.rank]


def sum_all(values: list[float]) -> list[float]:
    """Element-wise sums over ranks (the values themselves when not distributed)."""
    if world().size == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t)
    return t.tolist()
