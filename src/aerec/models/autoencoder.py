"""The autoencoder every model family builds: AutoRec is the one-hidden-layer case.

``sizes = [n_inputs, *layers, n_inputs]``; the layer that outputs ``layers[len(layers) // 2]``
is the latent code (dropout goes after it); later layers are the decoder. Side information is
concatenated to the first layer's input, or to every layer's input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from aerec.models.activations import activation, dropout
from aerec.models.config import Architecture
from aerec.ops.layout import column_major
from aerec.ops.sparse import CellBatch, observed_linear, sparse_input_linear


class AutoEncoder(nn.Module):
    """Rows of ratings (batch x n_inputs) in, reconstructed rows out."""

    def __init__(
        self,
        n_inputs: int,
        arch: Architecture,
        n_side: int = 0,
        side_every_layer: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        sizes = [n_inputs, *arch.layers, n_inputs]
        n_layers = len(sizes) - 1
        self.code_layer = len(arch.layers) // 2
        self.code_dropout = arch.dropout
        self.binary = arch.binary
        self.n_side = n_side
        self.side_every_layer = side_every_layer
        self.tied = arch.tied
        self.l2 = [
            arch.l2_encoder if j <= self.code_layer else arch.l2_decoder for j in range(n_layers)
        ]
        self.layers = nn.ModuleList()
        for j in range(n_layers):
            in_dim = sizes[j] + (n_side if j == 0 or side_every_layer else 0)
            if self.tied and j > self.code_layer:
                self.layers.append(_TiedLinear(sizes[j + 1]))
            else:
                self.layers.append(nn.Linear(in_dim, sizes[j + 1]))
        self.activations = nn.ModuleList(
            activation(arch.activation if j < n_layers - 1 else arch.last_activation)
            for j in range(n_layers)
        )
        for layer in self.layers:
            if isinstance(layer, nn.Linear):  # Keras' defaults: glorot uniform, zero bias
                nn.init.xavier_uniform_(layer.weight, generator=generator)
                nn.init.zeros_(layer.bias)
        first = self.layers[0]  # same values, stored column-major: see aerec.ops.layout
        first.weight = nn.Parameter(column_major(first.weight.detach()))

    def weight(self, j: int) -> torch.Tensor:
        """Layer ``j``'s weight (out x in); a tied decoder layer uses its mirror transposed."""
        layer = self.layers[j]
        if not isinstance(layer, _TiedLinear):
            return layer.weight
        mirror = len(self.layers) - 1 - j
        w = self.layers[mirror].weight.t()
        n_side = self.n_side if mirror == 0 else 0  # side columns are not reconstructed
        return w[: w.shape[0] - n_side]

    def forward(
        self,
        x: torch.Tensor | CellBatch,
        side: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        outputs: CellBatch | None = None,
        fill_row: torch.Tensor | None = None,
        fill_col: torch.Tensor | None = None,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Dense rows ``x`` in, dense rows out; or, when ``x`` is a CellBatch, the sparse
        computation of :meth:`forward_cells` (one entry point, as DDP needs). ``rows`` (the
        rows' indices) is part of the model contract; a row autoencoder needs only ``x``."""
        if isinstance(x, CellBatch):
            return self.forward_cells(x, outputs, fill_row, fill_col, side, generator)
        h = x
        for j, (layer, act) in enumerate(zip(self.layers, self.activations, strict=True)):
            if side is not None and (j == 0 or self.side_every_layer):
                h = torch.cat([h, side], dim=1)
            h = act(F.linear(h, self.weight(j), layer.bias))
            if j == self.code_layer:
                h = self._code(h, generator)
        return h

    def _code(self, h: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The code layer's output as the decoder reads it: binarised (``binary``), then
        dropout in training."""
        if self.binary:
            h = _Binarise.apply(h)
        if self.training:
            h = dropout(h, self.code_dropout, generator)
        return h

    def forward_cells(
        self,
        inputs: CellBatch,
        outputs: CellBatch,
        fill_row: torch.Tensor | None,
        fill_col: torch.Tensor | None,
        side: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The same function as :meth:`forward`, computed sparsely: the input rows are the fill
        (``fill_row[:, None] + fill_col[None, :]``) plus ``inputs`` (rating minus fill at the
        observed cells), and only the ``outputs`` cells are computed. Returns (nnz_out,)."""
        last = len(self.layers) - 1
        n_cols = inputs.n_cols
        h = None
        for j, (layer, act) in enumerate(zip(self.layers, self.activations, strict=True)):
            weight = self.weight(j)
            if j == 0:
                z = sparse_input_linear(inputs, weight[:, :n_cols], layer.bias, fill_row, fill_col)
                if side is not None:
                    z = z + side @ weight[:, n_cols:].t()
            else:
                if side is not None and self.side_every_layer:
                    h = torch.cat([h, side], dim=1)
                z = (
                    observed_linear(h, weight, layer.bias, outputs)
                    if j == last
                    else F.linear(h, weight, layer.bias)
                )
            h = act(z)
            if j == self.code_layer:
                h = self._code(h, generator)
        return h

    def decay_groups(self, weight_decay: float = 0.0) -> list[dict]:
        """Optimizer groups that apply the L2 penalty ``l2 * sum(W**2)`` of each weight matrix
        (Keras' kernel regulariser) as its gradient ``2 * l2 * W``, inside the optimizer step:
        the same objective without a penalty term in the graph. Biases get ``weight_decay``
        only; a tied weight is penalised once, with the encoder's l2."""
        groups = []
        for j, layer in enumerate(self.layers):
            if isinstance(layer, nn.Linear):
                groups.append(
                    {"params": [layer.weight], "weight_decay": weight_decay + 2 * self.l2[j]}
                )
            groups.append({"params": [layer.bias], "weight_decay": weight_decay})
        return groups

    def penalty(self) -> torch.Tensor:
        """The penalty :meth:`decay_groups` applies: sum over layers of ``l2 * sum(W**2)``."""
        total = torch.zeros((), device=self.layers[0].bias.device)
        for j, layer in enumerate(self.layers):
            if isinstance(layer, nn.Linear) and self.l2[j] > 0:
                total = total + self.l2[j] * layer.weight.square().sum()
        return total


class _Binarise(torch.autograd.Function):
    """1 where the input exceeds 0.5, else 0; the gradient passes through unchanged (the
    straight-through estimator, as the AutoRec authors' code trains its binary layer)."""

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:
        return (h > 0.5).to(h.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


class _TiedLinear(nn.Module):
    """A decoder layer that owns only its bias; its weight is the mirrored encoder weight."""

    def __init__(self, out_features: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(out_features))


def build_autoencoder(config, data, generator: torch.Generator | None = None) -> AutoEncoder:
    """The registry's ``build`` for the autoencoder families (AutoRec, Deep AutoRec)."""
    return AutoEncoder(
        data.matrix.shape[1],
        config.architecture(data),
        data.n_side,
        config.side == "every_layer",
        generator,
    )
