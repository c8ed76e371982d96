"""Train the realism judge shipped with the package, and calibrate its verdict to the labels made by eye.

Usage: VAE_HELPERS_DATA_DIR=... python tools/train_judge.py {mnist,fashion-mnist} [--epochs 2] [--seed 0]

Writes vae_helpers/calibration/judge-<dataset>.pt (weights in float16 and the readout). Run once by a
maintainer on the full training set (60,000 images, about 4 minutes on 2 cores); learners load the file.
The digits judge leaves out the 1,000 test images of the embedded mnist-5k set, so the series' own test
images stay unseen by it.

The recipe, and why:
- positives: every training image in the looks a readable decode takes (moved, warped a little, thicker or
  thinner, blurred, fainter, ghosted by two copies of itself, averaged with another image of its class),
  30% left as they are. Decoders output blurry grey means; a person still names a blurry 3 a 3.
- negatives (the "not a ..." class): what people reject in decoded images, made from training images:
  strongly warped (garbled) shapes, shapes with a large part erased, zoomed-in stroke fragments, blobs,
  noise and shuffled pixels, and two classes combined. Negatives get the same looks as positives, so the
  classifier cannot tell them apart by sharpness alone (an earlier version learned "sharp = fake").
  Digits: the two halves of different digits glued together, and overlays. Garments: pale averages of two
  garments of different classes instead (glued halves of a shirt and a coat are often a real-looking garment).
- readout: a logistic regression on four summaries of the class probabilities (reject logit, top class,
  entropy, top-two margin) and the first k principal components of the hidden layer, fitted to the eye's labels
  on the calibration half (even indices) only; k and the penalty chosen by cross-validation on that half.
"""
from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import vae_helpers as vh
from vae_helpers import judge as J
from vae_helpers.progress import progress

ROOT = Path(__file__).resolve().parent.parent
NEGATIVE_KINDS = {"mnist": (0, 1, 2, 3, 4, 5, 6, 7), "fashion-mnist": (0, 1, 5, 6, 7, 8, 8)}


# --- appearance and shape changes, (N, 1, 28, 28) in [0, 1] -------------------------------------

def gauss_kernel(sigma: float, size: int = 9) -> torch.Tensor:
    """A normalised 1-D Gaussian kernel of `size` taps, `sigma` pixels wide."""
    r = torch.arange(size, dtype=torch.float32) - size // 2
    k = torch.exp(-r ** 2 / (2 * sigma ** 2))
    return k / k.sum()


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Gaussian blur with a per-image width `sigma` (N,) in pixels (0 = unchanged)."""
    out = x.clone()
    for s in sigma.unique():
        if s <= 0.05:
            continue
        m, k = sigma == s, gauss_kernel(float(s))
        y = F.conv2d(x[m], k.view(1, 1, 1, -1), padding=(0, 4))
        out[m] = F.conv2d(y, k.view(1, 1, -1, 1), padding=(4, 0))
    return out


def random_blur(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Blur each image by a width drawn from [lo, hi] pixels (in quarter-pixel steps)."""
    return blur(x, torch.round((lo + (hi - lo) * torch.rand(len(x))) * 4) / 4)


def dilate(x: torch.Tensor) -> torch.Tensor:
    """Thicker strokes (3x3 maximum)."""
    return F.max_pool2d(x, 3, 1, 1)


def erode(x: torch.Tensor) -> torch.Tensor:
    """Thinner strokes (3x3 minimum)."""
    return -F.max_pool2d(-x, 3, 1, 1)


def warp(x: torch.Tensor, alpha: torch.Tensor, smooth: float = 4.0) -> torch.Tensor:
    """Elastic deformation: a random displacement field smoothed over `smooth` px, `alpha` (N,) px in size."""
    n = len(x)
    d = blur(torch.randn(2 * n, 1, 28, 28), torch.full((2 * n,), smooth)).view(n, 2, 28, 28)
    d = d / d.flatten(1).std(1).view(-1, 1, 1, 1).clamp(min=1e-6) * alpha.view(-1, 1, 1, 1) * (2 / 28)
    base = F.affine_grid(torch.eye(2, 3).expand(n, 2, 3), (n, 1, 28, 28), align_corners=False)
    return F.grid_sample(x, base + d.permute(0, 2, 3, 1), align_corners=False)


