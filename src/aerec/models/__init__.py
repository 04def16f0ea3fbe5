"""Models: the registry and, one module each, the models it lists.

Each model module registers its :class:`~aerec.models.registry.ModelEntry` when imported;
this package imports them explicitly, in the order the CLI lists them.
"""

from aerec.models import autorec, baseline, deep, kernel  # noqa: F401 - registers the models
from aerec.models.autoencoder import AutoEncoder
from aerec.models.autorec import AutoRecConfig
from aerec.models.config import Architecture, AutoEncoderConfig, ModelConfig
from aerec.models.deep import DeepAutoRecConfig
from aerec.models.registry import (
    MODELS,
    Assembly,
    ModelEntry,
    assemble,
    assemble_data,
    entry,
    model_config,
    register,
)

__all__ = [
    "MODELS",
    "Architecture",
    "Assembly",
    "AutoEncoder",
    "AutoEncoderConfig",
    "AutoRecConfig",
    "DeepAutoRecConfig",
    "ModelConfig",
    "ModelEntry",
    "assemble",
    "assemble_data",
    "entry",
    "model_config",
    "register",
]
