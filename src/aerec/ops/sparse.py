"""Linear layers that touch only the observed cells of a batch of rating rows.

A dense AutoRec step multiplies every batch row over all ``n`` columns, although the input
differs from its fill only at observed cells and the loss reads only observed outputs:

* :func:`sparse_input_linear` is the encoder, ``(fill + delta) @ W.T + b``, computed as a
  sparse-dense product over ``delta`` plus rank-one corrections for the fill;
* :func:`observed_linear` is the decoder evaluated only at the observed cells (a sampled
  dense-dense product, SDDMM);
* :func:`sparse_conv2d` is a small learned 2-D kernel slid over the whole matrix of cells
  (GLocal-K's global kernel): a dense output, formed from the observed cells only.

On the CPU both run fused numba kernels, parallel over batch rows, or over columns for the
weight gradients: no two threads write the same output and every sum runs in an order fixed by
the cells alone, so results are bitwise reproducible from run to run. The encoder reads its
weight one input column at a time: a weight passed as ``weight_t.t()`` with ``weight_t`` a
contiguous (n_cols x out) tensor costs no copy, and its gradient comes back in that layout; a
plain (out x n_cols) weight costs one transposing copy per forward. Elsewhere (CUDA), with
``USE_NUMBA = False``, or without numba installed, both fall back to plain torch (densify,
matmul, gather): simple and correct, not fast.

The weight gradients of the numba path are written into buffers kept from step to step
(:class:`Scratch`): a fresh weight-sized buffer per step is mapped and unmapped by the C
library (buffers past 32 MiB always are), so every step paid a page fault per 4 KiB of every
gradient (42 % of the CPU time of an ML-25M-shaped epoch went to the kernel, issue 12).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch

try:
    import numba
except ImportError:  # pragma: no cover - numba is optional; the torch path still works
    numba = None

USE_NUMBA = True
"""Use the numba kernels for CPU tensors (set False to force the torch fallback)."""

if numba is not None:
    _kernel = numba.njit(parallel=True, fastmath=True, cache=True)
    _strict = numba.njit(parallel=True, cache=True)
    _serial = numba.njit(cache=True)
    _prange = numba.prange
else:  # pragma: no cover

    def _kernel(fn):
        return fn

    _serial = _strict = _kernel
    _prange = range


@dataclass(frozen=True, eq=False)
class CellBatch:
    """Observed cells of a batch of rows, CSR-style over the batch."""

    indptr: torch.Tensor
    """int64 (B+1,): the cells of batch row ``r`` are ``indptr[r]:indptr[r+1]``."""
    cols: torch.Tensor
    """int64 (nnz,): column of each cell, sorted within each row."""
    values: torch.Tensor
    """float32 (nnz,): the value of each cell (a rating, or a rating minus its fill)."""
    n_cols: int
    """Number of columns of the full matrix."""
    _cache: dict = field(default_factory=dict, init=False, repr=False)
    """Helper indices built on first use; shared with :meth:`with_values` copies."""

    @classmethod
    def from_observed(
        cls,
        pos: torch.Tensor,
        cols: torch.Tensor,
        values: torch.Tensor,
        n_rows_in_batch: int,
        n_cols: int,
    ) -> CellBatch:
        """From (position in batch, column, value) sorted by position then column, as
        :meth:`RowBatcher.observed` returns them."""
        counts = torch.bincount(pos, minlength=n_rows_in_batch)
        indptr = torch.zeros(n_rows_in_batch + 1, dtype=torch.int64, device=pos.device)
        torch.cumsum(counts, 0, out=indptr[1:])
        batch = cls(indptr, cols.to(torch.int64).contiguous(), values.contiguous(), n_cols)
        batch._cache["rows"] = pos.to(torch.int64).contiguous()
        return batch

    @classmethod
    def from_rows(
        cls,
        indptr: np.ndarray,
        indices: np.ndarray,
        values: np.ndarray,
        rows: np.ndarray,
        n_cols: int,
    ) -> CellBatch:
        """The cells of ``rows`` (in that order) of a CSR matrix held as NumPy arrays (int64
        ``indptr`` and ``indices``, float32 ``values``): what :meth:`from_observed` builds from
        :meth:`RowBatcher.observed`, the same arrays, gathered in one numba pass on the CPU."""
        ptr, cols, vals, pos = _gather_rows(indptr, indices, values, rows)
        batch = cls(torch.from_numpy(ptr), torch.from_numpy(cols), torch.from_numpy(vals), n_cols)
        batch._cache["rows"] = torch.from_numpy(pos)
        return batch

    @property
    def n_rows(self) -> int:
        return self.indptr.shape[0] - 1

    @property
    def nnz(self) -> int:
        return self.cols.shape[0]

    @property
    def rows(self) -> torch.Tensor:
        """int64 (nnz,): batch row of each cell."""
        if "rows" not in self._cache:
            counts = self.indptr[1:] - self.indptr[:-1]
            positions = torch.arange(self.n_rows, device=counts.device)
            self._cache["rows"] = torch.repeat_interleave(positions, counts)
        return self._cache["rows"]

    @property
    def by_column(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The cells ordered by column (stable: rows ascending within a column), as numpy
        arrays: column indptr (n_cols+1,), cell index (nnz,), batch row (nnz,). CPU only."""
        if "by_column" not in self._cache:
            self._cache["by_column"] = _column_index(_np(self.indptr), _np(self.cols), self.n_cols)
        return self._cache["by_column"]

    def with_values(self, values: torch.Tensor) -> CellBatch:
        """The same cells holding ``values``; shares the helper indices (built or not yet)."""
        other = CellBatch(self.indptr, self.cols, values.contiguous(), self.n_cols)
        object.__setattr__(other, "_cache", self._cache)
        return other

    def minus_fill(self, fill_row: torch.Tensor | None, fill_col: torch.Tensor | None) -> CellBatch:
        """``values - fill`` at each cell: the ``delta`` that :func:`sparse_input_linear` takes."""
        values = self.values
        if fill_row is not None:
            values = values - fill_row[self.rows]
        if fill_col is not None:
            values = values - fill_col[self.cols]
        return self.with_values(values)

    def dense(
        self, fill_row: torch.Tensor | None = None, fill_col: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B x n_cols): ``fill_row[:, None] + fill_col[None, :]``, plus the values at the cells."""
        x = torch.zeros(
            self.n_rows, self.n_cols, dtype=self.values.dtype, device=self.values.device
        )
        if fill_row is not None:
            x += fill_row[:, None]
        if fill_col is not None:
            x += fill_col[None, :]
        x[self.rows, self.cols] += self.values
        return x


def sparse_input_linear(
    delta: CellBatch,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    fill_row: torch.Tensor | None,
    fill_col: torch.Tensor | None,
) -> torch.Tensor:
    """(B x out) = dense_input @ weight.T + bias, where dense_input = fill_row[:,None] +
    fill_col[None,:] with the observed cells replaced: i.e. delta.values hold (rating - fill)
    at observed cells. weight is (out x n_cols); gradient flows to weight and bias only (not to
    the input). fill_row (B,) / fill_col (n_cols,) may be None (zero)."""
    if weight.shape[1] != delta.n_cols:
        raise ValueError(f"weight has {weight.shape[1]} input columns, the cells {delta.n_cols}")
    if not uses_numba(weight):
        x = delta.dense(fill_row, fill_col).detach().to(weight.dtype)
        return torch.nn.functional.linear(x, weight, bias)
    return _SparseInputLinear.apply(weight, bias, delta, fill_row, fill_col)


def observed_linear(
    h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, cells: CellBatch
) -> torch.Tensor:
    """(nnz,) = for each observed cell p in row r, column j: weight[j] · h[r] + bias[j].
    weight is (n_cols x k) (like nn.Linear(k, n_cols).weight), h (B x k); gradients flow to h,
    weight and bias."""
    if weight.shape[0] != cells.n_cols or h.shape[0] != cells.n_rows:
        raise ValueError(
            f"weight {tuple(weight.shape)} and h {tuple(h.shape)} do not fit cells of "
            f"{cells.n_rows} rows x {cells.n_cols} columns"
        )
    if not uses_numba(h):
        return torch.nn.functional.linear(h, weight, bias)[cells.rows, cells.cols]
    return _ObservedLinear.apply(h, weight, bias, cells)


def sparse_conv2d(cells: CellBatch, kernel: torch.Tensor) -> torch.Tensor:
    """(rows x n_cols): ``conv2d(cells.dense(), kernel, padding=k // 2)`` for an odd k x k
    ``kernel`` (cross-correlation, as torch's), the cells read as one 1-channel image (rows,
    columns in index order); the gradient flows to ``kernel`` only. On the CPU a numba kernel
    touches k*k outputs per cell instead of k*k inputs per output: on ML-1M's 4 %-dense
    item x user matrix it is 15x (forward) and 25x (backward) faster than torch's conv2d
    (``python benchmarks/glocal_conv.py``, 2 threads). Each output sums in an order fixed by
    the cells, so it is bitwise reproducible at any thread count."""
    k = kernel.shape[0]
    if kernel.shape != (k, k) or k % 2 == 0:
        raise ValueError(f"the kernel must be k x k with k odd, got {tuple(kernel.shape)}")
    if not uses_numba(kernel):
        image = cells.dense().to(kernel.dtype)[None, None]
        return torch.nn.functional.conv2d(image, kernel[None, None], padding=k // 2)[0, 0]
    return _SparseConv2d.apply(kernel, cells)


def uses_numba(t: torch.Tensor) -> bool:
    """Whether the numba kernels take ``t`` (a CPU tensor, numba installed, ``USE_NUMBA``)."""
    return USE_NUMBA and numba is not None and t.device.type == "cpu"


class _SparseInputLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, bias, delta, fill_row, fill_col):
        w = weight.detach()
        wt = w.t().contiguous()  # (n x out): the weights of a cell's column are one row
        fill_row, fill_col = _nonzero(_cast(fill_row, wt)), _nonzero(_cast(fill_col, wt))
        base = _zeros(wt.shape[1], wt) if bias is None else _cast(bias, wt).clone()
        if fill_col is not None:
            base += fill_col @ wt
        col_sum = None if fill_row is None else wt.sum(0)
        values = _cast(delta.values, wt)
        out = torch.empty(delta.n_rows, wt.shape[1], dtype=wt.dtype)
        _by_row(delta, values, wt, out, fill_row, col_sum, base)
        ctx.delta, ctx.values, ctx.has_bias = delta, values, bias is not None
        ctx.transposed = not w.is_contiguous() and w.t().is_contiguous()
        ctx.save_for_backward(fill_row, fill_col)
        return out

    @staticmethod
    def backward(ctx, grad):
        fill_row, fill_col = ctx.saved_tensors
        grad = grad.contiguous()
        grad_sum = grad.sum(0)
        grad_weight = None
        if ctx.needs_input_grad[0]:  # X.T @ grad, with X = fill_row 1.T + 1 fill_col.T + delta
            n_cols, n_out = ctx.delta.n_cols, grad.shape[1]
            row_term = None if fill_row is None else fill_row @ grad
            args = (ctx.delta, ctx.values, grad, fill_col, grad_sum, row_term)
            if ctx.transposed:  # the weight is a view of an (n x out) tensor: match its layout
                grad_weight = SCRATCH.take("encoder", (n_cols, n_out), grad.dtype)
                _by_column(*args, out=grad_weight)
                grad_weight = grad_weight.t()
            else:
                grad_weight = SCRATCH.take("encoder_t", (n_out, n_cols), grad.dtype)
                _by_column(*args, out_t=grad_weight)
        grad_bias = grad_sum if ctx.has_bias and ctx.needs_input_grad[1] else None
        return grad_weight, grad_bias, None, None, None


class _ObservedLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h, weight, bias, cells):
        h, weight, bias = h.detach().contiguous(), _cast(weight, h), _cast(bias, h)
        out = torch.empty(cells.nnz, dtype=h.dtype)
        _row_sddmm(_np(cells.indptr), _np(cells.cols), _np(h), _np(weight), _np(bias), out.numpy())
        ctx.cells = cells
        ctx.save_for_backward(h, weight)
        return out

    @staticmethod
    def backward(ctx, grad):
        h, weight = ctx.saved_tensors
        cells, grad = ctx.cells, grad.contiguous()
        grad_h = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_h = torch.empty_like(h)
            _by_row(cells, grad, weight, grad_h)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            grad_weight = SCRATCH.take("decoder", tuple(weight.shape), weight.dtype)
            grad_bias = torch.empty(weight.shape[0], dtype=h.dtype)
            _by_column(cells, grad, h, out=grad_weight, sums=grad_bias)
        return grad_h, grad_weight, grad_bias, None


class _SparseConv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel, cells):
        values = _np(cells.values).astype(np.float32, copy=False)
        arrays = (_np(cells.indptr), _np(cells.cols), values)
        out = torch.zeros(cells.n_rows, cells.n_cols, dtype=torch.float32)
        _conv_rows(*arrays, _np(kernel).astype(np.float32), out.numpy())
        ctx.arrays, ctx.k = arrays, kernel.shape[0]
        return out.to(kernel.dtype)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None
        indptr, cols, values = ctx.arrays
        partial = np.zeros((indptr.shape[0] - 1, ctx.k, ctx.k))  # float64, summed in order
        _conv_kernel_grad(indptr, cols, values, _np(grad).astype(np.float32), partial)
        return torch.from_numpy(partial.sum(0)).to(grad.dtype), None


class Scratch:
    """Arrays reused across steps, handed out as tensors that share their memory.

    An array is handed out again only once nothing but the pool holds it: every tensor made
    from it holds a reference, so a gradient still alive (``zero_grad(set_to_none=False)``,
    a caller keeping ``.grad``) is never overwritten; a new array is made instead. Autograd
    takes a returned gradient as the parameter's ``.grad`` without a copy; the optimizer's
    ``zero_grad()`` lets it go, and the next backward pass reuses it.
    """

    MAX_PER_SHAPE = 2
    """Arrays kept per (name, shape, dtype); more at once are allocated as usual."""

    def __init__(self) -> None:
        self._arrays: dict[tuple, list[np.ndarray]] = {}

    def take(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised (``shape``) tensor of ``dtype``, on a kept array when one is free."""
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        kept = self._arrays.setdefault((name, tuple(shape), np_dtype), [])
        for array in kept:
            if sys.getrefcount(array) <= 3:  # the list, this loop and getrefcount's argument
                return torch.from_numpy(array)
        array = np.empty(shape, dtype=np_dtype)
        if len(kept) < self.MAX_PER_SHAPE:
            kept.append(array)
        return torch.from_numpy(array)

    def clear(self) -> None:
        """Let every kept array go (their memory returns once no tensor holds it)."""
        self._arrays.clear()

    def holds(self, t: torch.Tensor) -> bool:
        """Whether ``t``'s memory is one of the kept arrays."""
        return any(a.ctypes.data == t.data_ptr() for kept in self._arrays.values() for a in kept)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for arrays in self._arrays.values() for a in arrays)


