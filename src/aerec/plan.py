"""How a model is trained: a plan of phases, each a :class:`TrainConfig`.

A plan is a tuple of phases run in order. Each phase names its optimizer (Adam, AdamW, or
full-batch L-BFGS with a strong-Wolfe line search), its schedule, its epochs (for L-BFGS:
rounds of ``iterations`` iterations) and which of the model's parameters it trains. Its
stopping rule reads validation: the phase keeps its best epoch on the validation RMSE
(``keep = "best"``) or its last (``keep = "last"``, for a like-for-like run of a paper's
schedule); the next phase starts from the kept weights. :func:`refit_plan` turns a plan and
the history of a run of it into the plan that retrains for the epochs each phase kept.

This module sits below models and training: models name their default plans with it, the
trainer runs them. It holds configs only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from aerec.errors import ConfigError

SCHEDULES = ("none", "plateau", "cosine")
ENGINES = ("auto", "dense", "sparse")
LOSSES = ("row_mse", "mse", "sse")
OPTIMIZERS = ("adam", "adamw", "lbfgs", "als")
KEEP = ("best", "last")
NOISES = ("none", "gaussian", "dropout", "maskout")
DENSE_ONLY_NOISES = ("gaussian",)
"""Noise on every input cell. Dropout noise also changes every cell, unless the input fill is
zero: then a dropped unobserved cell stays zero and only the observed ones change."""


def check_noise(kind: str, level: float) -> None:
    if kind not in NOISES:
        raise ConfigError(f"unknown noise {kind!r}; choose one of {', '.join(NOISES)}")
    if kind in ("dropout", "maskout") and not 0.0 <= level < 1.0:
        raise ConfigError(f"{kind} noise level must be in [0, 1), got {level}")
    if kind == "gaussian" and level < 0:
        raise ConfigError(f"gaussian noise level must be >= 0, got {level}")


@dataclass(frozen=True)
class TrainConfig:
    """One phase of a training plan; a one-phase plan is today's whole training.

    lr, weight_decay: the optimizer's learning rate (L-BFGS: its step scale, 1 by default in
        L-BFGS phases) and weight decay.
    batch_size: rows per mini-batch (the last, smaller batch is kept); for L-BFGS the rows
        per chunk of the full-batch objective (memory only: the objective is the same).
    epochs: the most epochs to run; for L-BFGS, rounds.
    patience: stop after this many epochs without a better validation RMSE (0 = never).
    schedule: learning-rate schedule: ``none``, ``plateau`` (halve after patience/4 flat
        epochs) or ``cosine`` (to zero over ``epochs``); L-BFGS takes ``none``.
    loss: ``row_mse`` (the notebook's: mean over rows of each row's masked MSE), ``mse``
        (masked MSE over all observed cells of the batch) or ``sse`` (half the sum of squared
        errors over the observed cells, the objective of the AutoRec, Sparse FC and
        GLocal-K authors).
    noise, noise_level: input corruption for denoising (see :mod:`aerec.training.corruption`).
    refeed: dense re-feeding (Kuchaiev & Ginsburg 2017): after each step, feed the output
        back as input and take a second step towards reproducing it.
    eval_batch_size: rows per batch when predicting.
    engine: ``dense`` (dense mini-batches, the notebook's method), ``sparse`` (only the
        observed cells: the same function, computed from the sparse input to the observed
        outputs; not with gaussian or dropout noise or re-feeding, which need every cell) or
        ``auto`` (sparse on CPU where the model and the phase allow it, dense otherwise).
    name: the phase's name; the model may compute differently per phase (GLocal-K's
        ``finetune``).
    optimizer: ``adam``, ``adamw``, ``lbfgs`` (full batch, strong-Wolfe line search) or
        ``als`` (alternating least squares, for models with an ``als_epoch`` hook, such as
        the bias baseline: an epoch is one sweep; lr and batch_size are not used).
    params: which parameters the phase trains: ``all``, or a set the model names.
    iterations: L-BFGS iterations per epoch (round).
    history_size: L-BFGS memory (pairs of steps and gradient changes).
    restart: L-BFGS memory restarts every round (as the kernel models' authors ran it).
    keep: ``best`` (the epoch with the best validation RMSE) or ``last``.
    lrs: the learning rate of each epoch in turn, one per epoch, in place of ``lr`` and a
        schedule (None: ``lr`` and ``schedule``). A refit replays its selection run's
        learning rates this way (:func:`refit_plan`).
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
    name: str = "train"
    optimizer: str = "adam"
    params: str = "all"
    iterations: int = 20
    history_size: int = 10
    restart: bool = True
    keep: str = "best"
    lrs: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.lr > 0 or not self.weight_decay >= 0:  # also refuses NaN
            raise ConfigError(
                f"lr must be > 0 and weight_decay >= 0, got {self.lr}, {self.weight_decay}"
            )
        if self.batch_size < 1 or self.epochs < 1 or self.patience < 0:
            raise ConfigError("batch_size and epochs must be >= 1, patience >= 0")
        if self.eval_batch_size < 1 or self.iterations < 1 or self.history_size < 1:
            raise ConfigError("eval_batch_size, iterations and history_size must be >= 1")
        for value, allowed, what in (
            (self.schedule, SCHEDULES, "schedule"),
            (self.loss, LOSSES, "loss"),
            (self.engine, ENGINES, "engine"),
            (self.optimizer, OPTIMIZERS, "optimizer"),
            (self.keep, KEEP, "keep"),
        ):
            if value not in allowed:
                raise ConfigError(f"unknown {what} {value!r}; choose one of {allowed}")
        check_noise(self.noise, self.noise_level)
        if self.lrs is not None:
            self._check_lrs()
        if self.engine == "sparse" and not self.sparse_applies(zero_fill=True):
            raise ConfigError(
                "engine 'sparse' cannot train with gaussian noise or re-feeding (they need "
                "every cell); use engine 'dense' or 'auto'"
            )
        if self.optimizer in ("lbfgs", "als") and (
            self.noise_level > 0 or self.refeed or self.schedule != "none"
        ):
            raise ConfigError(
                f"an {self.optimizer} phase is deterministic full-batch optimisation: it takes "
                "no noise, re-feeding or schedule; use optimizer 'adam' for those"
            )

    def _check_lrs(self) -> None:
        lrs = self.lrs
        if len(lrs) != self.epochs:
            raise ConfigError(
                f"lrs must hold one learning rate for each of the {self.epochs} epochs, got "
                f"{len(lrs)}; give one per epoch or drop lrs"
            )
        bad = next((k for k, v in enumerate(lrs) if not (v > 0 and math.isfinite(v))), None)
        if bad is not None:  # also refuses NaN; names one value, not a list of hundreds
            raise ConfigError(
                f"every learning rate in lrs must be > 0 and finite, got {lrs[bad]} for epoch "
                f"{bad + 1}"
            )
        if self.schedule != "none" or self.optimizer not in ("adam", "adamw"):
            raise ConfigError(
                "lrs sets every epoch's learning rate: it takes schedule 'none' and optimizer "
                f"'adam' or 'adamw', got {self.schedule!r} and {self.optimizer!r}"
            )

    def sparse_applies(self, zero_fill: bool) -> bool:
        """Whether a step needs the observed cells only: not with gaussian noise or
        re-feeding, nor with dropout noise on an input whose fill is not zero."""
        noisy = self.noise_level > 0 and (
            self.noise in DENSE_ONLY_NOISES or (self.noise == "dropout" and not zero_fill)
        )
        return not (noisy or self.refeed)

    def use_sparse(self, device, zero_fill: bool = True, model_sparse: bool = True) -> bool:
        """Whether this phase trains on the observed cells only, on ``device`` (a
        torch.device), for an input whose fill is zero (``zero_fill``) or not, with a model
        that has a sparse computation (``model_sparse``) or not."""
        if self.engine == "auto":
            return model_sparse and self.sparse_applies(zero_fill) and device.type == "cpu"
        if self.engine == "sparse" and not self.sparse_applies(zero_fill):
            raise ConfigError(
                "engine 'sparse' cannot train with dropout noise on a non-zero input fill "
                "(it changes every cell); use engine 'dense' or 'auto', or input_fill "
                "'constant' with fill_value 0"
            )
        if self.engine == "sparse" and not model_sparse:
            raise ConfigError(
                f"engine 'sparse' is not available in phase {self.name!r} of this model; "
                "use engine 'dense' or 'auto'"
            )
        return self.engine == "sparse"


Plan = tuple[TrainConfig, ...]
"""Phases run in order; each starts from the weights the one before kept."""


def as_plan(train: TrainConfig | Plan) -> Plan:
    """A plan from one phase or a sequence of phases."""
    plan = (train,) if isinstance(train, TrainConfig) else tuple(train)
    if not plan:
        raise ConfigError("a training plan needs at least one phase")
    names = [phase.name for phase in plan]
    if len(set(names)) != len(names):
        raise ConfigError(f"phase names must differ, got {names}")
    return plan


def cap_epochs(plan: Plan, epochs: int) -> Plan:
    """Every phase capped at ``epochs`` epochs (a smoke test of a long recipe)."""
    return tuple(
        replace(
            phase,
            epochs=min(phase.epochs, epochs),
            lrs=None if phase.lrs is None else phase.lrs[:epochs],
        )
        for phase in plan
    )


def check_refit(plan: Plan) -> Plan:
    """``plan``, if a refit can choose its epochs: some phase keeps its best epoch."""
    plan = as_plan(plan)
    if not any(phase.keep == "best" for phase in plan):
        raise ConfigError(
            "a refit retrains for the epochs chosen on validation, but no phase of this plan "
            "keeps its best epoch (keep = 'best'); drop refit or keep the best epoch"
        )
    return plan


def refit_plan(plan: Plan, history: Sequence[Mapping]) -> Plan:
    """The plan that retrains a model for the epochs each phase of ``plan`` kept in a run
    whose per-epoch records are ``history``, to its last epoch (a refit on training and
    validation ratings together, which can then choose nothing).

    A phase that keeps its best epoch kept the first epoch of lowest validation RMSE (the
    trainer's rule); one that keeps its last kept every epoch it ran. Each refit phase runs
    that many epochs with ``keep = "last"``. A phase with a schedule replays the learning
    rate of each of those epochs from the records (``lrs``): a plateau schedule cannot read
    validation in a refit, and a cosine one would end sooner over fewer epochs."""
    plan = check_refit(plan)
    phases = []
    for phase in plan:
        # a one-phase run's records name no phase: all of them are its
        records = [r for r in history if r.get("phase", phase.name) == phase.name]
        if not records:
            raise ConfigError(
                f"the run to refit has no epoch of phase {phase.name!r}; it did not train "
                "to the end of its plan (rerun it)"
            )
        if phase.keep == "best":
            scores = [r.get("val_rmse") for r in records]
            if any(s is None for s in scores):
                raise ConfigError(
                    f"the run to refit has no validation RMSE in phase {phase.name!r}; a "
                    "refit needs a run with validation ratings (val_size > 0)"
                )
            kept = min(range(len(scores)), key=scores.__getitem__) + 1  # the first lowest
        else:
            kept = len(records)
        replay = {}
        if phase.schedule != "none":
            lrs = [r.get("lr") for r in records[:kept]]
            if any(lr is None for lr in lrs):
                raise ConfigError(
                    f"the run to refit has no learning rates in phase {phase.name!r} (an older "
                    "run); rerun it"
                )
            replay = {"schedule": "none", "lrs": tuple(lrs)}
        phases.append(replace(phase, epochs=kept, keep="last", patience=0, **replay))
    return tuple(phases)
