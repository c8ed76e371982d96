"""A realism judge for decoded images, and its calibration against labels made by eye.

A plain classifier is a poor judge: it is confidently wrong on noise (it must pick some class). This one
has an extra class, "not a digit" (or "not a fashion item" on Fashion-MNIST), trained on synthetic
rejects made from the training images: uniform noise, pixel-shuffled images, and blends of two images of
different classes. So by design it also rejects a half-way blend of two classes: keep that in mind when
scoring interpolations.

It is a measurement, so it is checked against people: `load_calibration` reads decoded images labelled by
eye (vae_helpers/calibration/), and `RealismJudge.calibration_report` gives the judge's agreement with
those labels on the held-out half, per source. Measured there, this judge accepts many smudges and stroke
fragments that people reject and rejects many blurry but readable samples that people accept: read its
numbers as the judge's view, and look at the pictures.

Beside the per-image verdict, `kid` compares whole sets of images (quality and diversity together) in the
judge's feature space: the kernel inception distance of Binkowski et al. (2018) with the judge's hidden
layer in place of the Inception network.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import atomic_save, config_digest, load_cached, model_cache_dir
from .checks import as_images
from .data import epochs_for
from .training import set_seed

VERSION = 2  # bump when the judge's training changes: cached judges of older versions are not reused
# The calibration set used for each dataset (full MNIST is judged with the embedded digits' labels).
CALIBRATION = {"mnist-5k": "mnist-5k", "mnist": "mnist-5k", "fashion-mnist": "fashion-mnist"}


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


@dataclass
class CalibrationReport:
    """How the judge's verdicts compare with labels made by eye on the held-out half of the calibration set."""

    agreement: float                       # share of images where judge and eye agree
    by_source: dict[str, tuple[float, float, int]]   # source -> (judge accepts, eye accepts, images)
    images: int

    def __str__(self) -> str:
        rows = [f"{'source':36s} {'judge':>6s} {'eye':>6s} {'images':>6s}"]
        rows += [f"{name:36s} {j:6.0%} {e:6.0%} {k:6d}" for name, (j, e, k) in self.by_source.items()]
        return "\n".join(rows + [f"agreement with the eye: {self.agreement:.1%} on {self.images} held-out images"])


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
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The judge's hidden representation of each image, (N, 256): the feature space of `kid`."""
        return self.net[:3](as_images(x, "images to judge").cpu())

    @torch.no_grad()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, classes + 1); the last column is "not a ..."."""
        return F.softmax(self.net(as_images(x, "images to judge").cpu()), dim=1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Realism per image in [0, 1]: the probability of the most likely real class, (N,)."""
        return self.probabilities(x)[:, :self.reject].max(dim=1).values

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most likely class per image, or `self.reject` for "not a ..." (N,)."""
        return self.probabilities(x).argmax(dim=1)

    def accepts(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image verdict, (N,) bool: True when the most likely class is a real one (not "not a ...")."""
        return self.predict(x) != self.reject

    def class_shares(self, x: torch.Tensor) -> torch.Tensor:
        """Share of the images assigned to each class and to "not a ..." (classes + 1,), summing to 1."""
        return torch.bincount(self.predict(x), minlength=self.reject + 1).float() / len(x)

    def report(self, x: torch.Tensor) -> dict[str, float]:
        """Mean realism score, share accepted as a real class, and how evenly the accepted ones cover the classes."""
        shares = self.class_shares(x)
        accepted = 1.0 - shares[self.reject].item()
        return {"realism": self.score(x).mean().item(), "accepted": accepted,
                "class_balance": class_balance(shares[:self.reject])}

    def calibration_report(self, calibration: "Calibration") -> CalibrationReport:
        """Agreement with the eye on the held-out half, overall and per source."""
        held = calibration.held_out
        verdict = self.accepts(calibration.images[held])
        eye = calibration.eye[held].bool()
        by_source = {}
        for k, name in enumerate(calibration.sources):
            mask = calibration.source[held] == k
            if mask.any():
                by_source[name] = (verdict[mask].float().mean().item(), eye[mask].float().mean().item(),
                                   int(mask.sum()))
        return CalibrationReport((verdict == eye).float().mean().item(), by_source, int(held.sum()))

    def excess_over_eye(self, calibration: "Calibration", source: str) -> tuple[float, float]:
        """Judge's accepted share minus the eye's on one source's images (paired): (mean, standard error)."""
        images, eye = calibration.of(source)
        d = self.accepts(images).float() - eye.float()
        return d.mean().item(), max(d.std().item(), 0.5 / len(d) ** 0.5) / len(d) ** 0.5


