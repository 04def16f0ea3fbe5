"""Minor page faults of one fused Adam step on CPU, by the memory layout of the parameter and
of its gradient: does the optimizer allocate a weight-sized temporary every step?

    python benchmarks/adam_faults.py [--rows 60000] [--cols 500] [--steps 3]

Prints, for a (rows x cols) float32 parameter stored row-major or column-major (as aerec's
first layer, ``aerec/ops/layout.py``) with a gradient of either layout, the minor page faults
of each of ``--steps`` ``Adam(fused=True, weight_decay=1e-4).step()`` calls, torch's Adam and
aerec's (``aerec.training.optim.Adam``, which hands the kernel the contiguous transposes).
The first step allocates the two moments; a later step's faults are temporaries (a 4 KiB page
each).
"""

from __future__ import annotations

import argparse
import resource

import torch

from aerec.training.optim import Adam


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--cols", type=int, default=500)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    layouts = {"row-major": lambda t: t, "column-major": lambda t: t.t().contiguous().t()}
    pages = args.rows * args.cols * 4 / 4096
    print(f"{args.rows} x {args.cols} float32: {pages:,.0f} pages of 4 KiB per copy")
    for param_layout, grad_layout, optimizer in [
        ("row-major", "row-major", torch.optim.Adam),
        ("column-major", "row-major", torch.optim.Adam),
        ("column-major", "column-major", torch.optim.Adam),
        ("column-major", "column-major", Adam),
    ]:
        param = torch.nn.Parameter(layouts[param_layout](torch.randn(args.rows, args.cols)))
        opt = optimizer([{"params": [param], "weight_decay": 1e-4}], lr=1e-3, fused=True)
        faults = []
        for _ in range(args.steps):
            param.grad = layouts[grad_layout](torch.randn(args.rows, args.cols))
            start = _faults()
            opt.step()
            faults.append(_faults() - start)
        who = "aerec" if optimizer is Adam else "torch"
        print(f"{who} Adam, parameter {param_layout}, gradient {grad_layout}: faults {faults}")


if __name__ == "__main__":
    main()
