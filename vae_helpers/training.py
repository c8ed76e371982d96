"""Training over in-memory tensors: seeding, device choice, `fit` and `evaluate`."""
from __future__ import annotations

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, asdict

import numpy as np
import torch

from .checks import as_images
from .losses import model_loss
from .optim import FusedAdam, fused_kernel_available
from .progress import progress as progress_bar
from .threads import adapt as adapt_threads, restart_window


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
    stopped: str = ""             # why training stopped early on its own (a non-finite loss), else ""
    precision: str = "fp32"       # arithmetic used for training: "fp32" or "bf16" (autocast)

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
        flags = ", interrupted" if self.interrupted else ", stopped early" if self.stopped else ""
        return (f"History({self.epochs} epochs, train {self.train_loss[-1]:.1f}{test} "
                f"nats/image, {self.seconds:.1f} s{flags})")


def _split(data) -> tuple:
    """Accept a Dataset (train, test and labels) or a single tensor of training images (no test, no labels)."""
    if isinstance(data, (torch.Tensor, np.ndarray)):
        return data, None, None, None
    if hasattr(data, "train") and hasattr(data, "test"):
        return data.train, data.test, data.train_labels, data.test_labels
    raise TypeError(f"fit expects a Dataset or a tensor of images, got {type(data).__name__}.")


