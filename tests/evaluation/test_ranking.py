"""Ranking metrics against hand-computed examples, ties and users without relevant items."""

import math

import numpy as np
import pytest

from aerec.data.types import Interactions
from aerec.errors import ConfigError
from aerec.evaluation import ranking
from aerec.evaluation.ranking import (
    Seen,
    check_ranking,
    map_at_k,
    ndcg_at_k,
    predict_inner_scorer,
    ranking_metrics,
    top_k,
)

L3, L4, L6 = math.log2(3), math.log2(4), math.log2(6)


def _inter(users, items, ratings):
    n = len(users)
    return Interactions(
        np.asarray(users, np.int64),
        np.asarray(items, np.int64),
        np.asarray(ratings, np.float32),
        np.zeros(n, np.int64),
    )


# 3 users x 5 items.
# user 0 rated item 2 in train; test: item 1 (5), item 3 (4) relevant, item 0 (2) not.
#   scores 0.9, 0.5, 0.99, 0.5, 0.1 -> candidates ranked 0, 1, 3, 4 (1 and 3 tie: 1 first)
# user 1 has no training rating (cold): all scores equal -> ranked 0, 1, 2, 3, 4; test
#   item 4 (4) relevant, so its only hit is at rank 5
# user 2 rated item 0 in train; its only test rating (item 1, 3) is not relevant
SCORES = np.array(
    [[0.9, 0.5, 0.99, 0.5, 0.1], [0.5] * 5, [0.1, 0.2, 0.3, 0.4, 0.5]], dtype=np.float32
)
TRAIN = _inter([0, 2], [2, 0], [3, 5])
TEST = _inter([0, 0, 0, 1, 2], [1, 3, 0, 4, 1], [5, 4, 2, 4, 3])


def _scorer(users, items):
    return SCORES[np.ix_(users, items)]


def _metrics(**kwargs):
    return ranking_metrics(_scorer, TRAIN, TEST, 5, **kwargs)


def test_user_batches_and_item_blocks_rank_alike():
    base = _metrics(ks=(2, 3, 5))
    for by, max_cells in (("users", 5), ("items", 3), ("items", 1)):  # 1-3 items per block
        assert _metrics(ks=(2, 3, 5), by=by, max_cells=max_cells) == base


def test_hand_computed_values_at_2_3_and_5():
    m = _metrics(ks=(2, 3, 5))
    # user 0 hits at ranks 2 and 3 (R = 2); user 1 at rank 5 (R = 1)
    assert m["precision@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert m["hit_rate@2"] == pytest.approx(0.5)
    assert m["ndcg@2"] == pytest.approx((1 / L3) / (1 + 1 / L3) / 2)
    assert m["map@2"] == pytest.approx((1 / 2) / 2 / 2)
    assert m["precision@3"] == pytest.approx((2 / 3) / 2)
    assert m["recall@3"] == pytest.approx(1 / 2)
    assert m["ndcg@3"] == pytest.approx((1 / L3 + 1 / L4) / (1 + 1 / L3) / 2)
    assert m["map@3"] == pytest.approx((1 / 2 + 2 / 3) / 2 / 2)
    # at 5 user 0 has 4 candidates only (hits at 2, 3), user 1 its hit at rank 5
    assert m["precision@5"] == pytest.approx((2 / 5 + 1 / 5) / 2)
    assert m["ndcg@5"] == pytest.approx(((1 / L3 + 1 / L4) / (1 + 1 / L3) + 1 / L6) / 2)
    assert m["map@5"] == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1 / 5) / 2)
    assert m["hit_rate@5"] == 1.0 and m["recall@5"] == 1.0


def test_users_without_relevant_items_are_left_out_and_counted():
    m = _metrics(ks=(2,))
    assert m["users"] == 2 and m["users_without_relevant"] == 1 and m["cold_users"] == 1
    lower = _metrics(ks=(2,), relevance=3.0)  # user 2's rating 3 becomes relevant
    assert lower["users"] == 3 and lower["users_without_relevant"] == 0
    # user 2 ranks 4, 3, 2, 1 (item 0 seen): its item 1 is at rank 4, outside the top 2
    assert lower["precision@2"] == pytest.approx((1 / 2 + 0 + 0) / 3)


