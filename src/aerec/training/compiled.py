"""The dense training step compiled with ``torch.compile`` (``RunOptions.compile``).

An eager dense step launches a hundred-odd small kernels (forward, masked loss, backward,
clipped squared error); on a fast GPU an ML-1M epoch is bound by launching them, not by
computing. With ``RunOptions.compile`` set to a ``torch.compile`` mode, the step's forward,
masked loss, objective and clipped squared error are one compiled function (TorchInductor;
its backward is compiled with it by AOTAutograd): on CUDA, mode ``reduce-overhead`` replays
both as CUDA graphs, so a step is a few launches (the batch densified, the two graphs, the
fused Adam update). On CPU inductor compiles C++ kernels (gcc); ``reduce-overhead`` is then
the same as ``default``.

The results are those of the eager step to float32 rounding, not to the bit (inductor fuses
and orders the sums differently): ``tests/training/test_compiled.py`` trains both and compares.
A step is compiled where it is a plain dense step: an Adam or AdamW phase on the dense engine,
one process, no input noise, no re-feeding and no code dropout (those draw from a
``torch.Generator``, which a compiled graph does not take). Elsewhere the step runs eagerly:
:func:`why_eager` says why. The first step of each batch shape compiles (seconds to a minute);
shapes are static, so an epoch compiles at most twice (the full batches, the last one).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from aerec.errors import ConfigError
from aerec.training.losses import Loss, masked_se

COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
"""``off`` (eager, the default) or the ``torch.compile`` mode of the dense step."""


def check_mode(mode: str) -> str:
    if mode not in COMPILE_MODES:
        choices = ", ".join(COMPILE_MODES)
        raise ConfigError(f"unknown compile mode {mode!r}; choose one of {choices}")
    return mode


def why_eager(trainer, phase) -> str:
    """Why ``phase`` of ``trainer`` runs its steps eagerly ("" when it compiles them)."""
    if trainer.options.compile == "off":
        return "compile is off"
    reasons = (
        (trainer.sparse, "the sparse engine"),
        (phase.optimizer == "lbfgs", "an L-BFGS phase"),
        (trainer.world.size > 1, "several processes"),
        (phase.noise_level > 0 and phase.noise != "none", "input noise"),
        (phase.refeed, "re-feeding"),
        (getattr(trainer.model, "code_dropout", 0.0) > 0, "code dropout"),
    )
    return next((why for hit, why in reasons if hit), "")


def dense_objective(model, net, loss: Loss, low: float, high: float, penalty: bool) -> Callable:
    """The dense step up to the backward pass, as ``Trainer`` computes it: (objective,
    loss total, its number of terms, squared error of clipped predictions, observed cells)."""

    def objective(x, target, mask, side, rows):
        pred = net(x, side, None, rows=rows)
        total, n = loss.dense(pred, target, mask)
        scale = (1.0 / n.clamp(min=1).double()).float() if torch.is_tensor(n) else 1.0 / max(n, 1)
        value = total * scale
        if penalty:
            value = value + model.penalty()
        with torch.no_grad():
            se = masked_se(pred.clamp(low, high), target, mask).sum()
        return value, total.detach(), n, se, mask.sum().long()

    return objective


class CompiledStep:
    """One compiled dense step of ``trainer``'s current phase: see the module docstring."""

    def __init__(self, trainer, phase, mode: str) -> None:
        self.trainer = trainer
        scale = trainer.scale
        fn = dense_objective(
            trainer.model,
            trainer.net,
            Loss(phase.loss),
            scale.low,
            scale.high,
            trainer.penalty_in_graph,
        )
        self.fn = torch.compile(fn, mode=None if mode == "default" else mode, dynamic=False)
        self.graphs = "cudagraphs" not in mode and mode in ("reduce-overhead", "max-autotune")
        self.graphs = self.graphs and trainer.train.device.type == "cuda"

    def step(self, batch: torch.Tensor, n_cells: int | None) -> tuple:
        """``Trainer._step_on``'s step and result, the objective from the compiled graph."""
        trainer = self.trainer
        x, target, mask = trainer.train.dense(batch, n_cells)
        if self.graphs:  # a new step: the graph's outputs of the last one may be overwritten
            torch.compiler.cudagraph_mark_step_begin()
        value, total, n, se, cells = self.fn(x, target, mask, trainer.train.side_of(batch), batch)
        trainer._step(value)
        return total, n, se, cells


def compiled_step(trainer, phase) -> CompiledStep | None:
    """The compiled step for ``phase``, or None where it runs eagerly (:func:`why_eager`)."""
    if why_eager(trainer, phase):
        return None
    return CompiledStep(trainer, phase, trainer.options.compile)
