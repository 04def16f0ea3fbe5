"""Per-epoch callbacks: they see every history record, cannot change a result, can stop
training; the TensorBoard logger writes exactly the history."""

from __future__ import annotations

import sys

import pytest

from aerec.errors import ConfigError
from aerec.recommender import AutoRecommender
from aerec.training import RunOptions, TrainConfig
from aerec.training.callbacks import TensorBoardLogger, scalar_tag
from tests.helpers import history_scalars, read_scalars

FAST = TrainConfig(epochs=4, patience=0, lr=3e-3, batch_size=32)
SMALL = {"based": "user", "hidden": 16}


def _fit(data, parts, callbacks=()):
    rec = AutoRecommender("autorec", FAST, RunOptions(seed=1, threads=1), **SMALL)
    return rec.fit(data, parts.train, parts.val, callbacks=callbacks)


def _timeless(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def test_callbacks_see_each_record_and_cannot_change_the_result(data, parts):
    seen = []

    def meddle(record):
        seen.append(dict(record))
        record["val_rmse"] = -1.0  # a callback's copy, not the history

    plain, watched = _fit(data, parts), _fit(data, parts, [meddle])
    assert seen == watched.history_
    assert [r["epoch"] for r in seen] == [1, 2, 3, 4]
    assert _timeless(watched.history_) == _timeless(plain.history_)


def test_a_callback_that_raises_stops_training(data, parts):
    class Stop(Exception):
        pass

    seen = []

    def stop_at_2(record):
        seen.append(record["epoch"])
        if record["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        _fit(data, parts, [stop_at_2])
    assert seen == [1, 2]


@pytest.mark.parametrize(
    ("key", "tag"),
    [
        ("train_loss", "loss/train"),
        ("val_rmse", "rmse/val"),
        ("val_user_rmse", "user_rmse/val"),
        ("lr", "lr"),
        ("seconds", "seconds"),
    ],
)
def test_scalar_tags_group_train_and_val_of_a_metric(key, tag):
    assert scalar_tag(key) == tag


def test_tensorboard_events_equal_the_history(data, parts, tmp_path):
    with TensorBoardLogger(tmp_path / "board") as logger:
        rec = _fit(data, parts, [logger])
    scalars = read_scalars(tmp_path / "board")
    assert scalars == history_scalars(rec.history_)
    assert {"loss/train", "rmse/val", "user_rmse/val", "lr", "seconds"} <= set(scalars)
    assert [step for step, _ in scalars["rmse/val"]] == [1, 2, 3, 4]


def test_an_unused_logger_writes_nothing(tmp_path):
    TensorBoardLogger(tmp_path / "board").close()
    assert not (tmp_path / "board").exists()


def test_missing_tensorboard_is_a_one_line_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ConfigError, match=r"pip install 'aerec\[tensorboard\]'"):
        TensorBoardLogger(tmp_path / "board")
