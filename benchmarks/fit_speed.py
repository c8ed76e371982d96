"""Measure `vh.fit` for the default Autoencoder and VAE on mnist-5k: seconds per epoch, test loss.

Run: .venv/bin/python benchmarks/fit_speed.py [--epochs 20] [--repeats 3]
Reported, never asserted: wall-clock time depends on the machine.
"""
import argparse
import statistics

import torch

import vae_helpers as vh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = vh.load_dataset("mnist-5k")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {vh.default_device()}")
    for cls in (vh.Autoencoder, vh.VAE):
        times, losses = [], []
        for seed in range(args.repeats):
            vh.set_seed(seed)
            history = vh.fit(cls(latent_dim=2), data, epochs=args.epochs, progress=False)
            times.append(history.seconds)
            losses.append(history.test_loss[-1])
        print(f"{cls.__name__:12s} {args.epochs} epochs: median {statistics.median(times):5.2f} s "
              f"({statistics.median(times) / args.epochs * 1000:.0f} ms/epoch), "
              f"test loss {statistics.mean(losses):.1f} ± {statistics.pstdev(losses):.1f} nats/image")


if __name__ == "__main__":
    main()
