"""A lean Adam: torch's own fused Adam kernel, called without torch.optim's wrapper machinery.

Why not `torch.optim.Adam(fused=True)`: every torch.optim.Optimizer method is wrapped to keep
torch.compile out, and the first call in a process imports torch._dynamo to do so: about 1.2 s
on a 2-core CPU, paid once per notebook kernel (so once per notebook on a first run) before any
training starts. This class calls the same kernel (`torch._fused_adam_`) with the same state, so
its updates are bit-identical to `torch.optim.Adam(..., fused=True)` (tests/test_training.py).
"""
from __future__ import annotations

from collections.abc import Iterable

import torch


class FusedAdam:
    """Adam (no weight decay) with the interface fit uses: `param_groups[0]["lr"]`, `zero_grad()`, `step()`."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        self.param_groups = [{"lr": lr}]     # a learning-rate schedule sets this, as on a torch optimiser
        self.betas, self.eps = betas, eps
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}   # index -> (m, v, step)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop the gradients (set_to_none=False zeroes them in place instead)."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient (others keep their state untouched)."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        for i in live:   # state made on a parameter's first gradient, as torch.optim does
            if i not in self.state:
                p = self.params[i]
                self.state[i] = (torch.zeros_like(p), torch.zeros_like(p),
                                 torch.zeros((), dtype=torch.float32, device=p.device))
        m, v, steps = ([self.state[i][k] for i in live] for k in range(3))
        torch._foreach_add_(steps, 1)
        torch._fused_adam_([self.params[i] for i in live], [self.params[i].grad for i in live], m, v, [], steps,
                           amsgrad=False, lr=self.param_groups[0]["lr"], beta1=self.betas[0], beta2=self.betas[1],
                           weight_decay=0.0, eps=self.eps, maximize=False, grad_scale=None, found_inf=None)


def fused_kernel_available(device: torch.device) -> bool:
    """True where torch has the fused Adam kernel for `device` (CPU and CUDA in torch >= 2.4)."""
    return hasattr(torch, "_fused_adam_") and device.type in ("cpu", "cuda")
