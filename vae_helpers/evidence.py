"""The evidence log p(x) = log integral p(x|h) p(h) dh: on a grid, by naive Monte Carlo, by importance sampling.

Notation follows the lesson: h is the latent variable (the code's `z`), p(h) = N(0, I) the prior,
p(x|h) the decoder's likelihood, q(h|x) the encoder's Gaussian. All log-densities are in nats.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .losses import kl_divergence
from .models import IMAGE_SHAPE

LogLikelihood = Callable[[torch.Tensor], torch.Tensor]  # h (K, d) -> log p(x|h) (K,), or (N, K) for N images
LOG_2PI = math.log(2 * math.pi)


def log_normal(h: torch.Tensor, mu: torch.Tensor | float = 0.0, std: torch.Tensor | float = 1.0) -> torch.Tensor:
    """log N(h; mu, diag(std^2)) summed over the last dimension, in nats: (K, d) -> (K,)."""
    std = torch.as_tensor(std, dtype=h.dtype)
    return (-0.5 * ((h - mu) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI).sum(dim=-1)


def log_mean_exp(values: torch.Tensor) -> torch.Tensor:
    """log(mean(exp(values))) computed stably (no overflow for values of -1000 nats)."""
    return torch.logsumexp(values, dim=0) - math.log(len(values))


def decoder_log_likelihood(model: torch.nn.Module, x: torch.Tensor, chunk: int = 8192) -> LogLikelihood:
    """A function h (K, d) -> log p(x|h) under the model's own likelihood: (K,) for one image x, (N, K) for a batch.

    A batch of N images, (N, 1, 28, 28), shares one decoding of each h, so a grid costs about what one
    image's does (the likelihood's `log_likelihood_table`); one image keeps gradients for `fit_q`.
    """
    if x.dim() == 4:
        return _batch_log_likelihood(model, x, chunk)
    x = x.reshape(1, *IMAGE_SHAPE).to(model.device)

    def with_grad(h: torch.Tensor) -> torch.Tensor:
        parts = [-model.nll(model.decode_logits(block.to(model.device)), x.expand(len(block), -1, -1, -1))
                 for block in h.split(chunk)]
        return torch.cat(parts).cpu()

    @torch.no_grad()
    def log_likelihood(h: torch.Tensor) -> torch.Tensor:
        return with_grad(h)

    log_likelihood.with_grad = with_grad  # for fitting q per image (`fit_q`)
    return log_likelihood


def _batch_log_likelihood(model: torch.nn.Module, images: torch.Tensor, chunk: int) -> LogLikelihood:
    """h (K, d) -> log p(x_n|h_k), (N, K), decoding each block of h once for all N images (no gradients)."""
    images = images.to(model.device)

    @torch.no_grad()
    def log_likelihood(h: torch.Tensor) -> torch.Tensor:
        return torch.cat([model.likelihood.log_likelihood_table(model.decode_logits(block.to(model.device)), images)
                          for block in h.split(chunk)], dim=1).cpu()
    return log_likelihood


def grid_log_evidence(log_likelihood: LogLikelihood, dim: int, points: int, limit: float = 4.0):
    """log p(x) by a Riemann sum over a grid of `points`^dim latent points in [-limit, limit]^dim.

    Returns (log_evidence, log_posterior on the grid, the 1-D axis); cost: points**dim likelihoods.
    For a batch log-likelihood (N images) the evidence is a tensor (N,) and the posterior (N, points, ...).
    """
    axis = torch.linspace(-limit, limit, points)
    cell = (axis[1] - axis[0]).item() ** dim                               # volume of one grid cell
    h = torch.cartesian_prod(*[axis] * dim).reshape(-1, dim)               # (points**dim, dim)
    log_joint = log_likelihood(h) + log_normal(h)                          # log p(x|h) + log p(h): (K,) or (N, K)
    log_evidence = torch.logsumexp(log_joint, dim=-1) + math.log(cell)     # log sum p(x,h) dh
    log_posterior = log_joint - log_evidence.unsqueeze(-1)                 # Bayes: p(h|x) = p(x,h) / p(x)
    log_posterior = log_posterior.reshape(*log_joint.shape[:-1], *[points] * dim)
    return (log_evidence.item() if log_joint.dim() == 1 else log_evidence), log_posterior, axis


def naive_log_evidence(log_likelihood: LogLikelihood, dim: int, samples: int,
                       generator: torch.Generator | None = None) -> float:
    """log p(x) ~ log mean_k p(x|h_k) with h_k drawn from the prior N(0, I)."""
    h = torch.randn(samples, dim, generator=generator)
    return log_mean_exp(log_likelihood(h)).item()


def _sample_q(mu: torch.Tensor, logvar: torch.Tensor, samples: int, generator: torch.Generator | None):
    """`samples` draws from q = N(mu, exp(logvar)): returns h (samples, d), mu (1, d), std (1, d)."""
    mu, std = mu.reshape(1, -1).cpu(), torch.exp(0.5 * logvar.reshape(1, -1).cpu())
    return mu + std * torch.randn(samples, mu.shape[1], generator=generator), mu, std


def importance_log_evidence(log_likelihood: LogLikelihood, mu: torch.Tensor, logvar: torch.Tensor,
                            samples: int, generator: torch.Generator | None = None) -> float:
    """log p(x) ~ log mean_k p(x|h_k) p(h_k) / q(h_k|x) with h_k drawn from q = N(mu, exp(logvar))."""
    return log_mean_exp(importance_draws(log_likelihood, mu, logvar, samples, generator)[1]).item()


def importance_draws(log_likelihood: LogLikelihood, mu: torch.Tensor, logvar: torch.Tensor, samples: int,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draws h_k ~ q = N(mu, exp(logvar)), (samples, d), and log-weights log p(x|h) + log p(h) - log q(h|x), (samples,)."""
    h, mu, std = _sample_q(mu, logvar, samples, generator)
    return h, log_likelihood(h) + log_normal(h) - log_normal(h, mu, std)


