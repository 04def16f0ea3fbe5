"""Input corruption for denoising autoencoders, applied per batch during training only.

- ``gaussian``: add ``level * N(0, 1)`` to every input cell (the notebook's factor 0.4; the
  notebook drew the noise once for the whole run, we draw it per batch).
- ``dropout``: drop every input cell with probability ``level`` and scale the rest by
  1 / (1 - level) (the notebook's ``Dropout`` layer on the input). On a zero fill only the
  observed cells change, which the sparse engine uses (:func:`corrupt_cells`).
- ``maskout``: hide a fraction ``level`` of each row's observed ratings (they take the fill
  value) and train to reconstruct all of them (CDAE, Wu et al. 2016).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from aerec.errors import ConfigError
from aerec.models.activations import dropout

if TYPE_CHECKING:
    from aerec.ops.sparse import CellBatch


def corrupt(
    x: torch.Tensor,
    mask: torch.Tensor,
    fill: torch.Tensor,
    kind: str,
    level: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Corrupted copy of the dense input ``x``; ``mask`` marks observed cells, ``fill`` holds
    what an unobserved cell would contain."""
    if kind == "none" or level == 0.0:
        return x
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device)
    if kind == "dropout":
        return dropout(x, level, generator)
    hide = torch.empty_like(x).bernoulli_(level, generator=generator) * mask
    return torch.where(hide.bool(), fill, x)


def corrupt_cells(
    delta: CellBatch, kind: str, level: float, generator: torch.Generator | None
) -> CellBatch:
    """:func:`corrupt` for the sparse engine, on ``delta`` (rating minus fill at the observed
    cells): ``maskout`` hides a cell (it takes the fill: delta 0); ``dropout``, for a zero
    fill only, drops a cell (0) or scales it by 1 / (1 - level). Other kinds need every cell
    and are refused."""
    if kind == "none" or level == 0.0:
        return delta
    if kind not in ("maskout", "dropout"):
        raise ConfigError(f"{kind} noise needs every input cell; use engine 'dense' or 'auto'")
    keep = torch.empty_like(delta.values).bernoulli_(1.0 - level, generator=generator)
    if kind == "dropout":
        keep = keep / (1.0 - level)
    return delta.with_values(delta.values * keep)
