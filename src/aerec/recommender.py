"""The scikit-learn / Surprise style facade: ``fit``, ``predict``, ``recommend``, save, load.

>>> rec = AutoRecommender("autorec", based="item").fit(data, split.train, split.val)
>>> rec.predict([1, 2], [1193, 661])          # raw ids in, clipped ratings out
>>> rec.recommend(1, n=10)                    # a DataFrame of items, scores and titles

Learned state lives in trailing-underscore attributes. Unknown users or items, and users or
items without training ratings, get the fallback (the mean training rating); ``predict``
counts them in ``n_fallback_``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from aerec.data.matrix import RatingMatrix
from aerec.data.side import SideInfo
from aerec.data.types import EncodedData, Interactions, RatingScale, Vocab
from aerec.errors import ConfigError, TrainingError
from aerec.evaluation.metrics import rating_metrics
from aerec.models import ModelConfig, model_config
from aerec.models.registry import Assembly, assemble, default_plan, entry, side_info
from aerec.ops.batches import RowBatcher
from aerec.plan import Plan, TrainConfig, as_plan
from aerec.training import RunOptions, Trainer
from aerec.training.callbacks import EpochCallback
from aerec.training.trainer import predictor_for


def set_threads(n: int) -> None:
    """CPU threads for torch and for the numba kernels of the sparse engine."""
    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # the sparse engine falls back to torch
        pass


class AutoRecommender:
    """A recommender: a model config, a training plan and run-time options.

    model: a registered model name (``aerec.models.MODELS``) or its config.
    train: one phase (a :class:`TrainConfig`) or a plan of phases; None: the model's
        default recipe.
    """

    def __init__(
        self,
        model: str | ModelConfig = "autorec",
        train: TrainConfig | Plan | None = None,
        options: RunOptions | None = None,
        **params,
    ) -> None:
        if isinstance(model, ModelConfig):
            if params:
                raise ConfigError("pass either a ModelConfig or keyword parameters, not both")
            self.config = model
        else:
            self.config = model_config(model, **params)
        self.plan = default_plan(self.config.name) if train is None else as_plan(train)
        self.options = options or RunOptions()

    # -- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        data: EncodedData,
        train: Interactions | None = None,
        val: Interactions | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        callbacks: Sequence[EpochCallback] = (),
    ) -> AutoRecommender:
        """Train on ``train`` (default: all of ``data``), early-stopping on ``val``;
        ``callbacks`` see each epoch's history record (:mod:`aerec.training.callbacks`)."""
        train = data.interactions if train is None else train
        device = self.options.torch_device()
        if self.options.threads:
            set_threads(self.options.threads)
        based = self.config.based
        matrix = RatingMatrix.build(train, data.n_users, data.n_items, based)
        gen = torch.Generator().manual_seed(self.options.seed)
        self._setup(
            assemble(self.config, matrix, side_info(self.config, data), device, gen),
            matrix,
            data.user_vocab,
            data.item_vocab,
            data.scale,
        )
        val_batcher = None
        if val is not None and len(val):
            val_matrix = RatingMatrix.build(val, data.n_users, data.n_items, based)
            val_batcher = RowBatcher(val_matrix, device)
        trainer = Trainer(
            self.model_,
            self.inputs_,
            val_batcher,
            self.plan,
            self.options,
            data.scale,
            checkpoint_dir,
            callbacks,
        )
        self.predictor_ = trainer.predictor  # the same model: predictions follow training
        state = trainer.fit(resume=resume)
        if state.best_weights is None:
            raise TrainingError(f"training failed: {state.stopped}; lower the learning rate")
        if data.items is not None and "title" in data.items:
            self.item_titles_ = data.items["title"].reindex(data.item_vocab.ids).to_numpy(object)
        self.history_, self.best_epoch_, self.stopped_ = (
            state.history,
            state.best_epoch,
            (state.stopped),
        )
        return self

    def _setup(
        self,
        assembly: Assembly,
        matrix: RatingMatrix,
        user_vocab: Vocab,
        item_vocab: Vocab,
        scale: RatingScale,
    ) -> None:
        """Hold what :func:`aerec.models.registry.assemble` built and the data's vocabularies."""
        self.model_, self.inputs_, self.side_ = assembly.model, assembly.inputs, assembly.side
        self.matrix_, self.user_vocab_, self.item_vocab_, self.scale_ = (
            matrix,
            user_vocab,
            item_vocab,
            scale,
        )
        self.train_counts_ = (
            matrix.row_counts()
            if matrix.based == "user"
            else np.bincount(matrix.csr.indices, minlength=len(user_vocab))
        )

    @classmethod
    def from_parts(
        cls,
        config: ModelConfig,
        plan: Plan,
        options: RunOptions,
        matrix: RatingMatrix,
        side: SideInfo | None,
        user_vocab: Vocab,
        item_vocab: Vocab,
        scale: RatingScale,
        weights: Mapping[str, torch.Tensor],
    ) -> AutoRecommender:
        """A fitted recommender from its parts (what :mod:`aerec.persistence` stores)."""
        rec = cls(config, plan, options)
        device = options.torch_device()
        rec._setup(assemble(config, matrix, side, device), matrix, user_vocab, item_vocab, scale)
        rec.model_.load_state_dict(dict(weights))
        rec.model_.eval()
        rec.predictor_ = predictor_for(rec.model_, rec.plan, rec.inputs_, scale)
        return rec

    # -- predicting --------------------------------------------------------------------------
    def predict_inner(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Clipped predictions for inner indices (-1 = unknown gets the fallback)."""
        users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
        known = (users >= 0) & (items >= 0)
        out = np.full(len(users), self.predictor_.fallback, dtype=np.float32)
        rows, cols = (users, items) if self.config.based == "user" else (items, users)
        out[known] = self.predictor_.cells(rows[known], cols[known])
        self.n_fallback_ = int((~known).sum() + self._cold(rows[known], cols[known]).sum())
        return self.scale_.clip(out)

    def _cold(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        cold_rows = self.predictor_.cold_rows.cpu().numpy()
        cold_cols = self.predictor_.cold_cols.cpu().numpy()
        return cold_rows[rows] | cold_cols[cols]

    def predict(self, users, items) -> np.ndarray:
        """Predicted ratings for raw ``users`` and ``items`` ids, clipped to the scale."""
        users, items = np.atleast_1d(users), np.atleast_1d(items)
        if users.shape != items.shape:
            raise ConfigError("users and items must have the same length")
        return self.predict_inner(self.user_vocab_.lookup(users), self.item_vocab_.lookup(items))

    def evaluate(self, inter: Interactions) -> dict:
        """Global RMSE and MAE, per-user RMSE and RMSE by user activity on ``inter``."""
        pred = self.predict_inner(inter.users, inter.items)
        metrics = rating_metrics(inter.users, inter.ratings, pred, self.scale_, self.train_counts_)
        return metrics | {"n_fallback": self.n_fallback_}

    def recommend(self, user, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The ``n`` items with the highest predicted rating for raw ``user`` id."""
        inner = int(self.user_vocab_.lookup(user)[0])
        if inner < 0:
            raise ConfigError(f"user {user!r} is not in the training data")
        items = np.arange(len(self.item_vocab_))
        scores = self.predict_inner(np.full(len(items), inner), items)
        if exclude_seen:
            scores[self._seen_items(inner)] = -np.inf
        top = np.argsort(-scores, kind="stable")[:n]
        top = top[np.isfinite(scores[top])]
        out = pd.DataFrame({"item": self.item_vocab_.ids[top], "score": scores[top]})
        titles = getattr(self, "item_titles_", None)
        if titles is not None:
            out["title"] = titles[top]
        return out

    def _seen_items(self, user: int) -> np.ndarray:
        csr = self.matrix_.csr
        if self.config.based == "user":
            return csr.indices[csr.indptr[user] : csr.indptr[user + 1]]
        return np.flatnonzero(csr[:, [user]].toarray().ravel())

    def predict_new_user(self, ratings: Mapping) -> pd.Series:
        """Predictions for every item from a new user's ``{raw item id: rating}``, without
        retraining (user-based models only)."""
        if not entry(self.config.name).capabilities.fold_in:
            raise ConfigError(
                f"model {self.config.name!r} cannot predict for a new user without retraining; "
                "use a user-based autorec or deep model"
            )
        if self.config.based != "user":
            raise ConfigError("predictions for new users need a user-based model (based = 'user')")
        if self.side_ is not None:
            raise ConfigError("a new user has no side information; use a model with side = 'none'")
        items = self.item_vocab_.lookup(list(ratings))
        values = np.asarray(list(ratings.values()), dtype=np.float32)
        keep = items >= 0
        fill = self.config.fill
        if fill.kind == "constant":
            x = np.full(len(self.item_vocab_), fill.value, dtype=np.float32)
        elif fill.kind == "user_mean":
            mean = values[keep].mean() if keep.any() else self.predictor_.fallback
            x = np.full(len(self.item_vocab_), mean, dtype=np.float32)
        else:
            x = self.matrix_.fill_vectors(fill)[1].copy()
        x[items[keep]] = values[keep]
        self.model_.eval()
        with torch.no_grad():
            pred = self.model_(torch.as_tensor(x[None], device=self.inputs_.device))[0]
        pred = pred.cpu().numpy()
        pred[self.predictor_.cold_cols.cpu().numpy()] = self.predictor_.fallback
        return pd.Series(
            self.scale_.clip(pred),
            index=self.item_vocab_.ids,
            name="prediction",
        )

    # -- persistence -------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write weights (safetensors), config (JSON) and vocabularies to ``folder``."""
        from aerec.persistence import save_recommender

        return save_recommender(self, Path(folder))

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> AutoRecommender:
        """Load what :meth:`save` wrote; never unpickles."""
        from aerec.persistence import load_recommender

        return load_recommender(cls, Path(folder), device)
