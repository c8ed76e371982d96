"""Small measures the notebooks' check cells rely on (so tests can check them too)."""
from __future__ import annotations

import torch


def nearest_distance(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Euclidean pixel distance from each image to its nearest reference image: (N, ...) -> (N,)."""
    return torch.cdist(images.reshape(len(images), -1).cpu().float(),
                       reference.reshape(len(reference), -1).cpu().float()).min(dim=1).values


def empty_fraction(codes: torch.Tensor, cells: int = 20) -> float:
    """Share of a cells x cells grid over the bounding box of 2-D codes that holds no code at all."""
    lo, hi = codes.min(dim=0).values, codes.max(dim=0).values
    idx = ((codes - lo) / (hi - lo) * (cells - 1e-6)).long()  # (N, 2) cell indices in [0, cells)
    occupied = len({(int(i), int(j)) for i, j in idx})
    return 1.0 - occupied / cells ** 2


def largest_jump(images: torch.Tensor) -> float:
    """Largest pixel change between consecutive images as a share of the path's total change (1/(n-1) = even)."""
    steps = (images[1:] - images[:-1]).reshape(len(images) - 1, -1).norm(dim=1)
    return (steps.max() / steps.sum()).item()


def gaussian_kl_to_prior(z: torch.Tensor) -> float:
    """KL(N(m, S) || N(0, I)) in nats for the Gaussian fitted to the rows of z (mean m, covariance S)."""
    m, S = z.mean(dim=0), torch.cov(z.T).reshape(z.shape[1], z.shape[1])
    return 0.5 * (torch.trace(S) + m @ m - len(m) - torch.logdet(S)).item()


@torch.no_grad()
def kl_per_dimension(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Mean KL(q(z_j|x) || N(0, 1)) of each latent dimension over images `x`, in nats: (latent_dim,)."""
    mu, logvar = model.encode(x)
    return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(dim=0).cpu()


@torch.no_grad()
def active_units(model: torch.nn.Module, x: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """Which latent dimensions are used (Burda et al. 2015): Var over x of the mean E_q[z_j] above `threshold`."""
    mu = model.encode(x)[0].cpu()
    return mu.var(dim=0) > threshold
