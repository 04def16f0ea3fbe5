"""Model configs: one frozen, validated dataclass per model family, and the registry.

A config fixes the architecture and the input (which side is a row, the fill of unobserved
cells, side information). How it is trained lives in :class:`aerec.training.TrainConfig`;
where and with which seed in :class:`aerec.training.RunOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aerec.data.matrix import InputFill
from aerec.errors import ConfigError
from aerec.models.activations import check_activation

SIDE_MODES = ("none", "input", "every_layer")


@dataclass(frozen=True)
class Architecture:
    """What :class:`aerec.models.AutoEncoder` needs; both families reduce to it."""

    layers: tuple[int, ...]
    activation: str
    last_activation: str
    dropout: float
    l2_encoder: float
    l2_decoder: float
    tied: bool


@dataclass(frozen=True)
class ModelConfig:
    """Fields every model shares.

    based: ``user`` (a row is a user's ratings) or ``item`` (a row is an item's ratings).
    input_fill: unobserved input cells hold ``constant`` (fill_value), ``user_mean`` or
        ``item_mean``; targets are always the observed ratings only.
    fill_value: the constant for ``input_fill = "constant"``, 0..5.
    side: side information: ``none``; ``input`` (concatenated to the input, output unchanged;
        user features for user-based, item genres for item-based models); ``every_layer``
        (fed to every layer, Strub et al. 2016).
    """

    name: ClassVar[str] = ""
    based: str = "user"
    input_fill: str = "constant"
    fill_value: float = 0.0
    side: str = "none"

    def __post_init__(self) -> None:
        if self.based not in ("user", "item"):
            raise ConfigError(f"based must be 'user' or 'item', got {self.based!r}")
        if self.side not in SIDE_MODES:
            raise ConfigError(f"unknown side mode {self.side!r}; choose one of {SIDE_MODES}")
        self.fill  # noqa: B018 - validates input_fill and fill_value
        arch = self.architecture()
        check_activation(arch.activation)
        check_activation(arch.last_activation)
        if not arch.layers or any(size < 1 for size in arch.layers):
            raise ConfigError(f"layers must be a non-empty list of positive sizes: {arch.layers}")
        if not 0.0 <= arch.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {arch.dropout}")
        if min(arch.l2_encoder, arch.l2_decoder) < 0:
            raise ConfigError("l2 must be >= 0")
        if arch.tied and tuple(reversed(arch.layers)) != arch.layers:
            raise ConfigError(f"tied weights need symmetric layers, got {list(arch.layers)}")
        if arch.tied and self.side == "every_layer":
            raise ConfigError("tied weights cannot be combined with side = 'every_layer'")

    @property
    def fill(self) -> InputFill:
        return InputFill(self.input_fill, self.fill_value)

    def architecture(self) -> Architecture:
        raise NotImplementedError


@dataclass(frozen=True)
class AutoRecConfig(ModelConfig):
    """AutoRec (Sedhain et al. 2015): one hidden layer; I-AutoRec with ``based = "item"``.

    hidden: size of the hidden layer (paper: 500).
    activation / last_activation: encoder / decoder activation (paper: sigmoid / identity).
    l2: L2 penalty ``l2 * sum(W**2)`` on both weight matrices (Keras' ``l2(l2)``); 2e-4
        has the best validation RMSE for I-AutoRec on ML-1M of those tried (docs/results.md).
    """

    name: ClassVar[str] = "autorec"
    based: str = "item"
    hidden: int = 500
    activation: str = "sigmoid"
    last_activation: str = "identity"
    l2: float = 2e-4

    def architecture(self) -> Architecture:
        return Architecture(
            (self.hidden,), self.activation, self.last_activation, 0.0, self.l2, self.l2, tied=False
        )


@dataclass(frozen=True)
class DeepAutoRecConfig(ModelConfig):
    """Deep AutoRec (Kuchaiev & Ginsburg 2017), the notebook's ``Deep_AE_model``.

    layers: hidden sizes; the middle one is the latent code (notebook: [256, 512, 256]).
    activation: every hidden layer; last_activation: the output layer (notebook: selu/selu).
    dropout: dropout rate on the latent code (notebook: 0.8).
    l2_encoder / l2_decoder: L2 on encoder (up to the code) and decoder weights.
    tied: decoder weights are the transposed encoder weights (needs symmetric layers).
    """

    name: ClassVar[str] = "deep"
    layers: tuple[int, ...] = (256, 512, 256)
    activation: str = "selu"
    last_activation: str = "selu"
    dropout: float = 0.8
    l2_encoder: float = 0.001
    l2_decoder: float = 0.001
    tied: bool = False

    def architecture(self) -> Architecture:
        return Architecture(
            tuple(self.layers),
            self.activation,
            self.last_activation,
            self.dropout,
            self.l2_encoder,
            self.l2_decoder,
            self.tied,
        )


MODELS: dict[str, type[ModelConfig]] = {"autorec": AutoRecConfig, "deep": DeepAutoRecConfig}


def model_config(name: str, **values) -> ModelConfig:
    """The config of model ``name`` with ``values`` overriding its defaults."""
    from aerec.config import from_dict

    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return from_dict(MODELS[name], values, where=f"model ({name})")