SCRATCH = Scratch()
"""The weight-gradient buffers of the numba kernels; :func:`release_scratch` empties it."""


def release_scratch() -> None:
    """Free the kept gradient buffers (the trainer calls this when a fit ends)."""
    SCRATCH.clear()


def _by_row(cells, values, mat, out, a=None, u=None, v=None) -> None:
    """``out[r] = a[r] * u + v + sum_(p in row r) values[p] * mat[cols[p]]`` (None: zero)."""
    n_rows, k = out.shape
    a, u, v = _or_zeros(a, n_rows, out), _or_zeros(u, k, out), _or_zeros(v, k, out)
    _row_spmm(_np(cells.indptr), _np(cells.cols), _np(values), _np(mat), a, u, v, out.numpy())


def _by_column(cells, values, mat, a=None, u=None, v=None, *, out=None, sums=None, out_t=None):
    """``out[j] = a[j] * u + v + sum_(p in column j) values[p] * mat[row of p]`` (None: zero),
    and, given ``sums``, ``sums[j] = sum_(p in column j) values[p]``; or the same written
    transposed into ``out_t`` (no sums)."""
    n_cols, k = cells.n_cols, mat.shape[1]
    like = out if out is not None else out_t
    a, u, v = _or_zeros(a, n_cols, like), _or_zeros(u, k, like), _or_zeros(v, k, like)
    cptr, cell_ids, rows = cells.by_column
    if out_t is not None:
        _col_spmm_t(cptr, cell_ids, rows, _np(values), _np(mat), a, u, v, out_t.numpy())
    else:
        values = _np(values)
        _col_spmm(cptr, cell_ids, rows, values, _np(mat), a, u, v, out.numpy())
        if sums is not None:
            _col_sums(cptr, cell_ids, values, sums.numpy())


