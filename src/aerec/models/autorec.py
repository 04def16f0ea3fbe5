"""AutoRec (Sedhain et al. 2015): one hidden layer; I-AutoRec with ``based = "item"``.

One module, one registry entry: the config, the recipes and the entry. The network is the
shared :class:`~aerec.models.autoencoder.AutoEncoder` with one hidden layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from aerec.config import OMIT_DEFAULT
from aerec.models.autoencoder import build_autoencoder
from aerec.models.config import ML1M_TRAIN_RATINGS, Architecture, AutoEncoderConfig, per_rating
from aerec.models.registry import Capabilities, ModelEntry, Recipe, register
from aerec.plan import TrainConfig


@dataclass(frozen=True)
class AutoRecConfig(AutoEncoderConfig):
    """AutoRec (Sedhain et al. 2015): one hidden layer; I-AutoRec with ``based = "item"``.

    hidden: size of the hidden layer (paper: 500).
    activation / last_activation: encoder / decoder activation (paper: sigmoid / identity).
    l2: L2 penalty ``l2 * sum(W**2)`` on both weight matrices (Keras' ``l2(l2)``); None:
        2e-4 (the best validation RMSE for I-AutoRec on ML-1M of those tried) times ML-1M's
        training ratings over this data's, as the masked MSE is a mean over ratings
    binary: the decoder reads the hidden layer binarised, 1 where it exceeds 0.5 and 0
        elsewhere, in training and prediction, with the gradient passed straight through
        (the AutoRec authors' ``binary: True``, mesuvash/NNRec; for a sigmoid hidden layer)
    """

    name: ClassVar[str] = "autorec"
    based: str = "item"
    hidden: int = 500
    activation: str = "sigmoid"
    last_activation: str = "identity"
    l2: float | None = None
    binary: bool = field(default=False, metadata=OMIT_DEFAULT)

    def architecture(self, data=None) -> Architecture:
        l2 = self.l2
        if l2 is None:
            l2 = per_rating(2e-4, ML1M_TRAIN_RATINGS, None if data is None else data.matrix.nnz)
        return Architecture(
            (self.hidden,),
            self.activation,
            self.last_activation,
            0.0,
            l2,
            l2,
            tied=False,
            binary=self.binary,
        )


DEFAULT = TrainConfig(lr=1e-3, loss="mse", schedule="plateau", epochs=300, patience=30)
"""I-AutoRec trains best with the global masked MSE and a plateau schedule (validation RMSE
on ML-1M, docs/results.md)."""

AUTHORS = TrainConfig(
    optimizer="lbfgs",
    lr=1.0,
    loss="sse",
    epochs=50,
    iterations=10,
    restart=False,
    patience=0,
    batch_size=8192,
)
"""The AutoRec authors' recipe (mesuvash/NNRec, 1M.yaml): full-batch L-BFGS, 500 iterations
of one uninterrupted run (50 rounds of 10, the memory kept across rounds, so that the
validation RMSE can choose the round), on half the summed squared error plus
``l2 * sum(W**2)`` per weight matrix with l2 = 100 (their lambda, gradient 2 * lambda * W)."""

ENTRY = register(
    ModelEntry(
        name="autorec",
        config=AutoRecConfig,
        build=build_autoencoder,
        recipes={
            "default": Recipe((DEFAULT,), summary="Adam 1e-3, masked MSE, plateau schedule"),
            "authors": Recipe(
                (AUTHORS,),
                model={
                    "hidden": 500,
                    "activation": "sigmoid",
                    "last_activation": "identity",
                    "l2": 100.0,
                },
                summary="the AutoRec authors': full-batch L-BFGS, 500 iterations, lambda 100",
            ),
        },
        capabilities=Capabilities(),
        examples=(
            {"based": "user", "hidden": 16},
            {"based": "item", "hidden": 16},
            {"based": "user", "hidden": 16, "input_fill": "user_mean", "activation": "elu"},
            {"based": "user", "hidden": 16, "side": "input"},
            {"based": "item", "hidden": 16, "side": "every_layer"},
        ),
        summary="AutoRec (Sedhain et al. 2015), user- or item-based, one hidden layer",
    )
)
