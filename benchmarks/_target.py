"""Time training to a target test metric: the clock ``time_to_rmse.py`` and ``gpu_check.py``
share.

The clock sums each epoch's ``seconds`` (one training epoch and one validation pass, as the
trainer's history records them). After each epoch whose model is the one early stopping
keeps (the best validation RMSE so far), that model is scored on the test ratings, untimed;
the clock stops when the score is at or below the target. The test never steers training.
"""

from __future__ import annotations

import contextlib


class _Reached(Exception):
    """Raised by the epoch callback to stop the clock: the target is reached."""


def fresh_trainer(model, params, data_config, seed, config, data_dir, device="auto"):
    """A trainer of a freshly initialised ``model`` on ``data_config``'s split (seed ``seed``),
    trained with the TrainConfig ``config``, its data resident on ``device``. A one-epoch fit
    first builds the inputs and warms the kernels up (numba compilation, CUDA start-up), so
    neither is timed. Returns (trainer, rec, data, val, test): ``rec`` the AutoRecommender
    whose inputs and model the trainer uses, ``val``/``test`` batchers of those ratings."""
    import torch

    from aerec.data.matrix import RatingMatrix
    from aerec.models import assemble_data
    from aerec.ops.batches import RowBatcher
    from aerec.recommender import AutoRecommender
    from aerec.runs import load_data
    from aerec.training import RunOptions, TrainConfig
    from aerec.training.trainer import Trainer

    data, parts = load_data(data_config, seed=seed, data_dir=data_dir)
    warm_up = TrainConfig(epochs=1, patience=0)
    rec = AutoRecommender(model, warm_up, RunOptions(seed=seed, device=device), **params)
    rec.fit(data, parts.train, None)
    gen = torch.Generator().manual_seed(seed)  # a fresh model, as a fit of its own builds it
    fresh = assemble_data(rec.config, data, parts.train, rec.inputs_.device, gen)
    rec.model_, rec.inputs_, rec.plan = fresh.model, fresh.inputs, (config,)

    def batcher(part):
        matrix = RatingMatrix.build(part, data.n_users, data.n_items, rec.config.based)
        return RowBatcher(matrix, rec.inputs_.device)

    val, test = batcher(parts.val), batcher(parts.test)
    trainer = Trainer(rec.model_, rec.inputs_, val, config, rec.options, data.scale)
    return trainer, rec, data, val, test


def train_to_target(trainer, test, metric: str, target: float | None) -> dict:
    """Fit ``trainer`` until the kept model's test ``metric`` (``rmse`` or ``user_rmse``) is at
    or below ``target``, or through all its epochs when ``target`` is None. Returns the timed
    ``seconds``, the ``reached`` epoch (None if not reached), ``epochs`` run and ``value``,
    the last kept model's test metric."""
    seen = {"seconds": 0.0, "value": None, "reached": None}

    def watch(record: dict) -> None:  # after each epoch; record["seconds"]: train + val
        seen["seconds"] += record["seconds"]
        if trainer.state.best_epoch == record["epoch"]:
            seen["value"] = trainer.evaluate(test)[metric]  # not timed
            if target is not None and seen["value"] <= target:
                seen["reached"] = record["epoch"]
                raise _Reached

    trainer.callbacks = (watch,)
    with contextlib.suppress(_Reached):
        trainer.fit()
    return {
        "seconds": seen["seconds"],
        "reached": seen["reached"],
        "epochs": trainer.state.epoch,
        "value": seen["value"],
    }
