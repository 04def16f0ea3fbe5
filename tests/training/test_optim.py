"""aerec's Adam and AdamW: torch's fused kernels, a column-major parameter handed over as its
contiguous transpose (no temporary per step) with the same update, bit for bit."""

import pytest
import torch

from aerec.training import optim


def _column_major(t: torch.Tensor) -> torch.Tensor:
    return t.t().contiguous().t()


@pytest.mark.parametrize("kind", ["Adam", "AdamW"])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_column_major_parameters_update_as_row_major_ones(kind, amsgrad):
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(37, 11, generator=gen)
    grads = [torch.randn(37, 11, generator=gen) for _ in range(4)]
    results = {}
    for name, layout, cls in [
        ("torch, row-major", torch.clone, getattr(torch.optim, kind)),
        ("aerec, column-major", _column_major, getattr(optim, kind)),
    ]:
        param = torch.nn.Parameter(layout(start))
        bias = torch.nn.Parameter(start[0].clone())
        opt = cls([param, bias], lr=1e-2, weight_decay=1e-3, amsgrad=amsgrad, fused=True)
        for grad in grads:
            param.grad, bias.grad = layout(grad), grad[1].clone()
            opt.step()
        results[name] = (param.detach().contiguous(), bias.detach())
        assert param.is_contiguous() == (layout is torch.clone)  # the layout is kept
    for ours, theirs in zip(*results.values(), strict=True):
        assert torch.equal(ours, theirs)


def test_the_fused_kernel_gets_contiguous_tensors(monkeypatch):
    seen = []
    fused = torch._fused_adam_

    def spy(params, grads, exp_avgs, exp_avg_sqs, *args, **kwargs):
        seen.extend(t.is_contiguous() for t in (*params, *grads, *exp_avgs, *exp_avg_sqs))
        return fused(params, grads, exp_avgs, exp_avg_sqs, *args, **kwargs)

    monkeypatch.setattr(torch, "_fused_adam_", spy)
    param = torch.nn.Parameter(_column_major(torch.randn(20, 6)))
    opt = optim.Adam([param], lr=1e-3, fused=True)
    for _ in range(2):
        param.grad = _column_major(torch.randn(20, 6))
        opt.step()
    assert seen and all(seen)
