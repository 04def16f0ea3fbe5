"""Resumable training checkpoints: tensors in safetensors, the rest in JSON. Never pickled."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from aerec.errors import CheckpointError
from aerec.io import atomic_write, write_json

FORMAT = "aerec-checkpoint-1"
TENSORS, META = "checkpoint.safetensors", "checkpoint.json"


def exists(folder: Path) -> bool:
    return (folder / META).is_file() and (folder / TENSORS).is_file()


def save(folder: Path, model, optimizer, scheduler, state) -> None:
    """Write the model, optimizer, scheduler and trainer state; the JSON is written last."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if state.best_weights is not None:
        tensors |= {f"best.{k}": v for k, v in state.best_weights.items()}
    opt = optimizer.state_dict()
    for pid, slots in opt["state"].items():
        tensors |= {f"optim.{pid}.{name}": v for name, v in slots.items()}
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write(folder / TENSORS, lambda tmp: save_file(tensors, str(tmp)))
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
    write_json(folder / META, meta)


def load(folder: Path, model, optimizer, scheduler):
    """Restore what :func:`save` wrote; returns the trainer state."""
    from aerec.training.trainer import TrainState

    try:
        meta = json.loads((folder / META).read_text())
        tensors = load_file(str(folder / TENSORS), device=str(next(model.parameters()).device))
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(
            f"cannot read checkpoint in {folder}: {exc}; delete it to start afresh"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{folder / META} is not an aerec checkpoint")
    model.load_state_dict(_prefixed(tensors, "model."))
    best = _prefixed(tensors, "best.") or None
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in _prefixed(tensors, "optim.").items():
        pid, name = key.split(".", 1)
        slots.setdefault(int(pid), {})[name] = value
    optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})
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
