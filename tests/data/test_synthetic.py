"""Synthetic MovieLens-shaped data: shapes, determinism, MovieLens properties, learnability,
side information. Small shapes only (ml-100k and custom); ml-25m is benchmarks/ territory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aerec.data import synthetic
from aerec.data.synthetic import (
    GENRES,
    TARGET_HISTOGRAM,
    LatentTruth,
    SyntheticShape,
    generate,
    generate_with_truth,
    parse_shape,
)
from aerec.data.types import RATING_COLUMNS, RatingsData, encode
from aerec.errors import ConfigError


@pytest.fixture(scope="module")
def ml100k() -> tuple[RatingsData, LatentTruth]:
    return generate_with_truth("ml-100k", seed=0)


def _gini(counts: np.ndarray) -> float:
    c = np.sort(counts)
    n = len(c)
    return float((2 * np.arange(1, n + 1) - n - 1) @ c / (n * c.sum()))


def _top_decile_share(counts: np.ndarray) -> float:
    c = np.sort(counts)[::-1]
    return float(c[: len(c) // 10].sum() / c.sum())


# --- shapes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ml-100k", SyntheticShape(943, 1_682, 100_000)),
        ("ml-1m", SyntheticShape(6_040, 3_706, 1_000_209)),
        ("ml-25m", SyntheticShape(162_541, 59_047, 25_000_095)),
        ("netflix", SyntheticShape(480_189, 17_770, 100_480_507)),
        ("2000x500x60000", SyntheticShape(2_000, 500, 60_000)),
        (" ML-1M ", SyntheticShape(6_040, 3_706, 1_000_209)),
    ],
)
def test_parse_shape_accepts_presets_and_custom_sizes(text: str, expected: SyntheticShape):
    assert parse_shape(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        *("ml-2m", "", "2000x500", "2000x500x60000x1", "axbxc", "10x30x-5", "0x30x30"),
        *("10x10x100", "10x30x100", "10x30x301", "2x100x60"),
    ],
)
def test_bad_shape_is_one_line_config_error_naming_the_forms(text: str):
    with pytest.raises(ConfigError) as info:
        parse_shape(text)
    message = str(info.value)
    assert "\n" not in message
    assert "ml-100k, ml-1m, ml-25m, netflix" in message
    assert "<users>x<items>x<ratings>" in message


def test_shape_is_validated_on_construction():
    with pytest.raises(ConfigError, match="fewer than 20"):
        SyntheticShape(100, 50, 1_000)


def test_name_is_synthetic_dash_shape(ml100k):
    assert ml100k[0].name == "synthetic-ml-100k"
    assert generate("300x40x6,000").name == "synthetic-300x40x6000"


# --- determinism -------------------------------------------------------------------------


def _assert_same(a: RatingsData, b: RatingsData) -> None:
    pd.testing.assert_frame_equal(a.ratings, b.ratings)
    pd.testing.assert_frame_equal(a.users, b.users)
    pd.testing.assert_frame_equal(a.items, b.items)


def test_same_seed_gives_identical_frames(ml100k):
    _assert_same(ml100k[0], generate("ml-100k", seed=0))


def test_different_seed_gives_different_frames(ml100k):
    other = generate("ml-100k", seed=1).ratings
    assert not ml100k[0].ratings.equals(other)
    assert not np.array_equal(ml100k[0].ratings["item"], other["item"])


def test_global_numpy_rng_is_neither_used_nor_touched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = generate("300x40x6000", seed=5)
    assert np.array_equal(np.random.get_state()[1], before)
    np.random.seed(999)
    _assert_same(first, generate("300x40x6000", seed=5))


# --- MovieLens shape ---------------------------------------------------------------------


def test_ratings_table_columns_dtypes_and_order(ml100k):
    ratings = ml100k[0].ratings
    assert tuple(ratings.columns) == RATING_COLUMNS
    assert ratings.dtypes.astype(str).tolist() == ["int64", "int64", "float32", "int64"]
    key = ratings[["user", "timestamp"]].to_numpy()
    assert (np.diff(key[:, 0]) >= 0).all()
    same_user = np.diff(key[:, 0]) == 0
    assert (np.diff(key[:, 1])[same_user] >= 0).all()


def test_exact_counts_raw_ids_and_no_duplicates(ml100k):
    ratings = ml100k[0].ratings
    assert len(ratings) == 100_000
    assert np.array_equal(np.unique(ratings["user"]), np.arange(1, 944))
    assert np.array_equal(np.unique(ratings["item"]), np.arange(1, 1_683))
    assert not ratings.duplicated(["user", "item"]).any()
    assert ratings.groupby("user").size().min() >= 20


@pytest.mark.parametrize(
    "shape", ["1x20x20", "5x20x100", "30x25x700", "2x50x100", "10x1000x1000", "200x100x4000"]
)
def test_tiny_and_dense_custom_shapes_keep_every_invariant(shape: str):
    size = parse_shape(shape)
    ratings = generate(shape, seed=3).ratings
    assert len(ratings) == size.n_ratings
    assert ratings["user"].nunique() == size.n_users
    assert ratings["item"].nunique() == size.n_items
    assert ratings["item"].between(1, size.n_items).all()
    assert ratings.groupby("user").size().min() >= 20
    assert not ratings.duplicated(["user", "item"]).any()


def test_many_chunks_and_heavy_blocks_keep_every_invariant(monkeypatch):
    monkeypatch.setattr(synthetic, "CHUNK_RATINGS", 7_000)
    monkeypatch.setattr(synthetic, "HEAVY_BLOCK", 3 * 1_682)
    ratings = generate("ml-100k", seed=2).ratings
    assert len(ratings) == 100_000
    assert ratings["item"].nunique() == 1_682
    assert ratings.groupby("user").size().min() >= 20
    assert not ratings.duplicated(["user", "item"]).any()


def test_activity_and_popularity_are_heavy_tailed(ml100k):
    ratings = ml100k[0].ratings
    per_user = ratings.groupby("user").size().to_numpy()
    per_item = ratings.groupby("item").size().to_numpy()
    assert per_user.max() > 8 * np.median(per_user)  # ML-100k: 737 vs 65
    assert _top_decile_share(per_user) > 0.25
    assert per_item.max() > 10 * np.median(per_item)  # ML-100k: 583 vs 27
    assert _gini(per_item) > 0.5  # ML-1M: 0.63
    assert (per_item <= 3).sum() > 20  # a long tail of rarely rated items


def test_heavy_and_light_samplers_draw_from_the_same_law():
    """Both are popularity-weighted sampling without replacement: inclusion frequencies agree."""
    rng = np.random.default_rng(0)
    p = rng.lognormal(0.0, 1.0, 30)
    p /= p.sum()
    users, k = 4_000, 8
    counts = np.full(users, k)
    draws = np.full(users, 200)
    light_users, light_items = synthetic._sample_light(rng, counts, draws, counts > 0, p)
    heavy_users, heavy_items = synthetic._sample_heavy(rng, np.arange(users), counts, p)
    for who, what in ((light_users, light_items), (heavy_users, heavy_items)):
        assert (np.bincount(who, minlength=users) == k).all()
        assert len(np.unique(who * 30 + what)) == users * k  # without replacement
    light = np.bincount(light_items, minlength=30) / users
    heavy = np.bincount(heavy_items, minlength=30) / users
    assert np.abs(light - heavy).max() < 0.04
    assert np.corrcoef(light, p)[0, 1] > 0.8


def test_timestamps_are_known_seconds_in_2000_to_2003(ml100k):
    stamps = ml100k[0].ratings["timestamp"]
    low = pd.Timestamp("2000-01-01").timestamp()
    high = pd.Timestamp("2003-12-31").timestamp()
    assert stamps.between(low, high).all()
    assert (stamps != 0).all()
    span = ml100k[0].ratings.groupby("user")["timestamp"].agg(np.ptp)
    assert (span < 86_400).mean() > 0.2  # many users rate in one sitting, as in ML-1M
    assert (span > 30 * 86_400).mean() > 0.1


# --- ratings -----------------------------------------------------------------------------


def test_ratings_are_whole_stars_with_ml1m_histogram(ml100k):
    values = ml100k[0].ratings["rating"].to_numpy()
    assert set(np.unique(values)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ml100k[0].scale.contains(values).all()
    shares = np.bincount(values.astype(int), minlength=6)[1:] / len(values)
    assert np.argmax(shares) == 3  # mode 4
    np.testing.assert_allclose(shares, TARGET_HISTOGRAM, atol=0.005)


def test_ratings_are_learnable_from_the_latent_factors(ml100k):
    data, truth = ml100k
    ratings = data.ratings
    actual = ratings["rating"].to_numpy(np.float64)
    oracle = truth.expected_rating(ratings["user"].to_numpy(), ratings["item"].to_numpy())
    rmse_oracle = np.sqrt(np.mean((oracle - actual) ** 2))
    rmse_mean = np.sqrt(np.mean((actual.mean() - actual) ** 2))
    assert rmse_oracle < 0.8 * rmse_mean
    assert 0.6 < rmse_oracle < 0.95  # noisy like real ratings, not trivially predictable


def test_ratings_follow_the_scores_of_the_truth(ml100k):
    data, truth = ml100k
    ratings = data.ratings
    signal = truth.signal(ratings["user"].to_numpy(), ratings["item"].to_numpy())
    assert np.corrcoef(signal, ratings["rating"])[0, 1] > 0.5
    assert truth.user_factors.shape == (943, synthetic.LATENT_DIM)
    assert truth.item_factors.shape == (1_682, synthetic.LATENT_DIM)
    assert np.all(np.diff(truth.cuts) > 0)


# --- side information --------------------------------------------------------------------


def test_user_table_has_movielens_columns_and_codes(ml100k):
    users = ml100k[0].users
    assert users.index.tolist() == list(range(1, 944))
    assert set(users["gender"]) == {"M", "F"}
    assert set(users["age"]) <= {1, 18, 25, 35, 45, 50, 56}
    assert users["occupation"].between(0, 20).all()
    assert users["zip"].str.fullmatch(r"\d{5}").all()
    assert 0.2 < (users["gender"] == "F").mean() < 0.35


def test_item_table_has_titles_and_ml1m_genres(ml100k):
    items = ml100k[0].items
    assert items.index.tolist() == list(range(1, 1_683))
    assert items.loc[17, "title"].startswith("Synthetic Movie 17 (")
    assert items["title"].str.fullmatch(r"Synthetic Movie \d+ \((19|20)\d\d\)").all()
    genres = items["genres"].str.split("|").explode()
    assert set(genres) <= {genre[0] for genre in GENRES}
    assert (items["genres"] != "").all()


def test_demographics_carry_taste_signal(ml100k):
    data, truth = ml100k
    users = data.users
    female = (users["gender"] == "F").to_numpy()
    assert np.corrcoef(female, truth.user_factors[:, 0])[0, 1] > 0.3
    assert np.corrcoef(users["age"], truth.user_factors[:, 1])[0, 1] > 0.3
    joined = data.ratings.join(users, on="user")
    by_age = joined.groupby("age")["rating"].mean()
    assert by_age[[50, 56]].mean() - by_age[[1, 18]].mean() > 0.15  # ML-1M: 0.21


def test_genres_carry_taste_signal(ml100k):
    data, truth = ml100k
    genres = data.items["genres"]
    romance = genres.str.contains("Romance").to_numpy()
    children = genres.str.contains("Children's").to_numpy()
    assert np.corrcoef(romance, truth.item_factors[:, 0])[0, 1] > 0.2
    assert np.corrcoef(children, truth.item_factors[:, 1])[0, 1] < -0.2


def test_output_encodes_like_real_data(ml100k):
    encoded = encode(ml100k[0])
    assert encoded.n_users == 943
    assert encoded.n_items == 1_682
    assert len(encoded.interactions) == 100_000
