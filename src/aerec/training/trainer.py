"""One trainer for every model and variant: a loop you can read top to bottom.

Each epoch: shuffle the rows that have training ratings, take Adam steps on the masked loss
plus the L2 penalty (with optional input corruption and dense re-feeding), then score the
validation ratings. Early stopping restores the best epoch; a checkpoint after every epoch
lets an interrupted run resume and end exactly as an uninterrupted one would. Callbacks (see
:mod:`aerec.training.callbacks`) see each epoch's record: TensorBoard logging, pruning.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from aerec.evaluation.metrics import rmse, user_rmse
from aerec.ops.batches import RowBatcher
from aerec.ops.sparse import release_scratch
from aerec.training import checkpoint as ckpt
from aerec.training import distributed
from aerec.training.callbacks import EpochCallback
from aerec.training.config import RunOptions, TrainConfig
from aerec.training.corruption import corrupt, corrupt_cells
from aerec.training.losses import masked_mse, masked_se
from aerec.training.predict import Predictor

if TYPE_CHECKING:
    from aerec.models.autoencoder import AutoEncoder


@dataclass
class TrainState:
    """Everything a resumed run needs besides the model and optimizer."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_rmse: float = math.inf
    best_weights: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    stopped: str = ""


def epoch_generators(seed: int, epoch: int, device: torch.device):
    """Numpy and torch generators for one epoch, derived from the run seed alone."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(2)
    torch_gen = torch.Generator(device=device)
    torch_gen.manual_seed(int(state[1]))
    return np.random.default_rng(int(state[0])), torch_gen


class Trainer:
    """Trains ``model`` on the rows of ``train``; scores ``val`` (same row/column layout).

    callbacks: called with a copy of each epoch's history record, after its checkpoint, on
        the main process only; an exception they raise stops training and propagates.
    """

    def __init__(
        self,
        model: AutoEncoder,
        train: RowBatcher,
        val: RowBatcher | None,
        config: TrainConfig,
        options: RunOptions,
        scale: tuple[float, float],
        checkpoint_dir: str | Path | None = None,
        callbacks: Sequence[EpochCallback] = (),
    ) -> None:
        self.model, self.train, self.val = model, train, val
        self.config, self.options, self.scale = config, options, scale
        zero_fill = not (bool(train.fill_row.any()) or bool(train.fill_col.any()))
        self.sparse = config.use_sparse(train.device, zero_fill)
        self.predictor = Predictor(model, train, config.eval_batch_size, self.sparse)
        self.optimizer = torch.optim.Adam(
            model.param_groups(config.weight_decay), lr=config.lr, fused=True
        )
        self.scheduler = _scheduler(self.optimizer, config)
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.rows = torch.nonzero(train.row_counts() > 0).squeeze(1)
        self.world = distributed.setup(train.device)
        self.net = distributed.wrap(model, train.device)
        self.state = TrainState()
        self.callbacks = tuple(callbacks)

    def fit(self, resume: bool = False) -> TrainState:
        """Run epochs until ``epochs``, early stopping or divergence; restore the best."""
        if resume and self.checkpoint_dir and ckpt.exists(self.checkpoint_dir):
            self.state = ckpt.load(self.checkpoint_dir, self.model, self.optimizer, self.scheduler)
        bar = tqdm(
            total=self.config.epochs,
            initial=self.state.epoch,
            unit="epoch",
            disable=not (self.options.progress and self.world.is_main),
            leave=False,
        )
        while self.state.epoch < self.config.epochs and not self.state.stopped:
            record = self._one_epoch(self.state.epoch + 1)
            bar.update(1)
            if record is not None:
                bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k.endswith("_rmse")})
            due = self.state.epoch % self.options.checkpoint_every == 0
            if self.checkpoint_dir and self.world.is_main and due:
                ckpt.save(
                    self.checkpoint_dir, self.model, self.optimizer, self.scheduler, self.state
                )
            if record is not None and self.world.is_main:
                for callback in self.callbacks:
                    callback(dict(record))
        bar.close()
        release_scratch()  # the kept gradient buffers of the sparse kernels (aerec.ops.sparse)
        if self.state.best_weights is not None:
            self.model.load_state_dict(self.state.best_weights)
        return self.state

    def _one_epoch(self, epoch: int) -> dict | None:
        """Train and score one epoch; its history record (None when it diverged)."""
        start = time.perf_counter()
        record = {"epoch": epoch, **self.train_epoch(epoch)}
        if not math.isfinite(record["train_loss"]):
            self.state.stopped = (
                f"diverged at epoch {epoch} (train loss {record['train_loss']})"
                f"; kept the best epoch {self.state.best_epoch}"
            )
            self.state.epoch = epoch
            return None
        if self.val is not None:
            record |= {f"val_{k}": v for k, v in self.evaluate(self.val).items()}
        record["seconds"] = time.perf_counter() - start
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        self.state.history.append(record)
        self.state.epoch = epoch
        self._track_best(record)
        return record

    def _track_best(self, record: dict) -> None:
        state = self.state
        score = record.get("val_rmse", record["train_rmse"])
        if score < state.best_val_rmse:
            state.best_val_rmse, state.best_epoch, state.bad_epochs = score, record["epoch"], 0
            state.best_weights = copy.deepcopy(self.model.state_dict())
        else:
            state.bad_epochs += 1
            if self.config.patience and state.bad_epochs >= self.config.patience:
                state.stopped = f"early stop at epoch {record['epoch']}"
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(score)
        elif self.scheduler is not None:
            self.scheduler.step()

    def train_epoch(self, epoch: int) -> dict:
        """One pass over the rows; returns the mean loss and the RMSE on training ratings."""
        self.model.train()
        rng, gen = epoch_generators(self.options.seed, epoch, self.train.device)
        order = self.rows[torch.as_tensor(rng.permutation(len(self.rows)), device=self.rows.device)]
        # Sums stay on the device (float64, as Python floats would add them): no sync per step.
        loss_sum, loss_n, se_sum, n_cells = 0.0, 0, 0.0, 0
        step = self._sparse_step if self.sparse else self._dense_step
        for batch in order.split(self.config.batch_size):
            total, n, se, cells = step(distributed.shard(batch), gen)
            loss_sum, loss_n, se_sum, n_cells = (
                loss_sum + total.double(),
                loss_n + n,
                se_sum + se.double(),
                n_cells + cells,
            )
        loss_sum, loss_n, se_sum, n_cells = distributed.sum_all(
            [float(loss_sum), loss_n, float(se_sum), int(n_cells)]
        )
        return {
            "train_loss": loss_sum / max(loss_n, 1),
            "train_rmse": math.sqrt(se_sum / max(n_cells, 1)),
        }

    def _dense_step(self, batch: torch.Tensor, gen) -> tuple:
        """One step on dense rows; returns (sum of loss terms, their number, squared error of
        clipped predictions, observed cells), the sums as tensors on the device."""
        x, target, mask = self.train.dense(batch)
        side = self.train.side_of(batch)
        if self.config.noise != "none":
            fill = self.train.fill_row[batch, None] + self.train.fill_col[None, :]
            x = corrupt(x, mask, fill, self.config.noise, self.config.noise_level, gen)
        pred = self.net(x, side, gen)
        if self.config.loss == "row_mse":
            terms, n = masked_mse(pred, target, mask), len(batch)
        else:
            terms, n = masked_se(pred, target, mask), int(mask.sum().item())
        total = terms.sum()
        self._step(self._objective(total, n))
        if self.config.refeed:
            self._refeed(pred.detach(), side, gen)
        with torch.no_grad():
            se = masked_se(pred.clamp(*self.scale), target, mask).sum()
        return total.detach(), n, se, mask.sum().long()

    def _sparse_step(self, batch: torch.Tensor, gen) -> tuple:
        """The same step computed on the observed cells only (see AutoEncoder.forward_cells)."""
        cells = self.train.cells(batch)
        fill_row, fill_col = self.train.fill_row[batch], self.train.fill_col
        delta = cells.minus_fill(fill_row, fill_col)
        delta = corrupt_cells(delta, self.config.noise, self.config.noise_level, gen)
        pred = self.net(delta, self.train.side_of(batch), gen, cells, fill_row, fill_col)
        err = (pred - cells.values).square()
        if self.config.loss == "row_mse":
            per_row = torch.zeros(len(batch), device=err.device).index_add_(0, cells.rows, err)
            counts = (cells.indptr[1:] - cells.indptr[:-1]).clamp(min=1)
            total, n = (per_row / counts).sum(), len(batch)
        else:
            total, n = err.sum(), cells.nnz
        self._step(self._objective(total, n))
        with torch.no_grad():
            se = (pred.clamp(*self.scale) - cells.values).square().sum()
        return total.detach(), n, se, cells.nnz

    def _objective(self, total: torch.Tensor, n: int) -> torch.Tensor:
        """The batch's mean loss: per-row MSEs (``row_mse``) or squared errors (``mse``)
        summed, over their number in the whole batch. Under DDP, which averages gradients
        over the ranks, each rank's sum is scaled by ranks / (terms in the global batch)."""
        n_global = distributed.sum_all([n])[0]
        return total * (self.world.size / max(n_global, 1))

    def _step(self, objective: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.optimizer.step()

    def _refeed(self, output: torch.Tensor, side, gen) -> None:
        """Dense re-feeding: f(f(x)) should reproduce f(x) on every cell."""
        pred = self.net(output, side, gen)
        loss = (pred - output).square().mean()
        self._step(loss)

    def evaluate(self, target: RowBatcher) -> dict:
        """Loss (as trained: per-row or per-cell masked MSE), RMSE and per-user RMSE of clipped
        predictions on the ratings of ``target`` (same layout as the training rows)."""
        csr_rows, cols, true = target.cell_arrays()
        pred = self.predictor.cells(csr_rows, cols).astype(np.float64)
        row_n = np.bincount(csr_rows, minlength=target.n_rows)
        row_se = np.bincount(csr_rows, weights=(pred - true) ** 2, minlength=target.n_rows)
        loss = (
            np.mean(row_se[row_n > 0] / row_n[row_n > 0])
            if self.config.loss == "row_mse"
            else row_se.sum() / max(row_n.sum(), 1)
        )
        clipped = np.clip(pred, *self.scale)
        users = csr_rows if self.train.based == "user" else cols
        return {
            "loss": float(loss),
            "rmse": rmse(true, clipped),
            "user_rmse": user_rmse(users, true, clipped),
        }


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=max(config.patience // 4, 1)
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return None
