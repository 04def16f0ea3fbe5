"""Surprise's SVD and SVD++ (Hug 2020), with Surprise's default parameters.

Fitted by Surprise itself on the run's training ratings; predictions are computed from the
fitted factors with Surprise's own formulas (``SVD.estimate``, ``SVDpp.estimate``), vectorised
over cells or blocks of users x items (:class:`~aerec.peers.Factors`; a test compares them
with Surprise's ``predict``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from aerec.extras import require
from aerec.peers import Factors, FitData, PeerConfig, PeerEntry, register


@dataclass(frozen=True)
class SVDConfig(PeerConfig):
    """Surprise's SVD (Funk's biased matrix factorisation by SGD), Surprise's defaults.

    n_factors, n_epochs, lr_all, reg_all, init_std_dev, biased: as in ``surprise.SVD``.
    """

    name: ClassVar[str] = "svd"
    n_factors: int = 100
    n_epochs: int = 20
    lr_all: float = 0.005
    reg_all: float = 0.02
    init_std_dev: float = 0.1
    biased: bool = True


@dataclass(frozen=True)
class SVDppConfig(PeerConfig):
    """Surprise's SVD++ (Koren 2008: SVD with implicit feedback), Surprise's defaults.

    n_factors, n_epochs, lr_all, reg_all, init_std_dev: as in ``surprise.SVDpp``.
    """

    name: ClassVar[str] = "svdpp"
    n_factors: int = 20
    n_epochs: int = 20
    lr_all: float = 0.007
    reg_all: float = 0.02
    init_std_dev: float = 0.1


def trainset(data: FitData):
    """A Surprise trainset of the training ratings, raw ids = aerec's inner indices."""
    surprise = require("peers", "the Surprise peers")
    frame = pd.DataFrame(
        {"user": data.train.users, "item": data.train.items, "rating": data.train.ratings}
    )
    reader = surprise.Reader(rating_scale=(data.scale.low, data.scale.high))
    return surprise.Dataset.load_from_df(frame, reader).build_full_trainset()


def _by_aerec_index(mapping: dict, rows: np.ndarray, size: int) -> np.ndarray:
    """Surprise's per-user (or per-item) ``rows`` reindexed by aerec's inner index (the raw
    ids of :func:`trainset`); zero where Surprise has none."""
    out = np.zeros((size, *rows.shape[1:]), dtype=np.float64)
    out[np.fromiter(mapping.keys(), np.int64)] = rows[np.fromiter(mapping.values(), np.int64)]
    return out


def fit_surprise(config: SVDConfig | SVDppConfig, data: FitData):
    """The fitted Surprise algorithm and its trainset (seeded with the run seed)."""
    surprise = require("peers", "the Surprise peers")
    train = trainset(data)
    algo_class = surprise.SVDpp if isinstance(config, SVDppConfig) else surprise.SVD
    algo = algo_class(random_state=data.seed, **asdict(config))
    return algo.fit(train), train


def fit_svd(config: SVDConfig | SVDppConfig, data: FitData) -> Factors:
    """Fit, then Surprise's estimate formula as :class:`~aerec.peers.Factors`."""
    algo, train = fit_surprise(config, data)
    user_factors = algo.pu
    if isinstance(config, SVDppConfig):
        user_factors = algo.pu + _implicit(train, algo.yj)
    users, items = train._raw2inner_id_users, train._raw2inner_id_items
    biased = getattr(algo, "biased", True)  # unbiased SVD: bu and bi stay zero
    return Factors(
        mean=train.global_mean if biased else 0.0,
        user_bias=_by_aerec_index(users, algo.bu, data.n_users),
        item_bias=_by_aerec_index(items, algo.bi, data.n_items),
        user_factors=_by_aerec_index(users, user_factors, data.n_users),
        item_factors=_by_aerec_index(items, algo.qi, data.n_items),
    )


def _implicit(train, yj: np.ndarray) -> np.ndarray:
    """Per user, ``|I_u|^-1/2 * sum of y_j`` over the items the user rated (SVD++)."""
    rows, cols = [], []
    for u, ratings in train.ur.items():
        rows += [u] * len(ratings)
        cols += [j for j, _ in ratings]
    rated = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(train.n_users, train.n_items))
    counts = np.maximum(np.diff(rated.indptr), 1)
    return (rated @ yj) / np.sqrt(counts)[:, None]


SVD = register(
    PeerEntry(
        name="svd",
        config=SVDConfig,
        fit=fit_svd,
        library="scikit-surprise",
        summary="Surprise's SVD (biased MF by SGD), default parameters",
    )
)
SVDPP = register(
    PeerEntry(
        name="svdpp",
        config=SVDppConfig,
        fit=fit_svd,
        library="scikit-surprise",
        summary="Surprise's SVD++ (implicit feedback), default parameters",
    )
)
