"""The model registry: per model, everything the rest of aerec needs to know about it.

A model is one module that defines its config class, its ``torch.nn.Module`` and one
:class:`ModelEntry`, registered here with :func:`register`. The CLI's ``--model`` choices and
options, TOML parsing, ``aerec tune``, the recommender, persistence and the conformance suite
all read the registry; none of them names a model.

:func:`assemble` is the one public assembly step: a config and the training data give the
module, its input batcher and its side information, for ``fit``, ``load``, the benchmarks and
the tests alike.

The module contract (what the trainer and the predictor call):

- ``forward(x, side=None, generator=None, rows=None)``: dense input rows in, dense rows out
  (``rows``: the rows' indices in the training matrix, for models that look beyond the row);
- ``forward_cells(inputs, outputs, fill_row, fill_col, side, generator)``: the same function
  on the observed cells only, for models with the ``sparse`` capability;
- ``penalty()``: the regulariser added to the objective;
- optional: ``decay_groups(weight_decay)`` (Adam applies the penalty as weight decay, the same
  objective without a graph term), ``parameter_set(name)`` (the parameters a phase trains),
  ``start_phase(name)`` (per-phase computation) and ``sparse_in_phase(name)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from aerec.data.matrix import RatingMatrix
from aerec.data.side import SideInfo, item_features, user_features
from aerec.data.types import EncodedData
from aerec.errors import ConfigError
from aerec.models.config import ModelConfig
from aerec.ops.batches import RowBatcher
from aerec.plan import Plan, as_plan


@dataclass(frozen=True)
class Capabilities:
    """What a model can do; the CLI and the API refuse the rest in one line.

    based: the orientations it trains in (``user``: a row is a user's ratings).
    side: it takes side information.
    sparse: it has a sparse (observed-cells) computation for the CPU engine.
    fold_in: it predicts for a new user from their ratings without retraining (user-based).
    """

    based: tuple[str, ...] = ("user", "item")
    side: bool = True
    sparse: bool = True
    fold_in: bool = True


@dataclass(frozen=True)
class Recipe:
    """A named way to train a model: model values over the config's defaults, and a plan."""

    plan: Plan
    model: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "plan", as_plan(self.plan))


@dataclass(frozen=True)
class ModelData:
    """What a module is built from: the training matrix in the model's orientation (rows are
    users for a user-based model, items for an item-based one) and the rows' side features."""

    matrix: RatingMatrix
    side: SideInfo | None = None

    @property
    def n_side(self) -> int:
        return 0 if self.side is None else self.side.n_features


@dataclass(frozen=True)
class ModelEntry:
    """One registered model.

    name: the ``--model`` name and TOML ``[model] name``.
    config: its frozen config class (a :class:`ModelConfig`).
    build: ``build(config, data, generator)`` gives the untrained ``nn.Module`` on the CPU.
    recipes: named recipes; ``default`` is the plan aerec trains with unless told otherwise.
    capabilities: see :class:`Capabilities`.
    examples: small model values (over the config's defaults) the conformance suite trains.
    summary: one line for ``--help`` and the docs.
    """

    name: str
    config: type[ModelConfig]
    build: Callable[[ModelConfig, ModelData, torch.Generator | None], nn.Module]
    recipes: Mapping[str, Recipe]
    capabilities: Capabilities = Capabilities()
    examples: tuple[Mapping[str, Any], ...] = ()
    summary: str = ""

    def recipe(self, name: str = "default") -> Recipe:
        if name not in self.recipes:
            raise ConfigError(
                f"model {self.name!r} has no recipe {name!r}; choose one of "
                f"{', '.join(self.recipes)}"
            )
        return self.recipes[name]

    @property
    def default_plan(self) -> Plan:
        return self.recipes["default"].plan

    def check(self, config: ModelConfig) -> None:
        """Refuse a config this model cannot train, in one line."""
        caps = self.capabilities
        if config.based not in caps.based:
            raise ConfigError(
                f"model {self.name!r} is {' or '.join(caps.based)}-based only; "
                f"use based = {caps.based[0]!r}"
            )
        if config.side != "none" and not caps.side:
            raise ConfigError(f"model {self.name!r} takes no side information; use side = 'none'")


MODELS: dict[str, ModelEntry] = {}
"""Every registered model by name, in the order registered."""


def register(entry: ModelEntry) -> ModelEntry:
    """Add ``entry`` to :data:`MODELS` (a test may register a model of its own)."""
    if entry.config.name != entry.name:
        raise ValueError(
            f"{entry.config.__name__}.name is {entry.config.name!r}, not {entry.name!r}"
        )
    if "default" not in entry.recipes:
        raise ValueError(f"model {entry.name!r} needs a 'default' recipe")
    MODELS[entry.name] = entry
    return entry


def entry(name: str) -> ModelEntry:
    """The registered model ``name``; a one-line error for any other."""
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def model_config(name: str, **values) -> ModelConfig:
    """The config of model ``name`` with ``values`` overriding its defaults."""
    from aerec.config import from_dict

    config = from_dict(entry(name).config, values, where=f"model ({name})")
    entry(name).check(config)
    return config


def default_plan(name: str) -> Plan:
    return entry(name).default_plan


@dataclass
class Assembly:
    """A model ready to train or predict: the module, its input batcher, its side features."""

    model: nn.Module
    inputs: RowBatcher
    side: SideInfo | None


def side_info(config: ModelConfig, data: EncodedData) -> SideInfo | None:
    """The side features ``config`` asks for, aligned with its rows (users or items)."""
    if config.side == "none":
        return None
    side = user_features(data) if config.based == "user" else item_features(data)
    if side is None:
        raise ConfigError(
            f"side = {config.side!r} needs "
            f"{'user' if config.based == 'user' else 'item'} side "
            f"information, which {data.name} does not have; use side = 'none'"
        )
    return side


def assemble(
    config: ModelConfig,
    matrix: RatingMatrix,
    side: SideInfo | None,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Assembly:
    """The module of ``config`` built for ``matrix`` (the training ratings, oriented as
    ``config.based``) and ``side``, moved to ``device``, with its input batcher."""
    model_entry = entry(config.name)
    model_entry.check(config)
    if matrix.based != config.based:
        raise ValueError(f"matrix is {matrix.based}-based, the config {config.based}-based")
    inputs = RowBatcher(matrix, device, config.fill, None if side is None else side.matrix)
    model = model_entry.build(config, ModelData(matrix, side), generator)
    return Assembly(model.to(inputs.device), inputs, side)


def assemble_data(
    config: ModelConfig,
    data: EncodedData,
    train,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> Assembly:
    """:func:`assemble` from an encoded data set and its training interactions."""
    matrix = RatingMatrix.build(train, data.n_users, data.n_items, config.based)
    return assemble(config, matrix, side_info(config, data), device, generator)


__all__ = [
    "MODELS",
    "Assembly",
    "Capabilities",
    "ModelData",
    "ModelEntry",
    "Recipe",
    "assemble",
    "assemble_data",
    "default_plan",
    "entry",
    "model_config",
    "register",
    "side_info",
]
