"""Regularisation defaults follow the size of the training data (models/config.per_rating,
by_sqrt_size)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from aerec.models import model_config
from aerec.models.config import ML1M_TRAIN_RATINGS, ML1M_USERS, by_sqrt_size, per_rating


def _data(nnz: int, rows: int):
    counts = np.zeros(rows + 3, dtype=np.int64)
    counts[:rows] = 1  # three rows without ratings do not count
    matrix = SimpleNamespace(nnz=nnz, row_counts=lambda: counts)
    return SimpleNamespace(matrix=matrix)


def test_autorec_l2_is_the_ml1m_value_per_training_rating():
    config = model_config("autorec")
    assert config.architecture(_data(ML1M_TRAIN_RATINGS, 10)).l2_encoder == pytest.approx(2e-4)
    small = config.architecture(_data(ML1M_TRAIN_RATINGS // 8, 10))
    assert small.l2_encoder == small.l2_decoder == pytest.approx(1.6e-3, rel=1e-5)
    assert config.architecture().l2_encoder == pytest.approx(2e-4)  # no data: ML-1M's
    fixed = model_config("autorec", l2=5e-4).architecture(_data(1000, 10))
    assert fixed.l2_encoder == 5e-4  # a value given is kept


def test_deep_l2_is_the_ml1m_value_scaled_by_the_square_root_of_the_rows():
    config = model_config("deep")
    assert config.architecture(_data(10**6, ML1M_USERS)).l2_encoder == 1e-3  # to the bit
    quarter = config.architecture(_data(10**5, ML1M_USERS // 4))
    assert (quarter.l2_encoder, quarter.l2_decoder) == (pytest.approx(2e-3), pytest.approx(2e-3))
    mixed = model_config("deep", l2_decoder=0.5).architecture(_data(10**5, ML1M_USERS // 4))
    assert mixed.l2_decoder == 0.5 and mixed.l2_encoder == pytest.approx(2e-3)
    assert config.architecture().l2_encoder == 1e-3  # no data: ML-1M's


def test_per_rating():
    assert per_rating(1.0, 100, 50) == 2.0
    assert per_rating(1.0, 100, None) == per_rating(1.0, 100, 0) == 1.0


def test_by_sqrt_size():
    assert by_sqrt_size(1.0, 100, 25) == 2.0
    assert by_sqrt_size(1e-3, 6040, 6040) == 1e-3
    assert by_sqrt_size(1.0, 100, None) == by_sqrt_size(1.0, 100, 0) == 1.0