def _nonzero(t: torch.Tensor | None) -> torch.Tensor | None:
    """None for a fill that is all zero (it adds nothing), else ``t``."""
    return None if t is None or not bool(t.any()) else t


def _np(t: torch.Tensor) -> np.ndarray:
    """A numpy view of a CPU tensor (a contiguous copy first where it is not contiguous)."""
    return t.detach().contiguous().numpy()


def _cast(t: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    return None if t is None else t.detach().to(like.dtype).contiguous()


def _zeros(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros(n, dtype=like.dtype)


def _or_zeros(t: torch.Tensor | None, n: int, like: torch.Tensor) -> np.ndarray:
    return np.zeros(n, dtype=like.numpy().dtype) if t is None else _np(t)


@_kernel
def _gather_rows(indptr, indices, values, rows):
    """CSR of the cells of ``rows`` (batch indptr, columns, values, batch row of each cell)."""
    n = rows.shape[0]
    ptr = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        ptr[r + 1] = ptr[r] + indptr[rows[r] + 1] - indptr[rows[r]]
    nnz = ptr[n]
    cols = np.empty(nnz, dtype=np.int64)
    vals = np.empty(nnz, dtype=values.dtype)
    pos = np.empty(nnz, dtype=np.int64)
    for r in _prange(n):
        start, q = indptr[rows[r]], ptr[r]
        for p in range(ptr[r + 1] - q):
            cols[q + p] = indices[start + p]
            vals[q + p] = values[start + p]
            pos[q + p] = r
    return ptr, cols, vals, pos


@_serial
def _column_index(indptr, cols, n_cols):
    """Counting sort of the cells by column, stable (rows ascending within a column)."""
    nnz = cols.shape[0]
    cptr = np.zeros(n_cols + 1, dtype=np.int64)
    for p in range(nnz):
        cptr[cols[p] + 1] += 1
    for j in range(n_cols):
        cptr[j + 1] += cptr[j]
    fill = cptr[:-1].copy()
    cells = np.empty(nnz, dtype=np.int64)
    rows = np.empty(nnz, dtype=np.int64)
    for r in range(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            q = fill[cols[p]]
            fill[cols[p]] = q + 1
            cells[q] = p
            rows[q] = r
    return cptr, cells, rows


@_kernel
def _row_spmm(indptr, cols, vals, mat, a, u, v, out):
    """out[r] = a[r] * u + v + sum over the cells p of row r of vals[p] * mat[cols[p]].

    Four cells per pass over ``out[r]``, added one after another in cell order: each output
    is the same chain of additions as with one cell per pass, so the same bits, with a
    quarter of the loads and stores of ``out[r]`` (about 1.5x faster on ML-1M's batches,
    ``benchmarks/cells_per_pass.py``). Fast-math would allow the compiler to regroup the
    chain; it does not (``tests/ops/test_sparse.py`` checks the bits against one cell per
    pass, as for the kernels below)."""
    k = out.shape[1]
    for r in _prange(out.shape[0]):
        ar = a[r]
        for t in range(k):
            out[r, t] = ar * u[t] + v[t]
        p, end = indptr[r], indptr[r + 1]
        while p + 4 <= end:
            x0, x1, x2, x3 = vals[p], vals[p + 1], vals[p + 2], vals[p + 3]
            c0, c1, c2, c3 = cols[p], cols[p + 1], cols[p + 2], cols[p + 3]
            for t in range(k):
                o = out[r, t]
                o += x0 * mat[c0, t]
                o += x1 * mat[c1, t]
                o += x2 * mat[c2, t]
                o += x3 * mat[c3, t]
                out[r, t] = o
            p += 4
        for q in range(p, end):
            x = vals[q]
            c = cols[q]
            for t in range(k):
                out[r, t] += x * mat[c, t]


@_kernel
def _col_spmm(cptr, cells, rows, vals, mat, a, u, v, out):
    """out[j] = a[j] * u + v + sum over the cells q of column j of vals[q] * mat[row of q].
    Parallel over columns: each writes its own row."""
    k = out.shape[1]
    for j in _prange(out.shape[0]):
        for t in range(k):
            out[j, t] = 0
        q, end = cptr[j], cptr[j + 1]
        while q + 4 <= end:  # four cells per pass over out[j], in order (as in _row_spmm)
            x0, x1, x2, x3 = (
                vals[cells[q]],
                vals[cells[q + 1]],
                vals[cells[q + 2]],
                vals[cells[q + 3]],
            )
            r0, r1, r2, r3 = rows[q], rows[q + 1], rows[q + 2], rows[q + 3]
            for t in range(k):
                o = out[j, t]
                o += x0 * mat[r0, t]
                o += x1 * mat[r1, t]
                o += x2 * mat[r2, t]
                o += x3 * mat[r3, t]
                out[j, t] = o
            q += 4
        for s in range(q, end):
            x = vals[cells[s]]
            r = rows[s]
            for t in range(k):
                out[j, t] += x * mat[r, t]
        for t in range(k):  # added last, as in _col_spmm_t: both layouts give the same bits
            out[j, t] = out[j, t] + a[j] * u[t] + v[t]


@_strict
def _col_sums(cptr, cells, vals, sums):
    """sums[j] = the sum of vals over the cells of column j, added one cell after another.
    Not fast-math (in a fast-math kernel the compiler vectorises and so regroups a long
    column's sum), so the sums of one cell at a time, as :func:`_col_spmm` once added them."""
    for j in _prange(sums.shape[0]):
        total = vals.dtype.type(0)
        for q in range(cptr[j], cptr[j + 1]):
            total += vals[cells[q]]
        sums[j] = total


@_kernel
def _row_sddmm(indptr, cols, h, w, bias, out):
    """out[p] = w[cols[p]] · h[r] + bias[cols[p]] for every cell p of every row r.

    Two cells per pass over ``h[r]``. Each dot product is a vectorised reduction that
    fast-math lets the compiler group as it likes; it groups each of the two as it groups
    one alone (``tests/ops/test_sparse.py`` checks the bits against one cell per pass)."""
    k = h.shape[1]
    for r in _prange(h.shape[0]):
        p, end = indptr[r], indptr[r + 1]
        while p + 2 <= end:  # two cells per pass over h[r]
            c0, c1 = cols[p], cols[p + 1]
            acc0 = h.dtype.type(0)
            acc1 = h.dtype.type(0)
            for t in range(k):
                acc0 += h[r, t] * w[c0, t]
                acc1 += h[r, t] * w[c1, t]
            out[p] = acc0 + bias[c0]
            out[p + 1] = acc1 + bias[c1]
            p += 2
        if p < end:
            c = cols[p]
            acc = h.dtype.type(0)
            for t in range(k):
                acc += h[r, t] * w[c, t]
            out[p] = acc + bias[c]


_BLOCK = 16
"""Columns per block in :func:`_col_spmm_t`: one 64-byte cache line of float32."""


@_kernel
def _col_spmm_t(cptr, cells, rows, vals, mat, a, u, v, out_t):
    """:func:`_col_spmm` written transposed: ``out_t[:, j]`` (k x n_cols), with no sums. Parallel
    over blocks of columns, each summed in a local buffer and then written a line at a time."""
    k, n = out_t.shape
    for b in _prange((n + _BLOCK - 1) // _BLOCK):
        j0 = b * _BLOCK
        j1 = min(j0 + _BLOCK, n)
        local = np.zeros((_BLOCK, k), dtype=out_t.dtype)
        for j in range(j0, j1):
            for q in range(cptr[j], cptr[j + 1]):
                x = vals[cells[q]]
                r = rows[q]
                for t in range(k):
                    local[j - j0, t] += x * mat[r, t]
        for t in range(k):
            for j in range(j0, j1):
                out_t[t, j] = local[j - j0, t] + a[j] * u[t] + v[t]


@_kernel
def _conv_rows(indptr, cols, vals, kernel, out):
    """``out[i, j] += kernel[a, b] * x[i + a - c, j + b - c]`` from the cells of x, by
    output row (one thread per row: no two write one output)."""
    n_rows, n_cols = out.shape
    k = kernel.shape[0]
    c = k // 2
    for i in _prange(n_rows):
        for a in range(k):
            p = i + a - c
            if p < 0 or p >= n_rows:
                continue
            for t in range(indptr[p], indptr[p + 1]):
                q, r = cols[t], vals[t]
                for b in range(k):
                    j = q - b + c
                    if 0 <= j < n_cols:
                        out[i, j] += kernel[a, b] * r


@_kernel
def _conv_kernel_grad(indptr, cols, vals, grad, partial):
    """``partial[p, a, b] = sum over the cells (p, q) of x[p, q] * grad[p - a + c, q - b + c]``,
    one row of cells per thread; the caller sums over p."""
    n_rows, n_cols = grad.shape
    k = partial.shape[1]
    c = k // 2
    for p in _prange(n_rows):
        for t in range(indptr[p], indptr[p + 1]):
            q, r = cols[t], vals[t]
            for a in range(k):
                i = p - a + c
                if i < 0 or i >= n_rows:
                    continue
                for b in range(k):
                    j = q - b + c
                    if 0 <= j < n_cols:
                        partial[p, a, b] += r * grad[i, j]
