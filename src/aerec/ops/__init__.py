"""Model compute: the sparse engine (cell batches, autograd functions, numba kernels), the
column-major layout of the first layer, and dense row batches built on the device.

Models and training both build on this package; it imports neither.
"""
