"""Figures readable on a projector: image grids, reconstructions, latent scatters, loss curves."""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import torch

from .checks import SIDE
from .models import embed, reconstruct

# Okabe & Ito's colour-blind-safe palette, extended to ten classes (the latent explorer uses it too);
# class names are also written at each cluster's centre, so colour is never the only cue.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
           "#D55E00", "#F0E442", "#000000", "#999999", "#882255"]

# Applied per figure, never globally (no side effects on import).
STYLE = {"font.size": 13, "axes.titlesize": 15, "axes.labelsize": 14, "legend.fontsize": 11,
         "figure.dpi": 90, "axes.grid": False}


@contextmanager
def style():
    """Projector-sized fonts for the figures made inside; restores only the keys it set."""
    # Not plt.rc_context: on exit it restores *all* rcParams, which switches off the
    # interactive flag of Jupyter's inline backend, and later figures stop showing.
    saved = {k: plt.rcParams[k] for k in STYLE}
    plt.rcParams.update(STYLE)
    try:
        yield
    finally:
        plt.rcParams.update(saved)


def _as_images(images) -> np.ndarray:
    """Tensor or array of (N, 1, 28, 28), (N, 28, 28) or (N, 784) -> numpy (N, 28, 28)."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    return arr.reshape(len(arr), SIDE, SIDE)


def show_images(images, *, ncols: int = 10, titles: Sequence[str] | None = None,
                title: str | None = None, size: float = 1.3) -> plt.Figure:
    """A grid of grey images (pixel intensity 0 = black, 1 = white), optional per-image titles."""
    imgs = _as_images(images)
    nrows = int(np.ceil(len(imgs) / ncols))
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.5 if title else 0)),
                                 squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < len(imgs):
                ax.imshow(imgs[i], cmap="gray", vmin=0, vmax=1)
                if titles is not None:
                    ax.set_title(titles[i], fontsize=11)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    named = f", titled {', '.join(titles[:12])}{', ...' if len(titles) > 12 else ''}" if titles is not None else ""
    fig.vh_alt = f"Figure: {title + ': ' if title else ''}a grid of {len(imgs)} grey images{named}."
    return fig


def plot_reconstructions(model: torch.nn.Module, x: torch.Tensor, *, n: int = 10,
                         title: str | None = None) -> plt.Figure:
    """Inputs (top row) above their reconstructions (bottom row)."""
    x = x[:n]
    x_hat = reconstruct(model, x)
    with style():
        fig, axes = plt.subplots(2, n, figsize=(1.3 * n, 3.2), squeeze=False)
        for row, (imgs, label) in enumerate([(x, "input"), (x_hat, "reconstruction")]):
            for ax, img in zip(axes[row], _as_images(imgs)):
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([]), ax.set_yticks([])
            axes[row, 0].set_ylabel(label, fontsize=11)
        fig.suptitle(title or f"{type(model).__name__}: test inputs and their reconstructions")
        fig.tight_layout()
    fig.vh_alt = (f"Figure: {fig._suptitle.get_text()}. Top row: {len(x)} input images; bottom row: what the "
                   f"{type(model).__name__} reconstructs from each, directly below it.")
    return fig


def plot_latent(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor, *,
                classes: Sequence[str] | None = None, ax: plt.Axes | None = None,
                title: str | None = None, dims: tuple[int, int] = (0, 1), s: float = 6) -> plt.Axes:
    """Scatter of the codes (AE) or means (VAE) of `x`, coloured and labelled by class, on latent dims `dims`."""
    z = embed(model, x).numpy()
    labels = np.asarray(labels)
    classes = list(classes) if classes is not None else [str(c) for c in range(int(labels.max()) + 1)]
    if z.shape[1] == 1:  # a 1-D latent: spread the points vertically by label so they stay visible
        z = np.column_stack([z[:, 0], labels + np.random.default_rng(0).uniform(-0.3, 0.3, len(z))])
        dims, ylabel = (0, 1), "label (jittered)"
    else:
        ylabel = f"z[{dims[1]}]"
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 5.5))
        for c, name in enumerate(classes):
            member = labels == c
            ax.scatter(z[member, dims[0]], z[member, dims[1]], color=PALETTE[c % len(PALETTE)], s=s, alpha=0.7,
                       label=name, linewidths=0)
        label_clusters(ax, z[:, list(dims)], labels, classes)
        ax.legend(markerscale=2.5, fontsize=10, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        ax.set_xlabel(f"z[{dims[0]}]")
        ax.set_ylabel(ylabel)
        ax.set_title(title or f"{type(model).__name__} latent space ({len(z)} images)")
    ax.vh_alt = (f'"{ax.get_title()}": a scatter plot of the {len(z)} images\' latent points, {ylabel} against '
                  f"z[{dims[0]}], coloured by class with each class name written at the centre of its points "
                  f"(classes: {', '.join(classes)}).")
    return ax


def label_clusters(ax: plt.Axes, points: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> None:
    """Write each class name at the median of its points (white halo), so classes are told apart without colour."""
    for c, name in enumerate(classes):
        member = points[labels == c]
        if len(member):
            mx, my = np.median(member, axis=0)
            ax.text(mx, my, name if len(name) <= 8 else name[:7] + ".", ha="center", va="center", fontsize=11,
                    weight="bold", bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75})


def plot_history(*histories, names: Sequence[str] | None = None, ax: plt.Axes | None = None,
                 title: str = "Training curves") -> plt.Axes:
    """Train (solid) and test (dashed) loss per epoch, in nats per image, for each history."""
    names = names or [f"run {i + 1}" for i in range(len(histories))]
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.5))
        for i, (h, name) in enumerate(zip(histories, names)):
            epochs = np.arange(1, h.epochs + 1)
            color = f"C{i}"
            ax.plot(epochs, h.train_loss, color=color, label=f"{name} train")
            if h.test_loss:
                ax.plot(epochs, h.test_loss, color=color, linestyle="--", label=f"{name} test")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (nats per image)")
        ax.set_title(title)
        ax.legend()
    ax.vh_alt = (f'"{title}": loss in nats per image against epoch, training (solid) and test (dashed) curves for '
                  f"{', '.join(names)}; final test losses "
                  + ", ".join(f"{n} {h.test_loss[-1]:.1f}" for n, h in zip(names, histories) if h.test_loss) + ".")
    return ax


def plot_codes_on_a_line(codes, images, *, ax: plt.Axes | None = None, zoom: float = 1.0,
                         title: str = "Where the encoder puts each training image") -> plt.Axes:
    """1-D codes as points on the z axis, each with its image as a thumbnail above it."""
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    codes = np.asarray(codes, dtype=float).ravel()
    imgs = _as_images(images)
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(10, 3.4))
        ax.axhline(0, color="grey", lw=1)
        ax.plot(codes, np.zeros_like(codes), "o", color="C3", ms=8)
        for rank, i in enumerate(np.argsort(codes)):  # alternate heights so close codes stay readable
            box = OffsetImage(imgs[i], cmap="gray", zoom=zoom, norm=plt.Normalize(0, 1))
            ax.add_artist(AnnotationBbox(box, (codes[i], 0), xybox=(0, 40 + 45 * (rank % 2)), xycoords="data",
                                         boxcoords="offset points", pad=0.1, arrowprops={"arrowstyle": "-"}))
        span = codes.max() - codes.min() or 1.0
        ax.set_xlim(codes.min() - 0.15 * span, codes.max() + 0.15 * span)
        ax.set_ylim(-0.6, 3)
        ax.set_yticks([])
        ax.set_xlabel("z (the 1-D latent code)")
        ax.set_title(title)
    ax.vh_alt = (f'"{title}": a horizontal line of 1-D latent codes, {len(codes)} points from {codes.min():.1f} to '
                  f"{codes.max():.1f}, each with the image it encodes drawn above it.")
    return ax


def draw_gaussians(ax: plt.Axes, mu, std, colors, n_std: float = 2.0) -> None:
    """Axis-aligned ellipses at mu +- n_std * std (a diagonal Gaussian's contour) with their centres."""
    from matplotlib.patches import Ellipse

    for (mx, my), (sx, sy), color in zip(np.asarray(mu), np.asarray(std), colors):
        ax.add_patch(Ellipse((mx, my), 2 * n_std * sx, 2 * n_std * sy, facecolor=color, alpha=0.25,
                             edgecolor=color, lw=2))
        ax.plot(mx, my, "+", color=color, ms=10, mew=2)


@torch.no_grad()
def plot_encode_decode(ae: torch.nn.Module, vae: torch.nn.Module, x: torch.Tensor, seed: int = 0) -> plt.Figure:
    """The two processes on one real image: x -> point z -> x_hat (AE); x -> (mu, sigma) -> sampled z -> x_hat (VAE)."""
    x = x.reshape(1, 1, SIDE, SIDE).to(ae.device)
    z_ae = ae.encode(x)[0].cpu().numpy()
    mu, logvar = (t[0].cpu().numpy() for t in vae.encode(x))
    std = np.exp(0.5 * logvar)
    z_vae = mu + std * np.random.default_rng(seed).standard_normal(mu.shape)
    outputs = {"AE": ae.decode(torch.tensor(z_ae[None], dtype=torch.float32, device=ae.device)),
               "VAE": vae.decode(torch.tensor(z_vae[None], dtype=torch.float32, device=vae.device))}
    from matplotlib.patches import FancyArrowPatch

    with style():
        fig = plt.figure(figsize=(12, 7))
        for row, name in enumerate(("AE", "VAE")):
            bottom = 0.53 - 0.5 * row
            panels = [fig.add_axes((left, bottom, 0.19, 0.34)) for left in (0.03, 0.43, 0.79)]
            panels[0].imshow(_as_images(x)[0], cmap="gray", vmin=0, vmax=1)
            panels[0].set_title("input x")
            panels[2].imshow(_as_images(outputs[name])[0], cmap="gray", vmin=0, vmax=1)
            panels[2].set_title("output x̂ = decoder(z)")
            for ax in (panels[0], panels[2]):
                ax.axis("off")
            code = panels[1]
            if name == "AE":
                code.plot(*z_ae[:2], "o", color="C0", ms=10)
                code.set_title(f"a point z = ({z_ae[0]:.1f}, {z_ae[1]:.1f})")
                centre, half = z_ae[:2], 2.0
            else:
                draw_gaussians(code, [mu[:2]], [std[:2]], ["C1"])
                code.plot(*z_vae[:2], "o", color="C3", ms=8, label="sampled z")
                code.set_title(f"N(μ, σ²): μ = ({mu[0]:.1f}, {mu[1]:.1f}), σ = ({std[0]:.2f}, {std[1]:.2f})",
                               fontsize=11)
                code.legend(loc="lower right", fontsize=9)
                centre, half = mu[:2], max(2.0, 3 * std[:2].max())
            code.set_xlim(centre[0] - half, centre[0] + half)
            code.set_ylim(centre[1] - half, centre[1] + half)
            code.set_xlabel("z[0]")
            code.set_ylabel("z[1]")
            for start, end, label in ((0.23, 0.36, "encoder"), (0.64, 0.78, "decoder")):
                fig.patches.append(FancyArrowPatch((start, bottom + 0.17), (end, bottom + 0.17),
                                                   transform=fig.transFigure, arrowstyle="-|>",
                                                   mutation_scale=25, color="grey"))
                fig.text((start + end) / 2, bottom + 0.2, label, ha="center", fontsize=12)
            fig.text(0.01, bottom + 0.41, "Autoencoder: one point per image" if name == "AE"
                     else "Variational autoencoder: a distribution per image, then a sample",
                     fontsize=14, weight="bold")
    fig.vh_alt = ("Figure: the two encode-decode processes on one test image. Top row, autoencoder: the input "
                   f"image, its code as a single point z = ({z_ae[0]:.1f}, {z_ae[1]:.1f}), and the decoded output. "
                   "Bottom row, variational autoencoder: the input, its Gaussian (an ellipse of mean plus or minus two "
                   f"standard deviations around mu = ({mu[0]:.1f}, {mu[1]:.1f})) with one sampled z, and the output "
                   "decoded from that sample.")
    return fig