def affine(x: torch.Tensor, rot: float = 0.2, scale: float = 0.1, shift: float = 2.0) -> torch.Tensor:
    """Random rotation (radians), scaling and shift (pixels), each up to the given size."""
    n = len(x)
    a, s = (torch.rand(n) * 2 - 1) * rot, 1 + (torch.rand(n) * 2 - 1) * scale
    t = (torch.rand(n, 2) * 2 - 1) * shift * 2 / 28
    theta = torch.stack([torch.stack([s * torch.cos(a), -s * torch.sin(a), t[:, 0]], 1),
                         torch.stack([s * torch.sin(a), s * torch.cos(a), t[:, 1]], 1)], 1)
    return F.grid_sample(x, F.affine_grid(theta, (n, 1, 28, 28), align_corners=False), align_corners=False)


def pick(choice: torch.Tensor, options: list[torch.Tensor]) -> torch.Tensor:
    """Per image, the variant `options[choice[i]]`."""
    out = torch.zeros_like(options[0])
    for k, option in enumerate(options):
        out[choice == k] = option[choice == k]
    return out


def look(y: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
    """Appearance only (thickness, blur, contrast), the same for positives and negatives; 30% kept as `raw`."""
    n = len(y)
    r = torch.rand(n)
    y = pick((r < 0.2).long() + 2 * (r > 0.85).long(), [y, dilate(y), 0.5 * (erode(y) + y)])
    y = torch.where((torch.rand(n) < 0.6).view(-1, 1, 1, 1), random_blur(y, 0.5, 2.0), y)
    y = y / y.flatten(1).max(1).values.clamp(min=1e-6).view(-1, 1, 1, 1) * (0.5 + 0.5 * torch.rand(n, 1, 1, 1))
    return torch.where((torch.rand(n) < 0.3).view(-1, 1, 1, 1), raw, y).clamp(0, 1)


def positives(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Real images as a readable decode may look: moved, warped a little, ghosted, averaged within a class."""
    n = len(x)
    y = warp(affine(x), torch.rand(n))
    ghost = (y + sum(warp(affine(x, 0.15, 0.08, 1.5), torch.ones(n)) for _ in range(2))) / 3
    y = torch.where((torch.rand(n) < 0.3).view(-1, 1, 1, 1), ghost, y)
    same = labels.view(-1, 1) == labels.view(1, -1)
    same.fill_diagonal_(False)
    partner = torch.where(same.any(1), (same.float() + 1e-3 * torch.rand(n, n)).argmax(1), torch.arange(n))
    mix = 0.5 * y + 0.5 * affine(x[partner], 0.1, 0.05, 1.0)           # two 3s averaged are still a 3
    y = torch.where((torch.rand(n) < 0.15).view(-1, 1, 1, 1), mix, y)
    return look(y, x)


def negatives(x: torch.Tensor, labels: torch.Tensor, kinds: tuple[int, ...]) -> torch.Tensor:
    """Images a person would not name, one of `kinds` each (see the module docstring)."""
    n = len(x)
    kind = torch.tensor(kinds)[torch.randint(0, len(kinds), (n,))]
    partner = torch.randperm(n)
    xp = x[partner]
    yy, xx = torch.meshgrid(torch.arange(28.), torch.arange(28.), indexing="ij")
    centre, radius = 8 + 12 * torch.rand(n, 2), 6 + 5 * torch.rand(n)
    disc = ((yy - centre[:, 0].view(-1, 1, 1)) ** 2 + (xx - centre[:, 1].view(-1, 1, 1)) ** 2
            < radius.view(-1, 1, 1) ** 2).float().unsqueeze(1)
    cut = (10 + 8 * torch.rand(n)).view(-1, 1, 1, 1)
    halves = torch.where((torch.rand(n) < 0.5).view(-1, 1, 1, 1), (yy < cut).float(), (xx < cut).float())
    lam = 0.35 + 0.3 * torch.rand(n, 1, 1, 1)
    blob = random_blur(dilate(dilate(x)), 2.0, 3.5)
    theta = torch.zeros(n, 2, 3)
    zoom = 0.45 + 0.15 * torch.rand(n)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, :, 2] = zoom, zoom, (torch.rand(n, 2) * 2 - 1) * 0.5
    noise = torch.where((torch.rand(n) < 0.5).view(-1, 1, 1, 1), torch.rand_like(x) * torch.rand(n, 1, 1, 1),
                        x.reshape(n, -1)[:, torch.randperm(784)].reshape_as(x))
    options = [warp(x, 3 + 3 * torch.rand(n), smooth=3.0),                      # 0 garbled
               x * (1 - disc),                                                  # 1 a large part erased
               x * halves + xp * (1 - halves),                                  # 2 halves of two classes
               torch.maximum(2 * lam * x, 2 * (1 - lam) * xp),                  # 3 two classes overlaid
               blob / blob.flatten(1).max(1).values.clamp(min=1e-6).view(-1, 1, 1, 1),   # 4 a blob
               F.grid_sample(x, F.affine_grid(theta, (n, 1, 28, 28), align_corners=False),
                             align_corners=False),                              # 5 a zoomed-in fragment
               noise,                                                           # 6 noise, shuffled pixels
               random_blur(warp(x, 2.5 + 2.5 * torch.rand(n), smooth=2.5), 0.5, 1.5),   # 7 garbled, blurred
               (lam * x + (1 - lam) * xp) * (0.5 + 0.5 * torch.rand(n, 1, 1, 1))]       # 8 a pale average
    two_classes = (kind == 2) | (kind == 3) | (kind == 8)
    keep = ~two_classes | (labels != labels[partner])                   # two images of one class are not a reject
    fake, kind = pick(kind, options)[keep].clamp(0, 1), kind[keep]
    return torch.where((kind == 6).view(-1, 1, 1, 1), fake, look(fake, fake))


# --- training and calibration ---------------------------------------------------------------

def training_set(name: str) -> tuple[torch.Tensor, torch.Tensor, vh.Dataset]:
    """The full training set; for digits, without the embedded mnist-5k test images."""
    data = vh.load_dataset(name)
    x, y = data.train, data.train_labels
    if name == "mnist":
        digest = lambda t: hashlib.md5((t * 255).round().to(torch.uint8).numpy().tobytes()).hexdigest()  # noqa: E731
        held = {digest(t) for t in vh.load_dataset("mnist-5k").test}
        keep = torch.tensor([digest(t) not in held for t in x])
        print(f"left out {int((~keep).sum())} images that are mnist-5k test images")
        x, y = x[keep], y[keep]
    return x, y, data


def train(judge: J.RealismJudge, x: torch.Tensor, y: torch.Tensor, kinds, epochs: float) -> None:
    """Cross-entropy over classes + "not a ...", one-cycle Adam, batches of 128 positives and their negatives."""
    reject = judge.reject
    steps = int(epochs * len(x) / 128)
    optimizer = torch.optim.Adam(judge.net.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=steps)
    judge.train()
    for _ in progress(range(steps), desc="judge", unit="step"):
        idx = torch.randint(0, len(x), (128,))
        pos, neg = positives(x[idx], y[idx]), negatives(x[idx], y[idx], kinds)
        targets = torch.cat([y[idx], torch.full((len(neg),), reject)])
        loss = F.cross_entropy(judge.net(torch.cat([pos, neg])), targets, label_smoothing=0.05)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    judge.eval()


def fit_logistic(z: torch.Tensor, y: torch.Tensor, l2: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """L2-penalised logistic regression on standardised inputs: (centre, scale, weights with the bias last)."""
    centre, scale = z.mean(0), z.std(0).clamp(min=1e-6)
    zz = torch.cat([(z - centre) / scale, torch.ones(len(z), 1)], 1)
    w = torch.zeros(zz.shape[1], requires_grad=True)
    optimizer = torch.optim.LBFGS([w], max_iter=500, tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(zz @ w, y) + l2 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss
    optimizer.step(closure)
    return centre, scale, w.detach()


def design(hidden, log_p, fit, components):
    """Readout inputs with principal components of the fit half's hidden layer: (z (N, 4 + k), mean, basis)."""
    mean = hidden[fit].mean(0)
    _, _, vt = torch.linalg.svd(hidden[fit] - mean, full_matrices=False)
    basis = vt[:components].T                                           # (128, k), exact and deterministic
    return J.readout_inputs(hidden, log_p, mean, basis), mean, basis


def cross_validated(z: torch.Tensor, y: torch.Tensor, l2: float, folds: int = 5, repeats: int = 3) -> float:
    """Share of correct verdicts over `repeats` shuffled `folds`-fold splits of (z, y)."""
    correct = 0
    for r in range(repeats):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(r))
        for k in range(folds):
            test, train = order[k::folds], order[torch.arange(len(y)) % folds != k]
            centre, scale, w = fit_logistic(z[train], y[train], l2)
            logit = torch.cat([(z[test] - centre) / scale, torch.ones(len(test), 1)], 1) @ w
            correct += ((logit > 0).float() == y[test]).sum().item()
    return correct / (repeats * len(y))


def calibrate(judge: J.RealismJudge, cal: J.Calibration) -> tuple[J.RealismJudge, int, float]:
    """Fit the readout to the eye on the calibration half only; its size and penalty chosen by cross-validation
    there (components in {0, 4, 8, 16}, L2 in {0.1, 0.01}; ties go to the smaller, more penalised readout)."""
    fit = ~cal.held_out
    with torch.no_grad():
        hidden, log_p, _ = judge._outputs(cal.images)
    y = cal.eye.float()
    scores = {}
    for components in (0, 4, 8, 16):
        z = design(hidden, log_p, fit, components)[0]
        for l2 in (0.1, 0.01):
            scores[components, l2] = cross_validated(z[fit], y[fit], l2)
            print(f"readout with {components:2d} components, L2 {l2}: {scores[components, l2]:.1%} by cross-validation")
    components, l2 = max(scores, key=scores.get)                         # first of the best: smallest, most penalised
    z, mean, basis = design(hidden, log_p, fit, components)
    centre, scale, w = fit_logistic(z[fit], y[fit], l2)
    calibrated = J.RealismJudge(judge.classes, judge.noun, components=components)   # buffers sized for it
    calibrated.net.load_state_dict(judge.net.state_dict())
    calibrated.set_readout(mean, basis, centre, scale, w)
    return calibrated.eval(), components, l2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(NEGATIVE_KINDS))
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readout-only", action="store_true",
                        help="keep the shipped network, refit only the readout (after labels were added)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    path = ROOT / "vae_helpers" / "calibration" / f"judge-{J.CALIBRATION[args.dataset]}.pt"
    data = vh.load_dataset(args.dataset)
    if args.readout_only:                                               # the shipped network, of any version
        blob = torch.load(path, map_location="cpu", weights_only=True)
        judge = J.RealismJudge(blob["classes"], blob["noun"])
        judge.net.load_state_dict({k[4:]: v.float() for k, v in blob["state_dict"].items() if k.startswith("net.")})
        judge.eval()
        provenance = {k: v for k, v in blob["provenance"].items() if k not in ("calibration_images", "readout")}
    else:
        x, y, data = training_set(args.dataset)
        torch.manual_seed(args.seed)
        judge = J.RealismJudge(data.classes, data.noun)
        start = time.time()
        train(judge, x, y, NEGATIVE_KINDS[args.dataset], args.epochs)
        print(f"trained in {time.time() - start:.0f} s")
        judge.half_precision_weights()                                  # what ships is what is calibrated
        provenance = {"dataset": args.dataset, "epochs": args.epochs, "seed": args.seed,
                      "negative_kinds": list(NEGATIVE_KINDS[args.dataset])}
    cal = J.load_calibration(args.dataset)
    judge, components, l2 = calibrate(judge, cal)
    judge.save(path, {**provenance, "calibration_images": len(cal.images), "readout": {"components": components, "l2": l2}})
    with torch.no_grad():
        accuracy = (judge.net(data.test).argmax(1) == data.test_labels).float().mean().item()
    print(f"wrote {path.relative_to(ROOT)}; test accuracy over classes {accuracy:.3f}")
    print(judge.calibration_report(cal))


if __name__ == "__main__":
    main()
