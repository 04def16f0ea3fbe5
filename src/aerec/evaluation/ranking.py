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

Scores come from a callable ``score(users, items)`` -> a (len(users), len(items)) block, called
on blocks of at most ``max_cells`` cells (batches of users over every item, or every user over
batches of items), so no users x items matrix of the whole data is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from aerec.data.types import Interactions
from aerec.errors import ConfigError

DEFAULT_KS: tuple[int, ...] = (5, 10, 20)
DEFAULT_RELEVANCE = 4.0
METRIC_NAMES = ("precision", "recall", "ndcg", "map", "hit_rate")
MAX_CELLS = 1 << 21
"""Scores held at once (users in a batch x items): 2M float32, 8 MB."""

BlockScorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``score(users, items)`` -> the (len(users), len(items)) scores of those inner indices."""


def check_ranking(relevance: float | None, ks: Sequence[int] | None) -> None:
    """One-line errors for a bad relevance threshold or list of K (empty: ranking off)."""
    if relevance is not None and not np.isfinite(relevance):
        raise ConfigError(f"relevance must be a finite rating, got {relevance!r}")
    if ks is not None and (any(k < 1 for k in ks) or len(set(ks)) != len(ks)):
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
    score: BlockScorer,
    train: Interactions,
    test: Interactions,
    n_items: int,
    ks: Sequence[int] = DEFAULT_KS,
    relevance: float = DEFAULT_RELEVANCE,
    max_cells: int = MAX_CELLS,
    by: str = "users",
) -> dict:
    """The ranking metrics of ``score`` on ``test`` (see the module docstring), JSON-ready:
    ``<metric>@<k>`` means over the evaluated users, and the user counts.

    ``score(users, items)`` gives the (len(users), len(items)) block of scores. With
    ``by = "users"`` (cheap for user-based models) it is asked for batches of users over all
    items; with ``by = "items"`` (item-based models) for all users over batches of items, and
    each user's top list is merged block by block. Blocks hold at most ``max_cells`` scores.
    """
    if by not in ("users", "items"):
        raise ConfigError(f"by must be 'users' or 'items', got {by!r}")
    ks = tuple(sorted(ks))
    relevant = test.ratings >= relevance
    test_users = np.unique(test.users)
    users = np.unique(test.users[relevant])
    rel_keys = np.sort(test.users[relevant] * n_items + test.items[relevant])
    n_relevant = np.bincount(test.users[relevant], minlength=int(test_users.max(initial=-1)) + 1)
    order = np.argsort(train.items, kind="stable")
    seen = (train.users[order], train.items[order])
    sums = {f"{m}@{k}": 0.0 for k in ks for m in METRIC_NAMES}
    if by == "users":
        user_step, item_step = max(1, max_cells // max(n_items, 1)), max(n_items, 1)
    else:
        user_step = max(len(users), 1)
        item_step = max(1, max_cells // user_step)
    for start in range(0, len(users), user_step):
        chunk = users[start : start + user_step]
        top = _top_items(score, chunk, seen, n_items, item_step, ks[-1])
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


def _top_items(score, users, seen, n_items: int, step: int, k: int) -> np.ndarray:
    """Each user's top ``k`` items (-1 padded), merging blocks of ``step`` items in
    ascending order: the running list comes first, so ties still go to the lower index."""
    best_items = np.full((len(users), 0), -1, dtype=np.int64)
    best_scores = np.zeros((len(users), 0), dtype=np.float64)
    for a in range(0, n_items, step):
        items = np.arange(a, min(a + step, n_items))
        block = np.asarray(score(users, items), dtype=np.float64).reshape(len(users), len(items))
        cand_items = np.hstack([best_items, np.broadcast_to(items, block.shape)])
        cand_scores = np.hstack([best_scores, block])
        exclude = np.hstack([best_items < 0, _seen_block(users, items, *seen)])
        pick = top_k(cand_scores, exclude, k)
        found = pick >= 0
        pick = np.where(found, pick, 0)
        best_items = np.where(found, np.take_along_axis(cand_items, pick, axis=1), -1)
        best_scores = np.take_along_axis(cand_scores, pick, axis=1)
    return best_items


def _seen_block(users, items, train_users, train_items) -> np.ndarray:
    """(len(users), len(items)) mask of the training ratings of ``users`` (ascending) on the
    contiguous ``items``; ``train_items`` ascending."""
    mask = np.zeros((len(users), len(items)), dtype=bool)
    if not len(items):
        return mask
    lo, hi = np.searchsorted(train_items, [items[0], items[-1] + 1])
    u, i = train_users[lo:hi], train_items[lo:hi]
    pos = np.minimum(np.searchsorted(users, u), len(users) - 1)
    ok = users[pos] == u
    mask[pos[ok], i[ok] - items[0]] = True
    return mask


def predict_inner_scorer(predict_inner: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    """A :data:`BlockScorer` from ``predict_inner(users, items)`` over cells (inner indices;
    e.g. :meth:`aerec.recommender.AutoRecommender.predict_inner`, whose clipped predictions
    are what ``aerec recommend`` ranks by)."""

    def score(users: np.ndarray, items: np.ndarray) -> np.ndarray:
        pred = predict_inner(np.repeat(users, len(items)), np.tile(items, len(users)))
        return np.asarray(pred).reshape(len(users), len(items))

    return score


def recommender_scorer(rec) -> tuple[BlockScorer, str]:
    """The scorer of a fitted :class:`~aerec.recommender.AutoRecommender` and the direction
    to call it in: whole rows of the model (a user's items for user-based models, an item's
    users for item-based ones) from its predictor, clipped to the scale as ``predict_inner``
    clips them; ``predict_inner`` cell by cell where the predictor has no ``rows``."""
    rows = getattr(getattr(rec, "predictor_", None), "rows", None)
    if rows is None:
        return predict_inner_scorer(rec.predict_inner), "users"
    low, high = rec.scale_.low, rec.scale_.high
    device = rec.inputs_.device
    user_based = rec.config.based == "user"

    def score(users: np.ndarray, items: np.ndarray) -> np.ndarray:
        along, across = (users, items) if user_based else (items, users)
        pred = rows(torch.as_tensor(along, device=device))
        pred = pred[:, torch.as_tensor(across, device=device)].cpu().numpy()
        return np.clip(pred if user_based else pred.T, low, high)

    return score, "users" if user_based else "items"
