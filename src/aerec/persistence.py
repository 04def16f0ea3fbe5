"""Save and load a fitted recommender: safetensors weights, JSON config and vocabularies.

A folder holds ``model.safetensors`` (the weights, the training input matrix and the side
features: tensors only, loaded without unpickling), ``model.json`` (format, model and
training configs, shapes, scale) and ``vocab.json`` (raw ids of users and items, item titles).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from aerec.config import from_dict, to_dict
from aerec.data.matrix import RatingMatrix
from aerec.data.side import SideInfo
from aerec.data.types import RatingScale, Vocab
from aerec.errors import AerecError, CheckpointError
from aerec.io import atomic_write, write_json
from aerec.models.registry import entry
from aerec.plan import TrainConfig
from aerec.training import RunOptions

FORMAT = "aerec-model-1"
WEIGHTS, CONFIG, VOCAB = "model.safetensors", "model.json", "vocab.json"


def save_recommender(rec, folder: Path) -> Path:
    csr = rec.matrix_.csr
    tensors = {
        f"model.{k}": v.detach().cpu().contiguous() for k, v in rec.model_.state_dict().items()
    }
    tensors |= {
        "input.indptr": torch.as_tensor(csr.indptr.astype(np.int64)),
        "input.indices": torch.as_tensor(csr.indices.astype(np.int64)),
        "input.data": torch.as_tensor(csr.data.astype(np.float32)),
    }
    if rec.side_ is not None:
        tensors["side"] = torch.as_tensor(np.ascontiguousarray(rec.side_.matrix))
    atomic_write(folder / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
    meta = {
        "format": FORMAT,
        "model": {"name": rec.config.name, **to_dict(rec.config)},
        "train": [to_dict(phase) for phase in rec.plan],
        "shape": list(csr.shape),
        "based": rec.matrix_.based,
        "scale": [rec.scale_.low, rec.scale_.high],
        "side_names": None if rec.side_ is None else list(rec.side_.names),
        "best_epoch": getattr(rec, "best_epoch_", None),
    }
    titles = getattr(rec, "item_titles_", None)
    vocab = {
        "users": _json_ids(rec.user_vocab_.ids),
        "items": _json_ids(rec.item_vocab_.ids),
        "item_titles": None if titles is None else [str(t) for t in titles],
    }
    write_json(folder / VOCAB, vocab)
    write_json(folder / CONFIG, meta)
    return folder


def load_recommender(cls, folder: Path, device: str = "auto"):
    meta, vocab, tensors = _read(folder)
    try:
        model_values = dict(meta["model"])
        name = model_values.pop("name")
        config = from_dict(entry(name).config, model_values, "model.json model")
        phases = meta["train"] if isinstance(meta["train"], list) else [meta["train"]]
        plan = tuple(from_dict(TrainConfig, phase, "model.json train") for phase in phases)
        n_rows, n_cols = meta["shape"]
        csr = sp.csr_array(
            (
                tensors["input.data"].numpy(),
                tensors["input.indices"].numpy(),
                tensors["input.indptr"].numpy(),
            ),
            shape=(n_rows, n_cols),
        )
        side = None
        if meta["side_names"] is not None:
            side = SideInfo(tensors["side"].numpy(), tuple(meta["side_names"]))
        rec = cls.from_parts(
            config,
            plan,
            RunOptions(device=device),
            RatingMatrix(csr, meta["based"]),
            side,
            Vocab(np.asarray(vocab["users"])),
            Vocab(np.asarray(vocab["items"])),
            RatingScale(*meta["scale"]),
            {k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
        )
    except AerecError:
        raise
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(
            f"{folder} holds an inconsistent or foreign model ({exc}); "
            "train it again with aerec train"
        ) from None
    rec.best_epoch_ = meta.get("best_epoch")
    if vocab.get("item_titles") is not None:
        rec.item_titles_ = np.asarray(vocab["item_titles"], dtype=object)
    return rec


def _read(folder: Path):
    if not folder.is_dir():
        raise CheckpointError(f"model folder {folder} does not exist; train one with aerec train")
    try:
        meta = json.loads((folder / CONFIG).read_text())
        vocab = json.loads((folder / VOCAB).read_text())
        tensors = load_file(str(folder / WEIGHTS))
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"{folder} is missing {Path(exc.filename).name}; "
            "it is not a complete aerec model folder"
        ) from None
    except (ValueError, SafetensorError, OSError) as exc:
        raise CheckpointError(
            f"{folder} has a corrupt model file ({exc}); train it again with aerec train"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{folder / CONFIG} is not an aerec model (format {FORMAT})")
    return meta, vocab, tensors


def _json_ids(ids: np.ndarray) -> list:
    return ids.tolist()