def test_ties_go_to_the_lower_item_index():
    scores = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]])
    assert top_k(scores, np.array([[0, 0, 1, 0, 0]], bool), 3).tolist() == [[1, 4, 3]]
    # fewer candidates than k: padded with -1
    assert top_k(scores, np.array([[1, 1, 1, 0, 1]], bool), 3).tolist() == [[3, -1, -1]]
    # a tie at the cut: the lower index wins it
    tied = np.zeros((1, 6))
    assert top_k(tied, np.zeros((1, 6), bool), 2).tolist() == [[0, 1]]


def test_the_numba_top_k_is_numpys_on_ties_nan_and_infinities():
    rng = np.random.default_rng(0)
    for _ in range(200):
        rows, cols, k = rng.integers(1, 8), rng.integers(1, 40), int(rng.integers(1, 12))
        scores = rng.integers(0, 5, (rows, cols)).astype(np.float64)  # many ties
        for value, share in ((np.nan, 0.1), (-np.inf, 0.05), (np.inf, 0.05)):
            scores[rng.random((rows, cols)) < share] = value
        exclude = rng.random((rows, cols)) < 0.3
        expected = ranking._top_k_numpy(scores, exclude, k)
        assert (top_k(scores, exclude, k) == expected).all()
        assert (top_k(scores.astype(np.float32), exclude, k) == expected).all()


@pytest.mark.parametrize("kernel", [True, False], ids=["numba", "numpy"])
def test_merging_blocks_gives_the_top_k_of_the_whole_rows(monkeypatch, kernel):
    if not kernel:
        monkeypatch.setattr(ranking, "_merge_kernel", None)
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 6, (9, 50)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.1] = np.nan
    exclude = rng.random(scores.shape) < 0.2
    best = ranking.TopK(9, 7)
    for a in (0, 13, 14, 40):  # blocks of 13, 1, 26 and 10 columns
        b = {0: 13, 13: 14, 14: 40, 40: 50}[a]
        best.merge(scores[:, a:b], exclude[:, a:b], a)
    np.testing.assert_array_equal(best.items, ranking._top_k_numpy(scores, exclude, 7))


def test_the_seen_mask_is_the_training_cells_whichever_way_it_is_gathered():
    rng = np.random.default_rng(1)
    cells = np.unique(rng.integers(0, 30 * 20, 200))
    train = _inter(cells // 20, cells % 20, np.ones(len(cells)))
    dense = np.zeros((32, 20), bool)  # users 30 and 31 have no training cell
    dense[train.users, train.items] = True
    seen = Seen(train, 32, 20)
    for users, items in (
        (np.arange(32), np.arange(20)),  # every cell
        (np.array([3, 7, 31]), np.arange(20)),  # few users: gathered by user
        (np.array([0, 5, 30]), np.arange(4, 9)),
        (np.arange(0, 32, 2), np.arange(19, 20)),  # one item: gathered by item
    ):
        np.testing.assert_array_equal(seen.block(users, items), dense[np.ix_(users, items)])


def test_pure_functions_on_one_list():
    hits = np.array([[0, 1, 1, 0]])
    assert ndcg_at_k(hits, np.array([2]), 4)[0] == pytest.approx((1 / L3 + 1 / L4) / (1 + 1 / L3))
    assert map_at_k(hits, np.array([3]), 4)[0] == pytest.approx((1 / 2 + 2 / 3) / 3)


def _brute_force(scores, train, test, ks, relevance):
    """Per user, sort candidates by (-score, item) in Python."""
    out = {f"{m}@{k}": [] for k in ks for m in ("precision", "recall", "ndcg", "map", "hit_rate")}
    for u in np.unique(test.users):
        rel = set(test.items[(test.users == u) & (test.ratings >= relevance)].tolist())
        if not rel:
            continue
        seen = set(train.items[train.users == u].tolist())
        ranked = sorted((i for i in range(scores.shape[1]) if i not in seen),
                        key=lambda i: (-float(scores[u, i]), i))  # fmt: skip
        for k in ks:
            hits = [1 if i in rel else 0 for i in ranked[:k]]
            n_hit = sum(hits)
            dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
            idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(rel))))
            ap = sum(sum(hits[: r + 1]) / (r + 1) for r, h in enumerate(hits) if h)
            out[f"precision@{k}"].append(n_hit / k)
            out[f"recall@{k}"].append(n_hit / len(rel))
            out[f"ndcg@{k}"].append(dcg / idcg)
            out[f"map@{k}"].append(ap / min(k, len(rel)))
            out[f"hit_rate@{k}"].append(float(n_hit > 0))
    return {key: float(np.mean(v)) for key, v in out.items()}


