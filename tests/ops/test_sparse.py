"""The sparse encoder and observed-cell decoder against dense references: same values and
gradients, on the numba kernels and the torch fallback, bitwise reproducible."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from aerec.data.matrix import InputFill, RatingMatrix
from aerec.ops import sparse as sparse_ops
from aerec.ops.batches import RowBatcher
from aerec.ops.sparse import CellBatch, observed_linear, sparse_conv2d, sparse_input_linear

# (rows in batch, columns, hidden); 37 and 40 columns leave partial 16-column blocks.
SHAPES = [(1, 7, 3), (6, 37, 16), (9, 40, 21)]
FILLS = ["none", "row", "col", "both"]


@pytest.fixture(params=["numba", "torch"])
def backend(request, monkeypatch):
    """Run a test on the numba kernels and again on the forced torch fallback."""
    monkeypatch.setattr(sparse_ops, "USE_NUMBA", request.param == "numba")
    return request.param


def _problem(n_rows, n_cols, hidden, fill="both", seed=0):
    """Random cells (row 0 empty and row 1 full when there are rows enough), fills, weights."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(n_rows, n_cols, generator=gen) < 0.3
    if n_rows >= 3:
        mask[0], mask[1] = False, True
    pos, cols = mask.nonzero(as_tuple=True)
    ratings = torch.randint(1, 6, (len(pos),), generator=gen).float()
    cells = CellBatch.from_observed(pos, cols, ratings, n_rows, n_cols)
    fill_row = torch.rand(n_rows, generator=gen) * 5 if fill in ("row", "both") else None
    fill_col = torch.rand(n_cols, generator=gen) * 5 if fill in ("col", "both") else None
    return {
        "cells": cells,
        "fill_row": fill_row,
        "fill_col": fill_col,
        "w_in": torch.randn(hidden, n_cols, generator=gen, requires_grad=True),
        "b_in": torch.randn(hidden, generator=gen, requires_grad=True),
        "h": torch.rand(n_rows, hidden, generator=gen, requires_grad=True),
        "w_out": torch.randn(n_cols, hidden, generator=gen, requires_grad=True),
        "b_out": torch.randn(n_cols, generator=gen, requires_grad=True),
    }


def _dense_input(p):
    """The dense batch the trainer builds: the fill, with the ratings at observed cells."""
    cells = p["cells"]
    x = torch.zeros(cells.n_rows, cells.n_cols, dtype=cells.values.dtype)
    if p["fill_row"] is not None:
        x += p["fill_row"][:, None]
    if p["fill_col"] is not None:
        x += p["fill_col"][None, :]
    x[cells.rows, cells.cols] = cells.values
    return x


def _encode(p):
    delta = p["cells"].minus_fill(p["fill_row"], p["fill_col"])
    return sparse_input_linear(delta, p["w_in"], p["b_in"], p["fill_row"], p["fill_col"])


def _decode(p):
    return observed_linear(p["h"], p["w_out"], p["b_out"], p["cells"])


def _grads(out, inputs, seed=1):
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    return torch.autograd.grad(out, inputs, upstream.to(out.dtype))


def _close(actual, expected, rtol):
    scale = expected.abs().max().item() if expected.numel() else 1.0
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * max(scale, 1.0))


@pytest.mark.parametrize("fill", FILLS)
@pytest.mark.parametrize("shape", SHAPES)
def test_sparse_input_linear_matches_dense(backend, shape, fill):
    p = _problem(*shape, fill=fill)
    out = _encode(p)
    expected = F.linear(_dense_input(p), p["w_in"], p["b_in"])
    _close(out, expected, 1e-5)
    params = (p["w_in"], p["b_in"])
    for got, want in zip(_grads(out, params), _grads(expected, params), strict=True):
        _close(got, want, 1e-4)


