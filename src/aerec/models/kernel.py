"""Kernelised autoencoders: Sparse FC (Muller et al. 2018) and GLocal-K (Han et al. 2021).

A kernel layer is ``y = act(x @ (W * K) + b)`` with ``K_ij = max(0, 1 - ||u_i - v_j||^2)``:
u (one vector per input) and v (one per output) are learned, of dimension ``n_dim``; they
start near zero (truncated normal, std 1e-3), so K starts at 1 and the layer dense, and
training makes it sparse. Each layer adds ``lambda_s / 2 * ||K||^2 + lambda_2 / 2 * ||W||^2``
to half the summed squared error over the observed training ratings (the authors'
objective). Sigmoid hidden layers, an identity output; item-based (a row is an item's
ratings) by default, as the authors ran them.

GLocal-K pre-trains that autoencoder (phase ``pretrain``), then fine-tunes it with a global
kernel (phase ``finetune``): from the autoencoder's output on the training matrix R, the mean
over columns gives one value per row, ``mu``; a 3 x 3 kernel ``GK = reshape(mu @ C *
dot_scale)`` (C: rows x 9, learned) convolves R (rows and columns in sorted-id order), and the
prediction is the same autoencoder applied to ``ReLU(conv2d(R, GK))``. Details and the
authors' constants: ../shared/design/kernel-autoencoders.md.

The objective is a sum over the training ratings, not a mean, so a fixed lambda is a fixed
prior whatever the data size: the defaults are the authors' ML-1M lambdas on every data set.
The authors used smaller lambdas on ML-100K (20 / 0.006, with far fewer L-BFGS iterations);
with aerec's schedule they did worse on validation on a 1-in-8 user sample of ML-1M
(experiments/ours-defaults-by-size.toml, docs/results.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from aerec.errors import ConfigError
from aerec.models.config import ModelConfig
from aerec.models.registry import Capabilities, ModelEntry, Recipe, register
from aerec.ops.layout import column_major
from aerec.ops.sparse import CellBatch, observed_linear, sparse_conv2d, sparse_input_linear
from aerec.plan import TrainConfig


@dataclass(frozen=True)
class SparseFCConfig(ModelConfig):
    """Sparse FC / kernelNet (Muller, Martel & Indiveri, ICML 2018).

    layers: sizes of the hidden kernel layers (authors: 500, 500).
    n_dim: dimension of the kernel vectors u and v (authors: 5).
    lambda_2: L2 strength on W, per layer (``lambda_2 / 2 * ||W||^2``; authors: 60 on ML-1M).
    lambda_s: strength on the kernel K, per layer (authors: 0.013 on ML-1M).
    """

    name: ClassVar[str] = "sparse-fc"
    based: str = "item"
    layers: tuple[int, ...] = (500, 500)
    n_dim: int = 5
    lambda_2: float = 60.0
    lambda_s: float = 0.013

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.layers or any(size < 1 for size in self.layers) or self.n_dim < 1:
            raise ConfigError(
                f"layer sizes and n_dim must be >= 1, got {self.layers}, {self.n_dim}"
            )
        for name in ("lambda_2", "lambda_s"):
            value = getattr(self, name)
            if not value >= 0:  # also refuses NaN
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if self.input_fill != "constant" or self.fill_value != 0:
            raise ConfigError(f"{self.name} takes a zero input fill (input_fill 'constant', 0)")


@dataclass(frozen=True)
class GLocalKConfig(SparseFCConfig):
    """GLocal-K (Han et al., CIKM 2021): the Sparse FC autoencoder fine-tuned with a global
    convolution kernel.

    lambda_2 / lambda_s: as for Sparse FC (authors, ML-1M: 70 / 0.018).
    kernel_size: side of the global kernel (authors: 3).
    dot_scale: scale of the global kernel (authors: 0.5 on ML-1M, 1 on ML-100K).
    """

    name: ClassVar[str] = "glocal-k"
    lambda_2: float = 70.0
    lambda_s: float = 0.018
    kernel_size: int = 3
    dot_scale: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size must be odd and >= 1, got {self.kernel_size}")
        if not math.isfinite(self.dot_scale):
            raise ConfigError(f"dot_scale must be a number, got {self.dot_scale}")


def _glorot(shape: tuple[int, ...], generator) -> torch.Tensor:
    """TF1's glorot-uniform; a 1-D tensor of n counts fan-in = fan-out = n: U(+-sqrt(3/n))."""
    fan_in, fan_out = (shape[0], shape[0]) if len(shape) == 1 else (shape[1], shape[0])
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return torch.empty(shape).uniform_(-limit, limit, generator=generator)


