"""The conformance suite's accuracy band, on a small slice of the real ML-1M.

The slice is the first 1,000 users (raw ids 1..1000) with all their ratings; the split is
the notebook's stratified one. Every model family must land inside the band on the global
test RMSE after a short training: below 0.96 x the RMSE of predicting the training mean
(about 1.10 on this slice), and above 0.80, which no model reaches here without leakage.
"""

import numpy as np
import pytest

from aerec.data import load
from aerec.data.splits import split
from aerec.data.types import RatingsData, encode
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions, TrainConfig

LOWER, UPPER_RATIO = 0.80, 0.96
VARIANTS = {
    "u-autorec": (
        "autorec",
        {"based": "user", "input_fill": "user_mean", "activation": "elu", "last_activation": "elu"},
    ),
    "i-autorec": ("autorec", {"based": "item"}),
    "deep": ("deep", {"layers": (256, 512, 256)}),
    "deep-side": ("deep", {"layers": (256, 512, 256), "side": "input"}),
}


@pytest.fixture(scope="module")
def real_slice(real_data_dir):
    full = load("ml-1m", data_dir=real_data_dir)
    ratings = full.ratings[full.ratings["user"] <= 1000].reset_index(drop=True)
    data = encode(RatingsData("ml-1m-slice", ratings, full.scale, full.users, full.items))
    return data, split(data, "stratified", seed=42)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_accuracy_band_on_a_real_slice(real_slice, name):
    data, parts = real_slice
    model, params = VARIANTS[name]
    config = TrainConfig(epochs=10, patience=5, lr=2e-3, batch_size=64, loss="mse")
    rec = AutoRecommender(model, config, RunOptions(seed=0), **params)
    rec.fit(data, parts.train, parts.val)
    baseline = float(np.sqrt(np.mean((parts.test.ratings - parts.train.ratings.mean()) ** 2)))
    rmse = rec.evaluate(parts.test)["rmse"]
    message = f"{name}: test RMSE {rmse:.4f} (mean baseline {baseline:.4f})"
    assert LOWER < rmse < UPPER_RATIO * baseline, message
