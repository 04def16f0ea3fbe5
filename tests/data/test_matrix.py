import numpy as np
import pytest

from aerec.data.matrix import InputFill, RatingMatrix
from aerec.data.side import item_features, user_features
from aerec.data.types import Interactions
from aerec.errors import ConfigError
from tests.helpers import toy_encoded

INTER = Interactions(
    np.array([0, 0, 1, 2]),
    np.array([0, 2, 1, 2]),
    np.array([4.0, 2.0, 5.0, 3.0], np.float32),
    np.zeros(4, np.int64),
)


def _dense(matrix, fill):
    row, col = matrix.fill_vectors(fill)
    out = row[:, None] + col[None, :]
    out[matrix.csr.nonzero()] = matrix.csr.data
    return out


def test_user_and_item_orientations_are_transposes():
    users = RatingMatrix.build(INTER, 3, 3, "user")
    items = RatingMatrix.build(INTER, 3, 3, "item")
    assert np.array_equal(users.csr.toarray(), items.csr.toarray().T)
    assert users.nnz == 4


def test_fill_encodings_match_the_notebook_preprocessor():
    m = RatingMatrix.build(INTER, 3, 4, "user")  # item 3 has no rating
    assert np.array_equal(_dense(m, InputFill("constant", 3.0))[0], [4, 3, 2, 3])
    # user average: user 0 has mean 3
    assert np.array_equal(_dense(m, InputFill("user_mean"))[0], [4, 3, 2, 3])
    assert np.array_equal(_dense(m, InputFill("user_mean"))[1], [5, 5, 5, 5])
    # item average; an item without ratings takes the global mean 3.5
    assert np.allclose(_dense(m, InputFill("item_mean"))[1], [4, 5, 2.5, 3.5])
    # item-based: the user mean is per column now
    t = RatingMatrix.build(INTER, 3, 4, "item")
    assert np.allclose(_dense(t, InputFill("user_mean")), _dense(m, InputFill("user_mean")).T)


@pytest.mark.parametrize("fill", [("median", 0.0), ("constant", 6.0)])
def test_bad_fill_is_a_config_error(fill):
    with pytest.raises(ConfigError):
        InputFill(*fill)


def test_user_side_information_is_one_hot():
    data = toy_encoded(n_users=50)
    side = user_features(data)
    assert side.matrix.shape[0] == 50
    # gender, age and occupation: exactly three ones per user
    assert np.array_equal(side.matrix.sum(1), np.full(50, 3.0))
    assert any(n.startswith("gender=") for n in side.names)


def test_item_genres_are_multi_hot():
    data = toy_encoded(n_items=40)
    side = item_features(data)
    assert side.matrix.shape == (40, len(side.names))
    genres = data.items["genres"].reindex(data.item_vocab.ids)
    assert np.array_equal(side.matrix.sum(1), genres.str.count(r"\|").to_numpy() + 1)


def test_duplicate_pairs_are_a_data_error_not_a_sum():
    from aerec.errors import DataError

    twice = Interactions(
        np.array([0, 0]), np.array([1, 1]), np.array([5.0, 5.0], np.float32), np.zeros(2, np.int64)
    )
    with pytest.raises(DataError, match="duplicate"):
        RatingMatrix.build(twice, 1, 2)
