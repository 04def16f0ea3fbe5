import math

import numpy as np
import pytest

from aerec.data.types import RatingScale
from aerec.evaluation.metrics import rating_metrics, rmse, user_rmse


def test_global_rmse_is_not_the_mean_of_user_rmses():
    users = np.array([0, 0, 0, 1])
    true = np.array([4.0, 4.0, 4.0, 4.0])
    pred = np.array([4.0, 4.0, 4.0, 2.0])
    assert math.isclose(rmse(true, pred), math.sqrt(4 / 4))
    assert math.isclose(user_rmse(users, true, pred), (0.0 + 2.0) / 2)


def test_rating_metrics_clip_and_bucket_by_activity():
    users = np.array([0, 1, 1])
    true = np.array([5.0, 1.0, 3.0])
    pred = np.array([7.0, 0.0, 3.0])  # clipped to 5 and 1: no error at all
    counts = np.array([10, 120])
    out = rating_metrics(users, true, pred, RatingScale(1.0, 5.0), counts)
    assert out["rmse"] == 0.0 and out["mae"] == 0.0 and out["n"] == 3
    buckets = out["rmse_by_activity"]
    assert buckets["<50"]["n"] == 1 and buckets["100-199"]["n"] == 2
    assert buckets["500+"]["n"] == 0 and math.isnan(buckets["500+"]["rmse"])


@pytest.mark.parametrize("fn", [rmse])
def test_empty_input_is_nan(fn):
    assert math.isnan(fn(np.array([]), np.array([])))
