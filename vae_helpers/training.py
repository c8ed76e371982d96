"""Training over in-memory tensors: seeding, device choice, `fit` and `evaluate`."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, asdict

import numpy as np
import torch

from .losses import model_loss


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch so a run repeats on one machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def default_device() -> torch.device:
    """The fastest device available: cuda, then mps, then cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@dataclass
class History:
    """Per-epoch losses in nats per image (recon/kl split; kl is 0 for an autoencoder)."""

    train_loss: list[float] = field(default_factory=list)
    train_recon: list[float] = field(default_factory=list)
    train_kl: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_recon: list[float] = field(default_factory=list)
    test_kl: list[float] = field(default_factory=list)
    seconds: float = 0.0          # wall-clock training time
    interrupted: bool = False     # True when stopped early by KeyboardInterrupt

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    def to_dict(self) -> dict:
        """Plain lists and numbers (what a checkpoint stores)."""
        return asdict(self)

    def __repr__(self) -> str:
        if not self.epochs:
            return "History(no epoch completed)"
        test = f", test {self.test_loss[-1]:.1f}" if self.test_loss else ""
        return (f"History({self.epochs} epochs, train {self.train_loss[-1]:.1f}{test} "
                f"nats/image, {self.seconds:.1f} s{', interrupted' if self.interrupted else ''})")


def _split(data) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Accept a Dataset (train and test) or a single tensor of training images."""
    if isinstance(data, torch.Tensor):
        return data, None
    if hasattr(data, "train") and hasattr(data, "test"):
        return data.train, data.test
    raise TypeError(f"fit expects a Dataset or a tensor of images, got {type(data).__name__}.")


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, *, beta: float = 1.0,
             batch_size: int = 1000) -> dict[str, float]:
    """Mean loss, reconstruction and KL over `x`, in nats per image (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums = np.zeros(3)
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].to(device)
        parts = model_loss(model, xb, beta)
        sums += np.array([p.item() for p in parts]) * len(xb)
    model.train(was_training)
    total, recon, kl = sums / len(x)
    return {"loss": total, "recon": recon, "kl": kl}


def fit(model: torch.nn.Module, data, *, epochs: int, lr: float = 1e-3, batch_size: int = 128,
        beta: float = 1.0, test: torch.Tensor | None = None, device: str | torch.device | None = None,
        progress: bool = True) -> History:
    """Train with Adam for `epochs` and return the per-epoch History (nats per image).

    `data` is a Dataset (its train and test images are used) or a tensor of training images
    (then `test` is optional). Ctrl-C / KeyboardInterrupt stops cleanly after the current
    batch: the model keeps its weights and the history its completed epochs.
    """
    from tqdm.auto import tqdm  # imported late: keeps `import vae_helpers` light

    train, data_test = _split(data)
    test = data_test if test is None else test
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}.")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    train = train.to(device)  # whole set on the device once: no per-sample DataLoader cost
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, start = History(), time.perf_counter()
    bar = tqdm(range(epochs), desc=f"Training {type(model).__name__}", unit="epoch", disable=not progress)
    try:
        for _ in bar:
            model.train()
            sums = np.zeros(3)
            for idx in torch.randperm(len(train)).split(batch_size):
                xb = train[idx.to(device)]
                parts = model_loss(model, xb, beta)
                optimizer.zero_grad()
                parts.total.backward()
                optimizer.step()
                sums += np.array([p.item() for p in parts]) * len(xb)
            _record(history, "train", sums / len(train))
            if test is not None:
                t = evaluate(model, test, beta=beta)
                _record(history, "test", (t["loss"], t["recon"], t["kl"]))
            bar.set_postfix(_postfix(history))
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"Interrupted after {history.epochs} complete epoch(s); the model keeps its current weights.")
    finally:
        bar.close()
        model.eval()
        history.seconds = time.perf_counter() - start
    return history


def _record(history: History, split: str, values) -> None:
    total, recon, kl = (float(v) for v in values)
    getattr(history, f"{split}_loss").append(total)
    getattr(history, f"{split}_recon").append(recon)
    getattr(history, f"{split}_kl").append(kl)


def _postfix(history: History) -> dict[str, str]:
    post = {"train": f"{history.train_loss[-1]:.1f}"}
    if history.test_loss:
        post["test"] = f"{history.test_loss[-1]:.1f}"
    return post
