"""A realism judge for decoded images, calibrated against labels made by eye.

A plain classifier is a poor judge: it is confidently wrong on noise (it must pick some class). This one is
a small convolutional network with an extra class, "not a digit" (or "not a fashion item"), trained on the
full training set of its dataset against realistic rejects: garbled, partly erased, fragmentary, blobbed,
overlaid images, given the same blurs and greys as real ones so that sharpness is no clue (the recipe is in
tools/train_judge.py). Its verdict is read out by a logistic regression fitted to labels by eye: the
calibration set (vae_helpers/calibration/) holds decoded images from nine sources labelled by eye, and the
readout was fitted on its even half only. `RealismJudge.calibration_report` gives the agreement on the
held-out odd half, per source. It is shipped trained (like the network behind an FID score), so every
machine uses the very instrument that was checked; `realism_judge(data)` loads it.

It is still a measurement, with an error rate printed by `calibration_report`: read its numbers as the
judge's view and look at the pictures. Beside the per-image verdict, `kid` compares whole sets of images
(quality and diversity together) in the judge's feature space: the kernel inception distance of Binkowski
et al. (2018) with the judge's hidden layer in place of the Inception network.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import atomic_save
from .checks import as_images

VERSION = 4  # the shipped judge files carry it; a file of another version is refused
# The calibration set and shipped judge used for each dataset (full MNIST uses the digits' judge and labels).
CALIBRATION = {"mnist-5k": "mnist-5k", "mnist": "mnist-5k", "fashion-mnist": "fashion-mnist"}
HIDDEN = 128          # width of the judge's feature layer (the space of `kid` and of its readout)
SUMMARIES = 4         # per-image summaries of the class probabilities the readout uses (see `readout_inputs`)


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
    """Scores images by how likely a person would name them as an example of some class (0 to 1)."""

    def __init__(self, classes=tuple(str(d) for d in range(10)), noun: str = "digit", components: int = 8):
        super().__init__()
        self.classes, self.noun = tuple(classes), noun
        self.reject = len(self.classes)                               # index of the "not a ..." class
        self.net = nn.Sequential(                                     # (N, 1, 28, 28) -> (N, classes + 1)
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),    # (N, 64 * 7 * 7)
            nn.Linear(64 * 49, HIDDEN), nn.ReLU(), nn.Dropout(0.3), nn.Linear(HIDDEN, self.reject + 1))
        self.net.to(memory_format=torch.channels_last)  # convolutions 1.5x faster on CPU
        # The readout fitted to the eye (tools/train_judge.py): logit = w . [(z - centre) / scale, 1], where
        # z = [summaries of the class probabilities, (hidden - mean) @ basis]. Zeros until calibrated or loaded.
        self.register_buffer("mean", torch.zeros(HIDDEN))
        self.register_buffer("basis", torch.zeros(HIDDEN, components))
        self.register_buffer("centre", torch.zeros(SUMMARIES + components))
        self.register_buffer("scale", torch.ones(SUMMARIES + components))
        self.register_buffer("weights", torch.zeros(SUMMARIES + components + 1))

    @property
    def reject_name(self) -> str:
        """The name of the extra class, e.g. "not a digit"."""
        return f"not a {self.noun}"

    @torch.no_grad()
    def _outputs(self, x: torch.Tensor, batch: int = 100) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pass of the network, in batches: hidden (N, 128), log-probabilities (N, classes + 1), readout (N,).

        Batches of 100 keep a convolution's output (100 x 32 x 28 x 28 floats, 10 MB) near the cache: 1.2-1.5x
        faster than 250 and 2x faster than 1,000 on a 2-core CPU, with bit-identical results (benchmarks/RESULTS.md).
        """
        x = as_images(x, "images to judge").cpu()
        hidden = torch.cat([self.net[:-2](part) for part in x.split(batch)])
        log_p = F.log_softmax(self.net[-2:](hidden), dim=1)
        z = readout_inputs(hidden, log_p, self.mean, self.basis)
        z = torch.cat([(z - self.centre) / self.scale, torch.ones(len(z), 1)], 1)
        return hidden, log_p, z @ self.weights

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The judge's hidden representation of each image, (N, 128)."""
        return self._outputs(x)[0]

    features = hidden  # the feature space of `kid`

    def reject_logit(self, x: torch.Tensor) -> torch.Tensor:
        """log p(some class) - log p("not a ..."), (N,): the network's own evidence for realism."""
        return _reject_logit(self._outputs(x)[1])

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """The network's class probabilities (N, classes + 1); the last column is "not a ..."."""
        return self._outputs(x)[1].exp()

    def readout_logit(self, x: torch.Tensor) -> torch.Tensor:
        """The calibrated readout's logit per image, (N,): > 0 means a person would likely accept it."""
        return self._outputs(x)[2]

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Realism per image in [0, 1]: the readout's probability that a person accepts the image, (N,)."""
        return torch.sigmoid(self.readout_logit(x))

    def accepts(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image verdict, (N,) bool: True when a person would more likely accept the image than not."""
        return self.readout_logit(x) > 0

    def _verdicts(self, log_p: torch.Tensor, readout: torch.Tensor) -> torch.Tensor:
        classes = log_p[:, :self.reject].argmax(dim=1)
        return torch.where(readout > 0, classes, torch.full_like(classes, self.reject))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The most likely class of each accepted image, `self.reject` ("not a ...") for the others, (N,)."""
        _, log_p, readout = self._outputs(x)
        return self._verdicts(log_p, readout)

    def class_shares(self, x: torch.Tensor) -> torch.Tensor:
        """Share of the images assigned to each class and to "not a ..." (classes + 1,), summing to 1."""
        return torch.bincount(self.predict(x), minlength=self.reject + 1).float() / len(x)

    def report(self, x: torch.Tensor) -> dict[str, float]:
        """Mean realism score, share accepted as a real class, and how evenly the accepted ones cover the classes."""
        _, log_p, readout = self._outputs(x)                 # one pass of the network for all three numbers
        shares = torch.bincount(self._verdicts(log_p, readout), minlength=self.reject + 1).float() / len(readout)
        return {"realism": torch.sigmoid(readout).mean().item(), "accepted": 1.0 - shares[self.reject].item(),
                "class_balance": class_balance(shares[:self.reject])}

    def set_readout(self, mean, basis, centre, scale, weights) -> None:
        """Install a readout fitted to labels by eye (see tools/train_judge.py)."""
        for name, value in zip(("mean", "basis", "centre", "scale", "weights"), (mean, basis, centre, scale, weights)):
            getattr(self, name).copy_(value)

    def half_precision_weights(self) -> None:
        """Round the network's weights to float16 and back: the shipped file stores them so (half the size)."""
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(p.half().float())

    def save(self, path, provenance: dict) -> None:
        """Write the judge (network in float16, readout in float32) atomically, with how it was made."""
        state = {k: (v.half() if k.startswith("net.") else v) for k, v in self.state_dict().items()}
        atomic_save({"version": VERSION, "classes": list(self.classes), "noun": self.noun,
                     "provenance": provenance, "state_dict": state}, path)

    @classmethod
    def load(cls, path) -> "RealismJudge":
        """Read a judge written by `save`; refuses files of another version."""
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("version") != VERSION:
            raise ValueError(f"{path} holds a judge of version {blob.get('version')}, this package reads version "
                             f"{VERSION}: reinstall the package, or retrain it with tools/train_judge.py.")
        judge = cls(blob["classes"], blob["noun"], components=blob["state_dict"]["basis"].shape[1])
        judge.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
        judge.provenance = blob["provenance"]
        return judge.eval()

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
        return paired_difference(self.accepts(images), eye.bool())


@dataclass
class Calibration:
    """Decoded images labelled by eye (see vae_helpers/calibration/README.md)."""

    name: str
    images: torch.Tensor          # (N, 1, 28, 28) float in [0, 1]
    source: torch.Tensor          # (N,) index into `sources`
    sources: tuple[str, ...]
    eye: torch.Tensor             # (N,) 1 = accepted by eye, 0 = rejected (the final label)
    labellings: torch.Tensor      # (2, N) the two independent labellings behind `eye`

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

    def labeller_agreement(self, held_out: bool = True) -> float:
        """Share of images (held-out half by default) on which the two labellings agree: a ceiling for any judge."""
        mask = self.held_out if held_out else torch.ones(len(self.eye), dtype=torch.bool)
        return (self.labellings[0, mask] == self.labellings[1, mask]).float().mean().item()

    def eye_shares(self) -> dict[str, float]:
        """Share of each source's images accepted by eye (both halves; who labelled: calibration/README.md)."""
        return {name: self.of(name)[1].float().mean().item() for name in self.sources}


def load_calibration(name: str) -> Calibration:
    """The labelled calibration set of a dataset ("mnist-5k" or "fashion-mnist"; "mnist" uses "mnist-5k")."""
    if name not in CALIBRATION:
        raise ValueError(f"No calibration set for {name!r}; there are sets for {', '.join(sorted(CALIBRATION))}.")
    stem = CALIBRATION[name]
    arrays, labels = _labelled_set(stem)                                 # labels (3, N): final, first, second
    return Calibration(stem, torch.from_numpy(arrays["images"]).float().div(255).unsqueeze(1),
                       torch.from_numpy(arrays["source"]), tuple(arrays["sources"].tolist()), labels[0], labels[1:])


def _labelled_set(stem: str) -> tuple[dict, torch.Tensor]:
    """calibration/<stem>.npz's arrays and <stem>-labels.csv as (3, N): the final label, then the two labellings."""
    folder = resources.files("vae_helpers") / "calibration"
    with resources.as_file(folder / f"{stem}.npz") as path, np.load(path) as npz:
        arrays = {key: npz[key] for key in npz.files}
    with resources.as_file(folder / f"{stem}-labels.csv") as path, open(path, newline="") as f:
        rows = {int(r["index"]): (int(r["eye"]), int(r["eye_a"]), int(r["eye_b"])) for r in csv.DictReader(f)}
    n = len(arrays["images"])
    if sorted(rows) != list(range(n)):
        raise ValueError(f"{stem}-labels.csv must label every image 0..{n - 1} exactly once.")
    return arrays, torch.tensor([rows[i] for i in range(n)]).T


def load_gan_check(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """60 GAN samples of a dataset and their labels by eye (1 = accept): a source the judge was not fitted to.

    Built by tools/make_gan_check.py and labelled by the rule of calibration/README.md; "mnist" uses the digits' set.
    """
    if name not in CALIBRATION:
        raise ValueError(f"No GAN check set for {name!r}; there are sets for {', '.join(sorted(CALIBRATION))}.")
    arrays, labels = _labelled_set(f"{CALIBRATION[name]}-gan")
    return torch.from_numpy(arrays["images"]).float().div(255).unsqueeze(1), labels[0]


def _reject_logit(log_p: torch.Tensor) -> torch.Tensor:
    """log p(some class) - log p("not a ..."), (N,), from log-probabilities (N, classes + 1)."""
    return torch.logsumexp(log_p[:, :-1], dim=1) - log_p[:, -1]


def readout_inputs(hidden: torch.Tensor, log_p: torch.Tensor, mean: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """What the readout sees per image, (N, SUMMARIES + components): the reject logit, the top class's
    log-probability, the entropy of the class probabilities (nats), the top-two margin, and the hidden layer's
    coordinates on the principal components `basis`. A person hesitates between two classes where the network does."""
    classes = log_p[:, :-1]
    top2 = classes.topk(2, dim=1).values
    p = F.softmax(classes, dim=1)
    entropy = -(p * classes.log_softmax(dim=1)).sum(1)
    summaries = torch.stack([_reject_logit(log_p), top2[:, 0], entropy, top2[:, 0] - top2[:, 1]], 1)
    return torch.cat([summaries, (hidden - mean) @ basis], 1)


def paired_difference(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean of a - b over paired 0/1 outcomes (N,) and its standard error (floored at that of a share of N)."""
    d = a.float() - b.float()
    return d.mean().item(), max(d.std().item(), 0.5 / len(d) ** 0.5) / len(d) ** 0.5


def class_balance(shares: torch.Tensor) -> float:
    """How evenly images spread over the classes: entropy / log(classes), 1 = all equally often, 0 = one class."""
    p = shares / shares.sum() if shares.sum() > 0 else torch.full_like(shares, 1.0 / len(shares))
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return max(0.0, (entropy / torch.log(torch.tensor(float(len(p))))).item())   # never -0.0


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


def realism_judge(data) -> RealismJudge:
    """The shipped, calibrated judge for `data`'s dataset (a `Dataset` or a name), loaded in well under a second."""
    name = data if isinstance(data, str) else data.name.split("[")[0]      # "mnist-5k[train:50]" -> "mnist-5k"
    if name not in CALIBRATION:
        raise ValueError(f"No realism judge for dataset {name!r}: judges ship for {', '.join(sorted(CALIBRATION))}. "
                         "Train and calibrate one with tools/train_judge.py (it needs labels by eye).")
    with resources.as_file(resources.files("vae_helpers") / "calibration" / f"judge-{CALIBRATION[name]}.pt") as path:
        return RealismJudge.load(path)
