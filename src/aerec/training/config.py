"""Where and with which seed a model is trained (RunOptions); how it is trained
(TrainConfig, the phases of a plan) lives in :mod:`aerec.plan` and is re-exported here."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aerec.errors import ConfigError
from aerec.plan import ENGINES, LOSSES, SCHEDULES, TrainConfig
from aerec.training.compiled import check_mode

__all__ = ["ENGINES", "LOSSES", "SCHEDULES", "RunOptions", "TrainConfig"]


@dataclass(frozen=True)
class RunOptions:
    """Run-time options, kept apart from model and training configs.

    seed: one seed in; every generator (split, initialisation, batches, noise) derives from it.
    device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
    threads: CPU threads for torch (None: torch's default).
    progress: show progress bars.
    checkpoint_every: with a checkpoint folder, save the resumable state every this many
        epochs (and at every boundary between phases)...
    checkpoint_seconds: ...but at most once in this many seconds (0: no limit). A save
        writes the weights, the kept best weights and Adam's moments (59 MB for U-AutoRec on
        ML-1M: after every epoch, 38.6 s of the notebook recipe's 500 epochs on our machine,
        docs/performance.md); an interruption loses the epochs since the last save.
    compile: ``off`` (eager) or a ``torch.compile`` mode (``default``, ``reduce-overhead``:
        CUDA graphs on CUDA, ...) for the dense training step; the same results to float32
        rounding, fewer kernel launches. Sparse-engine, L-BFGS and noisy steps stay eager
        (see :mod:`aerec.training.compiled`).
    """

    seed: int = 42
    device: str = "auto"
    threads: int | None = None
    progress: bool = False
    checkpoint_every: int = 1
    checkpoint_seconds: float = 30.0
    compile: str = "off"

    def __post_init__(self) -> None:
        check_mode(self.compile)
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")
        if not self.checkpoint_seconds >= 0:  # NaN too
            raise ConfigError(f"checkpoint_seconds must be >= 0, got {self.checkpoint_seconds}")

    def torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except RuntimeError:
            raise ConfigError(f"unknown device {self.device!r}; use auto, cpu or cuda") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError("device 'cuda' asked for but CUDA is not available; use --device cpu")
        return device
