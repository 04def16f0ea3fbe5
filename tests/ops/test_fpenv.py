"""Denormals flushed to zero on the calling thread and on PyTorch's and numba's workers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aerec.ops import fpenv
from aerec.ops import sparse as sparse_ops
from aerec.ops.sparse import CellBatch, sparse_input_linear


@pytest.fixture
def two_threads():
    """Two torch threads, the OpenMP workers already started; flushing on again after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    torch.ones(1 << 18).sum()  # a parallel operation starts the workers
    yield
    torch.set_num_threads(before)
    fpenv.flush_denormals()


def test_workers_started_before_are_reached(two_threads):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    fpenv.flush_denormals(False)
    assert not fpenv.denormals_flushed()
    torch.set_flush_denormal(True)  # the calling thread only: the workers keep denormals
    assert not fpenv.denormals_flushed()
    assert fpenv.flush_denormals()
    assert fpenv.denormals_flushed()


def test_numba_kernels_flush(two_threads):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    n = 64
    cells = CellBatch.from_observed(
        torch.arange(n), torch.arange(n), fpenv.denormal_tensor(n), n, n
    )
    weight = torch.ones(8, n)
    fpenv.flush_denormals(False)
    kept = sparse_input_linear(cells, weight, None, None, None)
    assert sparse_ops.USE_NUMBA and bool((kept != 0).all())
    fpenv.flush_denormals()
    flushed = sparse_input_linear(cells, weight, None, None, None)
    np.testing.assert_array_equal(flushed.numpy(), 0)


def test_switched_off(two_threads, monkeypatch):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    fpenv.flush_denormals(False)
    monkeypatch.setattr(fpenv, "FLUSH_DENORMALS", False)
    assert not fpenv.flush_denormals()
    assert not fpenv.denormals_flushed()
