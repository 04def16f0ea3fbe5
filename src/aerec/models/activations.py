"""The activations a layer may use, by name (the notebook's Keras names plus aliases)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from aerec.errors import ConfigError

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "linear": nn.Identity,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.3),  # Keras' LeakyReLU default slope, as in the notebook
    "tanh": nn.Tanh,
}


def check_activation(name: str) -> str:
    if name not in ACTIVATIONS:
        raise ConfigError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return name


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[check_activation(name)]()


def dropout(x: torch.Tensor, rate: float, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout with an explicit generator, so runs are reproducible and resumable."""
    if rate <= 0.0:
        return x
    keep = torch.empty_like(x).bernoulli_(1.0 - rate, generator=generator)
    return x * keep / (1.0 - rate)
