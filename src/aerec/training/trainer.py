"""One trainer for every model and variant: a plan of phases, read top to bottom.

A plan (:mod:`aerec.plan`) is a tuple of phases. Each phase builds its optimizer over the
parameters it trains and runs epochs: an Adam / AdamW epoch shuffles the rows that have
training ratings and takes a step per mini-batch on the masked loss (with optional input
corruption and dense re-feeding); an L-BFGS epoch is one round of full-batch iterations. After
each epoch the validation ratings are scored; the phase keeps its best (or last) epoch and the
next phase starts from it. A checkpoint after every epoch, and at each phase boundary, records
the phase and the position in it, so an interrupted run resumes and ends exactly as an
uninterrupted one would. Callbacks (see :mod:`aerec.training.callbacks`) see each epoch's
record: TensorBoard logging, pruning.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from aerec.data.types import RatingScale
from aerec.errors import ConfigError
from aerec.evaluation.metrics import rmse_of_sums, score
from aerec.ops.batches import RowBatcher
from aerec.ops.sparse import release_scratch
from aerec.plan import Plan, TrainConfig, as_plan
from aerec.training import checkpoint as ckpt
from aerec.training import distributed
from aerec.training.callbacks import EpochCallback
from aerec.training.compiled import compiled_step
from aerec.training.config import RunOptions
from aerec.training.corruption import corrupt, corrupt_cells
from aerec.training.device_eval import evaluate_on_device
from aerec.training.losses import Loss, masked_se
from aerec.training.optim import LBFGS, build_optimizer, build_scheduler
from aerec.training.predict import Predictor


@dataclass
class TrainState:
    """Everything a resumed run needs besides the model and optimizer.

    epoch counts the epochs of every phase run so far; ``phase`` is the index of the phase
    in the plan and ``phase_epoch`` the epochs run in it. The best-epoch fields and
    ``stopped`` belong to the current phase (after the last phase: to the last phase)."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_rmse: float = math.inf
    best_weights: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    stopped: str = ""
    phase: int = 0
    phase_epoch: int = 0
    diverged: bool = False


def sparse_engine(model: nn.Module, phase: TrainConfig, inputs: RowBatcher) -> bool:
    """Whether ``phase`` trains (and predicts) ``model`` on the observed cells only."""
    has_cells = hasattr(model, "forward_cells")
    in_phase = getattr(model, "sparse_in_phase", lambda name: True)(phase.name)
    zero_fill = not (bool(inputs.fill_row.any()) or bool(inputs.fill_col.any()))
    return phase.use_sparse(inputs.device, zero_fill, has_cells and in_phase)


def predictor_for(model: nn.Module, plan: Plan, inputs: RowBatcher, scale: RatingScale):
    """The predictor of a trained ``model``: in its last phase's computation."""
    last = as_plan(plan)[-1]
    if hasattr(model, "start_phase"):
        model.start_phase(last.name)
    return Predictor(model, inputs, last.eval_batch_size, sparse_engine(model, last, inputs))


