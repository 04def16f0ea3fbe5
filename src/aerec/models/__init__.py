"""Models: configs, the registry the CLI's choices come from, and the autoencoder module."""

from aerec.models.autoencoder import AutoEncoder
from aerec.models.config import (
    MODELS,
    Architecture,
    AutoRecConfig,
    DeepAutoRecConfig,
    ModelConfig,
    model_config,
)

__all__ = [
    "MODELS",
    "Architecture",
    "AutoEncoder",
    "AutoRecConfig",
    "DeepAutoRecConfig",
    "ModelConfig",
    "model_config",
]
