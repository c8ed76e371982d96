"""Images for checking the judge by eye on a source it was not calibrated on: the GAN of notebook 07.

Usage: python tools/make_gan_check.py DATASET [--grids DIR]

Trains the two GANs of notebook 07 (seeds 0 and 1, the same settings; cached) and writes 30 prior samples of
each, shuffled, to vae_helpers/calibration/<dataset>-gan.npz (`images` (60, 28, 28) uint8, `seed` (60,)).
Label them by the rule of vae_helpers/calibration/README.md into <dataset>-gan-labels.csv (index,eye_a,eye_b,eye)
before looking at any verdict of the judge. The judge's readout is never fitted to these labels.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import vae_helpers as vh

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_calibration_pool import OUT, grids  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--grids", type=Path)
    args = parser.parse_args()
    data = vh.load_dataset(args.dataset)
    images, seeds = [], []
    for seed in (0, 1):
        gan = vh.GAN(latent_dim=16)
        vh.train_or_load(gan, data, epochs=vh.epochs_for(data, 24), seed=seed, progress=False)
        images.append(gan.sample(30, torch.Generator().manual_seed(100 + seed)))
        seeds += [seed] * 30
    order = np.random.default_rng(11).permutation(60)
    pixels = (torch.cat(images).reshape(-1, 28, 28).numpy()[order] * 255).round().astype(np.uint8)
    path = OUT / f"{args.dataset}-gan.npz"
    np.savez_compressed(path, images=pixels, seed=np.array(seeds)[order])
    print(f"60 GAN samples -> {path}")
    if args.grids:
        grids(pixels, args.grids)


if __name__ == "__main__":
    main()
