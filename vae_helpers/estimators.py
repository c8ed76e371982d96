"""Two ways to get a gradient through a random sample: the score function (REINFORCE) and the pathwise
(reparameterised) estimator, measured on a VAE's expected reconstruction term.

The target is G = d/d(encoder output layer) of the batch mean of E_{z ~ q(z|x)}[log p(x|z)] (nats per
image; the KL term has a closed form, so it needs neither). The output layer is the one that turns the
encoder's hidden features into mu and log sigma^2 (for a 2-D VAE with 400 hidden units, 4 x 400 + 4 =
1,604 weights): every estimator's noise and every bias of interest shows there, and its gradients are
cheap enough to keep every draw, which the test of "same mean" needs (its null distribution depends on
the shape of the noise, not only its size).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .evidence import log_normal

METHODS = ("pathwise", "score", "pathwise, sigma held fixed")
BASELINE = "score, with a baseline"   # the score function minus log p(x|mu) per image: same mean, less noise


@dataclass
class GradientStats:
    """Single-draw gradient estimates (draws, n_weights) of one estimator, with their mean and variance."""

    samples: torch.Tensor       # (draws, n_weights), float64

    @property
    def draws(self) -> int:
        """Number of independent single-sample estimates."""
        return len(self.samples)

    @property
    def mean(self) -> torch.Tensor:
        """Mean gradient over the draws, (n_weights,)."""
        return self.samples.mean(0)

    @property
    def variance(self) -> torch.Tensor:
        """Variance of a single-draw estimate, per weight, (n_weights,)."""
        return self.samples.var(0)

    @property
    def total_variance(self) -> float:
        """Sum over weights of the single-draw variance (the trace of the covariance)."""
        return self.variance.sum().item()


@dataclass
class MeanTest:
    """Is |mean_a - mean_b|^2 larger than noise alone would make it? Statistic, its null quantile, effective dof."""

    statistic: float            # |mean_a - mean_b|^2 / E_null[...]: about 1 when both means are equal
    threshold: float            # the null distribution's quantile at `level`
    dof: float                  # effective degrees of freedom of the noise ((sum lam)^2 / sum lam^2)
    level: float

    @property
    def differs(self) -> bool:
        """True when the statistic lies beyond the null quantile: the two means differ."""
        return self.statistic > self.threshold


def _surrogates(model: torch.nn.Module, out: torch.Tensor, x: torch.Tensor, method: str) -> torch.Tensor:
    """One scalar per draw, (n,), whose gradient w.r.t. that draw's copy of the encoder output `out` (n, B, 2d)
    is one draw of the chosen estimator (one eps per draw and image)."""
    n, batch = out.shape[:2]
    mu, logvar = out.chunk(2, dim=2)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn_like(mu)

    def log_lik(z: torch.Tensor) -> torch.Tensor:   # log p(x_b|z_kb), (n, B): all draws decoded in one pass
        logits = model.decode_logits(z.reshape(n * batch, -1))
        return -model.nll(logits, x.repeat(n, 1, 1, 1)).reshape(n, batch)

    if method == "pathwise":            # gradients flow through z = mu + sigma * eps into the encoder
        return log_lik(mu + std * eps).mean(1)
    if method == "pathwise, sigma held fixed":   # a deliberately biased variant: no gradient reaches sigma
        return log_lik(mu + std.detach() * eps).mean(1)
    if method in ("score", BASELINE):   # z is a fixed sample; the gradient comes from log q(z|x) alone
        z = (mu + std * eps).detach()
        with torch.no_grad():
            reward = log_lik(z)                                          # log p(x|z), (n, B)
            if method == BASELINE:   # a control variate that ignores z: E[grad log q] = 0 keeps the mean
                reward = reward - log_lik(mu.detach())
        return (reward * log_normal(z, mu, std)).mean(1)
    raise ValueError(f"method must be one of {', '.join(map(repr, (*METHODS, BASELINE)))}; got {method!r}.")


def _gradient_draws(model: torch.nn.Module, hidden: torch.Tensor, x: torch.Tensor, method: str, n: int) -> torch.Tensor:
    """`n` single-draw gradients w.r.t. the encoder's output layer (weight, then bias), (n, n_weights)."""
    layer = model.encoder[-1]
    with torch.no_grad():
        out = layer(hidden)                                               # (B, 2d): the same for every draw
    out = out.expand(n, *out.shape).clone().requires_grad_(True)        # a copy per draw: per-draw gradients
    grad_out, = torch.autograd.grad(_surrogates(model, out, x, method).sum(), out)    # (n, B, 2d)
    # out = hidden @ W.T + b, so a draw's dW = grad_out^T @ hidden and db = grad_out summed over images
    weight = torch.einsum("nbo,bh->noh", grad_out, hidden).reshape(n, -1)
    return torch.cat([weight, grad_out.sum(1)], dim=1)


