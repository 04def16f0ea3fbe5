import numpy as np
import pytest

from aerec.errors import ConfigError
from aerec.runs import DataConfig, RunConfig, load_data

DATASET = "synthetic-300x150x15000"


def test_user_filter_keeps_only_the_group():
    data, _ = load_data(DataConfig(DATASET, user_filter="gender == 'F'"), seed=1)
    women = set(data.users.index[data.users["gender"] == "F"])
    assert set(data.user_vocab.ids) <= women and data.n_users < 300
    assert "gender == 'F'" in data.name


def test_eval_filter_trains_on_all_but_scores_the_group():
    full, everyone = load_data(DataConfig(DATASET), seed=1)
    data, parts = load_data(DataConfig(DATASET, eval_filter="gender == 'F'"), seed=1)
    assert data.n_users == full.n_users and len(parts.train) == len(everyone.train)
    women = data.user_vocab.lookup(data.users.index[data.users["gender"] == "F"])
    assert np.isin(parts.test.users, women).all() and len(parts.test) < len(everyone.test)
    assert parts.report["n_test"] == len(parts.test)


@pytest.mark.parametrize("query", ["gender ==", "gender == 'X'"])
def test_bad_filters_are_config_errors(query):
    with pytest.raises(ConfigError):
        load_data(DataConfig(DATASET, user_filter=query), seed=1)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"seed": "x"}, "seed must be a non-negative integer"),
        ({"seed": 1.7}, "seed must be a non-negative integer"),
        ({"model": {"name": "deep", "layers": ["a"]}}, "wrong type"),
        ({"model": {"name": "deep", "layers": [1.5, 2, 1.5]}}, "wrong type"),
    ],
)
def test_bad_run_config_values_are_one_line_errors(values, message):
    from aerec.runs import RunConfig

    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(values)


def test_a_partial_train_section_starts_from_the_model_defaults():
    from aerec.models.registry import default_plan
    from aerec.runs import RunConfig

    config = RunConfig.from_dict({"model": {"name": "deep"}, "train": {"epochs": 3}})
    assert config.plan[0].epochs == 3 and config.plan[0].lr == default_plan("deep")[0].lr


def test_a_run_without_threads_takes_its_share_of_the_cores(tmp_path, monkeypatch):
    from aerec import recommender, runfolder, runs
    from aerec.runs import RunConfig, train_run
    from aerec.training import RunOptions

    calls = []
    monkeypatch.setattr(runs, "default_threads", lambda: 3)
    monkeypatch.setattr(runfolder, "default_threads", lambda: 3)  # the epoch callback's
    monkeypatch.setattr(recommender, "set_threads", calls.append)
    config = RunConfig.from_dict(
        {"data": {"dataset": DATASET}, "model": {"hidden": 4}, "train": {"epochs": 1}}
    )
    train_run(config, tmp_path / "r", RunOptions())
    assert calls == [3]
    train_run(config, tmp_path / "s", RunOptions(threads=1))
    assert calls == [3, 1]


def test_kfold_uses_the_configured_fold():
    """Each fold of DataConfig(split='kfold', k, fold) tests other ratings: the folds
    partition the data (before DataConfig carried k and fold, every run got fold 0)."""
    tests = []
    for fold in range(3):
        data, parts = load_data(DataConfig(DATASET, split="kfold", k=3, fold=fold), seed=1)
        assert parts.report["k"] == 3 and parts.report["fold"] == fold
        tests.append(set(zip(parts.test.users.tolist(), parts.test.items.tolist(), strict=True)))
    assert not tests[0] & tests[1] and not tests[1] & tests[2] and not tests[0] & tests[2]
    assert sum(map(len, tests)) == len(data.interactions)


def test_unused_split_fields_keep_the_config_dict_and_run_ids():
    from aerec.config import to_dict

    assert set(to_dict(DataConfig())) == {"dataset", "split", "test_size", "data_seed"}


def test_fields_added_at_their_old_behaviour_keep_the_config_dict_and_run_ids():
    """AutoRec's ``binary`` and a phase's ``lrs``, at their defaults, are left out of the dict
    (so every earlier run keeps its id); set, they are written and read back."""
    from aerec.config import to_dict
    from aerec.experiments.expand import run_id

    values = {"model": {"name": "autorec", "based": "item"}}
    config = RunConfig.from_dict(values)
    assert "binary" not in to_dict(config.model) and "lrs" not in to_dict(config.plan[0])
    binary = RunConfig.from_dict({"model": values["model"] | {"binary": True}})
    assert to_dict(binary.model)["binary"] is True
    back = RunConfig.from_dict(binary.to_dict())
    assert (back.model, back.plan) == (binary.model, binary.plan)
    assert run_id("x", binary) != run_id("x", config)
    explicit = RunConfig.from_dict({"model": values["model"] | {"binary": False}})
    assert run_id("x", explicit) == run_id("x", config)
