"""Sparse FC and GLocal-K: the kernel layer, the objective's terms, the lambda rule, and the
sparse computation against the dense one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aerec.data.matrix import RatingMatrix
from aerec.errors import ConfigError
from aerec.models import assemble, model_config
from aerec.models.kernel import KernelLayer
from aerec.ops.sparse import CellBatch


def test_the_kernel_is_the_finite_support_kernel():
    gen = torch.Generator().manual_seed(0)
    layer = KernelLayer(7, 4, 3, 1.0, 1.0, False, gen)
    with torch.no_grad():
        layer.u.mul_(700.0)  # spread the vectors so some kernel entries are zero
        layer.v.mul_(700.0)
    direct = (1 - (layer.u[:, None, :] - layer.v[None, :, :]).square().sum(-1)).clamp(min=0)
    assert torch.allclose(layer.kernel_t(), direct, atol=1e-5)
    assert (direct == 0).any() and (direct > 0).any()


def test_layers_start_dense_and_glorot_uniform():
    gen = torch.Generator().manual_seed(1)
    layer = KernelLayer(600, 500, 5, 1.0, 1.0, True, gen)
    assert layer.kernel_t().min() > 0.999  # u, v ~ N(0, 1e-3): K starts at 1
    assert layer.weight.abs().max() <= math.sqrt(6 / 1100)
    assert layer.bias.abs().max() <= math.sqrt(3 / 500)
    assert layer.u.abs().max() <= 2e-3  # truncated at two standard deviations
    assert not layer.weight.is_contiguous() and layer.weight.t().is_contiguous()  # first layer


def test_penalty_is_half_lambda_times_the_squares():
    gen = torch.Generator().manual_seed(2)
    layer = KernelLayer(5, 3, 2, 4.0, 0.5, False, gen)
    expected = 0.5 * (0.5 * layer.kernel_t().square().sum() + 4.0 * layer.weight.square().sum())
    assert torch.allclose(layer.penalty(), expected)


def test_lambdas_default_to_the_authors_ml1m_values():
    assert (model_config("sparse-fc").lambda_2, model_config("sparse-fc").lambda_s) == (60, 0.013)
    assert (model_config("glocal-k").lambda_2, model_config("glocal-k").lambda_s) == (70, 0.018)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"layers": ()}, "layer sizes"),
        ({"lambda_2": -1.0}, "lambda_2 must be >= 0"),
        ({"lambda_s": float("nan")}, "lambda_s"),
        ({"input_fill": "user_mean"}, "zero input fill"),
        ({"side": "input"}, "takes no side information"),
    ],
)
def test_bad_kernel_configs_are_one_line(values, message):
    with pytest.raises(ConfigError, match=message):
        model_config("sparse-fc", **values)


def _matrix(seed=0, n_rows=30, n_cols=40):
    rng = np.random.default_rng(seed)
    import scipy.sparse as sp

    dense = np.where(rng.random((n_rows, n_cols)) < 0.2, rng.integers(1, 6, (n_rows, n_cols)), 0)
    return RatingMatrix(sp.csr_array(dense.astype(np.float32)), "item")


@pytest.mark.parametrize("model", ["sparse-fc", "glocal-k"])
@pytest.mark.parametrize("phase", ["pretrain", "finetune"])
def test_the_sparse_computation_is_the_dense_one(model, phase):
    matrix = _matrix()
    config = model_config(model, layers=(12, 8))
    net = assemble(config, matrix, None, "cpu", torch.Generator().manual_seed(3)).model
    if hasattr(net, "start_phase"):
        net.start_phase(phase)
    net.eval()
    csr = matrix.csr
    rows = torch.arange(csr.shape[0])
    cells = CellBatch(
        torch.as_tensor(csr.indptr, dtype=torch.int64),
        torch.as_tensor(csr.indices, dtype=torch.int64),
        torch.as_tensor(csr.data),
        csr.shape[1],
    )
    dense = net(torch.as_tensor(csr.toarray()), rows=rows)
    sparse = net(cells, None, None, cells, None, None, rows=rows)
    counts = torch.as_tensor(np.diff(csr.indptr))
    at_cells = dense[torch.repeat_interleave(rows, counts), cells.cols]
    assert torch.allclose(sparse, at_cells, atol=1e-5)


def test_glocal_k_mean_from_the_code_is_the_mean_of_the_output():
    matrix = _matrix(1)
    net = assemble(model_config("glocal-k", layers=(12, 8)), matrix, None).model
    out = net.encode_decode(net.ratings).mean(dim=1)
    first, last = net.layers[0], net.layers[-1]
    code = net._code(torch.nn.functional.linear(net.ratings, first.effective_weight(), first.bias))
    mu = code @ last.effective_weight().mean(0) + last.bias.mean()
    assert torch.allclose(out, mu, atol=1e-5)


@pytest.mark.parametrize("stop_at", [2, 3])  # the last pre-training round; fine-tuning's first
def test_glocal_k_resumes_exactly_in_either_phase(data, parts, tmp_path, monkeypatch, stop_at):
    from dataclasses import replace

    from aerec.models import MODELS
    from aerec.recommender import AutoRecommender
    from aerec.training import RunOptions, Trainer

    plan = tuple(replace(p, epochs=2, iterations=3) for p in MODELS["glocal-k"].default_plan)

    def fit(**kwargs):
        rec = AutoRecommender("glocal-k", plan, RunOptions(seed=2), layers=(12, 8))
        return rec.fit(data, parts.train, parts.val, **kwargs)

    whole = fit()
    original = Trainer._one_epoch

    def interrupt(self, epoch):
        if epoch == stop_at + 1:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(Trainer, "_one_epoch", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fit(checkpoint_dir=tmp_path)
    monkeypatch.setattr(Trainer, "_one_epoch", original)
    resumed = fit(checkpoint_dir=tmp_path, resume=True)
    assert [r["val_rmse"] for r in resumed.history_] == [r["val_rmse"] for r in whole.history_]
    assert [r["phase"] for r in resumed.history_] == ["pretrain"] * 2 + ["finetune"] * 2
    before, after = whole.model_.state_dict(), resumed.model_.state_dict()
    pairs = zip(before.values(), after.values(), strict=True)
    assert all(torch.equal(x, y) for x, y in pairs)
