"""How a model is trained (TrainConfig) and where and with which seed (RunOptions)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aerec.errors import ConfigError
from aerec.training.corruption import check_noise

SCHEDULES = ("none", "plateau", "cosine")
ENGINES = ("auto", "dense", "sparse")
DENSE_ONLY_NOISES = ("gaussian",)
"""Noise on every input cell. Dropout noise also changes every cell, unless the input fill is
zero: then a dropped unobserved cell stays zero and only the observed ones change."""
LOSSES = ("row_mse", "mse")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; one trainer handles every model and variant.

    lr, weight_decay: Adam's learning rate and weight decay.
    batch_size: rows per mini-batch (the last, smaller batch is kept).
    epochs: the most epochs to run.
    patience: stop after this many epochs without a better validation RMSE (0 = never);
        the weights of the best epoch are restored.
    schedule: learning-rate schedule: ``none``, ``plateau`` (halve after patience/4 flat
        epochs) or ``cosine`` (to zero over ``epochs``).
    loss: ``row_mse`` (the notebook's: mean over rows of each row's masked MSE) or ``mse``
        (masked MSE over all observed cells of the batch).
    noise, noise_level: input corruption for denoising (see :mod:`aerec.training.corruption`).
    refeed: dense re-feeding (Kuchaiev & Ginsburg 2017): after each step, feed the output
        back as input and take a second step towards reproducing it.
    eval_batch_size: rows per batch when predicting.
    engine: ``dense`` (dense mini-batches, the notebook's method), ``sparse`` (only the
        observed cells: the same function, computed from the sparse input to the observed
        outputs; not with gaussian or dropout noise or re-feeding, which need every cell) or
        ``auto`` (sparse on CPU where it applies, dense otherwise).
    """

    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 256
    epochs: int = 200
    patience: int = 20
    schedule: str = "none"
    loss: str = "row_mse"
    noise: str = "none"
    noise_level: float = 0.0
    refeed: bool = False
    eval_batch_size: int = 1024
    engine: str = "auto"

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.weight_decay < 0:
            raise ConfigError("lr must be > 0 and weight_decay >= 0")
        if self.batch_size < 1 or self.epochs < 1 or self.patience < 0:
            raise ConfigError("batch_size and epochs must be >= 1, patience >= 0")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        check_noise(self.noise, self.noise_level)
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine {self.engine!r}; choose one of {ENGINES}")
        if self.engine == "sparse" and not self.sparse_applies(zero_fill=True):
            raise ConfigError(
                "engine 'sparse' cannot train with gaussian noise or re-feeding (they need "
                "every cell); use engine 'dense' or 'auto'"
            )

    def sparse_applies(self, zero_fill: bool) -> bool:
        """Whether a step needs the observed cells only: not with gaussian noise or
        re-feeding, nor with dropout noise on an input whose fill is not zero."""
        noisy = self.noise_level > 0 and (
            self.noise in DENSE_ONLY_NOISES or (self.noise == "dropout" and not zero_fill)
        )
        return not (noisy or self.refeed)

    def use_sparse(self, device: torch.device, zero_fill: bool = True) -> bool:
        """Whether this config trains on the observed cells only, on ``device``, for an
        input whose fill is zero (``zero_fill``) or not."""
        if self.engine == "auto":
            return self.sparse_applies(zero_fill) and device.type == "cpu"
        if self.engine == "sparse" and not self.sparse_applies(zero_fill):
            raise ConfigError(
                "engine 'sparse' cannot train with dropout noise on a non-zero input fill "
                "(it changes every cell); use engine 'dense' or 'auto', or input_fill "
                "'constant' with fill_value 0"
            )
        return self.engine == "sparse"


@dataclass(frozen=True)
class RunOptions:
    """Run-time options, kept apart from model and training configs.

    seed: one seed in; every generator (split, initialisation, batches, noise) derives from it.
    device: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
    threads: CPU threads for torch (None: torch's default).
    progress: show progress bars.
    checkpoint_every: with a checkpoint folder, save the resumable state every this many
        epochs; an interruption loses at most this many minus one epochs. Saving costs a
        copy of the weights and Adam's moments to disk, which dominates a fast GPU epoch.
    """

    seed: int = 42
    device: str = "auto"
    threads: int | None = None
    progress: bool = False
    checkpoint_every: int = 1

    def __post_init__(self) -> None:
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}")

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
