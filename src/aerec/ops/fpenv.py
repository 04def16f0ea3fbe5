"""Denormal floats flushed to zero on every thread that trains or predicts.

A float32 below 1.2e-38 (a denormal) costs some hundred cycles per operation on x86 CPUs. ELU
activations (``exp`` of large negative inputs) and Adam's decaying moments produce them, and
an epoch of U-AutoRec (elu/elu) ran 2.5 times slower as they piled up (issue 12). Flushing
them to zero (the FTZ and DAZ bits of the SSE control register) changes results only below
float32's smallest normal number.

The control register belongs to each thread, and a new thread copies it from the thread that
starts it. ``torch.set_flush_denormal`` sets it on the calling thread only, so once PyTorch's
OpenMP workers exist (after the first parallel operation) they keep computing with denormals.
:func:`flush_denormals` therefore also runs it inside one OpenMP parallel region of each
OpenMP runtime loaded (PyTorch's and the one numba's ``omp`` layer uses), on each worker.
"""

from __future__ import annotations

import ctypes
import re

import numpy as np
import torch

FLUSH_DENORMALS = True
"""Flush denormals when a fit or a prediction starts (set False to measure without)."""

_OPENMP = re.compile(r"/lib(gomp|iomp5|omp)[^/]*\.so[^/]*$")


def flush_denormals(on: bool = True) -> bool:
    """Flush denormals to zero (``on``; or stop flushing) on this thread and on the OpenMP
    workers it uses; idempotent, a few milliseconds. Returns whether flushing is on now
    (False where the CPU cannot flush, or when :data:`FLUSH_DENORMALS` is False: then nothing
    changes)."""
    if not FLUSH_DENORMALS or not torch.set_flush_denormal(on):
        return False
    for path in _openmp_runtimes():
        _on_every_worker(path, on)
    return on


def denormals_flushed(n: int = 1 << 18) -> bool:
    """Whether a parallel torch operation flushes denormals on every thread: ``x * 1`` on a
    tensor of ``n`` denormals is all zero."""
    return not bool((denormal_tensor(n) * 1.0).any())


def denormal_tensor(n: int) -> torch.Tensor:
    """``n`` float32 denormals (2**-127 each), written as bits: no arithmetic that a flushing
    thread would turn into zeros."""
    return torch.from_numpy(np.full(n, 0x00400000, dtype=np.int32).view(np.float32))


def _openmp_runtimes() -> list[str]:
    """The OpenMP runtimes mapped into this process (Linux; none found elsewhere)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if _OPENMP.search(line.rstrip())}
    except OSError:
        return []
    return sorted(paths)


_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _on_every_worker(path: str, on: bool) -> None:
    """``torch.set_flush_denormal(on)`` on each thread of an OpenMP team of the default size,
    started from this thread (the workers a later parallel region of this thread reuses)."""
    try:
        parallel = ctypes.CDLL(path).GOMP_parallel  # the GCC ABI: libgomp, libiomp5, libomp
    except (OSError, AttributeError):
        return
    callback = _CALLBACK(lambda _: torch.set_flush_denormal(on))
    parallel.argtypes = (_CALLBACK, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint)
    parallel.restype = None
    parallel(callback, None, 0, 0)
