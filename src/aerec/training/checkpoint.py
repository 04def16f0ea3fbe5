"""Resumable training checkpoints: one safetensors file (written atomically) holding the
tensors, with the trainer's state as JSON in its metadata. Never pickled.

The state records the phase of the plan and the position in it; the optimizer's state is that
of the current phase (Adam's moments, or L-BFGS's memory when it carries across rounds), its
tensors under ``optim.<param>.<slot>`` and, for a slot that is a list (L-BFGS's history),
``optim.<param>.<slot>.<k>``; its plain numbers in the JSON. A column-major tensor (the
first layer, its best copy and its Adam moments; see :mod:`aerec.ops.layout`) is stored as
its transpose, which is contiguous, and listed under ``transposed``: a contiguous copy of each
would have added four first-layer-sized buffers to the peak memory of every save (3.8 GB
for item-based AutoRec on the Netflix shape); loading transposes it back, to its layout.
"""

from __future__ import annotations

import json
from dataclasses import fields as dataclass_fields
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aerec.errors import CheckpointError
from aerec.io import atomic_write
from aerec.ops.layout import is_column_major, match_layouts

FORMAT = "aerec-checkpoint-3"  # 3: Adam groups merged by hyper-parameters
TENSORS = "checkpoint.safetensors"


def exists(folder: Path) -> bool:
    return (folder / TENSORS).is_file()


def save(folder: Path, model, optimizer, scheduler, state) -> None:
    """Write the model, optimizer, scheduler and trainer state; the JSON is written last."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    if state.best_weights is not None:
        tensors |= {f"best.{k}": v for k, v in state.best_weights.items()}
    opt = optimizer.state_dict()
    plain: dict[str, dict] = {}
    for pid, slots in opt["state"].items():
        for name, value in slots.items():
            key = f"optim.{pid}.{name}"
            if torch.is_tensor(value):
                tensors[key] = value
            elif isinstance(value, list):
                plain.setdefault(str(pid), {})[name] = {"list": len(value)}
                tensors |= {f"{key}.{k}": v for k, v in enumerate(value) if v is not None}
            else:
                plain.setdefault(str(pid), {})[name] = value
    tensors = {k: v.detach().cpu() for k, v in tensors.items()}
    transposed = sorted(k for k, v in tensors.items() if is_column_major(v))
    tensors = {k: v.t() if k in transposed else v.contiguous() for k, v in tensors.items()}
    fields = {f.name: getattr(state, f.name) for f in dataclass_fields(state)}
    fields.pop("best_weights")  # tensors, stored above
    meta = {
        "format": FORMAT,
        "transposed": transposed,
        **fields,
        "param_groups": opt["param_groups"],
        "optim_plain": plain,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
    }
    text = json.dumps(_plain(meta))  # infinities are fine here: read back by json.loads
    atomic_write(
        folder / TENSORS, lambda tmp: save_file(tensors, str(tmp), metadata={"aerec": text})
    )


def load(folder: Path, model):
    """Restore the model's weights from what :func:`save` wrote; returns the trainer state
    and what :func:`restore_optimizer` needs once the phase's optimizer is built."""
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
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{folder / TENSORS} is not an aerec checkpoint of this version; delete "
            f"{folder} to start afresh"
        )
    transposed = meta.get("transposed", [])  # absent: written before tensors were transposed
    if not isinstance(transposed, list) or not set(map(str, transposed)) <= set(tensors):
        raise CheckpointError(
            f"{folder / TENSORS} lists tensors it does not hold; delete {folder} to start afresh"
        )
    tensors |= {k: tensors[k].t() for k in transposed}
    try:
        model.load_state_dict(_prefixed(tensors, "model."))
    except RuntimeError:
        raise CheckpointError(
            f"{folder / TENSORS} holds another model's weights; resume "
            "with the options it was started with"
        ) from None
    names = TrainState.__dataclass_fields__
    state = TrainState(**{k: v for k, v in meta.items() if k in names and k != "best_weights"})
    state.best_weights = _prefixed(tensors, "best.") or None
    return state, (meta, _prefixed(tensors, "optim."))


def restore_optimizer(saved, optimizer, scheduler) -> None:
    """Load the optimizer and scheduler state :func:`load` returned."""
    meta, optim = saved
    slots: dict[int, dict] = {}
    for pid, plain in meta["optim_plain"].items():
        for name, value in plain.items():
            if isinstance(value, dict) and "list" in value:
                value = [optim.get(f"{pid}.{name}.{k}") for k in range(value["list"])]
            slots.setdefault(int(pid), {})[name] = value
    for key, value in optim.items():
        pid, name = key.split(".", 1)
        if "." not in name:
            slots.setdefault(int(pid), {})[name] = value
    try:
        optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(
            f"the checkpoint's optimizer state does not fit this run ({exc}); resume with "
            "the options it was started with"
        ) from None
    match_layouts(optimizer)  # fused Adam needs each slot in its parameter's layout
    if scheduler is not None and meta["scheduler"] is not None:
        scheduler.load_state_dict(meta["scheduler"])


def _plain(value):
    """JSON-ready: tensors of one element become numbers (L-BFGS keeps a few)."""
    if torch.is_tensor(value):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