@dataclass
class Calibration:
    """Decoded images labelled by eye (see vae_helpers/calibration/README.md)."""

    name: str
    images: torch.Tensor          # (N, 1, 28, 28) float in [0, 1]
    source: torch.Tensor          # (N,) index into `sources`
    sources: tuple[str, ...]
    eye: torch.Tensor             # (N,) 1 = a person accepts it, 0 = rejects

    @property
    def held_out(self) -> torch.Tensor:
        """Mask of the held-out half (odd indices): kept apart from any fitting to the labels."""
        return torch.arange(len(self.images)) % 2 == 1

    def of(self, source: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The images of one source (both halves) and their labels by eye."""
        if source not in self.sources:
            raise ValueError(f"No source {source!r} in the {self.name} calibration set; it has: {', '.join(self.sources)}.")
        mask = self.source == self.sources.index(source)
        return self.images[mask], self.eye[mask]

    def eye_shares(self) -> dict[str, float]:
        """Share of each source's images that people accepted (both halves)."""
        return {name: self.of(name)[1].float().mean().item() for name in self.sources}


def load_calibration(name: str) -> Calibration:
    """The labelled calibration set of a dataset ("mnist-5k" or "fashion-mnist"; "mnist" uses "mnist-5k")."""
    if name not in CALIBRATION:
        raise ValueError(f"No calibration set for {name!r}; there are sets for {', '.join(sorted(CALIBRATION))}.")
    stem = CALIBRATION[name]
    folder = resources.files("vae_helpers") / "calibration"
    with resources.as_file(folder / f"{stem}.npz") as path:
        arrays = np.load(path)
        images, source, sources = arrays["images"], arrays["source"], tuple(arrays["sources"].tolist())
    with resources.as_file(folder / f"{stem}-labels.csv") as path, open(path, newline="") as f:
        rows = {int(r["index"]): int(r["eye"]) for r in csv.DictReader(f)}
    if sorted(rows) != list(range(len(images))):
        raise ValueError(f"{stem}-labels.csv must label every image 0..{len(images) - 1} exactly once.")
    eye = torch.tensor([rows[i] for i in range(len(images))])
    return Calibration(stem, torch.from_numpy(images).float().div(255).unsqueeze(1), torch.from_numpy(source),
                       sources, eye)


def class_balance(shares: torch.Tensor) -> float:
    """How evenly images spread over the classes: entropy / log(classes), 1 = all equally often, 0 = one class."""
    p = shares / shares.sum() if shares.sum() > 0 else torch.full_like(shares, 1.0 / len(shares))
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return (entropy / torch.log(torch.tensor(float(len(p))))).item()


def kid(judge: RealismJudge, a: torch.Tensor, b: torch.Tensor, *, subsets: int = 20, subset_size: int = 500,
        seed: int = 0) -> tuple[float, float]:
    """Kernel distance between two image sets in the judge's feature space: (mean, std over subsets), x 1000.

    The unbiased squared MMD with the cubic polynomial kernel k(u, v) = (u.v / d + 1)^3 (Binkowski et al.
    2018), averaged over random subsets of `subset_size` from each set. About 0 for two samples of one
    distribution (it can dip below 0); it grows as quality or diversity differ. Features are divided by the
    root mean square of `b`'s (the reference set), so the number does not depend on the features' scale.
    """
    fa, fb = judge.features(a).double(), judge.features(b).double()
    scale = fb.pow(2).mean().sqrt().clamp(min=1e-12)       # features in units of the reference set's RMS
    fa, fb = fa / scale, fb / scale
    m = min(subset_size, len(fa), len(fb))
    if m < 2:
        raise ValueError(f"kid needs at least 2 images in each set, got {len(fa)} and {len(fb)}.")
    d = fa.shape[1]
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        x = fa[torch.randperm(len(fa), generator=g)[:m]]
        y = fb[torch.randperm(len(fb), generator=g)[:m]]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off = 1 - torch.eye(m, dtype=torch.float64)
        mmd = (kxx * off).sum() / (m * (m - 1)) + (kyy * off).sum() / (m * (m - 1)) - 2 * kxy.mean()
        values.append(mmd.item())
    return 1000 * float(np.mean(values)), 1000 * float(np.std(values))


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