@pytest.mark.parametrize("shape", SHAPES)
def test_observed_linear_matches_dense_gathered(backend, shape):
    p = _problem(*shape)
    cells = p["cells"]
    out = _decode(p)
    expected = F.linear(p["h"], p["w_out"], p["b_out"])[cells.rows, cells.cols]
    _close(out, expected, 1e-5)
    params = (p["h"], p["w_out"], p["b_out"])
    for got, want in zip(_grads(out, params), _grads(expected, params), strict=True):
        _close(got, want, 1e-4)


def test_batch_without_observed_cells(backend):
    p = _problem(4, 20, 5)
    p["cells"] = CellBatch.from_observed(
        torch.zeros(0, dtype=torch.int64), torch.zeros(0, dtype=torch.int64), torch.zeros(0), 4, 20
    )
    out = _encode(p)
    _close(out, F.linear(_dense_input(p), p["w_in"], p["b_in"]), 1e-5)
    decoded = _decode(p)
    assert decoded.shape == (0,)
    grad_h, grad_w, grad_b = torch.autograd.grad(decoded.sum(), (p["h"], p["w_out"], p["b_out"]))
    assert not grad_h.any() and not grad_w.any() and not grad_b.any()


def test_fallback_matches_numba(monkeypatch):
    results = {}
    for use_numba in (True, False):
        monkeypatch.setattr(sparse_ops, "USE_NUMBA", use_numba)
        p = _problem(9, 40, 21)
        encoded, decoded = _encode(p), _decode(p)
        results[use_numba] = (
            encoded,
            decoded,
            *_grads(encoded, (p["w_in"], p["b_in"])),
            *_grads(decoded, (p["h"], p["w_out"], p["b_out"])),
        )
    for numba_value, torch_value in zip(results[True], results[False], strict=True):
        _close(numba_value, torch_value, 1e-5)


def test_numba_results_are_bitwise_reproducible():
    """Big enough for both threads to share each kernel; two runs must agree to the bit."""
    runs = []
    for _ in range(2):
        p = _problem(64, 300, 40)
        code = torch.sigmoid(_encode(p))
        pred = observed_linear(code, p["w_out"], p["b_out"], p["cells"])
        loss = (pred - p["cells"].values).square().mean()
        inputs = (p["w_in"], p["b_in"], p["w_out"], p["b_out"])
        runs.append((code, pred, *torch.autograd.grad(loss, inputs)))
    for first, second in zip(*runs, strict=True):
        assert torch.equal(first, second)


def test_transposed_weights_as_for_tied_layers(backend):
    """A tied decoder passes ``W.t()``; an (n x k) weight may reach the encoder as ``.t()``."""
    p = _problem(9, 40, 21)
    w_t = p["w_out"].detach().clone().requires_grad_(True)  # (n x k): encoder weight is w_t.t()
    delta = p["cells"].minus_fill(p["fill_row"], p["fill_col"])
    code = sparse_input_linear(delta, w_t.t(), p["b_in"], p["fill_row"], p["fill_col"])
    pred = observed_linear(torch.sigmoid(code), w_t, p["b_out"], p["cells"])
    dense_w = w_t.detach().clone().requires_grad_(True)
    dense_code = F.linear(_dense_input(p), dense_w.t(), p["b_in"])
    dense_pred = F.linear(torch.sigmoid(dense_code), dense_w, p["b_out"])
    dense_pred = dense_pred[p["cells"].rows, p["cells"].cols]
    _close(pred, dense_pred, 1e-5)
    (grad,) = torch.autograd.grad(pred.square().sum(), w_t)
    (dense_grad,) = torch.autograd.grad(dense_pred.square().sum(), dense_w)
    _close(grad, dense_grad, 1e-4)

    w_in = p["w_in"]  # and the other way round: an encoder weight (k x n) tied into the decoder
    pred = observed_linear(p["h"], w_in.t(), p["b_out"], p["cells"])
    dense_pred = F.linear(p["h"], w_in.t(), p["b_out"])[p["cells"].rows, p["cells"].cols]
    _close(pred, dense_pred, 1e-5)
    _close(_grads(pred, (w_in,))[0], _grads(dense_pred, (w_in,))[0], 1e-4)


