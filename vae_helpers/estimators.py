"""Two ways to get a gradient through a random sample: the score function (REINFORCE) and the pathwise
(reparameterised) estimator, measured on a VAE's expected reconstruction term.

The target is G = d/d(encoder weights) of the batch mean of E_{z ~ q(z|x)}[log p(x|z)] (nats per image;
the KL term has a closed form, so it needs neither). Each estimator is called `draws` times with one
sample per image; we keep the running mean and variance of the gradient vector (Welford's method).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .evidence import log_normal
from .losses import reconstruction_loss


@dataclass
class GradientStats:
    """Mean gradient over draws and the variance of one draw, summed over all encoder weights."""

    mean: torch.Tensor          # (n_weights,)
    variance: torch.Tensor      # (n_weights,) variance of a single-draw estimate, per weight
    draws: int

    @property
    def total_variance(self) -> float:
        """Sum over weights of the single-draw variance (the trace of the covariance)."""
        return self.variance.sum().item()


def _surrogate(model: torch.nn.Module, x: torch.Tensor, method: str) -> torch.Tensor:
    """A scalar whose gradient w.r.t. the encoder weights is one draw of the chosen estimator."""
    mu, logvar = model._encode(x)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(mu)
    z = mu + std * eps
    if method == "pathwise":            # gradients flow through z = mu + sigma * eps into the encoder
        return -reconstruction_loss(model.decode_logits(z), x).mean()
    if method == "pathwise, sigma held fixed":   # a deliberately biased variant: no gradient reaches sigma
        return -reconstruction_loss(model.decode_logits(mu + std.detach() * eps), x).mean()
    if method == "score":               # z is a fixed sample; the gradient comes from log q(z|x) alone
        z = z.detach()
        reward = -reconstruction_loss(model.decode_logits(z), x).detach()          # log p(x|z), (B,)
        return (reward * log_normal(z, mu, std)).mean()
    raise ValueError(f"method must be 'pathwise', 'score' or 'pathwise, sigma held fixed', got {method!r}.")


def gradient_stats(model: torch.nn.Module, x: torch.Tensor, method: str, draws: int = 200,
                   seed: int = 0) -> GradientStats:
    """Mean and variance of `draws` single-sample gradient estimates w.r.t. the encoder's weights."""
    params = list(model.encoder.parameters())
    torch.manual_seed(seed)
    mean = m2 = None
    for k in range(1, draws + 1):
        grads = torch.autograd.grad(_surrogate(model, x, method), params)
        g = torch.cat([gr.reshape(-1) for gr in grads]).double()
        if mean is None:
            mean, m2 = g.clone(), torch.zeros_like(g)
            continue
        delta = g - mean
        mean += delta / k
        m2 += delta * (g - mean)
    return GradientStats(mean.float(), (m2 / (draws - 1)).float(), draws)


def disagreement(a: GradientStats, b: GradientStats) -> float:
    """|mean_a - mean_b|^2 over what noise alone would give (var_a/n_a + var_b/n_b summed): about 1 if both are unbiased."""
    expected = (a.variance / a.draws + b.variance / b.draws).sum()
    return ((a.mean - b.mean).pow(2).sum() / expected).item()
