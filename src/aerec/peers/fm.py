"""myFM's Bayesian factorisation machine (Gibbs sampling): the strong baseline of Rendle,
Zhang & Koren (2019), "On the difficulty of evaluating baselines".

The features are the user and item one-hot encodings (two groups, each with its own
hyper-priors), rank 10, and the prediction is the mean over the kept Gibbs samples (the
first ``n_iter - n_kept_samples`` are burn-in), as in myFM's MovieLens examples. That mean is
itself a factorisation (:func:`factors`), so whole blocks of users x items are scored for the
ranking metrics without a design matrix (a test checks it against myFM's ``predict``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from aerec.errors import ConfigError
from aerec.extras import require
from aerec.peers import Factors, FitData, PeerConfig, PeerEntry, register


@dataclass(frozen=True)
class BayesianFMConfig(PeerConfig):
    """myFM's Bayesian FM (``myfm.MyFMRegressor``) on user and item one-hot features.

    rank: dimension of the factors (Rendle et al. 2019 and myFM's examples: 10).
    n_iter: Gibbs sweeps in all.
    n_kept_samples: the last samples averaged for prediction (the rest are burn-in).
    init_stdev: standard deviation of the initial factors (myFM's default).
    """

    name: ClassVar[str] = "bayesian-fm"
    rank: int = 10
    n_iter: int = 200
    n_kept_samples: int = 195
    init_stdev: float = 0.1

    def __post_init__(self) -> None:
        if self.rank < 1 or not 1 <= self.n_kept_samples <= self.n_iter:
            raise ConfigError(
                f"rank must be >= 1 and 1 <= n_kept_samples <= n_iter, got {self.rank}, "
                f"{self.n_kept_samples}, {self.n_iter}"
            )


def one_hot(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """The FM's design matrix: the user's one-hot, then the item's."""
    n = len(users)
    rows = np.repeat(np.arange(n), 2)
    cols = np.column_stack([users, n_users + np.asarray(items)]).ravel()
    return sp.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, n_users + n_items))


def fit_fm(config: BayesianFMConfig, data: FitData) -> Factors:
    with warnings.catch_warnings():  # myfm 0.4 imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        myfm = require("peers/myfm", "the Bayesian FM peer")
    train = data.train
    x = one_hot(train.users, train.items, data.n_users, data.n_items)
    fm = myfm.MyFMRegressor(rank=config.rank, init_stdev=config.init_stdev, random_seed=data.seed)
    fm.fit(
        x,
        train.ratings.astype(np.float64),
        n_iter=config.n_iter,
        n_kept_samples=config.n_kept_samples,
        group_shapes=[data.n_users, data.n_items],
    )
    return factors(fm.predictor_.samples, data.n_users)


def factors(samples, n_users: int) -> Factors:
    """The mean prediction over the kept Gibbs samples as one factorisation: the mean biases,
    and every sample's factors side by side, scaled by 1 / sqrt(samples) on each side (the
    mean of the samples' dot products is the dot product of the stacked factors)."""
    w0 = float(np.mean([s.w0 for s in samples]))
    w = np.mean([s.w for s in samples], axis=0)
    v = np.concatenate([s.V for s in samples], axis=1) / np.sqrt(len(samples))
    return Factors(w0, w[:n_users], w[n_users:], v[:n_users], v[n_users:])


BAYESIAN_FM = register(
    PeerEntry(
        name="bayesian-fm",
        config=BayesianFMConfig,
        fit=fit_fm,
        library="myfm",
        summary="myFM's Bayesian FM (Gibbs), user + item one-hot, rank 10 (Rendle et al. 2019)",
    )
)
