"""Resumable training checkpoints: one safetensors file (written atomically) holding the
tensors, with the trainer's state as JSON in its metadata. Never pickled."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aerec.errors import CheckpointError
from aerec.io import atomic_write
from aerec.ops.layout import match_layouts

FORMAT = "aerec-checkpoint-1"
TENSORS = "checkpoint.safetensors"


def exists(folder: Path) -> bool:
    return (folder / TENSORS).is_file()


def save(folder: Path, model, optimizer, scheduler, state) -> None:
    """Write the model, optimizer, scheduler and trainer state; the JSON is written last."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if state.best_weights is not None:
        tensors |= {f"best.{k}": v for k, v in state.best_weights.items()}
    opt = optimizer.state_dict()
    for pid, slots in opt["state"].items():
        tensors |= {f"optim.{pid}.{name}": v for name, v in slots.items()}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    meta = {
        "format": FORMAT,
        "epoch": state.epoch,
        "history": state.history,
        "best_epoch": state.best_epoch,
        "best_val_rmse": state.best_val_rmse,
        "bad_epochs": state.bad_epochs,
        "stopped": state.stopped,
        "param_groups": opt["param_groups"],
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
    }
    text = json.dumps(meta)  # infinities are fine here: read back by json.loads
    atomic_write(
        folder / TENSORS, lambda tmp: save_file(tensors, str(tmp), metadata={"aerec": text})
    )


def load(folder: Path, model, optimizer, scheduler):
    """Restore what :func:`save` wrote; returns the trainer state."""
    from aerec.training.trainer import TrainState

    device = str(next(model.parameters()).device)
    try:
        with safe_open(str(folder / TENSORS), framework="pt", device=device) as fh:
            meta = json.loads((fh.metadata() or {}).get("aerec", "{}"))
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(
            f"cannot read checkpoint in {folder}: {exc}; delete it to start afresh"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{folder / TENSORS} is not an aerec checkpoint")
    try:
        model.load_state_dict(_prefixed(tensors, "model."))
    except RuntimeError:
        raise CheckpointError(
            f"{folder / TENSORS} holds another model's weights; resume "
            "with the options it was started with"
        ) from None
    best = _prefixed(tensors, "best.") or None
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in _prefixed(tensors, "optim.").items():
        pid, name = key.split(".", 1)
        slots.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})
    match_layouts(optimizer)  # fused Adam needs each slot in its parameter's layout
    if scheduler is not None and meta["scheduler"] is not None:
        scheduler.load_state_dict(meta["scheduler"])
    return TrainState(
        epoch=meta["epoch"],
        history=meta["history"],
        best_epoch=meta["best_epoch"],
        best_val_rmse=meta["best_val_rmse"],
        best_weights=best,
        bad_epochs=meta["bad_epochs"],
        stopped=meta["stopped"],
    )


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
