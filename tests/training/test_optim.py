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


def test_groups_with_the_same_hyper_parameters_are_merged_with_the_same_bits():
    """build_optimizer hands fused Adam one group per weight decay (here 8 -> 3: encoder
    weights, biases, decoder weights), and its steps give the bits of the model's own
    one-group-per-tensor layout."""
    from aerec.models import AutoEncoder, DeepAutoRecConfig
    from aerec.training import TrainConfig

    config = DeepAutoRecConfig(layers=(8, 4, 8), dropout=0.0, l2_encoder=0.05, l2_decoder=0.02)
    arch = config.architecture()
    models = [AutoEncoder(10, arch, generator=torch.Generator().manual_seed(0)) for _ in "ab"]
    merged = optim.build_optimizer(models[0], TrainConfig(lr=0.01, weight_decay=1e-4))
    separate = optim.Adam(models[1].decay_groups(1e-4), lr=0.01, fused=True)
    assert len(models[1].decay_groups(1e-4)) == 8
    decays = [g["weight_decay"] for g in merged.param_groups]
    assert decays == [1e-4 + 2 * 0.05, 1e-4, 1e-4 + 2 * 0.02]
    assert [len(g["params"]) for g in merged.param_groups] == [2, 4, 2]
    x = torch.rand(5, 10, generator=torch.Generator().manual_seed(1))
    for _ in range(3):
        for model, opt in zip(models, (merged, separate), strict=True):
            opt.zero_grad()
            (model(x) - x).square().mean().backward()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters(), strict=True):
        assert torch.equal(a, b)
