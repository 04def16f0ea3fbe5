"""The notebook's masked losses, checked on the notebook's own example tensors."""

import math

import torch

from aerec.training.losses import masked_mse, masked_rmse, masked_rmse_clip, masked_se

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


def test_masked_se_matches_hand_computed_values():
    assert masked_se(PRED, TRUE, MASK).tolist() == [0.0, 49.0, 4.0, 4.0, 4.0, 0.0]


def test_masked_mse_divides_by_observed_count_and_guards_empty_rows():
    expected = [0.0, 49 / 4, 4 / 3, 4 / 2, 4 / 1, 0.0]
    assert torch.allclose(masked_mse(PRED, TRUE, MASK), torch.tensor(expected))


def test_masked_rmse():
    expected = [0.0, math.sqrt(49 / 4), math.sqrt(4 / 3), math.sqrt(2), 2.0, 0.0]
    assert torch.allclose(masked_rmse(PRED, TRUE, MASK), torch.tensor(expected))


def test_masked_rmse_clip_clips_predictions_to_the_scale():
    # the 8 in row 2 is clipped to 5: error 4 instead of 7
    out = masked_rmse_clip(PRED, TRUE, MASK)
    assert math.isclose(out[1].item(), math.sqrt(16 / 4), rel_tol=1e-6)
    assert math.isclose(out[2].item(), math.sqrt(4 / 3), rel_tol=1e-6)


def test_single_row_example():
    pred, true = torch.tensor([[1.0, 1, 1, 3]]), torch.tensor([[0.0, 0, 1, 1]])
    mask = (true != 0).float()
    assert masked_se(pred, true, mask).item() == 4.0
    assert math.isclose(masked_rmse(pred, true, mask).item(), math.sqrt(2), rel_tol=1e-6)


def test_unobserved_cells_do_not_count_even_when_wrong():
    pred = torch.tensor([[100.0, 2.0]])
    true = torch.tensor([[0.0, 2.0]])
    assert masked_mse(pred, true, (true != 0).float()).item() == 0.0