def epoch_generators(seed: int, epoch: int, device: torch.device):
    """Numpy and torch generators for one epoch, derived from the run seed alone."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(2)
    torch_gen = torch.Generator(device=device)
    torch_gen.manual_seed(int(state[1]))
    return np.random.default_rng(int(state[0])), torch_gen


class Trainer:
    """Trains ``model`` on the rows of ``train`` by ``plan``; scores ``val`` (same layout).

    callbacks: called with a copy of each epoch's history record, after its checkpoint, on
        the main process only; an exception they raise stops training and propagates.
    """

    def __init__(
        self,
        model: nn.Module,
        train: RowBatcher,
        val: RowBatcher | None,
        plan: TrainConfig | Plan,
        options: RunOptions,
        scale: RatingScale,
        checkpoint_dir: str | Path | None = None,
        callbacks: Sequence[EpochCallback] = (),
    ) -> None:
        self.model, self.train, self.val = model, train, val
        self.plan, self.options, self.scale = as_plan(plan), options, scale
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.rows = torch.nonzero(train.row_counts() > 0).squeeze(1)
        self.rows_host = np.flatnonzero(np.diff(train.indptr_host) > 0)
        self.world = distributed.setup(train.device)
        self.net = distributed.wrap(model, train.device)
        self.state = TrainState()
        self.callbacks = tuple(callbacks)
        self.predictor = Predictor(model, train, self.plan[-1].eval_batch_size)
        self._begin(self.plan[0])

    @property
    def config(self) -> TrainConfig:
        """The current phase."""
        return self.plan[min(self.state.phase, len(self.plan) - 1)]

    # -- phases ------------------------------------------------------------------------------
    def _begin(self, phase: TrainConfig) -> None:
        """Set the model and the optimizer up for ``phase``."""
        if phase.optimizer == "lbfgs" and self.world.size > 1:
            raise ConfigError("an lbfgs phase runs on one process; start it without torchrun")
        if hasattr(self.model, "start_phase"):
            self.model.start_phase(phase.name)
        self.sparse = self.predictor.sparse = sparse_engine(self.model, phase, self.train)
        self.optimizer = build_optimizer(self.model, phase)
        self.scheduler = build_scheduler(self.optimizer, phase)
        self.penalty_in_graph = not (
            phase.optimizer == "adam" and hasattr(self.model, "decay_groups")
        )
        self.compiled = compiled_step(self, phase)  # None: eager steps

    def fit(self, resume: bool = False) -> TrainState:
        """Run the plan's phases until each one's epochs, early stop or divergence; each
        phase ends on the weights it keeps."""
        if resume and self.checkpoint_dir and ckpt.exists(self.checkpoint_dir):
            self.state, saved = ckpt.load(self.checkpoint_dir, self.model)
            if self.state.phase < len(self.plan):
                self._begin(self.plan[self.state.phase])
                ckpt.restore_optimizer(saved, self.optimizer, self.scheduler)
        self._saved_at = time.monotonic()
        bar = tqdm(
            total=sum(phase.epochs for phase in self.plan),
            initial=self.state.epoch,
            unit="epoch",
            disable=not (self.options.progress and self.world.is_main),
            leave=False,
        )
        while self.state.phase < len(self.plan):
            phase = self.plan[self.state.phase]
            while self.state.phase_epoch < phase.epochs and not self.state.stopped:
                record = self._one_epoch(self.state.epoch + 1)
                bar.update(1)
                if record is not None:
                    bar.set_postfix(
                        {k: f"{v:.4f}" for k, v in record.items() if k.endswith("rmse")}
                    )
                if self._checkpoint_due():
                    self._save()
                if record is not None and self.world.is_main:
                    for callback in self.callbacks:
                        callback(dict(record))
            if not self._finish_phase(phase):
                break
        bar.close()
        release_scratch()  # the kept gradient buffers of the sparse kernels (aerec.ops.sparse)
        return self.state

    def _finish_phase(self, phase: TrainConfig) -> bool:
        """Load the weights ``phase`` keeps; move on to the next phase (checkpointed at the
        boundary). False when training ends here: the last phase, or a divergence."""
        state = self.state
        if state.best_weights is not None:
            self.model.load_state_dict(state.best_weights)
        last = state.phase == len(self.plan) - 1
        if last or state.diverged or state.best_weights is None:
            return False
        state.phase, state.phase_epoch, state.stopped = state.phase + 1, 0, ""
        state.best_val_rmse, state.best_weights, state.bad_epochs = math.inf, None, 0
        self._begin(self.plan[state.phase])
        self._save()
        return True

    def _checkpoint_due(self) -> bool:
        """Every ``checkpoint_every`` epochs, at most once in ``checkpoint_seconds``."""
        options = self.options
        return (
            self.state.phase_epoch % options.checkpoint_every == 0
            and time.monotonic() - self._saved_at >= options.checkpoint_seconds
        )

    def _save(self) -> None:
        if self.checkpoint_dir and self.world.is_main:
            ckpt.save(self.checkpoint_dir, self.model, self.optimizer, self.scheduler, self.state)
            self._saved_at = time.monotonic()

    # -- epochs ------------------------------------------------------------------------------
    def _one_epoch(self, epoch: int) -> dict | None:
        """Train and score one epoch; its history record (None when it diverged)."""
        start = time.perf_counter()
        if self.config.lrs is not None:  # a replayed schedule: this epoch's learning rate
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.lrs[self.state.phase_epoch]
        record = {"epoch": epoch, **self.train_epoch(epoch)}
        state = self.state
        state.epoch, state.phase_epoch = epoch, state.phase_epoch + 1
        if not math.isfinite(record["train_loss"]):
            state.stopped = (
                f"diverged at epoch {epoch} (train loss {record['train_loss']})"
                f"; kept the best epoch {state.best_epoch}"
            )
            state.diverged = True
            return None
        if self.val is not None:
            record |= {f"val_{k}": v for k, v in self.evaluate(self.val).items()}
        record["seconds"] = time.perf_counter() - start
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        if len(self.plan) > 1:
            record["phase"] = self.config.name
        state.history.append(record)
        self._track_best(record)
        return record

    def _track_best(self, record: dict) -> None:
        state, phase = self.state, self.config
        score_ = record.get("val_rmse", record["train_rmse"])
        if score_ < state.best_val_rmse or phase.keep == "last":
            state.best_val_rmse, state.best_epoch, state.bad_epochs = score_, record["epoch"], 0
            state.best_weights = copy.deepcopy(self.model.state_dict())
        else:
            state.bad_epochs += 1
            if phase.patience and state.bad_epochs >= phase.patience:
                state.stopped = f"early stop at epoch {record['epoch']}"
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(score_)
        elif self.scheduler is not None:
            self.scheduler.step()

    def train_epoch(self, epoch: int) -> dict:
        """One epoch of the current phase; the mean loss and the RMSE on training ratings."""
        self.model.train()
        if self.config.optimizer == "als":  # one closed-form sweep, taken by the model
            return self.model.als_epoch(self.train)
        if isinstance(self.optimizer, LBFGS):
            return self._lbfgs_epoch()
        rng, gen = epoch_generators(self.options.seed, epoch, self.train.device)
        perm = rng.permutation(len(self.rows))
        order = self.rows[torch.as_tensor(perm, device=self.rows.device)]
        # Sums stay on the device (float64, as Python floats would add them) and each batch's
        # cell count comes from the host: no sync per step.
        loss_sum, loss_n, se_sum, n_cells = 0.0, 0, 0.0, 0
        batches = order.split(self.config.batch_size)
        for batch, counted in zip(batches, self._cell_counts(perm, len(batches)), strict=True):
            total, n, se, cells = self._step_on(distributed.shard(batch), gen, counted)
            loss_sum, loss_n, se_sum, n_cells = (
                loss_sum + total.double(),
                loss_n + n,
                se_sum + se.double(),
                n_cells + cells,
            )
        loss_sum, loss_n, se_sum, n_cells = distributed.sum_all(
            [float(loss_sum), int(loss_n), float(se_sum), int(n_cells)]
        )
        return {
            "train_loss": loss_sum / max(loss_n, 1),
            "train_rmse": rmse_of_sums(se_sum, n_cells),
        }

    def _cell_counts(self, perm: np.ndarray, n_batches: int) -> list:
        """Each batch's observed cells, counted on the host (None under DDP: a rank's shard)."""
        if self.world.size > 1:
            return [None] * n_batches
        return self.train.cell_counts(self.rows_host[perm], self.config.batch_size)

    def _step_on(self, batch: torch.Tensor, gen, n_cells: int | None = None) -> tuple:
        """One optimizer step on ``batch`` (of ``n_cells`` observed cells, when known); (loss
        total, its number of terms, squared error of clipped predictions, observed cells), the
        sums as tensors on the device."""
        if self.compiled is not None:
            return self.compiled.step(batch, n_cells)
        total, n, se, cells, again = self._batch_loss(batch, gen, n_cells)
        self._step(self._objective(total, n))
        if again is not None:
            again()
        return total.detach(), n, se, cells

    def _batch_loss(self, batch: torch.Tensor, gen, n_cells: int | None = None) -> tuple:
        """The batch's loss (with its graph), the clipped squared error and cell count, and
        the re-feeding step to take after the optimizer step (or None)."""
        loss = Loss(self.config.loss)
        side = self.train.side_of(batch)
        if self.sparse:
            cells = self.train.cells(batch, n_cells)
            fill_row, fill_col = self.train.fill_row[batch], self.train.fill_col
            delta = cells.minus_fill(fill_row, fill_col)
            delta = corrupt_cells(delta, self.config.noise, self.config.noise_level, gen)
            pred = self.net(delta, side, gen, cells, fill_row, fill_col, rows=batch)
            total, n = loss.cells((pred - cells.values).square(), cells.rows, cells.indptr)
            with torch.no_grad():
                se = (self.scale.clip(pred) - cells.values).square().sum()
            return total, n, se, cells.nnz, None
        x, target, mask = self.train.dense(batch, n_cells)
        if self.config.noise != "none":
            fill = self.train.fill_row[batch, None] + self.train.fill_col[None, :]
            x = corrupt(x, mask, fill, self.config.noise, self.config.noise_level, gen)
        pred = self.net(x, side, gen, rows=batch)
        total, n = loss.dense(pred, target, mask)
        again = None
        if self.config.refeed:
            again = lambda: self._refeed(pred.detach(), side, gen, batch)  # noqa: E731
        with torch.no_grad():
            se = masked_se(self.scale.clip(pred), target, mask).sum()
        return total, n, se, mask.sum().long(), again

    def _objective(self, total: torch.Tensor, n: int) -> torch.Tensor:
        """The batch's mean loss: its loss terms summed over their number in the whole batch
        (``sse``: not normalised), plus the penalty where the optimizer does not apply it.
        Under DDP, which averages gradients over the ranks, each rank's sum is scaled by
        ranks / (terms in the global batch)."""
        n_global = distributed.sum_all([n])[0]
        if isinstance(n_global, torch.Tensor):  # counted on the device: the same float32 scale
            objective = total * (self.world.size / n_global.clamp(min=1).double()).float()
        else:
            objective = total * (self.world.size / max(n_global, 1))
        return objective + self.model.penalty() if self.penalty_in_graph else objective

    def _step(self, objective: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.optimizer.step()

    def _refeed(self, output: torch.Tensor, side, gen, batch) -> None:
        """Dense re-feeding: f(f(x)) should reproduce f(x) on every cell."""
        pred = self.net(output, side, gen, rows=batch)
        loss = (pred - output).square().mean()
        self._step(loss + self.model.penalty() if self.penalty_in_graph else loss)

    def _lbfgs_epoch(self) -> dict:
        """One L-BFGS round over the full batch (the rows in chunks of ``batch_size``, their
        gradients summed); the memory restarts with the round when the phase says so."""
        phase = self.config
        if phase.restart and self.state.phase_epoch > 0:
            self.optimizer = build_optimizer(self.model, phase)
        loss = Loss(phase.loss)
        n_cells = int(self.train.row_counts().sum())
        norm = loss.normaliser(n_cells, len(self.rows))
        sums: dict = {}

        seed, epoch, device = self.options.seed, self.state.epoch + 1, self.train.device

        def closure() -> torch.Tensor:  # every evaluation draws the same code dropout
            self.optimizer.zero_grad(set_to_none=False)
            gen = epoch_generators(seed, epoch, device)[1]
            data, se, cells = 0.0, 0.0, 0
            for batch in self.rows.split(phase.batch_size):
                total, _, batch_se, batch_cells, _ = self._batch_loss(batch, gen)
                (total / norm).backward()
                data, se, cells = (
                    data + float(total.detach()),
                    se + float(batch_se),
                    cells + int(batch_cells),
                )
            penalty = self.model.penalty()
            if penalty.requires_grad:
                penalty.backward()
            sums.update(loss=data / norm, se=se, cells=cells)
            return torch.tensor(data / norm + float(penalty.detach()), dtype=torch.float64)

        self.optimizer.step(closure)
        return {"train_loss": sums["loss"], "train_rmse": rmse_of_sums(sums["se"], sums["cells"])}

    # -- scoring -----------------------------------------------------------------------------
    def evaluate(self, target: RowBatcher) -> dict:
        """Loss (as trained), RMSE and per-user RMSE of clipped predictions on the ratings of
        ``target`` (same layout as the training rows). On CUDA the sums are formed on the
        device (:mod:`aerec.training.device_eval`: the same numbers to float64 rounding)."""
        if target.device.type == "cuda":
            user_based = self.train.based == "user"
            loss = Loss(self.config.loss)
            return evaluate_on_device(self.predictor, target, loss, self.scale, user_based)
        csr_rows, cols, true = target.cell_arrays()
        pred = self.predictor.cells(csr_rows, cols).astype(np.float64)
        row_n = np.bincount(csr_rows, minlength=target.n_rows)
        row_se = np.bincount(csr_rows, weights=(pred - true) ** 2, minlength=target.n_rows)
        users = csr_rows if self.train.based == "user" else cols
        scores = score(users, true, pred, self.scale)
        return {
            "loss": Loss(self.config.loss).of_rows(row_se, row_n),
            "rmse": scores["rmse"],
            "user_rmse": scores["user_rmse"],
        }
