"""Kernel-side cost of one latent-explorer slider move, against the naive matplotlib approach.

One update = set a slider's value -> decode -> encode PNG -> set the Image widget's value
(and the latent map's marker for a 2-D latent). The naive approach is what `ipywidgets.interact`
does with a plotting function: build a matplotlib figure and render it to PNG on every move.
Run: .venv/bin/python benchmarks/slider_latency.py [--moves 300]
"""
import argparse
import io
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import vae_helpers as vh  # noqa: E402
from vae_helpers.widgets import decode_image  # noqa: E402


def timed(update, moves: int) -> np.ndarray:
    """Milliseconds per call of update(i) for i in range(moves), after 20 warm-up calls."""
    for i in range(20):
        update(i)
    times = []
    for i in range(moves):
        start = time.perf_counter()
        update(i)
        times.append((time.perf_counter() - start) * 1000)
    return np.array(times)


def naive_update(model, z) -> bytes:
    """What `interact` re-runs per move: a new figure, imshow, render to PNG (as the inline backend)."""
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(decode_image(model, z), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=300)
    args = parser.parse_args()
    data = vh.load_dataset()
    print(f"{'latent':>6} {'models':>6} | {'explorer median':>15} {'p90':>6} | {'naive median':>12} {'p90':>6} | ratio")
    for latent_dim, n_models in ((2, 1), (2, 2), (8, 1), (20, 1)):
        vh.set_seed(0)
        models = [vh.VAE(latent_dim), vh.Autoencoder(latent_dim)][:n_models]
        explorer = vh.latent_explorer(*models, data=data)
        slider = explorer.sliders[latent_dim - 1]
        values = np.sin(np.arange(args.moves + 20) / 7.0) * 2.5

        def explorer_update(i):
            slider.value = float(values[i])

        def naive(i):
            z = explorer.z.copy()
            z[-1] = values[i]
            for model in models:
                naive_update(model, z)

        fast, slow = timed(explorer_update, args.moves), timed(naive, max(50, args.moves // 5))
        ratio = np.median(slow) / np.median(fast)
        print(f"{latent_dim:>6} {n_models:>6} | {np.median(fast):12.2f} ms {np.percentile(fast, 90):6.2f} | "
              f"{np.median(slow):9.2f} ms {np.percentile(slow, 90):6.2f} | {ratio:5.1f}x")


if __name__ == "__main__":
    main()
