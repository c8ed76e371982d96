"""Losses in nats per image: summed over pixels and latent dimensions, averaged over the batch."""
from __future__ import annotations

from typing import NamedTuple

import torch

from .likelihoods import Bernoulli


class LossParts(NamedTuple):
    """A loss and its two parts, each in nats per image (kl is 0 for an autoencoder)."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor


_BERNOULLI = Bernoulli()


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood -log p(x|z) per image, in nats, shape (B,) (a model's own is `model.nll`)."""
    # BCE with logits is the Bernoulli likelihood: exact for binary pixels; for grey
    # pixels in [0, 1] it is still a proper cross-entropy, minimised at x_hat = x.
    return _BERNOULLI.nll(logits, x)


def kl_elementwise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form KL(N(mu_j, exp(logvar_j)) || N(0, 1)) of each latent dimension, in nats, shape (B, d)."""
    # Kingma & Welling (2013), Appendix B, gives -KL = 1/2 sum(1 + log s^2 - mu^2 - s^2);
    # we return +KL (>= 0), the term that is *added* to the loss.
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Closed-form KL(N(mu, exp(logvar)) || N(0, I)) per example, in nats, shape (B,)."""
    return kl_elementwise(mu, logvar).sum(dim=1)


def negative_elbo(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                  beta: float = 1.0, free_bits: float = 0.0, recon: torch.Tensor | None = None) -> LossParts:
    """-ELBO = recon + beta * KL, batch means in nats per image, with both parts (recon: Bernoulli unless given).

    `free_bits` > 0 (nats per latent dimension, Kingma et al. 2016) charges each dimension at least
    that much KL in the total: a dimension below it costs nothing extra to use, so the optimiser has no
    reason to switch it off. The reported `kl` part is always the true KL.
    """
    recon = reconstruction_loss(logits, x).mean() if recon is None else recon.mean()
    kl = kl_divergence(mu, logvar).mean()
    charged = kl
    if free_bits > 0:
        charged = kl_elementwise(mu, logvar).mean(dim=0).clamp(min=free_bits).sum()   # batch-mean KL per dim
    return LossParts(recon + beta * charged, recon, kl)


def model_loss(model: torch.nn.Module, x: torch.Tensor, beta: float = 1.0, y=None,
               free_bits: float = 0.0) -> LossParts:
    """The training loss of an Autoencoder or LabelRegressor (reconstruction) or a VAE (-ELBO), nats per image.

    The reconstruction term is the model's own likelihood (`model.nll`).
    """
    out = model(x) if y is None else model(x, y)
    if isinstance(out, tuple):  # a VAE returns (logits, mu, logvar)
        logits, mu, logvar = out
        return negative_elbo(logits, x, mu, logvar, beta=beta, free_bits=free_bits, recon=model.nll(logits, x))
    recon = model.nll(out, x).mean()
    return LossParts(recon, recon, torch.zeros((), device=recon.device))


def loss_per_image(model: torch.nn.Module, x: torch.Tensor, beta: float = 1.0, y=None) -> torch.Tensor:
    """Each image's own loss, in nats, shape (B,): reconstruction (AE) or -ELBO with one sampled z (VAE)."""
    out = model(x) if y is None else model(x, y)
    if isinstance(out, tuple):
        logits, mu, logvar = out
        return model.nll(logits, x) + beta * kl_divergence(mu, logvar)
    return model.nll(out, x)
