"""Top-N ranking metrics on the test set: Precision, Recall, NDCG, MAP and hit rate at K.

Protocol (what :func:`ranking_metrics` computes):

- Candidates: for each test user, every item the user has not rated in train (validation
  and test items are candidates).
- Relevant: the user's test items rated ``>= relevance`` (default 4.0, on a 1-5 scale).
- Ranking: by score, highest first; **ties are broken by the lower inner item index**
  (the sorted raw item id order), deterministically, as ``aerec recommend`` lists them.
- Users: the test users with at least one relevant item. Test users with none are left out
  of every mean and counted (``users_without_relevant``); users without training ratings
  (every item gets the fallback score, so their list is the tie order) are kept and counted
  (``cold_users``).
- Per user, with ``hits`` the relevant items among the top K and ``R`` the number of
  relevant items: Precision@K = hits / K; Recall@K = hits / R; hit rate@K = 1 if hits > 0;
  NDCG@K = DCG / IDCG with binary gains, DCG = sum over ranks i = 1..K of rel_i / log2(i + 1)
  and IDCG the DCG of min(K, R) relevant items first; MAP@K = the mean of
  AP@K = (sum over i <= K of Precision@i * rel_i) / min(K, R). Each is averaged over users.

Scores come from a callable ``score(users) -> (len(users), n_items)`` array, called on user
batches of at most ``max_cells`` cells, so no users x items matrix of the whole data is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from aerec.data.types import Interactions
from aerec.errors import ConfigError

DEFAULT_KS: tuple[int, ...] = (5, 10, 20)
DEFAULT_RELEVANCE = 4.0
METRIC_NAMES = ("precision", "recall", "ndcg", "map", "hit_rate")
MAX_CELLS = 1 << 21
"""Scores held at once (users in a batch x items): 2M float32, 8 MB."""

Scorer = Callable[[np.ndarray], np.ndarray]


def check_ranking(relevance: float | None, ks: Sequence[int] | None) -> None:
    """One-line errors for a bad relevance threshold or list of K."""
    if relevance is not None and not np.isfinite(relevance):
        raise ConfigError(f"relevance must be a finite rating, got {relevance!r}")
    if ks is not None and (not ks or any(k < 1 for k in ks) or len(set(ks)) != len(ks)):
        raise ConfigError(f"ranking_k must be distinct integers >= 1, got {list(ks)}")


def top_k(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """Per row, the column indices of the ``k`` highest scores, best first, skipping
    ``exclude`` (a boolean mask like ``scores``); ties go to the lower column index.

    Rows with fewer than ``k`` candidates are padded with -1."""
    n_rows, n_cols = scores.shape
    k_eff = min(k, n_cols)
    key = -scores.astype(np.float64)  # smallest key = best
    key[exclude | np.isnan(key)] = np.inf
    if k_eff == 0:
        return np.full((n_rows, k), -1, dtype=np.int64)
    kth = np.partition(key, k_eff - 1, axis=1)[:, k_eff - 1 : k_eff]
    better = key < kth
    tied = key == kth  # take the lowest columns among the ties at the k-th key
    room = k_eff - better.sum(axis=1, keepdims=True)
    chosen = better | (tied & (np.cumsum(tied, axis=1) <= room))
    cols = np.nonzero(chosen)[1].reshape(n_rows, k_eff)  # ascending column within each row
    order = np.argsort(np.take_along_axis(key, cols, axis=1), axis=1, kind="stable")
    top = np.take_along_axis(cols, order, axis=1)
    top = np.where(np.take_along_axis(key, top, axis=1) == np.inf, -1, top)
    if k_eff < k:
        top = np.hstack([top, np.full((n_rows, k - k_eff), -1, dtype=top.dtype)])
    return top


def precision_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``hits`` (users x ranks, 1 = relevant): relevant in the top k / k."""
    return hits[:, :k].sum(axis=1) / k


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Relevant in the top k / all relevant items of the user."""
    return hits[:, :k].sum(axis=1) / n_relevant


def hit_rate_at_k(hits: np.ndarray, k: int) -> np.ndarray:
    """1 where the top k holds a relevant item, else 0."""
    return (hits[:, :k].sum(axis=1) > 0).astype(np.float64)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Binary-gain DCG of the top k over the DCG of min(k, relevant) hits first."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = (hits[:, :k] * discounts[: hits[:, :k].shape[1]]).sum(axis=1)
    ideal = np.cumsum(discounts)[np.minimum(k, n_relevant) - 1]
    return dcg / ideal


def map_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """AP@k: the sum of Precision@i at each relevant rank i <= k, over min(k, relevant)."""
    h = hits[:, :k].astype(np.float64)
    precision_at_i = np.cumsum(h, axis=1) / np.arange(1, h.shape[1] + 1)
    return (precision_at_i * h).sum(axis=1) / np.minimum(k, n_relevant)


def user_metrics(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Every metric at ``k``, per user."""
    return {
        "precision": precision_at_k(hits, k),
        "recall": recall_at_k(hits, n_relevant, k),
        "ndcg": ndcg_at_k(hits, n_relevant, k),
        "map": map_at_k(hits, n_relevant, k),
        "hit_rate": hit_rate_at_k(hits, k),
    }