@pytest.mark.parametrize("fill", ["none", "row", "col"])
def test_column_major_encoder_weight_gives_the_same_bits(fill):
    """The model stores its first layer column-major (no transposing copy per step); the
    encoder's output and weight gradient must be bitwise those of a row-major weight. A model's
    fill is one vector or none (``RatingMatrix.fill_vectors``); with both, the two kernels may
    add the two fill terms in different orders (a rounding difference, not tested)."""
    p = _problem(64, 300, 40, fill)
    row_major = p["w_in"]
    column_major = row_major.detach().t().contiguous().t().requires_grad_(True)
    assert not column_major.is_contiguous() and torch.equal(column_major, row_major)
    results = []
    for weight in (row_major, column_major):
        p["w_in"] = weight
        code = _encode(p)
        (grad,) = _grads(code, (weight,))
        assert grad.stride() == weight.stride()  # what a fused optimizer needs
        results.append((code, grad))
    for first, second in zip(*results, strict=True):
        assert torch.equal(first, second)


@pytest.mark.parametrize("fill", ["constant", "user_mean", "item_mean"])
def test_cells_from_row_batcher_encode_its_dense_inputs(fill):
    """``RowBatcher.observed`` -> CellBatch -> encoder equals the encoder of ``inputs``."""
    rng = np.random.default_rng(3)
    dense = rng.integers(1, 6, (12, 30)) * (rng.random((12, 30)) < 0.25)
    matrix = RatingMatrix(csr=sp.csr_array(dense.astype(np.float32)))
    value = 3.0 if fill == "constant" else 0.0
    batcher = RowBatcher(matrix, fill=InputFill(fill, value))
    rows = torch.tensor([5, 0, 11, 2])
    cells = CellBatch.from_observed(*batcher.observed(rows), len(rows), batcher.n_cols)
    fill_row, fill_col = batcher.fill_row[rows], batcher.fill_col
    weight = torch.randn(7, 30, generator=torch.Generator().manual_seed(0))
    bias = torch.randn(7, generator=torch.Generator().manual_seed(1))
    out = sparse_input_linear(
        cells.minus_fill(fill_row, fill_col), weight, bias, fill_row, fill_col
    )
    _close(out, F.linear(batcher.inputs(rows), weight, bias), 1e-5)
    torch.testing.assert_close(cells.dense(), batcher.targets(rows)[0])


@pytest.mark.parametrize("rows", [[5, 0, 11, 2], [3], [7, 7, 1], [], list(range(12))[::-1]])
def test_cells_gathered_on_the_cpu_are_those_of_the_torch_ops(monkeypatch, rows):
    """``RowBatcher.cells`` (one numba gather) builds the arrays ``from_observed`` builds from
    ``observed`` (the torch ops, as on CUDA): empty rows, a repeated row, no row at all."""
    rng = np.random.default_rng(4)
    dense = rng.integers(1, 6, (12, 30)) * (rng.random((12, 30)) < 0.25)
    dense[[3, 8]] = 0  # rows without a cell
    batcher = RowBatcher(RatingMatrix(csr=sp.csr_array(dense.astype(np.float32))))
    rows = torch.tensor(rows, dtype=torch.int64)
    gathered_by, gather = [], sparse_ops._gather_rows
    monkeypatch.setattr(sparse_ops, "_gather_rows", lambda *a: gathered_by.append(1) or gather(*a))
    gathered = batcher.cells(rows)
    monkeypatch.setattr(sparse_ops, "USE_NUMBA", False)
    reference = batcher.cells(rows)
    for name in ("indptr", "cols", "values", "rows"):
        a, b = getattr(gathered, name), getattr(reference, name)
        assert a.dtype == b.dtype and torch.equal(a, b), name
    assert gathered.n_cols == reference.n_cols == 30
    assert gathered_by == [1]  # the kernel built the first batch, the torch ops the second


