"""Decoder likelihoods p(x|z): how one decoder output per pixel (its "logits") scores an image.

A model owns one likelihood and every consumer asks it: the loss (`nll`), the image an output
stands for (`mean`), the units of that loss (`is_density`), its own learned parameters and their
reset, and what the browser must do to draw an output (`output`, sent in the explorer payload).
Adding a likelihood is one class here, registered in LIKELIHOODS, plus its tests.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch import nn

from .checks import N_PIXELS


class Likelihood(nn.Module):
    """A per-pixel likelihood: subclasses give `nll` and `distribution`; the mean image is sigmoid(logits)."""

    name = ""
    is_density = False   # True: nll is a negative log-density of continuous pixels (can be < 0; not nats of a probability)
    output = "sigmoid"   # decoder output -> displayed pixels, as explorer.js computes it (see payload.model_layout)

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """The image a decoder output stands for, pixels in [0, 1], same shape as `logits`."""
        return torch.sigmoid(logits)

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) summed over pixels, in nats per image, shape (B,)."""
        raise NotImplementedError

    def distribution(self, logits: torch.Tensor) -> D.Distribution:
        """The same per-pixel distribution as a torch.distributions object (for sampling and tests), (B, 784)."""
        raise NotImplementedError

    def log_likelihood_table(self, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """log p(image_n | output_k) for every image and every decoder output, in nats, (N images, K outputs)."""
        return torch.stack([-self.nll(logits, x.expand(len(logits), *x.shape)) for x in images])

    def reset_parameters(self) -> None:
        """Set learned parameters back to their initial values (none for a parameter-free likelihood)."""

    def extra_repr(self) -> str:
        return "a density" if self.is_density else ""


class Bernoulli(Likelihood):
    """Each pixel a coin with probability sigmoid(logit): exact for binary pixels, a cross-entropy for grey ones."""

    name = "bernoulli"

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy summed over pixels, nats per image, (B,); minimised at sigmoid(logits) = x."""
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return bce.reshape(len(x), -1).sum(dim=1)

    def log_likelihood_table(self, logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """log p(image_n | output_k), (N, K) nats, as one product: sum_pixels x * logit - softplus(logit)."""
        # The same value as -nll (BCE with logits is softplus(l) - x l), but the image-independent
        # softplus sum is computed once per output and the rest is one matrix product: evaluating N
        # images costs about one image's work. float64 keeps the sums of 784 terms exact to ~1e-9 nats.
        logits = logits.reshape(len(logits), -1).double()
        return (images.reshape(len(images), -1).double() @ logits.T - F.softplus(logits).sum(dim=1)).float()

    def distribution(self, logits: torch.Tensor) -> D.Distribution:
        """Independent Bernoulli pixels (validation off: grey targets are allowed), (B, 784)."""
        return D.Bernoulli(logits=logits.reshape(len(logits), -1), validate_args=False)


class _LearnedScale(Likelihood):
    """A location-scale density per pixel: location sigmoid(logit), one learned scale per pixel shared by all images.

    The scale is kept above `min_scale`: pixels that are always black would otherwise shrink it, and
    the density (and the loss) would be unbounded.
    """

    is_density = True
    initial_scale, min_scale = 0.2, 0.02

    def __init__(self):
        super().__init__()
        self.log_scale = nn.Parameter(torch.full((N_PIXELS,), math.log(self.initial_scale)))

    def reset_parameters(self) -> None:
        """The learned scale back to `initial_scale` for every pixel."""
        with torch.no_grad():
            self.log_scale.fill_(math.log(self.initial_scale))

    def scale(self) -> torch.Tensor:
        """The learned scale per pixel, (784,), at least `min_scale` (pixel units)."""
        return self.log_scale.exp().clamp(min=self.min_scale)

    def _standardised(self, logits: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale = self.scale()
        return (x.reshape(len(x), -1) - self.mean(logits).reshape(len(x), -1)) / scale, scale


class Gaussian(_LearnedScale):
    """Pixels as continuous values: N(sigmoid(logit), scale^2) per pixel with a learned scale."""

    name = "gaussian"

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log N(x; mean, scale^2) summed over pixels, nats per image (a density), (B,)."""
        u, scale = self._standardised(logits, x)
        return (0.5 * u.pow(2) + scale.log() + 0.5 * math.log(2 * math.pi)).sum(dim=1)

    def distribution(self, logits: torch.Tensor) -> D.Distribution:
        """Independent Normal pixels, (B, 784)."""
        return D.Normal(self.mean(logits).reshape(len(logits), -1), self.scale())


class Laplace(_LearnedScale):
    """Pixels as continuous values with heavier tails: Laplace(sigmoid(logit), scale) per pixel, learned scale."""

    name = "laplace"
    initial_scale, min_scale = 0.1, 0.01

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log Laplace(x; mean, scale) = |x - mean| / scale + log(2 scale), summed over pixels (a density), (B,)."""
        u, scale = self._standardised(logits, x)
        return (u.abs() + (2 * scale).log()).sum(dim=1)

    def distribution(self, logits: torch.Tensor) -> D.Distribution:
        """Independent Laplace pixels, (B, 784)."""
        return D.Laplace(self.mean(logits).reshape(len(logits), -1), self.scale())


LIKELIHOODS: dict[str, type[Likelihood]] = {cls.name: cls for cls in (Bernoulli, Gaussian, Laplace)}


def make_likelihood(name: str) -> Likelihood:
    """A fresh likelihood by name: one of LIKELIHOODS ("bernoulli", "gaussian", "laplace")."""
    if name not in LIKELIHOODS:
        raise ValueError(f"Unknown likelihood {name!r}; expected one of {sorted(LIKELIHOODS)}. "
                         "A new one is a Likelihood subclass in vae_helpers/likelihoods.py, added to LIKELIHOODS.")
    return LIKELIHOODS[name]()
