"""Monte Carlo for the posterior p(h|x): self-normalised importance sampling and a Metropolis chain.

Each estimate is summarised like the exact grid posterior (evidence.grid_log_evidence): a mean and a
standard deviation per latent dimension, plus what it cost in decoder evaluations. Notation as in
evidence.py: h is the latent variable, p(h) = N(0, I), log-densities in nats.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .evidence import LogLikelihood, importance_draws, log_normal
from .models import IMAGE_SHAPE


@dataclass
class PosteriorSample:
    """Weighted points standing for p(h|x): samples (K, d), weights (K,) summing to 1, decoder evaluations used."""

    samples: torch.Tensor
    weights: torch.Tensor
    evaluations: int

    @property
    def mean(self) -> torch.Tensor:
        """The weighted mean, (d,)."""
        return (self.weights[:, None] * self.samples).sum(0)

    @property
    def std(self) -> torch.Tensor:
        """The weighted standard deviation per dimension, (d,)."""
        return (self.weights[:, None] * (self.samples - self.mean) ** 2).sum(0).sqrt()

    @property
    def ess(self) -> float:
        """Kish's effective sample size 1 / sum w^2: how many equally weighted draws the weights are worth."""
        return (1.0 / self.weights.pow(2).sum()).item()

    def mass_near(self, point: torch.Tensor, radius: float) -> float:
        """The share of the weight within `radius` (latent units) of `point`."""
        return self.weights[(self.samples - point).norm(dim=1) < radius].sum().item()


def importance_posterior(log_likelihood: LogLikelihood, mean: torch.Tensor, std: torch.Tensor, samples: int,
                         generator: torch.Generator | None = None) -> PosteriorSample:
    """Self-normalised importance sampling from the proposal N(mean, diag(std^2)): w_k ~ p(x|h_k) p(h_k) / r(h_k).

    With mean 0 and std 1 the proposal is the prior and w_k ~ p(x|h_k); with the encoder's mu and sigma it is q(h|x).
    """
    h, log_w = importance_draws(log_likelihood, mean.float(), 2 * std.float().log(), samples, generator)
    return PosteriorSample(h, torch.softmax(log_w, dim=0), samples)


def batch_log_joint(model: torch.nn.Module, x: torch.Tensor):
    """A function h (n, d) -> log p(x_i|h_i) + log p(h_i), (n,): row i scores image i (for n chains at once)."""
    x = x.reshape(-1, *IMAGE_SHAPE).to(model.device)

    @torch.no_grad()
    def log_joint(h: torch.Tensor) -> torch.Tensor:
        return -model.nll(model.decode_logits(h.to(model.device)), x).cpu() + log_normal(h)
    return log_joint


def metropolis(log_joint, start: torch.Tensor, step: torch.Tensor, steps: int, burn_in: int = 0,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Random-walk Metropolis chains, one per row of `start` (n, d), proposals h + step * eps.

    Returns the chains after burn-in, (steps - burn_in, n, d), and each chain's acceptance rate, (n,).
    Cost: one evaluation of `log_joint` (one decoder pass per chain) per step.
    """
    current = start.float().clone()
    current_lp = log_joint(current)
    kept, accepted = [], torch.zeros(len(current))
    for t in range(steps):
        proposal = current + step * torch.randn(current.shape, generator=generator)
        proposal_lp = log_joint(proposal)
        accept = torch.rand(len(current), generator=generator).log() < proposal_lp - current_lp
        current = torch.where(accept[:, None], proposal, current)
        current_lp = torch.where(accept, proposal_lp, current_lp)
        accepted += accept.float()
        if t >= burn_in:
            kept.append(current)
    return torch.stack(kept), accepted / steps


def chain_sample(chain: torch.Tensor, evaluations: int) -> PosteriorSample:
    """One chain's states (T, d) as an equally weighted PosteriorSample."""
    return PosteriorSample(chain, torch.full((len(chain),), 1.0 / len(chain)), evaluations)


def grid_sample(log_posterior: torch.Tensor, axis: torch.Tensor) -> PosteriorSample:
    """A 2-D grid posterior as weighted points (every grid cell, weighted by its probability)."""
    h0, h1 = torch.meshgrid(axis, axis, indexing="ij")
    cells = torch.stack([h0.reshape(-1), h1.reshape(-1)], dim=1)
    return PosteriorSample(cells, torch.softmax(log_posterior.reshape(-1), dim=0), len(cells))


def grid_modes(log_posterior: torch.Tensor, axis: torch.Tensor, floor: float = 0.05,
               dip: float = 0.8) -> tuple[torch.Tensor, torch.Tensor]:
    """Separate modes of a 2-D grid posterior and the mass of each one's region, largest mass first.

    A mode is a local maximum above `floor` times the highest density; a lower maximum joins a higher one
    unless the density on the straight line between them dips below `dip` times the lower one (a bump on
    the side of one hill is not a mode). Every grid cell is given to its nearest mode. Returns modes (m, 2), masses (m,).
    """
    p = (log_posterior - log_posterior.max()).exp()
    peak = (p == F.max_pool2d(p[None, None], 3, 1, 1)[0, 0]) & (p > floor)
    index = peak.nonzero()
    index = index[p[peak].argsort(descending=True)]                       # highest first
    modes: list[torch.Tensor] = []
    for candidate in index:
        if all(_dips_between(p, candidate, kept, dip) for kept in modes):
            modes.append(candidate)
    h0, h1 = torch.meshgrid(axis, axis, indexing="ij")
    cells = torch.stack([h0.reshape(-1), h1.reshape(-1)], dim=1)
    maxima = torch.stack([axis[m] for m in modes])                        # (m, 2) latent points
    nearest = torch.cdist(cells, maxima).argmin(dim=1)
    masses = torch.zeros(len(maxima)).index_add_(0, nearest, p.reshape(-1) / p.sum())
    order = masses.argsort(descending=True)
    return maxima[order], masses[order]


def _dips_between(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, dip: float) -> bool:
    """True if the grid density on the segment from cell a to cell b falls below `dip` times the lower end."""
    t = torch.linspace(0, 1, 64)[:, None]
    cells = (a[None].float() * (1 - t) + b[None].float() * t).round().long()
    lowest = p[cells[:, 0], cells[:, 1]].min()
    return bool(lowest < dip * torch.minimum(p[tuple(a)], p[tuple(b)]))
