"""Small measures the notebooks' check cells rely on (so tests can check them too)."""
from __future__ import annotations

import math

import torch

from .checks import N_PIXELS
from .losses import kl_elementwise, reconstruction_loss


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
def kl_per_dimension(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Mean KL(q(z_j|x) || N(0, 1)) of each latent dimension over images `x`, in nats: (latent_dim,)."""
    mu, logvar = model.encode(x) if labels is None else model.encode(x, labels)
    return kl_elementwise(mu, logvar).mean(dim=0).cpu()


ACTIVE_KL = 0.1  # nats per image: a dimension carrying less information than this about an image is unused


@torch.no_grad()
def active_units(model: torch.nn.Module, x: torch.Tensor, threshold: float = ACTIVE_KL,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
    """Which latent dimensions are used: mean KL(q(z_j|x) || N(0, 1)) over images above `threshold` nats, (d,) bool.

    A dimension whose posterior equals the prior for every image (KL 0) tells the decoder nothing:
    it has "collapsed". (Burda et al. 2015 count instead the dimensions whose mean E_q[z_j] varies
    across images by more than 0.01; that count is more lenient.)
    """
    return kl_per_dimension(model, x, labels) > threshold


@torch.no_grad()
def mean_activity(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Variance across images `x` of each dimension's posterior mean E_q[z_j|x], on the prior's scale: (d,).

    Burda et al. (2015) call a dimension active when this exceeds 0.01. Unlike the KL, it ignores the
    posterior's width, so a KL floor in the loss (free bits) cannot make a dimension look used by itself.
    """
    return model.encode(x)[0].var(dim=0).cpu()


def mean_image_loss(train: torch.Tensor, test: torch.Tensor) -> float:
    """Bernoulli reconstruction loss (nats per image) of a "decoder" that outputs the mean training image for every input.

    The baseline any autoencoder must beat: it uses no code at all.
    """
    mean = train.float().mean(dim=0, keepdim=True).clamp(1e-4, 1 - 1e-4)
    logits = torch.logit(mean).expand(len(test), -1, -1, -1)
    return reconstruction_loss(logits, test.float()).mean().item()


def bernoulli_floor(images: torch.Tensor) -> float:
    """The lowest reconstruction loss any Bernoulli decoder can reach on these images, nats per image.

    A pixel of grey level x costs at least its binary entropy H(x) = -x log x - (1-x) log(1-x),
    reached only by predicting x itself: 0 for black or white pixels, ln 2 for x = 0.5.
    """
    x = images.reshape(len(images), -1).double().clamp(1e-12, 1 - 1e-12)
    entropy = -(x * x.log() + (1 - x) * (1 - x).log())
    return entropy.sum(dim=1).mean().item()


def relative_distance(images: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pixel distance from each image to the nearer of a and b, over the distance between a and b: (N,).

    0 means a copy of one end; a 50/50 pixel blend of a and b scores 0.5.
    """
    flat = images.reshape(len(images), -1)
    a, b = a.reshape(1, -1), b.reshape(1, -1)
    nearer = torch.minimum((flat - a).norm(dim=1), (flat - b).norm(dim=1))
    return nearer / (a - b).norm()


NEIGHBOUR_MAX_CODES = 5000   # above this, neighbour_ratio uses a random subset (cdist is n x n floats)


def neighbour_ratio(codes: torch.Tensor, seed: int = 0, max_codes: int = NEIGHBOUR_MAX_CODES) -> float:
    """How far N(0, I) draws are from the nearest code, relative to how far they would be from a true N(0, I) sample.

    Median nearest-neighbour distance from len(codes) prior draws to the codes, divided by the same
    from the draws to an independent prior sample of the same size: about 1 when the codes look
    like N(0, I); above 1 where the prior puts mass the codes leave empty (holes, a wrong scale).
    More than `max_codes` codes are subsampled (seeded) to that many: the full MNIST train set would
    need a 60,000 x 60,000 distance matrix (14 GB); compare with `neighbour_ratio_baseline(len(codes), d)`,
    which subsamples the same way.
    """
    gen = torch.Generator().manual_seed(seed)
    codes = codes.detach().cpu().float()
    if len(codes) > max_codes:
        codes = codes[torch.randperm(len(codes), generator=gen)[:max_codes]]
    draws = torch.randn(len(codes), codes.shape[1], generator=gen)
    other = torch.randn(len(codes), codes.shape[1], generator=gen)
    to_codes = torch.cdist(draws, codes).min(dim=1).values.median()
    to_prior = torch.cdist(draws, other).min(dim=1).values.median()
    return (to_codes / to_prior).item()


def neighbour_ratio_baseline(n: int, dim: int, repeats: int = 20, seed: int = 1,
                             max_codes: int = NEIGHBOUR_MAX_CODES) -> torch.Tensor:
    """`neighbour_ratio` of `repeats` true N(0, I) samples of size n: the range a perfect match falls in."""
    gen = torch.Generator().manual_seed(seed)
    n = min(n, max_codes)
    return torch.tensor([neighbour_ratio(torch.randn(n, dim, generator=gen), seed=seed + 1 + r, max_codes=max_codes)
                         for r in range(repeats)])


def add_salt(images: torch.Tensor, pixels: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Set `pixels` random background pixels of each image to 1 ("salt" noise): (salted images, mask (N, 784))."""
    gen = torch.Generator().manual_seed(seed)
    flat = images.reshape(len(images), -1).clone()
    background = flat < 0.05
    scores = torch.rand(flat.shape, generator=gen) * background   # only background pixels can win
    chosen = scores.topk(pixels, dim=1).indices
    mask = torch.zeros_like(flat).scatter_(1, chosen, 1.0) * background
    return torch.maximum(flat, mask).reshape_as(images), mask


def salt_recovered(reconstructions: torch.Tensor, mask: torch.Tensor) -> float:
    """Share of the salt pixels a reconstruction reproduces (probability above 0.5 where the salt was)."""
    on = reconstructions.reshape(len(mask), -1) > 0.5
    return ((on & (mask > 0)).sum() / mask.sum()).item()


def bits_per_dim(nats_per_image: float, pixels: int = N_PIXELS) -> float:
    """Convert a negative log-likelihood in nats per image to bits per pixel (dimension)."""
    return nats_per_image / (pixels * math.log(2))


def auroc(negatives: torch.Tensor, positives: torch.Tensor) -> float:
    """Probability that a random positive scores above a random negative (ties count half): 0.5 = chance."""
    neg, pos = negatives.detach().reshape(-1, 1).cpu().double(), positives.detach().reshape(1, -1).cpu().double()
    return ((pos > neg).double().mean() + 0.5 * (pos == neg).double().mean()).item()
