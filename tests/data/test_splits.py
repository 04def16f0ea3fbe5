import numpy as np
import pytest

from aerec.data.splits import split
from aerec.data.types import EncodedData, Interactions, Vocab
from aerec.errors import ConfigError
from tests.helpers import toy_encoded


@pytest.fixture(scope="module")
def data():
    return toy_encoded(n_users=200, n_items=100)


def _pairs(part):
    return set(zip(part.users.tolist(), part.items.tolist(), strict=True))


@pytest.mark.parametrize("method", ["stratified", "random", "kfold", "temporal"])
def test_split_is_a_partition_and_deterministic(data, method):
    a = split(data, method, seed=3)
    b = split(data, method, seed=3)
    c = split(data, method, seed=4)
    parts = [_pairs(p) for p in (a.train, a.val, a.test)]
    assert sum(map(len, parts)) == len(data.interactions)
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert all(
        np.array_equal(x.items, y.items)
        for x, y in zip((a.train, a.val, a.test), (b.train, b.val, b.test), strict=True)
    )
    if method != "temporal":  # temporal depends on the seed only through timestamp ties
        assert _pairs(a.test) != _pairs(c.test)


def test_stratified_sizes_and_every_user_in_all_three(data):
    s = split(data, "stratified", seed=42, test_size=0.1, val_size=0.1)
    n = len(data.interactions)
    assert abs(len(s.test) - 0.1 * n) <= 0.02 * n
    assert abs(len(s.val) - 0.09 * n) <= 0.02 * n
    for part in (s.train, s.val, s.test):
        assert len(np.unique(part.users)) == data.n_users
    assert s.report["test_cold_users"] == 0


def test_random_split_uses_five_percent_validation_by_default(data):
    s = split(data, "random", seed=1)
    n = len(data.interactions)
    assert len(s.test) == round(0.1 * n)
    assert len(s.val) == round(0.05 * (n - len(s.test)))


def test_kfold_folds_cover_every_rating_once(data):
    tests = [_pairs(split(data, "kfold", seed=7, k=4, fold=f).test) for f in range(4)]
    union = set().union(*tests)
    assert len(union) == len(data.interactions) == sum(map(len, tests))


def test_temporal_holds_out_each_users_latest_known_ratings():
    users = np.repeat([0, 1], 10)
    ts = np.concatenate([np.arange(1, 11), np.r_[0, 0, np.arange(3, 11)]]).astype(np.int64)
    inter = Interactions(users, np.tile(np.arange(10), 2), np.full(20, 3.0, np.float32), ts)
    data = EncodedData("t", inter, Vocab(np.arange(2)), Vocab(np.arange(10)), _scale())
    s = split(data, "temporal", seed=0, test_size=0.2, val_size=0.125)
    test_ts = {u: sorted(s.test.timestamps[s.test.users == u].tolist()) for u in (0, 1)}
    assert test_ts[0] == [9, 10]
    assert test_ts[1] == [9, 10]
    assert 0 not in s.val.timestamps and 0 not in s.test.timestamps
    assert s.report["unknown_timestamps"] == 2
    dropped = split(data, "temporal", seed=0, unknown_timestamps="drop")
    assert len(dropped.train) + len(dropped.val) + len(dropped.test) == 18


def test_cold_users_and_items_are_counted_not_crashed():
    # user 2 has a single rating: it can only be held out by a random split
    inter = Interactions(
        np.array([0] * 30 + [1]),
        np.r_[np.arange(30), 30],
        np.full(31, 4.0, np.float32),
        np.zeros(31, np.int64),
    )
    data = EncodedData("c", inter, Vocab(np.arange(2)), Vocab(np.arange(31)), _scale())
    reports = [split(data, "random", seed=s, test_size=0.5).report for s in range(10)]
    assert any(r["test_cold_users"] == 1 and r["test_cold_items"] >= 1 for r in reports)


@pytest.mark.parametrize(
    "kwargs", [{"method": "nope"}, {"test_size": 1.0}, {"method": "kfold", "k": 1}]
)
def test_bad_options_are_config_errors(data, kwargs):
    with pytest.raises(ConfigError):
        split(data, **kwargs)


def _scale():
    from aerec.data.types import RatingScale

    return RatingScale()
