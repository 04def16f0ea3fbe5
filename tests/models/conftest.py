"""Fixtures of the model tests: a small toy data set and its notebook-style split."""

from __future__ import annotations

import pytest

from aerec.data.splits import split
from tests.helpers import toy_encoded


@pytest.fixture(scope="module")
def data():
    return toy_encoded(n_users=150, n_items=90, seed=1)


@pytest.fixture(scope="module")
def parts(data):
    return split(data, "stratified", seed=0)
