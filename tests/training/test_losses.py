"""The notebook's masked losses and metric, checked on the notebook's own example tensors."""

import math

import numpy as np
import pytest
import torch

from aerec.data.types import RatingScale
from aerec.evaluation.metrics import score
from aerec.training.losses import Loss, masked_mse, masked_se

# "Test custom loss function" in ../shared/seed/000_dfc50c1a894bb7e5.txt
PRED = torch.tensor(
    [[1, 1, 1, 1], [1, 1, 1, 8], [1, 1, 1, 3], [1, 1, 1, 3], [1, 1, 1, 3], [1, 1, 1, 3]],
    dtype=torch.float32,
)
TRUE = torch.tensor(
    [[1, 1, 1, 1], [1, 1, 1, 1], [0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
    dtype=torch.float32,
)
MASK = (TRUE != 0).float()


def _cells(pred, true, mask):
    """The observed cells as (row, true, prediction) arrays, as the scoring function takes."""
    rows, cols = np.nonzero(mask.numpy())
    return rows, true.numpy()[rows, cols], pred.numpy()[rows, cols]


def test_masked_se_matches_hand_computed_values():
    assert masked_se(PRED, TRUE, MASK).tolist() == [0.0, 49.0, 4.0, 4.0, 4.0, 0.0]


def test_masked_mse_divides_by_observed_count_and_guards_empty_rows():
    expected = [0.0, 49 / 4, 4 / 3, 4 / 2, 4 / 1, 0.0]
    assert torch.allclose(masked_mse(PRED, TRUE, MASK), torch.tensor(expected))


def test_notebook_masked_rmse_clip_is_the_per_user_rmse_of_clipped_predictions():
    # the notebook's masked_rmse_clip per row: the 8 in row 2 is clipped to 5 (error 4, not 7);
    # Keras averages the rows that have ratings (the empty row 6 has none here)
    per_row = [0.0, math.sqrt(16 / 4), math.sqrt(4 / 3), math.sqrt(2), 2.0]
    out = score(*_cells(PRED, TRUE, MASK), RatingScale(1, 5))
    assert math.isclose(out["user_rmse"], np.mean(per_row), rel_tol=1e-6)
    global_se = 0 + 16 + 4 + 4 + 4
    assert math.isclose(out["rmse"], math.sqrt(global_se / 14), rel_tol=1e-6)
    assert out["n"] == 14


def test_unclipped_rmse_of_the_notebook_example():
    out = score(*_cells(PRED, TRUE, MASK), RatingScale(1, 10))  # nothing to clip
    assert math.isclose(out["rmse"], math.sqrt((49 + 12) / 14), rel_tol=1e-6)


def test_unobserved_cells_do_not_count_even_when_wrong():
    pred = torch.tensor([[100.0, 2.0]])
    true = torch.tensor([[0.0, 2.0]])
    assert masked_mse(pred, true, (true != 0).float()).item() == 0.0


@pytest.mark.parametrize("kind", ["row_mse", "mse", "sse"])
def test_each_loss_is_the_same_on_dense_rows_and_on_cells(kind):
    loss = Loss(kind)
    dense_total, dense_n = loss.dense(PRED, TRUE, MASK)
    rows, true, pred = _cells(PRED, TRUE, MASK)
    sq = torch.as_tensor((pred - true) ** 2)
    indptr = torch.as_tensor(np.r_[0, np.cumsum(MASK.sum(1).numpy())].astype(np.int64))
    cell_total, cell_n = loss.cells(sq, torch.as_tensor(rows), indptr)
    assert math.isclose(float(dense_total), float(cell_total), rel_tol=1e-6)
    assert dense_n == cell_n
    expected = {"row_mse": (49 / 4 + 4 / 3 + 2 + 4, 6), "mse": (61, 14), "sse": (30.5, 1)}[kind]
    assert math.isclose(float(dense_total), expected[0], rel_tol=1e-6)
    assert dense_n == expected[1]


def test_reported_loss_of_rows():
    row_se, row_n = np.array([49.0, 4.0, 0.0]), np.array([4, 3, 0])
    assert math.isclose(Loss("row_mse").of_rows(row_se, row_n), (49 / 4 + 4 / 3) / 2)
    assert math.isclose(Loss("mse").of_rows(row_se, row_n), 53 / 7)