def _trunc_normal(shape: tuple[int, ...], std: float, generator) -> torch.Tensor:
    """Normal, redrawn beyond two standard deviations (TF's truncated_normal)."""
    out = torch.empty(shape)
    return nn.init.trunc_normal_(out, 0.0, std, -2 * std, 2 * std, generator=generator)


class KernelLayer(nn.Module):
    """``act(x @ (W * K).T + b)`` with the finite-support kernel ``K`` of u and v.

    The weight is stored (out x in) like nn.Linear's; the first layer of a network stores it
    column-major (see :mod:`aerec.ops.layout`), so its effective weight is formed in that
    layout too and the sparse encoder makes no transposing copy."""

    def __init__(self, n_in, n_out, n_dim, lambda_2, lambda_s, first, generator) -> None:
        super().__init__()
        weight = _glorot((n_out, n_in), generator)
        self.weight = nn.Parameter(column_major(weight) if first else weight)
        self.bias = nn.Parameter(_glorot((n_out,), generator))
        self.u = nn.Parameter(_trunc_normal((n_in, n_dim), 1e-3, generator))
        self.v = nn.Parameter(_trunc_normal((n_out, n_dim), 1e-3, generator))
        self.lambda_2, self.lambda_s = lambda_2, lambda_s
        self.first = first

    def kernel_t(self) -> torch.Tensor:
        """K transposed, (in x out): ``max(0, 1 - ||u_i - v_j||^2)``."""
        dist = (
            self.u.square().sum(1, keepdim=True)
            + self.v.square().sum(1)[None, :]
            - 2.0 * self.u @ self.v.t()
        )
        return (1.0 - dist).clamp(min=0.0)

    def effective_weight(self) -> torch.Tensor:
        """``W * K`` (out x in), in the weight's layout."""
        if self.first:
            return (self.weight.t() * self.kernel_t()).t()
        return self.weight * self.kernel_t().t()

    def penalty(self) -> torch.Tensor:
        return 0.5 * (
            self.lambda_s * self.kernel_t().square().sum()
            + self.lambda_2 * self.weight.square().sum()
        )


