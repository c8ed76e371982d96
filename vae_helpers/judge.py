"""A realism judge for decoded images: does a classifier with a "none of these" option accept them?

A plain classifier is a poor judge: it is confidently wrong on noise (it must pick some class).
This one has an extra class, "not a digit" (or "not a fashion item" on Fashion-MNIST), trained on
synthetic rejects made from the training images: uniform noise, pixel-shuffled images, and
blends of two images of different classes. So by design it also rejects a half-way blend of two
classes: keep that in mind when scoring interpolations.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import atomic_save, config_digest, load_cached, model_cache_dir
from .checks import as_images
from .data import epochs_for
from .training import set_seed

VERSION = 2  # bump when the judge's training changes: cached judges of older versions are not reused


def synthetic_rejects(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Non-examples made from a batch: noise, pixel-shuffled images, blends of two images of different classes."""
    n = len(x)
    kind = torch.randint(0, 3, (n,))
    partner = torch.randperm(n)
    lam = 0.35 + 0.3 * torch.rand(n, 1, 1, 1)                         # a real mix, neither image dominates
    blend = lam * x + (1 - lam) * x[partner]
    noise = torch.rand_like(x) * torch.rand(n, 1, 1, 1)               # uniform noise of random brightness
    shuffled = x.reshape(n, -1)[:, torch.randperm(784)].reshape_as(x)  # same ink, no strokes
    fake = torch.where((kind == 0).view(-1, 1, 1, 1), blend,
                       torch.where((kind == 1).view(-1, 1, 1, 1), noise, shuffled))
    keep = (kind != 0) | (labels != labels[partner])                  # a blend of two 3s is still a 3
    return fake[keep]


class RealismJudge(nn.Module):
    """Scores images by how surely they are an example of *some* class of the dataset (0 to 1)."""

    def __init__(self, classes=tuple(str(d) for d in range(10)), noun: str = "digit"):
        super().__init__()
        self.classes, self.noun = tuple(classes), noun
        self.reject = len(self.classes)                               # index of the "not a ..." class
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                                 nn.Linear(256, self.reject + 1))

    @property
    def reject_name(self) -> str:
        """The name of the extra class, e.g. "not a digit"."""
        return f"not a {self.noun}"

    def fit(self, x: torch.Tensor, labels: torch.Tensor, epochs: int = 15, batch_size: int = 64) -> None:
        """Train on real images (their classes) plus synthetic rejects (the extra class)."""
        optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(x)).split(batch_size):
                fake = synthetic_rejects(x[idx], labels[idx])
                inputs = torch.cat([x[idx], fake])
                targets = torch.cat([labels[idx], torch.full((len(fake),), self.reject)])
                loss = F.cross_entropy(self.net(inputs), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.eval()

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, classes + 1); the last column is "not a ..."."""
        return F.softmax(self.net(as_images(x, "images to judge").cpu()), dim=1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Realism per image in [0, 1]: the probability of the most likely real class, (N,)."""
        return self.probabilities(x)[:, :self.reject].max(dim=1).values

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most likely class per image, or `self.reject` for "not a ...", (N,)."""
        return self.probabilities(x).argmax(dim=1)

    def class_shares(self, x: torch.Tensor) -> torch.Tensor:
        """Share of the images assigned to each class and to "not a ..." (classes + 1,), summing to 1."""
        return torch.bincount(self.predict(x), minlength=self.reject + 1).float() / len(x)

    def report(self, x: torch.Tensor) -> dict[str, float]:
        """Mean realism score, share accepted as a real class, and how evenly the accepted ones cover the classes."""
        shares = self.class_shares(x)
        accepted = 1.0 - shares[self.reject].item()
        return {"realism": self.score(x).mean().item(), "accepted": accepted,
                "class_balance": class_balance(shares[:self.reject])}


def class_balance(shares: torch.Tensor) -> float:
    """How evenly images spread over the classes: entropy / log(classes), 1 = all equally often, 0 = one class."""
    p = shares / shares.sum() if shares.sum() > 0 else torch.full_like(shares, 1.0 / len(shares))
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return (entropy / torch.log(torch.tensor(float(len(p))))).item()


def realism_judge(data, *, epochs: int | None = None, seed: int = 0, cache_dir=None) -> RealismJudge:
    """Train the judge once on `data.train` (a few seconds) or load it from the model cache.

    `epochs` defaults to 15 on the 4,000-image default and as many steps on larger sets (`epochs_for`).
    """
    epochs = epochs if epochs is not None else epochs_for(data, 15)
    judge = RealismJudge(data.classes, getattr(data, "noun", "digit"))
    digest = config_digest({"class": "RealismJudge", "version": VERSION}, data, {"epochs": epochs, "seed": seed})
    path = Path(cache_dir or model_cache_dir()) / f"judge-{digest}.pt"
    if load_cached(path, judge.net) is not None:
        return judge.eval()
    set_seed(seed)
    judge.fit(data.train, data.train_labels, epochs=epochs)
    atomic_save({"config": {"class": "RealismJudge"}, "state_dict": judge.net.state_dict()}, path)
    return judge
