"""Deterministic synthetic ratings shaped like MovieLens, for tests and scale runs.

``generate("ml-1m", seed)`` returns a :class:`~aerec.data.types.RatingsData` named
``synthetic-ml-1m`` with ML-1M's counts; ``"2000x500x60000"`` asks for 2,000 users, 500 items
and 60,000 ratings. Everything comes from ``np.random.default_rng(seed)``, so a seed fixes the
frames exactly.

The model, for user ``u`` and item ``i`` (raw ids start at 1, like MovieLens):

- *Who rates what.* User ``u`` rates ``k_u >= 20`` items: 20 plus a Lomax (power-law, tail
  exponent 3) share of the rest, scaled so the ``k_u`` sum to the requested count exactly and
  bending smoothly below 70 % of the items. Items have heavy-tailed popularity (lognormal
  quantiles, more skewed the sparser the data, see ``POPULARITY_SIGMA``). Each user's items are
  a popularity-weighted sample without replacement: draw with replacement and keep the first
  ``k_u`` distinct items (the same law as successive sampling), or, for users who rate a large
  share of the catalogue, the ``k_u`` smallest ``Exponential(1) / w_i`` keys (the same law
  again). Items no one drew then take over one rating each from much-rated items, so every id
  ``1..n_items`` is rated and per-user counts and the total are unchanged.
- *The rating.* ``s_ui = b_u + b_i + <p_u, q_i> + e_ui`` with ``e_ui ~ N(0, noise_sd**2)``
  and ``r_ui = 1 + #{k : s_ui > c_k}``. The cut points ``c_1..c_4`` are quantiles of all
  ``s_ui`` chosen so that the histogram of 1..5 is ML-1M's (5.6/10.8/26.1/34.9/22.6 %).
- *Side information* is read off the factors: gender from ``p_u[0]``, age from ``p_u[1]`` and
  ``b_u``, zip region from ``p_u[2]``, occupation from a random map of ``p_u``; genres from
  ``q_i`` through fixed loadings (Romance/Drama on dimension 0, Children's/Animation against
  dimension 1, ...), the release year from ``q_i[1]``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from aerec.data.types import RatingScale, RatingsData
from aerec.errors import ConfigError

MIN_PER_USER = 20
"""Every MovieLens user has at least 20 ratings."""
LATENT_DIM = 8
ACCEPTED_FORMS = (
    "ml-100k, ml-1m, ml-25m, netflix or <users>x<items>x<ratings> such as 2000x500x60000"
)

TARGET_HISTOGRAM = np.array([56_174, 107_557, 261_197, 348_971, 226_310]) / 1_000_209
"""Shares of the ratings 1..5 in ML-1M."""

FACTOR_SD = 0.40
USER_BIAS_SD = 0.35
ITEM_BIAS_SD = 0.45
NOISE_SD = 0.70
"""Score scales: with these, predicting E[r | factors] has RMSE ~0.82 against 1.12 for the
global mean (ML-1M's best published models reach ~0.83 on their splits)."""
ACTIVITY_TAIL = 3.0
"""Lomax shape of the extra ratings per user (tail ~ k**-3)."""
MAX_USER_SHARE = 0.7
"""Activity saturates below this share of the items (ML-1M's top user: 62 %, ML-25M's: 55 %)."""
POPULARITY_SIGMA = 1.8
POPULARITY_SLOPE = 0.65
POPULARITY_HEAD = 3.0
"""Item weights are ``exp(sigma * h * tanh(z / h))`` over normal quantiles ``z``: lognormal
with the head softened, ``sigma = 1.8 + 0.65 * ln(ML-1M density / density)`` (not below 1.8).
This gives the item Gini and top-item counts of ML-100k, ML-1M (0.65 vs 0.63), ML-10M (0.81 vs
0.81) and, nearly, ML-25M (0.92 vs 0.94): popularity gets more skewed as data gets sparser."""
ML1M_DENSITY = 1_000_209 / (6_040 * 3_706)
CHUNK_RATINGS = 4_000_000
"""Ratings sampled per chunk of users; bounds the sampler's memory."""
HEAVY_BLOCK = 4_000_000
"""Cells of the dense (users x items) key block of the heavy-user sampler."""

START = 956_703_932
"""2000-04-25, the first ML-1M timestamp."""
END = 1_046_454_590
"""2003-02-28, the last ML-1M timestamp."""

GENRES = (
    # name, share of ML-1M's rated movies, loading on latent dimensions 0, 1, 2
    ("Action", 0.134, -0.8, 0.0, 0.6),
    ("Adventure", 0.076, -0.4, -0.3, 0.6),
    ("Animation", 0.028, 0.0, -1.2, 0.0),
    ("Children's", 0.067, 0.2, -1.2, 0.0),
    ("Comedy", 0.314, 0.3, -0.3, -0.3),
    ("Crime", 0.054, -0.5, 0.3, -0.3),
    ("Documentary", 0.030, 0.0, 0.6, -0.8),
    ("Drama", 0.403, 0.6, 0.4, -0.6),
    ("Fantasy", 0.018, 0.2, -0.6, 0.5),
    ("Film-Noir", 0.012, -0.2, 1.2, -0.2),
    ("Horror", 0.091, -0.6, -0.2, 0.4),
    ("Musical", 0.030, 0.8, 0.5, 0.0),
    ("Mystery", 0.028, 0.0, 0.6, -0.2),
    ("Romance", 0.124, 1.2, 0.0, -0.2),
    ("Sci-Fi", 0.074, -0.8, -0.2, 0.8),
    ("Thriller", 0.131, -0.5, 0.0, 0.3),
    ("War", 0.038, -0.8, 0.8, 0.0),
    ("Western", 0.018, -0.5, 1.0, 0.0),
)
AGE_CODES = np.array([1, 18, 25, 35, 45, 50, 56])
AGE_SHARES = np.array([0.037, 0.183, 0.347, 0.198, 0.091, 0.082, 0.062])
"""ML-1M's age codes and their shares among users."""
OCCUPATION_SHARES = np.array(
    [0.118, 0.087, 0.044, 0.029, 0.126, 0.019, 0.039, 0.112, 0.003, 0.015, 0.032,
     0.021, 0.064, 0.024, 0.050, 0.024, 0.040, 0.083, 0.012, 0.012, 0.047]
)  # fmt: skip
"""Shares of the occupation codes 0..20 in ML-1M."""
FEMALE_SHARE = 0.283
"""ML-1M: 1,709 of 6,040 users are women."""

PRESETS: dict[str, tuple[int, int, int]] = {
    "ml-100k": (943, 1_682, 100_000),
    "ml-1m": (6_040, 3_706, 1_000_209),
    "ml-25m": (162_541, 59_047, 25_000_095),
    "netflix": (480_189, 17_770, 100_480_507),  # the Netflix Prize training set's shape
}
"""MovieLens releases' counts, and the Netflix Prize training set's (``synthetic-netflix``:
its shape, with MovieLens' rating histogram and at least 20 ratings per user)."""


@dataclass(frozen=True)
class SyntheticShape:
    """How many users, items and ratings a synthetic data set has; validated on creation."""

    n_users: int
    n_items: int
    n_ratings: int

    def __post_init__(self) -> None:
        problem = _shape_problem(self.n_users, self.n_items, self.n_ratings)
        if problem:
            size = f"{self.n_users}x{self.n_items}x{self.n_ratings}"
            raise ConfigError(f"impossible synthetic shape {size}: {problem}; use {ACCEPTED_FORMS}")


@dataclass(frozen=True, eq=False)
class LatentTruth:
    """The hidden parameters behind a synthetic data set, indexed by raw id - 1.

    ``user_factors`` is (n_users, LATENT_DIM), ``item_factors`` (n_items, LATENT_DIM);
    ``cuts`` are the four score thresholds between the ratings 1..5.
    """

    user_bias: np.ndarray
    item_bias: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    cuts: np.ndarray
    noise_sd: float

    def signal(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """The noiseless score ``b_u + b_i + <p_u, q_i>`` of raw (user, item) id pairs."""
        u = np.asarray(users, dtype=np.int64) - 1
        i = np.asarray(items, dtype=np.int64) - 1
        dot = np.einsum("nd,nd->n", self.user_factors[u], self.item_factors[i])
        return self.user_bias[u] + self.item_bias[i] + dot

    def expected_rating(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """E[r_ui] given the factors: ``1 + sum_k P(signal + noise > c_k)``, the best
        prediction in squared error that any model can make."""
        signal = self.signal(users, items)[:, None]
        return 1.0 + ndtr((signal - self.cuts[None, :]) / self.noise_sd).sum(axis=1)


def parse_shape(shape: str) -> SyntheticShape:
    """``"ml-1m"`` or ``"2000x500x60000"`` -> :class:`SyntheticShape`; raises
    :class:`ConfigError` naming the accepted forms when malformed or impossible."""
    text = _canonical(shape)
    if text in PRESETS:
        return SyntheticShape(*PRESETS[text])
    match = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text)
    if not match:
        raise ConfigError(f"unknown synthetic shape {shape!r}: use {ACCEPTED_FORMS}")
    return SyntheticShape(*(int(group) for group in match.groups()))


def generate(shape: str, seed: int = 0) -> RatingsData:
    """Synthetic MovieLens-shaped ratings named ``synthetic-<shape>``, fixed by ``seed``."""
    return generate_with_truth(shape, seed)[0]


def generate_with_truth(shape: str, seed: int = 0) -> tuple[RatingsData, LatentTruth]:
    """Like :func:`generate`, and also the hidden factors the ratings were drawn from."""
    size = parse_shape(shape)
    who, when, what, side = np.random.default_rng(seed).spawn(4)
    popularity = _item_popularity(who, size)
    counts = _user_counts(who, size)
    items = _sample_items(who, counts, popularity) + 1
    users = np.repeat(np.arange(1, size.n_users + 1, dtype=np.int64), counts)
    truth = _latent(what, popularity, counts)
    ratings, cuts = _rate(what, truth, users, items)
    truth = replace(truth, cuts=cuts)
    data = RatingsData(
        name=f"synthetic-{_canonical(shape)}",
        ratings=_ratings_frame(users, items, ratings, _timestamps(when, counts)),
        scale=RatingScale(1.0, 5.0),
        users=_users_frame(side, truth),
        items=_items_frame(side, truth),
    )
    return data, truth


def _canonical(shape: str) -> str:
    """``" ML-1M "`` -> ``"ml-1m"``, ``"2_000x500x60,000"`` -> ``"2000x500x60000"``."""
    return shape.strip().lower().replace("_", "").replace(",", "")


def _ratings_frame(
    users: np.ndarray, items: np.ndarray, ratings: np.ndarray, timestamps: np.ndarray
) -> pd.DataFrame:
    """The ratings table, sorted by user, then time (``users`` is already grouped)."""
    order = np.argsort(users * (END - START + 1) + (timestamps - START), kind="stable")
    columns = {"user": users, "item": items, "rating": ratings, "timestamp": timestamps}
    return pd.DataFrame({name: values[order] for name, values in columns.items()}, copy=False)


# --- shapes ------------------------------------------------------------------------------


def _shape_problem(n_users: int, n_items: int, n_ratings: int) -> str:
    """Why the counts cannot be a MovieLens-like data set, or "" when they can."""
    if min(n_users, n_items, n_ratings) < 1:
        return "users, items and ratings must all be positive"
    if n_items < MIN_PER_USER:
        return f"{n_items} items, but every user needs {MIN_PER_USER} ratings"
    if n_ratings < MIN_PER_USER * n_users:
        return f"{n_ratings} ratings give fewer than {MIN_PER_USER} to each of {n_users} users"
    if n_ratings > n_users * n_items:
        return f"{n_ratings} ratings exceed users x items = {n_users * n_items}"
    if n_ratings < n_items:
        return f"{n_ratings} ratings cannot cover all {n_items} items"
    return ""


# --- who rates what ----------------------------------------------------------------------


def _item_popularity(rng: np.random.Generator, shape: SyntheticShape) -> np.ndarray:
    """Heavy-tailed sampling weights summing to 1, one per normal quantile, in random order."""
    density = shape.n_ratings / (shape.n_users * shape.n_items)
    sigma = POPULARITY_SIGMA + POPULARITY_SLOPE * max(0.0, np.log(ML1M_DENSITY / density))
    z = ndtri((rng.permutation(shape.n_items) + 0.5) / shape.n_items)
    weights = np.exp(sigma * POPULARITY_HEAD * np.tanh(z / POPULARITY_HEAD))
    return weights / weights.sum()


def _user_counts(rng: np.random.Generator, shape: SyntheticShape) -> np.ndarray:
    """Ratings per user: 20 plus a Lomax share of the rest, saturating below a cap, summing
    exactly to the requested count."""
    cap = max(-(-shape.n_ratings // shape.n_users), round(MAX_USER_SHARE * shape.n_items))
    cap = min(cap, shape.n_items) - MIN_PER_USER
    weights = (1.0 - rng.random(shape.n_users)) ** (-1.0 / ACTIVITY_TAIL) - 1.0 + 1e-9
    total = shape.n_ratings - MIN_PER_USER * shape.n_users
    return MIN_PER_USER + _round_to_total(_soft_fill(weights, total, cap), total)


def _soft_fill(weights: np.ndarray, total: int, cap: int) -> np.ndarray:
    """``cap * (1 - exp(-scale * weights / cap))`` with the scale that makes it sum to
    ``total``: proportional to the weights for most users, bending smoothly below ``cap``
    for the most active ones."""
    if total >= cap * len(weights):
        return np.full(len(weights), float(cap))

    def fill(scale: float) -> np.ndarray:
        return -cap * np.expm1(-scale * weights / cap)

    low, high = 0.0, total / weights.sum()
    while fill(high).sum() < total:
        high *= 2.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if fill(mid).sum() < total else (low, mid)
    return fill(high)


def _round_to_total(values: np.ndarray, total: int) -> np.ndarray:
    """Integers summing to ``total`` (about ``values.sum()``): floors, plus one for the
    largest remainders."""
    floors = np.floor(values)
    short = int(total - floors.sum())
    bump = np.argsort(floors - values, kind="stable")[:short]
    floors[bump] += 1
    return floors.astype(np.int64)


def _sample_items(rng: np.random.Generator, counts: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Inner item indices for ``np.repeat(users, counts)``: per user a popularity-weighted
    sample without replacement, in chunks of users."""
    bounds = np.searchsorted(np.cumsum(counts), np.arange(0, counts.sum(), CHUNK_RATINGS))
    bounds = np.append(np.unique(bounds), len(counts))
    parts = [_sample_chunk(rng, counts[a:b], p) for a, b in itertools.pairwise(bounds)]
    items = np.concatenate(parts)
    _cover_all_items(rng, items, len(p))
    return items


def _sample_chunk(rng: np.random.Generator, counts: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Items for one chunk of users, grouped by user in user order."""
    draws = _draws_needed(counts, p)
    light = draws < len(p) // 4
    users, items = _sample_light(rng, counts, draws, light, p)
    short = np.bincount(users, minlength=len(counts)) < counts
    heavy = np.flatnonzero(~light | short)
    keep = ~np.isin(users, heavy)
    heavy_users, heavy_items = _sample_heavy(rng, heavy, counts[heavy], p)
    users = np.concatenate([users[keep], heavy_users])
    items = np.concatenate([items[keep], heavy_items])
    return items[np.argsort(users, kind="stable")]


def _draws_needed(counts: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Draws with replacement that give ``counts`` distinct items with room to spare: the
    expected number of distinct items after ``t`` draws is ``sum_i 1 - (1 - p_i)**t``."""
    grid = np.unique(np.geomspace(1, 50 * len(p), 200).astype(np.int64))
    log_miss = np.log1p(-np.minimum(p, 1 - 1e-12))
    distinct = np.array([(-np.expm1(t * log_miss)).sum() for t in grid])
    expected = np.interp(counts, distinct, grid)
    return np.ceil(expected + 4 * np.sqrt(expected) + 4).astype(np.int64)


def _sample_light(
    rng: np.random.Generator,
    counts: np.ndarray,
    draws: np.ndarray,
    light: np.ndarray,
    p: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs for the light users: the first ``counts[u]`` distinct items of
    ``draws[u]`` popularity-weighted draws with replacement. Some users may fall short."""
    n_items = len(p)
    who = np.flatnonzero(light)
    users = np.repeat(who, draws[who])
    cdf = np.cumsum(p)
    picks = np.searchsorted(cdf, rng.random(len(users)) * cdf[-1], side="right")
    codes = users * n_items + np.minimum(picks, n_items - 1)
    _, first = np.unique(codes, return_index=True)
    codes = codes[np.sort(first)]  # distinct codes, by user, in draw order
    users = codes // n_items
    per_user = np.bincount(users, minlength=len(counts))
    rank = np.arange(len(codes)) - (np.cumsum(per_user) - per_user)[users]
    keep = rank < counts[users]
    return users[keep], codes[keep] % n_items


def _sample_heavy(
    rng: np.random.Generator, users: np.ndarray, counts: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs for users who rate a large share of the items: the ``k`` smallest
    of ``Exponential(1) / p_i`` keys, the same law as successive weighted draws."""
    n_items = len(p)
    rows = max(1, HEAVY_BLOCK // n_items)
    out_users, out_items = [], []
    for start in range(0, len(users), rows):
        k = counts[start : start + rows]
        keys = rng.exponential(size=(len(k), n_items)) / p
        top = np.argpartition(keys, int(k.max()) - 1, axis=1)[:, : k.max()]
        order = np.argsort(np.take_along_axis(keys, top, axis=1), axis=1)
        ranked = np.take_along_axis(top, order, axis=1)
        take = np.arange(k.max())[None, :] < k[:, None]
        out_users.append(np.repeat(users[start : start + rows], k))
        out_items.append(ranked[take])
    if not out_users:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(out_users), np.concatenate(out_items)


def _cover_all_items(rng: np.random.Generator, items: np.ndarray, n_items: int) -> None:
    """Give every item nobody drew one rating, taken (in place) from items rated by more
    than that many users, so per-user counts and the total stay the same."""
    counts = np.bincount(items, minlength=n_items)
    missing = np.flatnonzero(counts == 0)
    if missing.size == 0:
        return
    donors = np.flatnonzero(counts[items] > missing.size)
    if donors.size < missing.size:  # tiny dense shapes: keep one rating of every item
        by_item = np.argsort(items, kind="stable")
        starts = np.cumsum(counts) - counts
        donors = np.delete(by_item, starts[counts > 0])
    items[rng.choice(donors, size=missing.size, replace=False)] = missing


# --- when --------------------------------------------------------------------------------


def _timestamps(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """Seconds for every rating, grouped by user: 98 % of users join in the first quarter of
    ML-1M's window (as there, mostly in 2000); half rate within hours, half over weeks to
    years."""
    n = len(counts)
    window = END - START
    late = rng.random(n) < 0.02
    joined = START + window * np.where(late, 0.25 + 0.75 * rng.random(n), 0.25 * rng.random(n))
    typical = np.where(rng.random(n) < 0.5, 3_600.0, 30 * 86_400.0)
    span = np.minimum(typical * rng.lognormal(0.0, 1.2, n), END - joined)
    offsets = rng.random(int(counts.sum()))
    return (np.repeat(joined, counts) + np.repeat(span, counts) * offsets).astype(np.int64)


# --- what rating -------------------------------------------------------------------------


def _latent(rng: np.random.Generator, popularity: np.ndarray, counts: np.ndarray) -> LatentTruth:
    """Biases and factors; popular items are a little better, heavy raters a little harsher."""
    n_users, n_items = len(counts), len(popularity)
    user_bias = USER_BIAS_SD * _blend(rng, -np.log(counts), 0.2)
    item_bias = ITEM_BIAS_SD * _blend(rng, np.log(popularity), 0.4)
    user_factors = rng.normal(0.0, FACTOR_SD, (n_users, LATENT_DIM))
    item_factors = rng.normal(0.0, FACTOR_SD, (n_items, LATENT_DIM))
    return LatentTruth(user_bias, item_bias, user_factors, item_factors, np.zeros(4), NOISE_SD)


def _blend(rng: np.random.Generator, driver: np.ndarray, weight: float) -> np.ndarray:
    """Standard normal values correlated ``weight`` with ``driver``."""
    z = (driver - driver.mean()) / (driver.std() + 1e-12)
    return weight * z + np.sqrt(1.0 - weight**2) * rng.standard_normal(len(driver))


def _rate(
    rng: np.random.Generator, truth: LatentTruth, users: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Integer ratings 1..5 (float32) of raw (user, item) ids and the cut points that give
    them ML-1M's histogram (exactly, up to ties of float32 scores)."""
    scores = np.empty(len(users), dtype=np.float32)
    for start in range(0, len(users), CHUNK_RATINGS):
        part = slice(start, start + CHUNK_RATINGS)
        signal = truth.signal(users[part], items[part])
        scores[part] = signal + rng.normal(0.0, truth.noise_sd, len(signal))
    cuts = np.quantile(scores, np.cumsum(TARGET_HISTOGRAM)[:4])
    return (1 + np.searchsorted(cuts, scores, side="left")).astype(np.float32), cuts


# --- side information --------------------------------------------------------------------


def _users_frame(rng: np.random.Generator, truth: LatentTruth) -> pd.DataFrame:
    """gender, age, occupation and zip, each driven by the user's factors or bias."""
    p, n = truth.user_factors / FACTOR_SD, len(truth.user_bias)
    bias = truth.user_bias / USER_BIAS_SD
    noise = rng.standard_normal((3, n))
    female = _quantile_bins(p[:, 0] + 0.15 * bias + 0.5 * noise[0], [1 - FEMALE_SHARE]) == 1
    age = AGE_CODES[
        _quantile_bins(p[:, 1] + 0.4 * bias + 0.5 * noise[1], np.cumsum(AGE_SHARES)[:-1])
    ]
    region = _quantile_bins(p[:, 2] + 0.7 * noise[2], np.arange(1, 10) / 10)
    logits = np.log(OCCUPATION_SHARES) + p @ rng.normal(0.0, 0.6, (LATENT_DIM, 21))
    occupation = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    zips = region * 10_000 + rng.integers(0, 10_000, n)
    return pd.DataFrame(
        {
            "gender": np.where(female, "F", "M"),
            "age": age.astype(np.int64),
            "occupation": occupation.astype(np.int64),
            "zip": pd.Series(zips).astype(str).str.zfill(5).to_numpy(),
        },
        index=pd.RangeIndex(1, n + 1, name="user"),
    )


def _items_frame(rng: np.random.Generator, truth: LatentTruth) -> pd.DataFrame:
    """title (with a release year) and genres, both driven by the item's factors."""
    q, n = truth.item_factors / FACTOR_SD, len(truth.item_bias)
    age = 6.0 * np.exp(0.8 * q[:, 1] + 0.8 * rng.standard_normal(n))
    year = np.clip(2000 - np.floor(age), 1919, 2000).astype(np.int64)
    ids = np.arange(1, n + 1)
    titles = (
        "Synthetic Movie " + pd.Series(ids).astype(str) + " (" + pd.Series(year).astype(str) + ")"
    )
    return pd.DataFrame(
        {"title": titles.to_numpy(), "genres": _genres(rng, q)},
        index=pd.RangeIndex(1, n + 1, name="item"),
    )


def _genres(rng: np.random.Generator, q: np.ndarray) -> np.ndarray:
    """``|``-joined genres: genre g goes to the items whose loading on it plus logistic noise
    is in the top ML-1M share of g; an item left with none gets the genre it came closest to."""
    share = np.array([genre[1] for genre in GENRES])
    score = q[:, :3] @ np.array([genre[2:] for genre in GENRES]).T
    score += rng.logistic(size=score.shape)
    rank = np.minimum(((1.0 - share) * len(q)).astype(np.int64), len(q) - 1)
    threshold = np.sort(score, axis=0)[rank, np.arange(len(GENRES))]
    on = score >= threshold
    closest = np.argmax(score - threshold, axis=1)
    on[np.arange(len(q)), closest] |= ~on.any(axis=1)
    bits = on @ (1 << np.arange(len(GENRES)))
    combos, inverse = np.unique(bits, return_inverse=True)
    names = [genre[0] for genre in GENRES]
    labels = ["|".join(n for j, n in enumerate(names) if c >> j & 1) for c in combos]
    return np.asarray(labels, dtype=object)[inverse]


def _quantile_bins(score: np.ndarray, cum_shares: np.ndarray | list[float]) -> np.ndarray:
    """Bin index of each score, with bins holding the given cumulative shares."""
    return np.searchsorted(np.quantile(score, cum_shares), score, side="right")