def gradient_stats(model: torch.nn.Module, x: torch.Tensor, method: str, draws: int = 200,
                   seed: int = 0, block: int = 250) -> GradientStats:
    """`draws` single-sample gradient estimates w.r.t. the encoder's output layer (nats per image per weight).

    The draws are computed `block` at a time in one batched pass (the encoder's output does not depend on
    the noise, so it runs once); each draw is still its own independent estimate.
    """
    if method not in (*METHODS, BASELINE):
        raise ValueError(f"method must be one of {', '.join(map(repr, (*METHODS, BASELINE)))}; got {method!r}.")
    if draws < 2:
        raise ValueError(f"draws must be at least 2 (a variance needs two), got {draws}.")
    x = x.to(model.device)
    with torch.no_grad():
        hidden = model.encoder[:-1](x.reshape(len(x), -1))              # the output layer's input, (B, H)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        samples = [_gradient_draws(model, hidden, x, method, min(block, draws - start))
                   for start in range(0, draws, block)]
    finally:
        torch.random.set_rng_state(generator_state)   # the caller's random stream is left as it was
    return GradientStats(torch.cat(samples).double())


def mean_test(a: GradientStats, b: GradientStats, level: float = 0.999, null_draws: int = 20_000) -> MeanTest:
    """Compare two estimators' means against the exact Gaussian null of their difference (both unbiased).

    Under the null, mean_a - mean_b ~ N(0, S) with S = cov_a / n_a + cov_b / n_b, so |diff|^2 is a weighted
    sum of chi-square(1) variables with weights the eigenvalues of S (found from the draws' Gram matrix).
    Noise concentrated in a few directions gives few effective degrees of freedom and a wide null: a fixed
    cut-off such as "below 3" would then fail by chance far too often.
    """
    centred = [(s.samples - s.mean) / ((s.draws - 1) * s.draws) ** 0.5 for s in (a, b)]
    stacked = torch.cat(centred)                                       # S = stacked.T @ stacked
    small = stacked @ stacked.T if len(stacked) < stacked.shape[1] else stacked.T @ stacked
    lam = torch.linalg.eigvalsh(small).clamp(min=0).flip(0)            # eigenvalues of S, largest first
    statistic = ((a.mean - b.mean).pow(2).sum() / lam.sum()).item()
    # The many tiny eigenvalues add a nearly constant amount: keep the few that carry the spread, add the rest's mean.
    keep = int((lam.cumsum(0) < (1 - 1e-4) * lam.sum()).sum()) + 1
    generator = torch.Generator().manual_seed(0)
    chi2 = torch.randn(null_draws, keep, generator=generator, dtype=torch.float64).pow(2)
    null = (chi2 @ lam[:keep] + lam[keep:].sum()) / lam.sum()
    dof = (lam.sum() ** 2 / lam.pow(2).sum()).item()
    return MeanTest(statistic, null.quantile(level).item(), dof, level)
