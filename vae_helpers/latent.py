"""Walking the latent space: code ranges, interpolation, and the decoded manifold grid."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.distributions import Normal

from .checks import SIDE
from .models import IMAGE_SHAPE, VAE, embed, has_encoder
from .plotting import style

PRIOR_RANGE = 3.0  # +-3 standard deviations hold 99.7% of the VAE prior's mass per dimension


def code_box(model: torch.nn.Module, x: torch.Tensor | None = None, margin: float = 0.05,
             codes: torch.Tensor | None = None) -> np.ndarray:
    """Per-dimension (low, high) a slider should span: the prior's +-3 for a VAE or a GAN, the codes' range for an AE.

    The AE's codes are computed from images `x`, or passed directly as `codes` (N, latent_dim).
    """
    if isinstance(model, VAE) or not has_encoder(model):               # sampled from the prior: VAE, GAN
        return np.tile([-PRIOR_RANGE, PRIOR_RANGE], (model.latent_dim, 1))
    if x is None and codes is None:
        raise ValueError(f"A {type(model).__name__}'s codes have no known range: pass data "
                         "(images to encode) so the range can cover the codes it actually uses.")
    z = (embed(model, x) if codes is None else codes).numpy()
    low, high = z.min(axis=0), z.max(axis=0)
    pad = margin * (high - low)
    return np.stack([low - pad, high + pad], axis=1)  # (latent_dim, 2)


@torch.no_grad()
def decode_path(model: torch.nn.Module, z_a: torch.Tensor, z_b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decode `steps` evenly spaced points on the straight line from z_a to z_b: images (steps, 1, 28, 28)."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (both ends included), got {steps}.")
    z_a, z_b = (torch.as_tensor(z, dtype=torch.float32).reshape(1, -1) for z in (z_a, z_b))
    t = torch.linspace(0, 1, steps).unsqueeze(1)             # (steps, 1)
    return model.decode(((1 - t) * z_a + t * z_b).to(model.device)).cpu()


@torch.no_grad()
def interpolate(model: torch.nn.Module, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 10,
                return_codes: bool = False):
    """Decode `steps` evenly spaced points on the line between the codes (AE) or means (VAE) of two images.

    Returns images (steps, 1, 28, 28) in [0, 1], and the codes (steps, latent_dim) if asked.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (both ends included), got {steps}.")
    z_a, z_b = embed(model, torch.stack([x_a.reshape(IMAGE_SHAPE), x_b.reshape(IMAGE_SHAPE)]))
    t = torch.linspace(0, 1, steps).unsqueeze(1)             # (steps, 1)
    z = (1 - t) * z_a + t * z_b                              # (steps, latent_dim)
    images = model.decode(z.to(model.device)).cpu()
    return (images, z) if return_codes else images


def manifold_axes(model: torch.nn.Module, n: int = 15, x: torch.Tensor | None = None) -> np.ndarray:
    """The n grid values per axis: standard-normal quantiles for a VAE, an even spread over the codes' box for an AE."""
    if isinstance(model, VAE):
        # Quantiles, not an even spread: each grid cell holds the same prior probability mass.
        probs = torch.linspace(0.5 / n, 1 - 0.5 / n, n)
        values = Normal(0.0, 1.0).icdf(probs).numpy()
        return np.stack([values, values])
    box = code_box(model, x, margin=0.0)
    return np.stack([np.linspace(lo, hi, n) for lo, hi in box[:2]])


@torch.no_grad()
def manifold_grid(model: torch.nn.Module, n: int = 15, x: torch.Tensor | None = None):
    """Decode an n x n grid over a 2-D latent: images (n, n, 28, 28) (row 0 = highest z[1]) and the axes."""
    if model.latent_dim != 2:
        raise ValueError(f"The manifold grid needs a 2-D latent; this model has latent_dim={model.latent_dim}.")
    axes = manifold_axes(model, n, x)
    zx, zy = np.meshgrid(axes[0], axes[1][::-1])            # top row = largest z[1]
    z = torch.tensor(np.stack([zx.ravel(), zy.ravel()], axis=1), dtype=torch.float32)
    images = model.decode(z.to(model.device)).cpu().numpy().reshape(n, n, SIDE, SIDE)
    return images, axes


def plot_manifold(model: torch.nn.Module, n: int = 15, x: torch.Tensor | None = None,
                  ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """What the decoder draws across a 2-D latent: one decoded image per grid point, z values on the axes."""
    images, axes = manifold_grid(model, n, x)
    mosaic = images.transpose(0, 2, 1, 3).reshape(n * SIDE, n * SIDE)
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 7))
        ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
        ticks = np.arange(n) * SIDE + SIDE // 2
        every = max(1, n // 7)
        ax.set_xticks(ticks[::every], [f"{v:.1f}" for v in axes[0][::every]])
        ax.set_yticks(ticks[::every], [f"{v:.1f}" for v in axes[1][::-1][::every]])
        ax.set_xlabel("z[0]")
        ax.set_ylabel("z[1]")
        spacing = "standard-normal quantiles" if isinstance(model, VAE) else "even steps over the codes' box"
        ax.set_title(title or f"{type(model).__name__} decoder over a {n}x{n} grid ({spacing})")
    ax.vh_alt = (f'"{ax.get_title()}": a mosaic of {n * n} decoded images, one per grid point, z[0] from '
                  f"{axes[0][0]:.1f} (left) to {axes[0][-1]:.1f} (right), z[1] from {axes[1][0]:.1f} (bottom) to "
                  f"{axes[1][-1]:.1f} (top).")
    return ax


@torch.no_grad()
def traversal(model: torch.nn.Module, z0: torch.Tensor, dims, values, y=None) -> torch.Tensor:
    """Decode z0 with one latent dimension at a time set to each of `values`: (len(dims), len(values), 1, 28, 28)."""
    z0 = torch.as_tensor(z0, dtype=torch.float32).reshape(1, -1)
    values = torch.as_tensor(values, dtype=torch.float32)
    rows = []
    for d in dims:
        z = z0.repeat(len(values), 1)
        z[:, d] = values
        labels = None if y is None else torch.full((len(values),), int(y))
        rows.append(model.decode(z.to(model.device), labels).cpu())
    return torch.stack(rows)


def plot_traversal(model: torch.nn.Module, z0: torch.Tensor, dims, values, title: str | None = None,
                   ax: plt.Axes | None = None, y=None) -> plt.Axes:
    """A traversal grid: row d shows z0 with dimension d swept over `values` (the rest held fixed)."""
    grid = traversal(model, z0, dims, values, y)                     # (rows, cols, 1, 28, 28)
    rows, cols = grid.shape[:2]
    mosaic = grid.reshape(rows, cols, SIDE, SIDE).permute(0, 2, 1, 3).reshape(rows * SIDE, cols * SIDE).numpy()
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(0.75 * cols + 1.2, 0.75 * rows + 0.8))
        ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks(np.arange(cols) * SIDE + SIDE // 2, [f"{v:.1f}" for v in values], fontsize=10)
        ax.set_yticks(np.arange(rows) * SIDE + SIDE // 2, [f"z[{d}]" for d in dims], fontsize=10)
        ax.set_xlabel("value given to the dimension of the row")
        ax.set_title(title or f"{type(model).__name__}: one latent dimension at a time")
    ax.vh_alt = (f'"{ax.get_title()}": a grid of decoded images; each of the {rows} rows sets one latent '
                  f"dimension to {cols} values from {values[0]:.1f} (left) to {values[-1]:.1f} (right), the other "
                  "dimensions held at the starting code.")
    return ax
