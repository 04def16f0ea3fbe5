"""Simple baselines: the global mean, and Koren's user + item bias baseline.

One module, two registry entries. Both are fitted in closed form, not by gradients: their
plan is one phase with ``optimizer = "als"``, whose epoch is one alternating least-squares
sweep taken by the model itself (:meth:`BiasBaseline.als_epoch`). Validation, keep-best,
checkpoints, save / load and ``recommend`` work as for every other model.

The bias baseline (Koren 2010, "Factor in the neighbors", section 2.1; Surprise's
``BaselineOnly`` with ``method = "als"``) predicts ``mu + b_u + b_i`` and minimises

    sum over training ratings of (r_ui - mu - b_u - b_i)^2
        + reg_user * sum of b_u^2 + reg_item * sum of b_i^2

with ``mu`` the mean training rating. A sweep sets every item bias to its ridge solution
given the user biases, ``b_i = sum_u (r_ui - mu - b_u) / (reg_item + n_i)``, then every user
bias given the item biases; each half-step lowers the objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from aerec.errors import ConfigError
from aerec.models.config import ModelConfig
from aerec.models.registry import Capabilities, ModelData, ModelEntry, Recipe, register
from aerec.ops.batches import RowBatcher
from aerec.plan import TrainConfig


@dataclass(frozen=True)
class GlobalMeanConfig(ModelConfig):
    """The global mean: every prediction is the mean training rating."""

    name: ClassVar[str] = "global-mean"


@dataclass(frozen=True)
class BiasConfig(ModelConfig):
    """User + item bias baseline (Koren 2010), regularised, fitted by alternating least squares.

    reg_user: ridge penalty on the user biases (Surprise's ``reg_u``, 15).
    reg_item: ridge penalty on the item biases (Surprise's ``reg_i``, 10).
    """

    name: ClassVar[str] = "bias"
    reg_user: float = 15.0
    reg_item: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not min(self.reg_user, self.reg_item) >= 0:  # also refuses NaN
            raise ConfigError(
                f"reg_user and reg_item must be >= 0, got {self.reg_user}, {self.reg_item}"
            )


class BiasBaseline(nn.Module):
    """``mu + b_row + b_col`` (``biases = False``: ``mu`` alone), rows and columns in the
    training matrix's orientation; ``reg_row`` / ``reg_col`` are their ridge penalties;
    ``item_rows``: the rows are items (an item-based matrix)."""

    def __init__(
        self,
        n_rows: int,
        n_cols: int,
        reg_row: float,
        reg_col: float,
        biases: bool = True,
        item_rows: bool = False,
    ) -> None:
        super().__init__()
        self.reg_row, self.reg_col, self.biases = reg_row, reg_col, biases
        self.item_rows = item_rows
        self.mu = nn.Parameter(torch.zeros(()), requires_grad=False)
        self.b_row = nn.Parameter(torch.zeros(n_rows), requires_grad=False)
        self.b_col = nn.Parameter(torch.zeros(n_cols), requires_grad=False)

    def forward(self, x, side=None, generator=None, rows=None) -> torch.Tensor:
        if rows is None:
            raise ValueError("the bias baseline needs the rows' indices (rows=...)")
        return self.mu + self.b_row[rows, None] + self.b_col[None, :]

    def penalty(self) -> torch.Tensor:
        """The ridge terms of the objective (ALS minimises them in closed form)."""
        return self.reg_row * self.b_row.square().sum() + self.reg_col * self.b_col.square().sum()

    @torch.no_grad()
    def als_epoch(self, train: RowBatcher) -> dict:
        """One sweep: ``mu`` (the mean rating), then the item biases given the user biases,
        then the user biases given the item biases (Surprise's order). Returns the objective
        per rating (``train_loss``) and the training RMSE at the start of the sweep, as an
        Adam epoch reports the losses of the weights each of its steps starts from."""
        counts = train.row_counts()
        rows = torch.repeat_interleave(torch.arange(train.n_rows, device=train.device), counts)
        cols, values = train.indices, train.values.double()
        n = max(len(values), 1)
        err = values - self._cells(rows, cols)
        before = {
            "train_loss": float((err.square().sum() + self.penalty().double()) / n),
            "train_rmse": float(err.square().mean().sqrt()) if len(values) else 0.0,
        }
        self.mu.fill_(float(values.mean()) if len(values) else 0.0)
        if self.biases:
            sides = [(self.b_row, rows, self.reg_row), (self.b_col, cols, self.reg_col)]
            for k in (0, 1) if self.item_rows else (1, 0):
                bias, index, reg = sides[k]
                other, other_index, _ = sides[1 - k]
                resid = values - self.mu.double() - other.double()[other_index]
                bias.copy_(_ridge(resid, index, len(bias), reg))
        return before

    def _cells(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        return self.mu.double() + self.b_row.double()[rows] + self.b_col.double()[cols]


def _ridge(resid: torch.Tensor, index: torch.Tensor, size: int, reg: float) -> torch.Tensor:
    """Per index, ``sum(resid) / (reg + count)``: the ridge solution of one bias per index
    (zero where an index has no rating and ``reg`` is zero)."""
    sums = torch.zeros(size, dtype=torch.float64, device=resid.device).index_add_(0, index, resid)
    count = torch.bincount(index, minlength=size).double()
    return (sums / (reg + count).clamp_min(1e-12)).float()


def build_bias(config: ModelConfig, data: ModelData, generator=None) -> BiasBaseline:
    """The baseline for ``data.matrix``; the user penalty goes to the rows when user-based."""
    n_rows, n_cols = data.matrix.shape
    if isinstance(config, BiasConfig):
        regs = (config.reg_user, config.reg_item)
        reg_row, reg_col = regs if config.based == "user" else regs[::-1]
        item_rows = config.based == "item"
        return BiasBaseline(n_rows, n_cols, reg_row, reg_col, item_rows=item_rows)
    return BiasBaseline(n_rows, n_cols, 0.0, 0.0, biases=False)


ALS = TrainConfig(optimizer="als", loss="mse", epochs=10, patience=3)
"""Ten sweeps (Surprise's ``n_epochs`` for ALS), the best on validation kept."""

CAPABILITIES = Capabilities(based=("user", "item"), side=False, sparse=False, fold_in=False)

GLOBAL_MEAN = register(
    ModelEntry(
        name="global-mean",
        config=GlobalMeanConfig,
        build=build_bias,
        recipes={"default": Recipe((TrainConfig(optimizer="als", loss="mse", epochs=1),))},
        capabilities=CAPABILITIES,
        examples=({}, {"based": "item"}),
        summary="the global mean rating (a floor every model should beat)",
    )
)

BIAS = register(
    ModelEntry(
        name="bias",
        config=BiasConfig,
        build=build_bias,
        recipes={"default": Recipe((ALS,), summary="10 ALS sweeps, best on validation")},
        capabilities=CAPABILITIES,
        examples=({}, {"based": "item", "reg_user": 5.0, "reg_item": 2.0}),
        summary="user + item biases (Koren 2010), regularised, fitted by alternating least squares",
    )
)