def bf16_is_fast(device: torch.device) -> bool:
    """True on a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX), where bf16 autocast is ~1.5x faster."""
    if device.type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    return any(bool(getattr(cpu, name, lambda: False)()) for name in
               ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


def resolve_precision(precision: str, device: torch.device) -> str:
    """"auto" -> "bf16" on a CPU with native bfloat16, else "fp32"; "fp32" and "bf16" pass through."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r}.")
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    return precision


def make_optimizer(model: torch.nn.Module, lr: float,
                   betas: tuple[float, float] = (0.9, 0.999)) -> FusedAdam | torch.optim.Optimizer:
    """Adam, fused into one kernel where the device has it (fewer, larger operations per step; see optim.py)."""
    if fused_kernel_available(next(model.parameters()).device):
        return FusedAdam(model.parameters(), lr=lr, betas=betas)
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):  # a device or build without the fused kernel
        return torch.optim.Adam(model.parameters(), lr=lr, betas=betas)


def lr_factor(step: int, total: int, decay: float) -> float:
    """Learning-rate multiplier: 1 for the first (1 - decay) of training, then falling linearly to ~0."""
    if decay <= 0:
        return 1.0
    return min(1.0, (total - step) / (decay * total))


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, *, beta: float = 1.0, batch_size: int = 1000,
             labels: torch.Tensor | None = None) -> dict[str, float]:
    """Mean loss, reconstruction and KL over `x`, in nats per image (eval mode, no gradients).

    A conditional model needs the images' `labels`.
    """
    x = as_images(x, "images to evaluate")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    sums = torch.zeros(3, dtype=torch.float64)
    for i in range(0, len(x), batch_size):
        adapt_threads()   # a long evaluation follows the load too (reads /proc at most every 0.25 s)
        xb = x[i:i + batch_size].to(device)
        yb = labels[i:i + batch_size].to(device) if labels is not None else None
        sums += torch.stack(model_loss(model, xb, beta, y=yb)).double().cpu() * len(xb)
    model.train(was_training)
    total, recon, kl = (sums / len(x)).tolist()
    return {"loss": total, "recon": recon, "kl": kl}


def fit(model: torch.nn.Module, data, *, epochs: int, lr: float = 3e-3, lr_decay: float = 0.6,
        batch_size: int = 128, beta: float = 1.0, free_bits: float = 0.0, binarize: bool = False,
        test: torch.Tensor | None = None, device: str | torch.device | None = None, precision: str = "auto",
        progress: bool = True) -> History:
    """Train with Adam for `epochs` and return the per-epoch History (nats per image).

    `data` is a Dataset (its train and test images are used) or a tensor of training images
    (then `test` is optional). The learning rate is `lr` for the first 40% of the steps and then
    falls linearly to ~0 (`lr_decay=0` keeps it constant). `precision="auto"` trains in bfloat16
    autocast on CPUs with native bf16 (about 1.5x faster; evaluation stays float32).
    Ctrl-C stops cleanly after the current batch (model and completed epochs kept); a non-finite
    loss stops training and restores the weights of the last finite epoch. `free_bits` (nats per
    latent dimension) and `binarize` (each batch's pixels drawn as Bernoulli(x), "dynamic
    binarisation") change the training loss only; a conditional model takes its labels from `data`.
    """
    train, test, train_labels, test_labels = _inputs(model, data, test, epochs, batch_size)
    device = torch.device(device) if device is not None else default_device()
    history = History(precision=resolve_precision(precision, device))
    model.to(device)
    train = train.to(device)  # whole set on the device once: no per-sample DataLoader cost
    train_labels = train_labels.to(device) if train_labels is not None else None
    optimizer = make_optimizer(model, lr)
    total_steps = epochs * -(-len(train) // batch_size)
    schedule = lambda step: lr * lr_factor(step, total_steps, lr_decay)  # noqa: E731 - the rate at each step
    bar = progress_bar(range(epochs), desc=f"Training {type(model).__name__}", unit="epoch", disable=not progress)
    restart_window()   # the thread policy judges the load from now on, not since the last cell
    with stoppable(model, bar, history):
        current = model.state_dict()         # the live tensors (the optimiser updates them in place)
        last_good = {k: v.detach().clone() for k, v in current.items()}
        for epoch in bar:
            if epoch:   # the weights after the last finite epoch, copied in place: no new tensors per epoch
                for k, v in current.items():
                    last_good[k].copy_(v)
            per_batch = _train_epoch(model, optimizer, schedule, epoch, train, train_labels, batch_size,
                                     dict(beta=beta, free_bits=free_bits), binarize, history.precision == "bf16")
            if not _finite_epoch(per_batch, history, model, last_good, epoch, lr):
                break
            _record(history, "train", (per_batch.sum(0) / len(train)).tolist())
            if test is not None:
                t = evaluate(model, test, beta=beta, labels=test_labels)
                _record(history, "test", (t["loss"], t["recon"], t["kl"]))
            bar.set_postfix_str(_postfix(history), refresh=False)
    return history


@contextmanager
def stoppable(model: torch.nn.Module, bar, history: History):
    """Around an epoch loop: Ctrl-C stops it cleanly (completed epochs kept); then close the bar, eval mode, seconds."""
    start = time.perf_counter()
    try:
        yield
    except KeyboardInterrupt:
        history.interrupted = True
        print(f"Interrupted after {history.epochs} complete epoch(s); the model keeps its current weights.")
    finally:
        bar.close()
        model.eval()
        history.seconds = time.perf_counter() - start


def _inputs(model: torch.nn.Module, data, test, epochs: int, batch_size: int) -> tuple:
    """Checked (train, test, train_labels, test_labels); labels only for a conditional model."""
    train, data_test, train_labels, test_labels = _split(data)
    if test is None:
        test = data_test
    else:
        test_labels = None       # a test set passed on its own comes without labels
    conditional = getattr(model, "n_classes", 0) > 0
    if conditional and train_labels is None:
        raise ValueError(f"{type(model).__name__} is conditional: pass a Dataset, whose labels it needs.")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}.")
    train = as_images(train, "training images")
    test = as_images(test, "test images") if test is not None else None
    if not conditional:
        return train, test, None, None
    return train, test, train_labels, test_labels


def _train_epoch(model: torch.nn.Module, optimizer, schedule, epoch: int, train: torch.Tensor,
                 labels: torch.Tensor | None, batch_size: int, loss_kwargs: dict, binarize: bool,
                 bf16: bool) -> torch.Tensor:
    """One pass over shuffled minibatches; returns each batch's (total, recon, kl) times its size, (batches, 3)."""
    model.train()
    steps = -(-len(train) // batch_size)
    per_batch = torch.zeros(steps, 3, device=train.device)  # on the device: no sync per batch
    for b, idx in enumerate(torch.randperm(len(train), device=train.device).split(batch_size)):
        adapt_threads()  # fewer threads while other processes hold cores; reads /proc at most every 0.25 s
        for group in optimizer.param_groups:
            group["lr"] = schedule(epoch * steps + b)
        xb = torch.bernoulli(train[idx]) if binarize else train[idx]
        yb = labels[idx] if labels is not None else None
        with torch.autocast(train.device.type, dtype=torch.bfloat16, enabled=bf16):
            parts = model_loss(model, xb, y=yb, **loss_kwargs)
        optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        optimizer.step()
        per_batch[b] = torch.stack(parts).detach().float() * len(idx)
    return per_batch


def _finite_epoch(per_batch: torch.Tensor, history: History, model: torch.nn.Module, last_good: dict,
                  epoch: int, lr: float) -> bool:
    """False (and the model restored to its last finite weights) if any batch loss of the epoch was NaN or inf."""
    bad = (~torch.isfinite(per_batch).all(dim=1)).nonzero()
    if len(bad) == 0:
        return True
    batch = int(bad[0, 0])
    model.load_state_dict(last_good)
    history.stopped = (f"non-finite loss in epoch {epoch + 1}, batch {batch + 1}; weights restored "
                       f"to the end of epoch {epoch}")
    print(f"Training stopped: the loss became {per_batch[batch, 0].item()} in epoch {epoch + 1}, "
          f"batch {batch + 1}. The model keeps its weights from the end of epoch {epoch} (the last finite "
          f"ones). Try a smaller learning rate (lr={lr / 3:.1e}), check the data for extreme values, or use "
          f"precision='fp32'.")
    return False


def _record(history: History, split: str, values) -> None:
    total, recon, kl = (float(v) for v in values)
    getattr(history, f"{split}_loss").append(total)
    getattr(history, f"{split}_recon").append(recon)
    getattr(history, f"{split}_kl").append(kl)


def _postfix(history: History) -> str:
    test = f", test {history.test_loss[-1]:.1f}" if history.test_loss else ""
    return f"train {history.train_loss[-1]:.1f}{test} nats/image"
