"""A realism judge for decoded images: does a digit classifier with a "not a digit" option accept it?

A plain classifier is a poor judge: it is confidently wrong on noise (it must pick some digit).
This one has an 11th class, "not a digit", trained on synthetic non-digits (noise, pixel-shuffled
digits, blends of two different digits), so its digit confidence drops on images that are not digits.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import atomic_save, config_digest, load_cached, model_cache_dir
from .metrics import nearest_distance
from .training import set_seed

NOT_A_DIGIT = 10


def synthetic_non_digits(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Non-digits made from a batch of digits: noise, pixel-shuffled digits, blends of two different digits."""
    n = len(x)
    kind = torch.randint(0, 3, (n,))
    partner = torch.randperm(n)
    lam = 0.35 + 0.3 * torch.rand(n, 1, 1, 1)                         # a real mix, neither digit dominates
    blend = lam * x + (1 - lam) * x[partner]
    noise = torch.rand_like(x) * torch.rand(n, 1, 1, 1)               # uniform noise of random brightness
    shuffled = x.reshape(n, -1)[:, torch.randperm(784)].reshape_as(x)  # same ink, no strokes
    fake = torch.where((kind == 0).view(-1, 1, 1, 1), blend,
                       torch.where((kind == 1).view(-1, 1, 1, 1), noise, shuffled))
    keep = (kind != 0) | (labels != labels[partner])                  # a blend of two 3s is still a 3
    return fake[keep]


class RealismJudge(nn.Module):
    """Scores images by how surely they are *some* digit (0 to 1), and by distance to the nearest real image."""

    def __init__(self, reference: torch.Tensor):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                                 nn.Linear(256, NOT_A_DIGIT + 1))
        self.reference = reference.reshape(len(reference), -1)  # real training images, (N, 784)

    def fit(self, x: torch.Tensor, labels: torch.Tensor, epochs: int = 15, batch_size: int = 64) -> None:
        """Train on real digits (classes 0-9) plus synthetic non-digits (class 10)."""
        optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(x)).split(batch_size):
                fake = synthetic_non_digits(x[idx], labels[idx])
                inputs = torch.cat([x[idx], fake])
                targets = torch.cat([labels[idx], torch.full((len(fake),), NOT_A_DIGIT)])
                loss = F.cross_entropy(self.net(inputs), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.eval()

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, 11); column 10 is "not a digit"."""
        return F.softmax(self.net(x.reshape(len(x), 1, 28, 28).cpu()), dim=1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Realism per image in [0, 1]: the probability of the most likely digit class, (N,)."""
        return self.probabilities(x)[:, :NOT_A_DIGIT].max(dim=1).values

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most likely class per image, 0-9, or 10 for "not a digit", (N,)."""
        return self.probabilities(x).argmax(dim=1)

    @torch.no_grad()
    def nearest_distance(self, x: torch.Tensor) -> torch.Tensor:
        """Euclidean pixel distance from each image to its nearest real training image, (N,)."""
        return nearest_distance(x, self.reference)

    def report(self, x: torch.Tensor) -> dict[str, float]:
        """Mean realism score, share of images judged a digit, mean nearest-real distance."""
        return {"realism": self.score(x).mean().item(),
                "judged_digit": (self.predict(x) != NOT_A_DIGIT).float().mean().item(),
                "nearest_real": self.nearest_distance(x).mean().item()}


def realism_judge(data, *, epochs: int = 15, seed: int = 0, cache_dir=None) -> RealismJudge:
    """Train the judge once on `data.train` (about 3 s) or load it from the model cache."""
    judge = RealismJudge(data.train)
    digest = config_digest({"class": "RealismJudge", "version": 1}, data, {"epochs": epochs, "seed": seed})
    path = Path(cache_dir or model_cache_dir()) / f"judge-{digest}.pt"
    if load_cached(path, judge.net) is not None:
        return judge.eval()
    set_seed(seed)
    judge.fit(data.train, data.train_labels, epochs=epochs)
    atomic_save({"config": {"class": "RealismJudge"}, "state_dict": judge.net.state_dict()}, path)
    return judge