class KernelAutoEncoder(nn.Module):
    """Sparse FC: kernel layers ``n -> hidden... -> n``, sigmoid hidden, identity output."""

    def __init__(self, n_inputs, config: SparseFCConfig, generator) -> None:
        super().__init__()
        lambda_2, lambda_s = config.lambda_2, config.lambda_s
        sizes = [n_inputs, *config.layers, n_inputs]
        self.layers = nn.ModuleList(
            KernelLayer(sizes[j], sizes[j + 1], config.n_dim, lambda_2, lambda_s, j == 0, generator)
            for j in range(len(sizes) - 1)
        )

    def encode_decode(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        last = len(self.layers) - 1
        for j, layer in enumerate(self.layers):
            z = F.linear(h, layer.effective_weight(), layer.bias)
            h = z if j == last else torch.sigmoid(z)
        return h

    def forward(
        self, x, side=None, generator=None, outputs=None, fill_row=None, fill_col=None, rows=None
    ):
        if isinstance(x, CellBatch):
            return self.forward_cells(x, outputs, fill_row, fill_col, side, generator)
        return self.encode_decode(x)

    def forward_cells(self, inputs, outputs, fill_row, fill_col, side=None, generator=None):
        """The same function on the observed cells (zero fill): the sparse input to the first
        layer, the output layer only at the ``outputs`` cells."""
        last = len(self.layers) - 1
        h = None
        for j, layer in enumerate(self.layers):
            weight = layer.effective_weight()
            if j == 0:
                z = sparse_input_linear(inputs, weight, layer.bias, fill_row, fill_col)
            elif j == last:
                return observed_linear(h, weight, layer.bias, outputs)
            else:
                z = F.linear(h, weight, layer.bias)
            h = torch.sigmoid(z)
        raise AssertionError("a kernel autoencoder has an output layer")

    def penalty(self) -> torch.Tensor:
        return sum((layer.penalty() for layer in self.layers), torch.zeros(()))


class GLocalK(KernelAutoEncoder):
    """GLocal-K: the kernel autoencoder, fine-tuned on the globally convolved input.

    ``ratings`` is the dense training matrix R (rows x columns, sorted-id order) and
    ``cells`` the same ratings as a :class:`CellBatch` of every row. The mean over columns of
    the autoencoder's output on R needs no dense output: the output layer is linear, so
    ``mean_j y_ij = h_i . mean_j(W_j) + mean_j(b_j)`` from the last hidden code ``h``. On the
    sparse engine the fine-tuning loss reads the output at the observed cells only, and the
    convolution is formed from the cells (:func:`~aerec.ops.sparse.sparse_conv2d`); the
    convolved input itself is dense."""

    def __init__(self, ratings, cells: CellBatch, config: GLocalKConfig, generator):
        super().__init__(ratings.shape[1], config, generator)
        k = config.kernel_size
        self.conv_kernel = nn.Parameter(_trunc_normal((ratings.shape[0], k * k), 0.1, generator))
        self.register_buffer("ratings", ratings, persistent=False)
        self.cells = cells
        self.kernel_size, self.dot_scale = k, config.dot_scale
        self.finetune = False
        self._cache: torch.Tensor | None = None

    def _apply(self, fn, *args, **kwargs):  # .to(device) moves the cells too
        out = super()._apply(fn, *args, **kwargs)
        c = self.cells
        moved = CellBatch(fn(c.indptr), fn(c.cols), fn(c.values), c.n_cols)
        if moved.values.device != c.values.device:
            self.cells = moved
        return out

    def start_phase(self, name: str) -> None:
        self.finetune = name == "finetune"
        self._cache = None

    def parameter_set(self, name: str) -> list[nn.Parameter]:
        if name == "autoencoder":
            return list(self.layers.parameters())
        raise ConfigError(f"glocal-k has parameter sets 'all' and 'autoencoder', not {name!r}")

    def train(self, mode: bool = True):
        self._cache = None  # the weights change: convolve again
        return super().train(mode)

    def _code(self, first: torch.Tensor) -> torch.Tensor:
        """The last hidden code from the first layer's pre-activation."""
        h = torch.sigmoid(first)
        for layer in self.layers[1:-1]:
            h = torch.sigmoid(F.linear(h, layer.effective_weight(), layer.bias))
        return h

    def convolved(self) -> torch.Tensor:
        """``ReLU(conv2d(R, GK))``, the global kernel from the autoencoder's output on R."""
        if self._cache is not None:
            return self._cache
        first = self.layers[0]
        if self.ratings.device.type == "cpu":
            z = sparse_input_linear(self.cells, first.effective_weight(), first.bias, None, None)
        else:
            z = F.linear(self.ratings, first.effective_weight(), first.bias)
        out_layer = self.layers[-1]
        mu = self._code(z) @ out_layer.effective_weight().mean(0) + out_layer.bias.mean()
        k = self.kernel_size
        kernel = (mu @ self.conv_kernel * self.dot_scale).reshape(k, k)
        if self.ratings.device.type == "cpu":  # from the cells: the matrix is sparse
            out = F.relu(sparse_conv2d(self.cells, kernel))
        else:  # one conv2d call on the resident dense matrix
            out = F.relu(F.conv2d(self.ratings[None, None], kernel[None, None], padding=k // 2))
            out = out[0, 0]
        if not self.training:
            self._cache = out.detach()
        return out

    def forward(
        self, x, side=None, generator=None, outputs=None, fill_row=None, fill_col=None, rows=None
    ):
        if not self.finetune:
            return super().forward(x, side, generator, outputs, fill_row, fill_col, rows)
        if rows is None:
            raise ValueError("glocal-k's fine-tuned model predicts rows of its training matrix")
        first = self.layers[0]
        h = self._code(F.linear(self.convolved()[rows], first.effective_weight(), first.bias))
        last = self.layers[-1]
        if isinstance(x, CellBatch):  # the sparse engine: the output at the observed cells
            return observed_linear(h, last.effective_weight(), last.bias, outputs)
        return F.linear(h, last.effective_weight(), last.bias)


def build_sparse_fc(config: SparseFCConfig, data, generator=None) -> KernelAutoEncoder:
    return KernelAutoEncoder(data.matrix.shape[1], config, generator)


def build_glocal_k(config: GLocalKConfig, data, generator=None) -> GLocalK:
    csr = data.matrix.csr
    ratings = torch.as_tensor(csr.toarray(), dtype=torch.float32)
    cells = CellBatch(
        torch.as_tensor(csr.indptr, dtype=torch.int64),
        torch.as_tensor(csr.indices, dtype=torch.int64),
        torch.as_tensor(csr.data, dtype=torch.float32),
        csr.shape[1],
    )
    return GLocalK(ratings, cells, config, generator)


def _lbfgs(name: str, rounds: int, iterations: int, keep: str = "best", **more) -> TrainConfig:
    return TrainConfig(
        name=name,
        optimizer="lbfgs",
        lr=1.0,
        loss="sse",
        epochs=rounds,
        iterations=iterations,
        history_size=10,
        restart=True,
        patience=0,
        batch_size=1 << 20,
        keep=keep,
        **more,
    )


KERNEL_CAPS = Capabilities(based=("item", "user"), side=False, sparse=True, fold_in=False)
KERNEL_EXAMPLES = ({"layers": (16, 16)}, {"layers": (12,), "based": "user", "n_dim": 3})

SPARSE_FC = register(
    ModelEntry(
        name="sparse-fc",
        config=SparseFCConfig,
        build=build_sparse_fc,
        recipes={
            "default": Recipe(
                (_lbfgs("train", 20, 50),),
                summary="20 L-BFGS rounds of 50 iterations, the round chosen on validation",
            ),
            "paper": Recipe(
                (_lbfgs("train", 20, 50, keep="last"),),
                summary="the authors' schedule to its last round, no selection",
            ),
        },
        capabilities=KERNEL_CAPS,
        examples=KERNEL_EXAMPLES,
        summary="Sparse FC / kernelNet (Muller et al. 2018), item-based kernel autoencoder",
    )
)

GLOCAL_K = register(
    ModelEntry(
        name="glocal-k",
        config=GLocalKConfig,
        build=build_glocal_k,
        recipes={
            "default": Recipe(
                (
                    _lbfgs("pretrain", 20, 50, params="autoencoder"),
                    _lbfgs("finetune", 30, 10),
                ),
                summary="pre-train 20 x 50, fine-tune 30 x 10 L-BFGS; rounds chosen on validation",
            ),
            "paper": Recipe(
                (
                    _lbfgs("pretrain", 20, 50, keep="last", params="autoencoder"),
                    _lbfgs("finetune", 30, 10, keep="last"),
                ),
                summary="the authors' schedule to its last round, no selection",
            ),
        },
        capabilities=KERNEL_CAPS,
        examples=(*KERNEL_EXAMPLES, {"layers": (16, 16), "kernel_size": 3, "dot_scale": 1.0}),
        summary="GLocal-K (Han et al. 2021): Sparse FC fine-tuned with a global kernel",
    )
)