def ranking_metrics(
    score: Scorer,
    train: Interactions,
    test: Interactions,
    n_items: int,
    ks: Sequence[int] = DEFAULT_KS,
    relevance: float = DEFAULT_RELEVANCE,
    max_cells: int = MAX_CELLS,
) -> dict:
    """The ranking metrics of ``score`` on ``test`` (see the module docstring), JSON-ready:
    ``<metric>@<k>`` means over the evaluated users, and the user counts."""
    ks = tuple(sorted(ks))
    relevant = test.ratings >= relevance
    test_users = np.unique(test.users)
    users = np.unique(test.users[relevant])
    rel_keys = np.sort(test.users[relevant] * n_items + test.items[relevant])
    n_relevant = np.bincount(test.users[relevant], minlength=int(test_users.max(initial=-1)) + 1)
    train_order = np.argsort(train.users, kind="stable")
    train_users, train_items = train.users[train_order], train.items[train_order]
    sums = {f"{m}@{k}": 0.0 for k in ks for m in METRIC_NAMES}
    batch = max(1, max_cells // max(n_items, 1))
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        scores = np.asarray(score(chunk), dtype=np.float32).reshape(len(chunk), n_items)
        seen = _seen_mask(chunk, train_users, train_items, n_items)
        top = top_k(scores, seen, ks[-1])
        hits = np.isin(chunk[:, None] * n_items + top, rel_keys) & (top >= 0)
        for k in ks:
            for name, values in user_metrics(hits, n_relevant[chunk], k).items():
                sums[f"{name}@{k}"] += float(values.sum())
    n = len(users)
    out: dict = {key: (value / n if n else None) for key, value in sums.items()}
    cold = np.setdiff1d(users, train.users)
    return out | {
        "k": list(ks),
        "relevance": relevance,
        "users": n,
        "users_without_relevant": int(len(test_users) - n),
        "cold_users": int(len(cold)),
        "tie_break": "lower item index",
    }


def _seen_mask(chunk, train_users, train_items, n_items: int) -> np.ndarray:
    """(len(chunk), n_items) mask of the items each user of ``chunk`` rated in train;
    ``train_users`` sorted ascending, ``chunk`` ascending."""
    lo = np.searchsorted(train_users, chunk, side="left")
    counts = np.searchsorted(train_users, chunk, side="right") - lo
    rows = np.repeat(np.arange(len(chunk)), counts)
    starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    mask = np.zeros((len(chunk), n_items), dtype=bool)
    mask[rows, train_items[starts + np.arange(counts.sum())]] = True
    return mask


def recommender_scorer(predict_inner: Callable[[np.ndarray, np.ndarray], np.ndarray], n_items: int):
    """A :data:`Scorer` from ``predict_inner(users, items)`` (inner indices; e.g.
    :meth:`aerec.recommender.AutoRecommender.predict_inner`, whose clipped predictions are
    what ``aerec recommend`` ranks by)."""
    items = np.arange(n_items)

    def score(users: np.ndarray) -> np.ndarray:
        pred = predict_inner(np.repeat(users, n_items), np.tile(items, len(users)))
        return np.asarray(pred).reshape(len(users), n_items)

    return score
