"""Deep AutoRec (Kuchaiev & Ginsburg 2017), the notebook's ``Deep_AE_model``.

One module, one registry entry: the config, the recipe and the entry. The network is the
shared :class:`~aerec.models.autoencoder.AutoEncoder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aerec.models.autoencoder import build_autoencoder
from aerec.models.config import ML1M_USERS, Architecture, AutoEncoderConfig, by_sqrt_size
from aerec.models.registry import Capabilities, ModelEntry, Recipe, register
from aerec.plan import TrainConfig


@dataclass(frozen=True)
class DeepAutoRecConfig(AutoEncoderConfig):
    """Deep AutoRec (Kuchaiev & Ginsburg 2017), the notebook's ``Deep_AE_model``.

    layers: hidden sizes; the middle one is the latent code (notebook: [256, 512, 256]).
    activation: every hidden layer; last_activation: the output layer (notebook: selu/selu).
    dropout: dropout rate on the latent code (notebook: 0.8).
    l2_encoder / l2_decoder: L2 on encoder (up to the code) and decoder weights; None: 1e-3
        times the square root of ML-1M's 6,040 users over this data's training rows (chosen
        on validation at an eighth of ML-1M's users; 1e-3 on ML-1M).
    tied: decoder weights are the transposed encoder weights (needs symmetric layers).
    """

    name: ClassVar[str] = "deep"
    layers: tuple[int, ...] = (256, 512, 256)
    activation: str = "selu"
    last_activation: str = "selu"
    dropout: float = 0.8
    l2_encoder: float | None = None
    l2_decoder: float | None = None
    tied: bool = False

    def architecture(self, data=None) -> Architecture:
        rows = None if data is None else int((data.matrix.row_counts() > 0).sum())
        encoder, decoder = (
            by_sqrt_size(1e-3, ML1M_USERS, rows) if value is None else value
            for value in (self.l2_encoder, self.l2_decoder)
        )
        return Architecture(
            tuple(self.layers),
            self.activation,
            self.last_activation,
            self.dropout,
            encoder,
            decoder,
            self.tied,
        )


DEFAULT = TrainConfig(lr=1e-3, schedule="cosine", epochs=80, patience=0)
"""Learning rate 1e-3 decayed to zero over 80 epochs (cosine) matches the notebook's 500
epochs at 1e-4 in a sixth of the time (a constant 1e-3 overfits; docs/results.md)."""

ENTRY = register(
    ModelEntry(
        name="deep",
        config=DeepAutoRecConfig,
        build=build_autoencoder,
        recipes={"default": Recipe((DEFAULT,), summary="Adam 1e-3, cosine over 80 epochs")},
        capabilities=Capabilities(),
        examples=(
            {"layers": (16, 8, 16)},
            {"layers": (16, 8, 16), "tied": True},
            {"based": "item", "layers": (16, 8, 16), "dropout": 0.0},
            {"layers": (16, 8, 16), "side": "input"},
            {"layers": (16, 8, 16), "side": "every_layer", "activation": "elu"},
        ),
        summary="Deep AutoRec (Kuchaiev & Ginsburg 2017), the notebook's Deep AE",
    )
)
