"""Build the judge's calibration pool: decoded images from the sources the series' generation claims compare.

Usage: python tools/make_calibration_pool.py DATASET [--per-source 40] [--grids DIR] [--extend SEED]

Writes vae_helpers/calibration/<dataset>.npz: `images` (N, 28, 28) uint8, `source` (N,) int, `sources` (names),
in a seeded shuffled order so a labeller cannot tell the sources apart by position. With --grids it also
draws numbered grids of 60 images (PNG) for labelling by eye. Labels go to vae_helpers/calibration/
<dataset>-labels.csv (written by hand, before any verdict of the judge is looked at; the rule is in
vae_helpers/calibration/README.md). The models are the series' own (same configurations, so the cache is shared).
With --extend SEED a new batch drawn with that seed is appended to the existing file (earlier images and
their labels keep their indices); grids then show the new images only.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import vae_helpers as vh

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "vae_helpers" / "calibration"


def pool(data, per_source: int, seed: int = 2026) -> dict[str, torch.Tensor]:
    """`per_source` images from each source, decoder means (pixel probabilities), seeded."""
    epochs = vh.epochs_for(data, 20)
    ae16, vae16, vae2 = vh.Autoencoder(16), vh.VAE(16), vh.VAE(2)
    for model in (ae16, vae16, vae2):
        vh.train_or_load(model, data, epochs=epochs, seed=0, progress=False)
    extremes = {}
    for beta in (0.0, 8.0):
        extremes[beta] = vh.VAE(16)
        vh.train_or_load(extremes[beta], data, epochs=epochs, beta=beta, progress=False)
    n = per_source
    g = torch.Generator().manual_seed(seed)
    test = data.test[torch.randperm(len(data.test), generator=g)[:2 * n]]
    codes = vh.embed(ae16, data.test)
    lo, hi = codes.min(0).values, codes.max(0).values
    train_codes = vh.embed(ae16, data.train)
    fitted = torch.distributions.MultivariateNormal(train_codes.mean(0), torch.cov(train_codes.T))
    torch.manual_seed(seed)
    with torch.no_grad():
        return {"real test image": test[:n],
                "16-D AE reconstruction": vh.reconstruct(ae16, test[n:]),
                "16-D AE decoding N(0, I)": ae16.decode(torch.randn(n, 16)),
                "16-D AE decoding its codes' box": ae16.decode(lo + (hi - lo) * torch.rand(n, 16)),
                "16-D AE decoding a fitted Gaussian": ae16.decode(fitted.sample((n,))),
                "16-D VAE prior sample": vae16.decode(torch.randn(n, 16)),
                "2-D VAE prior sample": vae2.decode(torch.randn(n, 2)),
                "16-D VAE beta = 0 prior sample": extremes[0.0].decode(torch.randn(n, 16)),
                "16-D VAE beta = 8 prior sample": extremes[8.0].decode(torch.randn(n, 16))}


def grids(images: np.ndarray, folder: Path, per_grid: int = 60, ncols: int = 10, zoom: int = 3, first: int = 0) -> None:
    """Numbered grids of the images (index under each), black on white as a person reads them."""
    from PIL import Image, ImageDraw
    folder.mkdir(parents=True, exist_ok=True)
    cell_w, cell_h = 28 * zoom + 12, 28 * zoom + 24
    for start in range(0, len(images), per_grid):
        chunk = images[start:start + per_grid]
        rows = -(-len(chunk) // ncols)
        sheet = Image.new("L", (ncols * cell_w, rows * cell_h), 255)
        draw = ImageDraw.Draw(sheet)
        for k, img in enumerate(chunk):
            r, c = divmod(k, ncols)
            tile = Image.fromarray(255 - img).resize((28 * zoom, 28 * zoom), Image.NEAREST)
            sheet.paste(tile, (c * cell_w + 6, r * cell_h + 4))
            draw.rectangle([c * cell_w + 5, r * cell_h + 3, c * cell_w + 6 + 28 * zoom, r * cell_h + 4 + 28 * zoom], outline=160)
            draw.text((c * cell_w + 6 + 28 * zoom // 2 - 8, r * cell_h + 28 * zoom + 8), str(first + start + k), fill=0)
        sheet.save(folder / f"grid_{first + start:04d}-{first + start + len(chunk) - 1:04d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--per-source", type=int, default=40)
    parser.add_argument("--grids", type=Path)
    parser.add_argument("--extend", type=int, metavar="SEED", help="append a new batch drawn with this seed")
    args = parser.parse_args()
    data = vh.load_dataset(args.dataset)
    sources = pool(data, args.per_source, seed=args.extend if args.extend is not None else 2026)
    names = list(sources)
    images = torch.cat(list(sources.values())).reshape(-1, 28, 28)
    source = np.repeat(np.arange(len(names)), args.per_source)
    order = np.random.default_rng(7 if args.extend is None else args.extend).permutation(len(images))
    images, source = (images.clamp(0, 1).numpy()[order] * 255).round().astype(np.uint8), source[order]
    path, first = OUT / f"{args.dataset}.npz", 0
    if args.extend is not None:
        old = np.load(path)
        if tuple(old["sources"].tolist()) != tuple(names):
            raise SystemExit(f"{path} has other sources; rebuild it instead of extending it.")
        first = len(old["images"])
        images, source = np.concatenate([old["images"], images]), np.concatenate([old["source"], source])
    OUT.mkdir(exist_ok=True)
    np.savez_compressed(path, images=images, source=source, sources=np.array(names))
    print(f"{len(images)} images from {len(names)} sources -> {path}")
    if args.grids:
        grids(images[first:], args.grids / args.dataset, first=first)


if __name__ == "__main__":
    main()