def test_with_values_shares_the_helper_indices():
    cells = _problem(9, 40, 21)["cells"]
    delta = cells.with_values(cells.values - 1)
    assert delta.by_column is cells.by_column
    assert delta.rows is cells.rows
    cptr, cell_ids, rows = cells.by_column
    assert np.array_equal(np.diff(cptr), np.bincount(cells.cols.numpy(), minlength=40))
    assert np.array_equal(cells.cols.numpy()[cell_ids], np.repeat(np.arange(40), np.diff(cptr)))
    assert np.array_equal(rows, cells.rows.numpy()[cell_ids])


def test_shape_mismatch_is_a_clear_error():
    p = _problem(6, 37, 16)
    with pytest.raises(ValueError, match="input columns"):
        sparse_input_linear(p["cells"], p["w_in"][:, :-1], p["b_in"], None, None)
    with pytest.raises(ValueError, match="do not fit"):
        observed_linear(p["h"][:-1], p["w_out"], p["b_out"], p["cells"])


def _step_grads(p):
    """One backward pass of encoder and decoder into ``.grad``; the two weight gradients."""
    (_encode(p).sum() + _decode(p).square().sum()).backward()
    return p["w_in"].grad, p["w_out"].grad


def test_weight_gradients_reuse_their_buffers_once_let_go():
    p = _problem(9, 40, 21)
    first = [g.clone() for g in _step_grads(p)]
    pointers = [g.data_ptr() for g in (p["w_in"].grad, p["w_out"].grad)]
    assert all(sparse_ops.SCRATCH.holds(g) for g in (p["w_in"].grad, p["w_out"].grad))
    for name in ("w_in", "w_out", "b_in", "b_out", "h"):
        p[name].grad = None  # as zero_grad(set_to_none=True)
    second = _step_grads(p)
    assert [g.data_ptr() for g in second] == pointers  # no fresh memory
    for got, want in zip(second, first, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_gradients_still_held_are_never_overwritten():
    p = _problem(9, 40, 21)
    first = [g.clone() for g in _step_grads(p)]
    kept = [g for g in (p["w_in"].grad, p["w_out"].grad)]  # held, and accumulated into
    second = _step_grads(p)
    for got, held, want in zip(second, kept, first, strict=True):
        assert got is held
        torch.testing.assert_close(got, 2 * want)


def test_release_scratch_lets_the_buffers_go():
    p = _problem(6, 37, 16)
    _step_grads(p)
    assert sparse_ops.SCRATCH.nbytes > 0
    sparse_ops.release_scratch()
    assert sparse_ops.SCRATCH.nbytes == 0


def _image(n_rows, n_cols, density, seed):
    """A 0/1..5 matrix with its first row empty and its last row full, and its cells."""
    rng = np.random.default_rng(seed)
    dense = np.where(
        rng.random((n_rows, n_cols)) < density, rng.integers(1, 6, (n_rows, n_cols)), 0
    )
    dense[0], dense[-1] = 0, rng.integers(1, 6, n_cols)
    csr = sp.csr_array(dense.astype(np.float32))
    cells = CellBatch(
        torch.as_tensor(csr.indptr, dtype=torch.int64),
        torch.as_tensor(csr.indices, dtype=torch.int64),
        torch.as_tensor(csr.data),
        n_cols,
    )
    return torch.as_tensor(dense, dtype=torch.float32), cells


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 7, 3), (9, 40, 3), (30, 11, 5)])
def test_sparse_conv2d_is_torchs_conv2d_with_same_padding(backend, shape):
    n_rows, n_cols, k = shape
    dense, cells = _image(n_rows, n_cols, 0.2, seed=k)
    kernel = torch.randn(k, k, generator=torch.Generator().manual_seed(1), requires_grad=True)
    reference = F.conv2d(dense[None, None], kernel[None, None], padding=k // 2)[0, 0]
    out = sparse_conv2d(cells, kernel)
    weights = torch.randn(n_rows, n_cols, generator=torch.Generator().manual_seed(2))
    (expected,) = torch.autograd.grad((reference * weights).sum(), kernel)
    (actual,) = torch.autograd.grad((out * weights).sum(), kernel)
    assert out.shape == (n_rows, n_cols)
    _close(out, reference, 1e-6)
    _close(actual, expected, 1e-5)


def test_sparse_conv2d_is_bitwise_reproducible_and_refuses_even_kernels():
    _, cells = _image(64, 300, 0.1, seed=0)
    kernel = torch.randn(3, 3, generator=torch.Generator().manual_seed(1), requires_grad=True)
    runs = []
    for _ in range(2):
        out = sparse_conv2d(cells, kernel)
        runs.append((out, *torch.autograd.grad(out.square().sum(), kernel)))
    for first, second in zip(*runs, strict=True):
        assert torch.equal(first, second)
    with pytest.raises(ValueError, match="k odd"):
        sparse_conv2d(cells, torch.ones(2, 2))


@functools.cache
def _one_cell_kernels():
    """The kernels as they were written before they took four (or two) cells per pass, the
    reference their bits must equal: benchmarks/cells_per_pass.py times them against the
    blocked ones and holds them, compiled with the kernels' own numba flags. Loaded once:
    each load compiles them afresh (a module loaded by path has no numba cache)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "cells_per_pass.py"
    spec = importlib.util.spec_from_file_location("cells_per_pass", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


@pytest.mark.skipif(sparse_ops.numba is None, reason="numba not installed")
@pytest.mark.parametrize("k", [1, 7, 16, 37, 256, 500])
@pytest.mark.parametrize("n_rows, n_cols", [(56, 300), (400, 24)])
def test_kernels_taking_several_cells_per_pass_give_the_bits_of_one_cell_per_pass(
    k, n_rows, n_cols
):
    """Rows of every length from 0 to 13 cells (every remainder of the blocks of four and
    two), columns short (300 columns) and long (24 columns: a hundred cells and more, where
    the compiler vectorises a column's sums), fills on, float32: the blocked kernels equal
    the one-cell ones to the bit."""
    ref = _one_cell_kernels()
    rng = np.random.default_rng(k)
    counts = np.minimum(np.arange(n_rows) % 14, n_cols)
    indptr = np.zeros(n_rows + 1, np.int64)
    indptr[1:] = np.cumsum(counts)
    cols = np.concatenate([np.sort(rng.choice(n_cols, c, replace=False)) for c in counts]).astype(
        np.int64
    )
    vals = rng.standard_normal(indptr[-1]).astype(np.float32)
    f32 = np.float32
    mat_in = rng.standard_normal((n_cols, k)).astype(f32)
    a, u, v = (rng.standard_normal(n).astype(f32) for n in (n_rows, k, k))
    got, want = np.empty((n_rows, k), f32), np.empty((n_rows, k), f32)
    sparse_ops._row_spmm(indptr, cols, vals, mat_in, a, u, v, got)
    ref.row_spmm_one_cell(indptr, cols, vals, mat_in, a, u, v, want)
    assert _same_bits(got, want)

    cptr, cells, rows = sparse_ops._column_index(indptr, cols, n_cols)
    assert (np.diff(cptr) % 4 != 0).any() and (np.diff(cptr) >= 5).any()
    h = rng.standard_normal((n_rows, k)).astype(f32)
    ac, uc, vc = (rng.standard_normal(n).astype(f32) for n in (n_cols, k, k))
    got, want = np.empty((n_cols, k), f32), np.empty((n_cols, k), f32)
    got_sums, want_sums = np.empty(n_cols, f32), np.empty(n_cols, f32)
    sparse_ops._col_spmm(cptr, cells, rows, vals, h, ac, uc, vc, got)
    sparse_ops._col_sums(cptr, cells, vals, got_sums)
    ref.col_spmm_one_cell(cptr, cells, rows, vals, h, ac, uc, vc, want, want_sums)
    assert _same_bits(got, want)
    assert _same_bits(got_sums, want_sums)

    bias = rng.standard_normal(n_cols).astype(f32)
    got, want = np.empty(indptr[-1], f32), np.empty(indptr[-1], f32)
    sparse_ops._row_sddmm(indptr, cols, h, mat_in, bias, got)
    ref.row_sddmm_one_cell(indptr, cols, h, mat_in, bias, want)
    assert _same_bits(got, want)
