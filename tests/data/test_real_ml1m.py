"""The data layer on the real ML-1M (skipped when AEREC_DATA_DIR is unset)."""

import numpy as np
import pytest

from aerec.data import load
from aerec.data.matrix import RatingMatrix
from aerec.data.side import item_features, user_features
from aerec.data.splits import split
from aerec.data.types import encode


@pytest.fixture(scope="module")
def ml1m(real_data_dir):
    return encode(load("ml-1m", data_dir=real_data_dir))


def test_notebook_split_sizes_and_every_user_in_all_three(ml1m):
    s = split(ml1m, "stratified", seed=42, test_size=0.1, val_size=0.1)
    # the notebook (sklearn, stratified by user): 810,169 / 90,019 / 100,021
    assert abs(len(s.train) - 810_169) < 3_000
    assert abs(len(s.val) - 90_019) < 3_000
    assert abs(len(s.test) - 100_021) < 3_000
    for part in (s.train, s.val, s.test):
        assert len(np.unique(part.users)) == 6040
    assert s.report["test_cold_users"] == 0 and s.report["val_cold_users"] == 0


def test_random_split_counts_cold_items(ml1m):
    s = split(ml1m, "random", seed=1)
    assert len(s.test) == 100_021
    assert s.report["test_cold_items"] > 0  # rare movies whose only ratings fell in test


def test_user_side_information_is_6040_by_30(ml1m):
    side = user_features(ml1m)
    assert side.matrix.shape == (6040, 30)
    assert np.array_equal(side.matrix.sum(1), np.full(6040, 3.0))


def test_item_genres_are_18(ml1m):
    side = item_features(ml1m)
    assert side.matrix.shape == (3706, 18)
    assert side.matrix.sum(1).min() >= 1


def test_the_rating_matrix_is_sparse_and_complete(ml1m):
    m = RatingMatrix.build(ml1m.interactions, ml1m.n_users, ml1m.n_items)
    assert m.shape == (6040, 3706) and m.nnz == 1_000_209
    assert m.row_counts().min() == 20