def elbo_estimate(log_likelihood: LogLikelihood, mu: torch.Tensor, logvar: torch.Tensor, samples: int,
                  generator: torch.Generator | None = None, with_error: bool = False):
    """ELBO = E_q[log p(x|h)] - KL(q(h|x) || p(h)), the expectation by `samples` draws from q, in nats.

    With `with_error=True`, returns (ELBO, its Monte Carlo standard error) instead.
    """
    h, mu, std = _sample_q(mu, logvar, samples, generator)
    log_lik = log_likelihood(h)
    elbo = (log_lik.mean() - kl_divergence(mu, logvar.reshape(1, -1).cpu())[0]).item()
    return (elbo, (log_lik.std() / math.sqrt(samples)).item()) if with_error else elbo


def grid_moments(posterior: torch.Tensor, axis: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation per dimension of a 2-D posterior density on a grid (indexed [h0, h1])."""
    weights = posterior / posterior.sum()
    h0, h1 = torch.meshgrid(axis, axis, indexing="ij")
    mean = torch.stack([(weights * h0).sum(), (weights * h1).sum()])
    var = torch.stack([(weights * (h0 - mean[0]) ** 2).sum(), (weights * (h1 - mean[1]) ** 2).sum()])
    return mean, var.sqrt()


class LinearGaussianModel:
    """Probabilistic PCA: h ~ N(0, I_d), x = W h + noise, noise ~ N(0, s^2 I_D); log p(x) is exact in any d."""

    def __init__(self, latent_dim: int, data_dim: int = 20, noise_std: float = 0.5, seed: int = 0):
        gen = torch.Generator().manual_seed(seed)
        self.latent_dim, self.noise_std = latent_dim, noise_std
        self.W = torch.randn(data_dim, latent_dim, generator=gen, dtype=torch.float64)  # (D, d)
        self._gen = gen

    def sample(self) -> torch.Tensor:
        """One data point x, shape (D,)."""
        h = torch.randn(self.latent_dim, generator=self._gen, dtype=torch.float64)
        return self.W @ h + self.noise_std * torch.randn(self.W.shape[0], generator=self._gen, dtype=torch.float64)

    def log_likelihood(self, x: torch.Tensor) -> LogLikelihood:
        """A function h (K, d) -> log p(x|h) (K,)."""
        def log_likelihood(h: torch.Tensor) -> torch.Tensor:
            return log_normal(x - h.to(torch.float64) @ self.W.T, 0.0, self.noise_std)
        return log_likelihood

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact p(h|x) = N(mean, cov): cov = (I + W^T W / s^2)^-1, mean = cov W^T x / s^2."""
        precision = torch.eye(self.latent_dim, dtype=torch.float64) + self.W.T @ self.W / self.noise_std ** 2
        cov = torch.linalg.inv(precision)
        return cov @ self.W.T @ x / self.noise_std ** 2, cov

    def log_evidence(self, x: torch.Tensor) -> float:
        """Exact log p(x): x ~ N(0, W W^T + s^2 I), in nats."""
        cov = self.W @ self.W.T + self.noise_std ** 2 * torch.eye(self.W.shape[0], dtype=torch.float64)
        return torch.distributions.MultivariateNormal(torch.zeros(len(x), dtype=torch.float64), cov).log_prob(x).item()


def log_q(h: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log q(h|x) of the encoder's diagonal Gaussian at points h (K, d), in nats: (K,)."""
    return log_normal(h, mu.reshape(1, -1).cpu(), torch.exp(0.5 * logvar.reshape(1, -1).cpu()))


def kl_to_posterior(log_likelihood: LogLikelihood, log_evidence: float | None, mu: torch.Tensor, logvar: torch.Tensor,
                    points: int = 201, width: float = 6.0, forward: bool = False) -> float:
    """KL(q(h|x) || p(h|x)) for a 2-D latent by quadrature on a grid of +-width sigmas around q, in nats.

    The exact posterior is log p(x|h) + log p(h) - log p(x). With `log_evidence=None` the posterior is
    normalised on this window itself, so the KL does not use `grid_log_evidence` and log p(x) = ELBO + KL
    is a real check of two separate computations (it fails where the posterior has mass outside the window).
    This is the reverse KL (q first), the one the ELBO's gap equals. `forward=True` gives the forward KL,
    KL(p(h|x) || q), over the window; see `forward_kl_on_grid` for the whole grid.
    """
    mu, std = mu.reshape(-1).cpu(), torch.exp(0.5 * logvar.reshape(-1).cpu())
    axes = [torch.linspace(m - width * s, m + width * s, points) for m, s in zip(mu, std)]
    cell = float(torch.prod(torch.stack([a[1] - a[0] for a in axes])))
    h = torch.cartesian_prod(*axes).reshape(-1, len(axes))
    lq = log_normal(h, mu, std)
    log_joint = log_likelihood(h) + log_normal(h)
    if log_evidence is None:
        log_evidence = float(torch.logsumexp(log_joint, dim=0)) + math.log(cell)
    lp = log_joint - log_evidence
    if forward:  # weight by the posterior; only its mass inside the window counts
        return float((lp.exp() * (lp - lq)).sum() * cell)
    return float((lq.exp() * (lq - lp)).sum() * cell)


def forward_kl_on_grid(log_posterior: torch.Tensor, axis: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> float:
    """The forward KL(p(h|x) || q(h|x)) in nats, by a sum over `grid_log_evidence`'s whole 2-D posterior grid."""
    h = torch.cartesian_prod(axis, axis)
    lp = log_posterior.reshape(-1)
    cell = (axis[1] - axis[0]).item() ** 2
    return float((lp.exp() * (lp - log_q(h, mu, logvar))).sum() * cell)


def importance_weighted_bound(log_likelihood: LogLikelihood, mu: torch.Tensor, logvar: torch.Tensor, k: int,
                              repeats: int = 20, generator: torch.Generator | None = None) -> tuple[float, float]:
    """Burda et al.'s bound L_k = E[log mean_k p(x,h_k)/q(h_k|x)], h_k ~ q: (estimate, standard error), nats.

    L_1 is the ELBO; L_k grows with k towards log p(x).
    """
    log_weights = importance_draws(log_likelihood, mu, logvar, repeats * k, generator)[1].reshape(repeats, k)  # one batch
    values = torch.logsumexp(log_weights, dim=1) - math.log(k)              # (repeats,) estimates of L_k
    return values.mean().item(), (values.std() / math.sqrt(repeats)).item() if repeats > 1 else float("nan")


def fit_q(log_likelihood: LogLikelihood, mu: torch.Tensor, logvar: torch.Tensor, steps: int = 300,
          lr: float = 0.05, samples: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Fit q(h|x) = N(mu, exp(logvar)) to one image by gradient ascent on its ELBO (reparameterised), from a start.

    Returns the fitted mu, logvar and the ELBO estimate at every step (nats). Used to measure how much
    ELBO the encoder leaves on the table (the amortisation gap).
    """
    gen = torch.Generator().manual_seed(seed)
    mu = mu.detach().reshape(1, -1).cpu().clone().requires_grad_(True)
    logvar = logvar.detach().reshape(1, -1).cpu().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([mu, logvar], lr=lr)
    trace = []
    for _ in range(steps):
        eps = torch.randn(samples, mu.shape[1], generator=gen)
        h = mu + torch.exp(0.5 * logvar) * eps
        elbo = log_likelihood_with_grad(log_likelihood, h).mean() - kl_divergence(mu, logvar)[0]
        optimizer.zero_grad()
        (-elbo).backward()
        optimizer.step()
        trace.append(elbo.item())
    return mu.detach(), logvar.detach(), trace


def log_likelihood_with_grad(log_likelihood: LogLikelihood, h: torch.Tensor) -> torch.Tensor:
    """Call a decoder log-likelihood so that gradients flow back to h (it is built without them)."""
    inner = getattr(log_likelihood, "with_grad", None)
    if inner is None:
        raise TypeError("this log-likelihood cannot pass gradients; build it with decoder_log_likelihood.")
    return inner(h)
