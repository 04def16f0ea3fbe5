"""The one memory-layout invariant of aerec's weights, kept in one place.

The sparse encoder reads and writes the first layer one input column at a time. Stored with
the memory layout of its transpose (column-major), that is one contiguous row, so neither its
forward nor its backward makes a transposing copy (about a third of a U-AutoRec step). The
values, and the bits of training, are those of the ordinary layout.

A fused optimizer walks a parameter, its gradient and its slots (Adam's moments) as flat
memory: a column-major parameter with a row-major slot is updated wrongly without an error.
So every slot restored from a file must take its parameter's layout: :func:`match_layouts`.
"""

from __future__ import annotations

import torch


def column_major(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` (out x in) with the memory layout of its transpose; same values."""
    return weight.t().contiguous().t()


def is_column_major(t: torch.Tensor) -> bool:
    """A 2-D tensor laid out as :func:`column_major` makes it (its transpose contiguous)."""
    return t.dim() == 2 and not t.is_contiguous() and t.t().is_contiguous()


def match_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each optimizer slot of a parameter's shape that parameter's memory layout."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            slots = optimizer.state.get(param, {})
            for name, value in slots.items():
                if torch.is_tensor(value) and value.shape == param.shape:
                    slots[name] = torch.empty_like(param).copy_(value)