def test_batched_driver_matches_a_brute_force_ranking_with_many_ties():
    rng = np.random.default_rng(3)
    n_users, n_items = 40, 30
    scores = rng.integers(1, 4, size=(n_users, n_items)).astype(np.float32)  # many ties
    cells = rng.permutation(n_users * n_items)[:500]
    users, items = cells // n_items, cells % n_items
    ratings = rng.integers(1, 6, size=len(cells))
    train = _inter(users[:350], items[:350], ratings[:350])
    test = _inter(users[350:], items[350:], ratings[350:])
    expected = _brute_force(scores, train, test, (1, 5, 10), 4.0)

    def score(u, i):
        return scores[np.ix_(u, i)]

    # one user per batch, several, all; all users over 1, 4 or 30 items per block
    for by, max_cells in [("users", n_items), ("users", 7 * n_items), ("users", 10**6)] + [
        ("items", 40 * m) for m in (1, 4, 30)
    ]:
        got = ranking_metrics(score, train, test, n_items, (1, 5, 10), 4.0, max_cells, by)
        assert {k: got[k] for k in expected} == pytest.approx(expected), (by, max_cells)


def test_predict_inner_scorer_asks_for_each_cell_of_the_block():
    calls = []

    def predict_inner(users, items):
        calls.append(len(users))
        return users * 10.0 + items

    score = predict_inner_scorer(predict_inner)
    assert score(np.array([1, 3]), np.array([0, 2, 3])).tolist() == [[10, 12, 13], [30, 32, 33]]
    assert calls == [6]


@pytest.mark.parametrize(
    ("relevance", "ks"), [(float("nan"), None), (None, [0]), (None, [5, 5]), (None, [-1, 5])]
)
def test_bad_settings_are_config_errors(relevance, ks):
    with pytest.raises(ConfigError):
        check_ranking(relevance, ks)


@pytest.mark.parametrize("based", ["user", "item"])
def test_a_recommenders_rows_rank_as_its_predict_inner(based):
    """The fast scorer (whole model rows) gives the metrics of predict_inner cell by cell."""
    from aerec.data.splits import split
    from aerec.data.synthetic import generate
    from aerec.data.types import encode
    from aerec.evaluation.ranking import recommender_scorer
    from aerec.recommender import AutoRecommender
    from aerec.training import RunOptions, TrainConfig

    data = encode(generate("120x80x3000", 0))
    parts = split(data, "random", seed=1)
    rec = AutoRecommender("autorec", TrainConfig(epochs=2), RunOptions(seed=1, threads=1),
                          based=based, hidden=8)  # fmt: skip
    rec.fit(data, parts.train, parts.val)
    fast, by = recommender_scorer(rec)
    assert by == ("users" if based == "user" else "items")
    slow = predict_inner_scorer(rec.predict_inner)
    args = (parts.train, parts.test, data.n_items, (5, 10), 3.0)
    got = ranking_metrics(fast, *args, max_cells=500, by=by)
    want = ranking_metrics(slow, *args)
    numbers = [key for key in want if "@" in key]
    assert [got[k] for k in numbers] == pytest.approx([want[k] for k in numbers])
    assert got["users"] > 0 and got["ndcg@10"] > 0
