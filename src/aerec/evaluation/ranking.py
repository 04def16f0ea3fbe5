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

try:
    import numba
except ImportError:  # pragma: no cover
    numba = None

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
    ``exclude`` (a boolean mask like ``scores``), NaN and -inf; ties go to the lower column
    index.

    Rows with fewer than ``k`` candidates are padded with -1."""
    if k < 1:
        return _top_k_numpy(scores, exclude, k)
    best = TopK(scores.shape[0], k)
    best.merge(scores, exclude, 0)
    return best.items


class TopK:
    """Each row's running top ``k`` (items best first, -1 padded, and their scores), into
    which blocks of consecutive columns are merged in ascending order. With numba, one pass
    over each block's row keeps the best ``k`` by insertion, rows in parallel, nothing
    concatenated or sorted (``benchmarks/ranking_time.py`` times it against numpy's
    partition); without, numpy's partition of the running list beside the block."""

    def __init__(self, n_rows: int, k: int) -> None:
        self.items = np.full((n_rows, k), -1, dtype=np.int64)
        self.scores = np.full((n_rows, k), -np.inf, dtype=np.float64)

    def merge(self, block: np.ndarray, exclude: np.ndarray, first: int) -> None:
        """Merge ``block`` (rows x columns ``first``, ``first + 1``, ...; ``exclude`` marks
        the cells that are no candidates). The running list comes first, so a tie keeps the
        lower index."""
        block = np.ascontiguousarray(block)
        if block.dtype not in (np.float32, np.float64):
            block = block.astype(np.float64)
        exclude = np.ascontiguousarray(exclude, dtype=np.bool_)
        if _merge_kernel is not None:
            _merge_kernel(block, exclude, first, self.scores, self.items)
            return
        k = self.items.shape[1]
        columns = np.broadcast_to(np.arange(first, first + block.shape[1]), block.shape)
        cand_items = np.hstack([self.items, columns])
        cand_scores = np.hstack([self.scores, block])
        pick = _top_k_numpy(cand_scores, np.hstack([self.items < 0, exclude]), k)
        found = pick >= 0
        pick = np.where(found, pick, 0)
        self.items = np.where(found, np.take_along_axis(cand_items, pick, axis=1), -1)
        self.scores = np.where(found, np.take_along_axis(cand_scores, pick, axis=1), -np.inf)


def _merge_rows(block, exclude, first, best, cols):
    """:meth:`TopK.merge` for numba: per row, insertion into the sorted list of ``k``, which a
    candidate enters only when strictly better than the list's last (an equal score never
    displaces a lower column)."""
    n_rows, n_cols = block.shape
    k = cols.shape[1]
    for r in _prange(n_rows):
        n = 0
        while n < k and cols[r, n] >= 0:
            n += 1
        for c in range(n_cols):
            v = block[r, c]
            if exclude[r, c] or not v > -np.inf:  # NaN and -inf are no candidates
                continue
            if n == k and not v > best[r, k - 1]:
                continue
            j = n if n < k else k - 1
            while j > 0 and best[r, j - 1] < v:
                best[r, j] = best[r, j - 1]
                cols[r, j] = cols[r, j - 1]
                j -= 1
            best[r, j] = v
            cols[r, j] = first + c
            if n < k:
                n += 1


if numba is not None:
    _prange = numba.prange
    _merge_kernel = numba.njit(parallel=True, cache=True)(_merge_rows)
else:  # pragma: no cover - numba is a dependency; the numpy path still works
    _prange = range
    _merge_kernel = None


def _top_k_numpy(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k` with numpy alone (partition, then sort the k): where numba is missing,
    and the reference of the tests."""
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
    n_users = int(max(train.users.max(initial=-1), test_users.max(initial=-1))) + 1
    seen = Seen(train, n_users, n_items)
    sums = {f"{m}@{k}": 0.0 for k in ks for m in METRIC_NAMES}
    if by == "users":
        user_step, item_step = max(1, max_cells // max(n_items, 1)), max(n_items, 1)
    else:
        user_step = max(len(users), 1)
        item_step = max(1, max_cells // user_step)
    for start in range(0, len(users), user_step):
        chunk = users[start : start + user_step]
        top = _top_items(score, chunk, seen, n_items, item_step, ks[-1])
        hits = _contains(rel_keys, chunk[:, None] * n_items + top) & (top >= 0)
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
    best = TopK(len(users), k)
    for a in range(0, n_items, step):
        items = np.arange(a, min(a + step, n_items))
        block = np.asarray(score(users, items)).reshape(len(users), len(items))
        best.merge(block, seen.block(users, items), a)
    return best.items


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.isin(keys, sorted_keys)`` by binary search in the sorted keys."""
    if not len(sorted_keys):
        return np.zeros(keys.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


class Seen:
    """The training cells, for the mask of a block of users x contiguous items: held sorted
    by item and by user, so a block costs the cells of its items or of its users, whichever
    are fewer, never a pass over the whole training set. Users and items are inner indices
    below ``n_users`` and ``n_items``."""

    def __init__(self, train: Interactions, n_users: int, n_items: int) -> None:
        by_item = np.argsort(train.items, kind="stable")
        self.item_users, self.item_items = train.users[by_item], train.items[by_item]
        self.item_ptr = np.searchsorted(self.item_items, np.arange(n_items + 1))
        by_user = np.argsort(train.users, kind="stable")
        self.user_items = train.items[by_user]
        self.user_ptr = np.searchsorted(train.users[by_user], np.arange(n_users + 1))

    def block(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(len(users), len(items)) mask of the training ratings of ``users`` (ascending,
        distinct) on ``items`` (contiguous, ascending)."""
        mask = np.zeros((len(users), len(items)), dtype=bool)
        if not len(items) or not len(users):
            return mask
        a, b = int(items[0]), int(items[-1]) + 1
        starts = self.user_ptr[users]
        lengths = self.user_ptr[users + 1] - starts
        lo, hi = self.item_ptr[a], self.item_ptr[b]
        if lengths.sum() <= hi - lo:  # the users' own cells, then those in the item range
            rows = np.repeat(np.arange(len(users)), lengths)
            offsets = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            cols = self.user_items[np.repeat(starts, lengths) + offsets]
            inside = (cols >= a) & (cols < b)
            mask[rows[inside], cols[inside] - a] = True
        else:  # the items' cells, then those of the users
            u, i = self.item_users[lo:hi], self.item_items[lo:hi]
            pos = np.minimum(np.searchsorted(users, u), len(users) - 1)
            ok = users[pos] == u
            mask[pos[ok], i[ok] - a] = True
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
