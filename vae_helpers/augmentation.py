"""Does a VAE make useful training data? A small classifier trained on few labelled images, with and without
extra images: classic augmentation (small shifts and rotations) or samples from a conditional VAE.

Every extra image is made fresh for each minibatch, so the classifier sees as many steps in every
condition and only what it is shown differs. Accuracies are shares of the test set in [0, 1].
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .checks import N_PIXELS
from .data import Dataset
from .models import ConditionalVAE, mlp
from .training import fit, make_optimizer

Extra = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]


def few_labels(data: Dataset, per_class: int, seed: int = 0) -> Dataset:
    """`per_class` labelled training images of each class, drawn with `seed` (the same test set)."""
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in range(len(data.classes)):
        members = (data.train_labels == c).nonzero()[:, 0]
        if len(members) < per_class:
            raise ValueError(f"class {data.classes[c]!r} has {len(members)} training images, fewer than {per_class}.")
        chosen.append(members[torch.randperm(len(members), generator=g)[:per_class]])
    idx = torch.cat(chosen)
    return Dataset(f"{data.name}[{per_class} per class, seed {seed}]", data.train[idx], data.test,
                   data.train_labels[idx], data.test_labels, data.classes)


def shift_rotate(x: torch.Tensor, generator: torch.Generator, pixels: float = 2.0, degrees: float = 12.0) -> torch.Tensor:
    """Each image moved by up to `pixels` in x and y and turned by up to `degrees` (uniform), same shape."""
    n, side = len(x), x.shape[-1]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(degrees)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (2 * pixels / side)   # grid units: the image is 2 wide
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = angle.cos(), -angle.sin(), angle.sin(), angle.cos()
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def classic(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Classic augmentation: the batch itself, shifted and rotated (labels unchanged)."""
    return shift_rotate(x, generator), y


def cvae_samples(cvae: ConditionalVAE) -> Extra:
    """Extra data from a conditional VAE: the batch plus as many decoded prior samples of random classes."""
    def extra(x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, cvae.n_classes, (len(x),), generator=generator)
        with torch.no_grad():
            made = cvae.decode(torch.randn(len(x), cvae.latent_dim, generator=generator), labels)
        return torch.cat([x, made]), torch.cat([y, labels])
    return extra


def train_cvae(labelled: Dataset, latent_dim: int = 4, hidden: tuple[int, ...] = (200,), epochs: int = 150,
               seed: int = 0) -> ConditionalVAE:
    """A small conditional VAE trained on the labelled images only (what the classifier may use, nothing more)."""
    torch.manual_seed(seed)
    cvae = ConditionalVAE(latent_dim, hidden=hidden, n_classes=len(labelled.classes))
    own = Dataset(labelled.name, labelled.train, labelled.train, labelled.train_labels, labelled.train_labels,
                  labelled.classes)                         # evaluated on its own images: the test set stays unseen
    fit(cvae, own, epochs=epochs, batch_size=50, progress=False)
    return cvae


def classifier_accuracy(labelled: Dataset, extra: Extra | None = None, steps: int = 200, batch_size: int = 64,
                        hidden: int = 128, seed: int = 0) -> float:
    """Test accuracy of an MLP (784 -> hidden -> classes) trained `steps` Adam steps on `labelled` (+ `extra`)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    net = mlp([N_PIXELS, hidden, len(labelled.classes)])
    optimizer = make_optimizer(net, lr=1e-3)  # fused Adam: same accuracies, 0.55 vs 0.89 s per seed, no dynamo import
    for _ in range(steps):
        idx = torch.randint(0, len(labelled.train), (batch_size,), generator=g)
        x, y = labelled.train[idx], labelled.train_labels[idx]
        if extra is not None:
            x, y = extra(x, y, g)
        loss = F.cross_entropy(net(x.reshape(len(x), -1)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = net(labelled.test.reshape(len(labelled.test), -1)).argmax(dim=1)
    return (predicted == labelled.test_labels).float().mean().item()
