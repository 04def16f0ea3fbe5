"""Peers: other libraries' recommenders, trained and scored exactly as aerec's models are.

A peer is not a torch module and has no training plan: its library fits it. It is one
:class:`PeerEntry` in :data:`PEERS`, its own small registry beside aerec's models: a frozen
config (the library's parameters, its defaults as ours) and a ``fit`` function. ``[model]
name = "svd"`` in a run config or an experiment spec names one; :func:`aerec.runs.train_run`
hands the run to :func:`aerec.peers.run.train_peer_run`, which loads the same data and split
as every aerec run with that config and seed, fits the peer on the training ratings, scores
validation and test with aerec's scoring function and writes the same run folder.

The libraries are the optional extra ``aerec[peers]``; the registry itself imports none of
them, so peer configs parse (and specs expand) without it. See docs/peers.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from aerec.data.types import Interactions, RatingScale
from aerec.errors import ConfigError


@dataclass(frozen=True)
class PeerConfig:
    """The base of a peer's config: its library's parameters as typed, frozen fields."""

    name: ClassVar[str] = ""


@dataclass(frozen=True)
class FitData:
    """What a peer is fitted on: training ratings as inner indices (the same encoding as
    aerec's models), the sizes of the vocabularies, the scale and the run seed."""

    train: Interactions
    n_users: int
    n_items: int
    scale: RatingScale
    seed: int


CELL_FACTORS = 1 << 22
"""Factor values gathered at once per side when scoring cells (32 MB of float64)."""


@dataclass(frozen=True)
class Factors:
    """A fitted peer whose prediction is ``mean + b_u + b_i + p_u · q_i``, over aerec's inner
    indices: Surprise's SVD (SVD++ with the implicit term folded into ``p_u``) and the
    Bayesian FM (the kept samples' factors side by side) all have this form.

    Called with arrays of cells it gives their unclipped predictions; :meth:`block` scores
    users x items at once, for the ranking metrics. The rows of users or items without
    training ratings are meaningless (zero); the run gives those cells the fallback.
    """

    mean: float
    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray

    def __call__(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        dots = np.empty(len(users), dtype=np.float64)
        step = max(1, CELL_FACTORS // max(self.user_factors.shape[1], 1))
        for a in range(0, len(users), step):  # the gathered factors stay small
            u, i = users[a : a + step], items[a : a + step]
            dots[a : a + step] = np.einsum("nk,nk->n", self.user_factors[u], self.item_factors[i])
        return self.mean + self.user_bias[users] + self.item_bias[items] + dots

    def block(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The (len(users), len(items)) predictions, unclipped. A run of consecutive items
        (the ranking's blocks) reads its factors as a view, without copying them."""
        first = int(items[0]) if len(items) else 0
        run = np.array_equal(items, np.arange(first, first + len(items)))
        factors = self.item_factors[first : first + len(items)] if run else self.item_factors[items]
        dots = self.user_factors[users] @ factors.T
        return dots + (self.mean + self.user_bias[users])[:, None] + self.item_bias[items]


@dataclass(frozen=True)
class PeerEntry:
    """One peer.

    name: the ``[model] name`` of a run config.
    config: its frozen :class:`PeerConfig` class.
    fit: ``fit(config, data)`` fits the peer and gives its :class:`Factors`.
    library: the distribution that provides it (named in the docs and the metrics).
    summary: one line for the docs.
    """

    name: str
    config: type[PeerConfig]
    fit: Callable[[Any, FitData], Factors]
    library: str
    summary: str = ""


PEERS: dict[str, PeerEntry] = {}
"""Every registered peer by name."""


def register(entry: PeerEntry) -> PeerEntry:
    if entry.config.name != entry.name:
        raise ValueError(f"{entry.config.__name__}.name is {entry.config.name!r}")
    PEERS[entry.name] = entry
    return entry


def is_peer(name: str) -> bool:
    return name in PEERS


def peer_entry(name: str) -> PeerEntry:
    if name not in PEERS:
        raise ConfigError(f"unknown peer {name!r}; choose one of {', '.join(PEERS)}")
    return PEERS[name]


def peer_config(name: str, values: Mapping[str, Any], where: str = "model") -> PeerConfig:
    """The config of peer ``name`` with ``values`` over its library's defaults."""
    from aerec.config import from_dict

    return from_dict(peer_entry(name).config, dict(values), f"{where} ({name})")


from aerec.peers import fm, surprise_svd  # noqa: E402, F401 - registers the peers

__all__ = [
    "PEERS",
    "Factors",
    "FitData",
    "PeerConfig",
    "PeerEntry",
    "is_peer",
    "peer_config",
    "peer_entry",
    "register",
]
