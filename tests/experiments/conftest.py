from __future__ import annotations

import pytest

from tests.experiments.tiny import make_experiment


@pytest.fixture(scope="session")
def tiny_experiment(tmp_path_factory):
    """(spec, runs_dir, table) of the tiny experiment, trained once per session."""
    return make_experiment(tmp_path_factory.mktemp("tiny-experiment"))
