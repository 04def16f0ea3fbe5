"""The optimizers and schedules a phase names, over the parameters it trains."""

from __future__ import annotations

import torch
from torch import nn

from aerec.errors import ConfigError
from aerec.ops.layout import is_column_major
from aerec.plan import TrainConfig


class LBFGS(torch.optim.LBFGS):
    """torch's L-BFGS (strong-Wolfe line search), flattening gradients with ``reshape`` so
    that a parameter stored column-major (see :mod:`aerec.ops.layout`) works too; torch's
    ``view(-1)`` refuses a non-contiguous gradient. Same order, same values."""

    def _gather_flat_grad(self) -> torch.Tensor:
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(p.new_zeros(p.numel()))
            else:
                views.append(p.grad.reshape(-1))
        return torch.cat(views, 0)


class _StorageOrder:
    """Adam (or AdamW) handing the fused kernel a column-major parameter (see
    :mod:`aerec.ops.layout`), with its gradient and moments, as their contiguous transposes:
    given the column-major tensors themselves, torch's fused CPU Adam allocated a weight-sized
    temporary on every step (a page fault per 4 KiB of the weight; benchmarks/adam_faults.py).
    The update is elementwise, so the same numbers come out, bit for bit."""

    def _init_group(self, group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps):
        has_complex = super()._init_group(
            group, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps
        )
        lists = [params, grads, exp_avgs, exp_avg_sqs]
        if group["amsgrad"]:
            lists.append(max_exp_avg_sqs)
        for i in range(len(params)):
            if all(is_column_major(tensors[i]) for tensors in lists):
                for tensors in lists:
                    tensors[i] = tensors[i].t()
        return has_complex


class Adam(_StorageOrder, torch.optim.Adam):
    pass


class AdamW(_StorageOrder, torch.optim.AdamW):
    pass


class Sweeps(torch.optim.Optimizer):
    """The optimizer of an ``als`` phase: the model's ``als_epoch`` hook updates the weights
    in closed form, so this one only carries the phase's lr and a (stateless) state dict for
    checkpoints; its ``step`` does nothing."""

    def __init__(self, params, lr: float) -> None:
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        return None


def trained_parameters(model: nn.Module, phase: TrainConfig) -> list[nn.Parameter]:
    """The parameters ``phase`` trains: all, or the set the model names ``phase.params``."""
    if phase.params == "all":
        return list(model.parameters())
    if not hasattr(model, "parameter_set"):
        raise ConfigError(
            f"phase {phase.name!r} trains params {phase.params!r}, but this model has no "
            "parameter sets; use params = 'all'"
        )
    return list(model.parameter_set(phase.params))


def build_optimizer(model: nn.Module, phase: TrainConfig) -> torch.optim.Optimizer:
    """Adam applies the model's L2 penalty as weight decay where the model offers it
    (``decay_groups``: the same objective, no graph term); AdamW and L-BFGS take the penalty
    in the objective (see ``Trainer._objective``)."""
    params = trained_parameters(model, phase)
    if phase.optimizer == "als":
        if not hasattr(model, "als_epoch"):
            raise ConfigError(
                f"phase {phase.name!r} uses optimizer 'als', which this model has no sweeps "
                "for; use optimizer 'adam'"
            )
        return Sweeps(params, phase.lr)
    if phase.optimizer == "lbfgs":
        return LBFGS(
            params,
            lr=phase.lr,
            max_iter=phase.iterations,
            history_size=phase.history_size,
            line_search_fn="strong_wolfe",
        )
    if phase.optimizer == "adamw":
        return AdamW(params, lr=phase.lr, weight_decay=phase.weight_decay, fused=True)
    if hasattr(model, "decay_groups"):
        chosen = {id(p) for p in params}
        groups = [
            {**g, "params": [p for p in g["params"] if id(p) in chosen]}
            for g in model.decay_groups(phase.weight_decay)
        ]
        return Adam(_merged([g for g in groups if g["params"]]), lr=phase.lr, fused=True)
    return Adam(params, lr=phase.lr, weight_decay=phase.weight_decay, fused=True)


def _merged(groups: list[dict]) -> list[dict]:
    """One group per set of hyper-parameters, in the order they first appear: fused Adam
    runs one kernel per group, and its update is elementwise, so the same bits in fewer
    calls (U-AutoRec's 4 groups become 2, the Deep AE's 8 become 2)."""
    merged: dict[tuple, dict] = {}
    for group in groups:
        key = tuple(sorted((k, v) for k, v in group.items() if k != "params"))
        merged.setdefault(key, {**group, "params": []})["params"].extend(group["params"])
    return list(merged.values())


def build_scheduler(optimizer: torch.optim.Optimizer, phase: TrainConfig):
    if phase.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=max(phase.patience // 4, 1)
        )
    if phase.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=phase.epochs)
    return None
