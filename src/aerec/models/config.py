"""The fields every model config shares, and the architecture of the autoencoder families.

A config fixes the architecture and the input (which side is a row, the fill of unobserved
cells, side information). Each model's own config class lives in its module
(:mod:`aerec.models.autorec`, :mod:`aerec.models.deep`, ...); how it is trained in
:mod:`aerec.plan`; where and with which seed in :class:`aerec.training.RunOptions`.
"""

from __future__ import annotations

import math
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
    binary: bool = False


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

    @property
    def fill(self) -> InputFill:
        return InputFill(self.input_fill, self.fill_value)


@dataclass(frozen=True)
class AutoEncoderConfig(ModelConfig):
    """The configs of the :class:`~aerec.models.AutoEncoder` families (AutoRec, Deep
    AutoRec): each reduces to one :class:`Architecture`, validated here."""

    def __post_init__(self) -> None:
        super().__post_init__()
        arch = self.architecture()
        check_activation(arch.activation)
        check_activation(arch.last_activation)
        if not arch.layers or any(size < 1 for size in arch.layers):
            raise ConfigError(f"layers must be a non-empty list of positive sizes: {arch.layers}")
        if not 0.0 <= arch.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {arch.dropout}")
        if not min(arch.l2_encoder, arch.l2_decoder) >= 0:  # also refuses NaN
            raise ConfigError(f"l2 must be >= 0, got {arch.l2_encoder}, {arch.l2_decoder}")
        if arch.tied and tuple(reversed(arch.layers)) != arch.layers:
            raise ConfigError(f"tied weights need symmetric layers, got {list(arch.layers)}")
        if arch.tied and self.side == "every_layer":
            raise ConfigError("tied weights cannot be combined with side = 'every_layer'")

    def architecture(self, data=None) -> Architecture:
        """The architecture, its L2 strengths resolved for the training ``data`` (a
        :class:`~aerec.models.registry.ModelData`; None: at ML-1M's size)."""
        raise NotImplementedError


def per_rating(value_at_ml1m: float, n_ml1m: int, n: int | None) -> float:
    """A penalty strength chosen on ML-1M, for a training set of ``n`` terms (ratings, or
    rows for a per-row loss). aerec's losses are means over their terms, so a penalty that
    stays the same against the *summed* loss (a fixed prior, whatever the data size) is
    ``value * n_ml1m / n``: stronger on smaller data. Chosen on validation on a 1-in-8 user
    sample of ML-1M (experiments/ours-defaults-by-size.toml, docs/results.md)."""
    return value_at_ml1m if not n else value_at_ml1m * n_ml1m / n


def by_sqrt_size(value_at_ml1m: float, n_ml1m: int, n: int | None) -> float:
    """A penalty strength chosen on ML-1M, for a training set of ``n`` terms, scaled by
    ``sqrt(n_ml1m / n)``: Deep AutoRec's rule, measured on validation on a 1-in-8 user sample
    of ML-1M, where ``value * n_ml1m / n`` regularised too much and the ML-1M value too little
    (experiments/ours-defaults-by-size.toml, docs/results.md). ``value`` itself at
    ``n = n_ml1m``, to the bit."""
    return value_at_ml1m if not n else value_at_ml1m * math.sqrt(n_ml1m / n)


ML1M_TRAIN_RATINGS = 855_179
"""ML-1M's training ratings under protocol A (90 % of 1,000,209, less 5 % for validation)."""
ML1M_USERS = 6_040
