"""How fit's cost grows: seconds per epoch and peak memory against training-set size and latent size, and
the latent explorer's page payload against latent size.

Every (training-set size, latent size) configuration is measured in its own subprocess, so its memory
high-water mark is its own: the child loads the data, takes a stratified subset (`Dataset.subset`), runs a
short warm-up fit, resets the kernel's peak-RSS counter (/proc/self/clear_refs), then times
`vh.fit(vh.VAE(latent_dim), train_images, epochs=E, progress=False)` (training only: no test set, so no
per-epoch evaluation) and reads the peak resident memory (VmHWM) and the resident memory just before the fit.
Configurations run in alternating order over repeats, so slow spells of a shared machine spread over all.

Threads: one torch thread per child by default (--threads 0 keeps torch's default). The question here is how the
cost *scales*; on a shared 2-core machine two threads make every timing hostage to the other load (see the
train_speed section: 2-thread epochs vary 20x with the load, 1-thread ones 2x), and train_speed reports the
absolute speed with the default threads.

Sizes: 1k, 2k, 4k, 10k, 20k, 60k images of full MNIST (latent 20); latent sizes 2..64 (10k images).
Without full MNIST: subsets of the embedded mnist-5k (250 to 4,000 images), said in the output.
Plots (PNG) go next to the results file: growth_train_size.png, growth_latent_dim.png, growth_payload.png.

Run: .venv/bin/python benchmarks/growth.py [--repeats 4] [--threads 1] [--quick] [--out F]
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

FULL_SIZES = [1000, 2000, 4000, 10000, 20000, 60000]
SMALL_SIZES = [250, 500, 1000, 2000, 4000]
LATENTS = [2, 4, 8, 16, 32, 64]
SIZE_SWEEP_LATENT = 20                     # the pytorch/examples size, as in train_speed.py
LATENT_SWEEP_SIZE = {"mnist": 10000, "mnist-5k": 4000}
IMAGES_PER_CONFIG = 120_000                # epochs = this / N (at least 2): ~2 full-MNIST epochs of work each


# --- the child: one configuration ----------------------------------------------------------------------------

def status_kib(field: str) -> int | None:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM), or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset this process's peak-RSS counter (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child(spec: dict) -> dict:
    import resource

    import torch
    import vae_helpers as vh
    if spec["dataset"] == "mnist-5k":
        data = vh.load_dataset("mnist-5k")
    else:
        data = vh.load_dataset(spec["dataset"], data_dir=common.full_data_dir(), download=False)
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    n, latent = spec["n"], spec["latent"]
    train = (data.subset(n, seed=0).train if n < len(data.train) else data.train).clone()
    del data
    vh.set_seed(1)
    vh.fit(vh.VAE(latent), train[:512], epochs=1, progress=False)  # warm-up: first-call costs off the clock
    gc.collect()
    was_reset = reset_peak()
    rss_before = status_kib("VmRSS")
    vh.set_seed(0)
    model = vh.VAE(latent)
    history = vh.fit(model, train, epochs=spec["epochs"], progress=False)
    peak = status_kib("VmHWM") if was_reset else None
    return {**spec, "seconds": history.seconds, "s_per_epoch": history.seconds / spec["epochs"],
            "rss_before_mib": rss_before / 1024 if rss_before else None,
            "peak_mib": peak / 1024 if peak else None,
            "fit_extra_mib": (peak - rss_before) / 1024 if peak and rss_before else None,
            "maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "data_mib": train.numel() * 4 / 2**20, "threads": torch.get_num_threads(),
            "precision": history.precision}


def measure(spec: dict) -> dict:
    """Run one configuration in a fresh Python process and return its JSON result."""
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"growth child {spec} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the explorer's payload (in this process: no training needed) ----------------------------------------------

def payload_sizes(latents: list[int]) -> list[dict]:
    """Weights text (`payload_bytes`) and the whole text/html output of latent_explorer(VAE(d)), with and without data."""
    import vae_helpers as vh
    data = vh.load_dataset("mnist-5k")
    rows = []
    for d in latents:
        vh.set_seed(0)
        model = vh.VAE(d)
        # start=None: with no data there is no test image to open at (vh 0.1.0's default start=0 without
        # data fails when the explorer is displayed: _start_note reads data.class_name).
        bare = vh.latent_explorer(model, start=None)
        with_data = vh.latent_explorer(model, data=data)
        rows.append({"latent": d, "payload_bytes": bare.payload_bytes,
                     "html_bytes": len(bare._repr_mimebundle_()[0]["text/html"].encode()),
                     "html_with_data_bytes": len(with_data._repr_mimebundle_()[0]["text/html"].encode()),
                     "params_decoder": sum(p.numel() for p in model.decoder.parameters())})
    return rows


# --- fitting and reporting ----------------------------------------------------------------------------------

def linear_fit(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x; returns (a, b, R^2)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    b, a = np.polyfit(x, y, 1)
    pred = a + b * x
    r2 = 1 - ((y - pred) ** 2).sum() / max(((y - y.mean()) ** 2).sum(), 1e-300)
    return float(a), float(b), float(r2)


def loglog_slope(x: list[float], y: list[float]) -> float:
    """Exponent k of y ~ x^k from a least-squares line in log-log space."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def median_by(results: list[dict], key: str, value: str) -> dict:
    groups: dict = {}
    for r in results:
        if r.get(value) is not None:
            groups.setdefault(r[key], []).append(r[value])
    return {k: statistics.median(v) for k, v in sorted(groups.items())}


def fastest_by(results: list[dict], key: str, value: str = "s_per_epoch") -> dict:
    """The smallest value per key: the repeat least disturbed by other work on the machine."""
    groups: dict = {}
    for r in results:
        groups.setdefault(r[key], []).append(r[value])
    return {k: min(v) for k, v in sorted(groups.items())}


def size_fit(size_res) -> tuple[float, float, float]:
    """seconds per epoch = a + b N, fitted to the fastest repeat of each N."""
    best = fastest_by(size_res, "n")
    return linear_fit(list(best), list(best.values()))


def spread_by(results: list[dict], key: str, value: str) -> dict:
    groups: dict = {}
    for r in results:
        groups.setdefault(r[key], []).append(r[value])
    return {k: (min(v), max(v)) for k, v in groups.items()}


def plots(folder: Path, size_res, latent_res, payload, fit, dataset) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []

    n = sorted({r["n"] for r in size_res})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in size_res:
        ax1.plot(r["n"], r["s_per_epoch"], "o", color="#0072B2", alpha=0.35, ms=4)
    best = fastest_by(size_res, "n")
    ax1.plot(n, [best[k] for k in n], "o", color="#0072B2", label="fastest of repeats (faint: every repeat)")
    xs = np.linspace(0, max(n), 100)
    a, b, r2 = fit
    ax1.plot(xs, a + b * xs, "--", color="#D55E00", label=f"fit: {a:.3f} s + {b * 1000:.3f} s per 1,000 images (R²={r2:.3f})")
    ax1.set(xlabel="training images N", ylabel="seconds per epoch",
            title=f"vh.fit: time per epoch vs N ({dataset}, latent {size_res[0]['latent']})")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    mem = median_by(size_res, "n", "peak_mib")
    extra = median_by(size_res, "n", "fit_extra_mib")
    if mem:
        ax2.plot(list(mem), list(mem.values()), "o-", label="peak resident memory of the process")
        ax2.plot(list(extra), list(extra.values()), "s-", label="added by fit (peak - resident before fit)")
        ax2.plot(n, [k * 784 * 4 / 2**20 for k in n], ":", color="grey", label="the training images as float32")
    ax2.set(xlabel="training images N", ylabel="MiB", title="Peak memory of a fit vs N")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(folder / "growth_train_size.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    d = sorted({r["latent"] for r in latent_res})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    best = fastest_by(latent_res, "latent")
    for r in latent_res:
        ax1.plot(r["latent"], r["s_per_epoch"], "o", color="#009E73", alpha=0.35, ms=4)
    ax1.plot(d, [best[k] for k in d], "o-", color="#009E73", label="fastest of repeats (faint: every repeat)")
    ax1.set(xscale="log", xlabel="latent dimensions d (log scale)", ylabel="seconds per epoch", ylim=(0, None),
            title=f"vh.fit: time per epoch vs latent size (N={latent_res[0]['n']:,})")
    ax1.set_xticks(d, [str(k) for k in d])
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    mem = median_by(latent_res, "latent", "peak_mib")
    extra = median_by(latent_res, "latent", "fit_extra_mib")
    if mem:
        ax2.plot(list(mem), list(mem.values()), "o-", label="peak resident memory of the process")
        ax2.plot(list(extra), list(extra.values()), "s-", label="added by fit")
    ax2.set(xscale="log", xlabel="latent dimensions d (log scale)", ylabel="MiB", ylim=(0, None),
            title="Peak memory of a fit vs latent size")
    ax2.set_xticks(d, [str(k) for k in d])
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(folder / "growth_latent_dim.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    d = [p["latent"] for p in payload]
    ax.plot(d, [p["payload_bytes"] / 1e3 for p in payload], "o-", label="weights text (payload_bytes)")
    ax.plot(d, [p["html_bytes"] / 1e3 for p in payload], "s-", label="whole text/html output, no data")
    ax.plot(d, [p["html_with_data_bytes"] / 1e3 for p in payload], "^-", label="text/html with data=mnist-5k")
    ax.set(xscale="log", xlabel="latent dimensions d (log scale)", ylabel="kB (10^3 bytes)", ylim=(0, None),
           title="Latent explorer: page payload vs latent size (VAE d-400-784)")
    ax.set_xticks(d, [str(k) for k in d])
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(folder / "growth_payload.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def report(size_res, latent_res, payload, dataset, fallback_note, repeats, loads, plot_paths, out,
           size_latent: int) -> str:
    n = sorted({r["n"] for r in size_res})
    med = median_by(size_res, "n", "s_per_epoch")
    best = fastest_by(size_res, "n")
    a, b, r2 = size_fit(size_res)
    big = [k for k in n if k >= 4000] or n
    per_image = [best[k] / k * 1e6 for k in big]                 # µs per image, fastest repeats
    per_image_spread = max(per_image) / min(per_image)
    slope = loglog_slope(big, [best[k] for k in big]) if len(big) >= 2 else float("nan")
    linear = 0.85 < slope < 1.15
    sp = spread_by(size_res, "n", "s_per_epoch")
    noise_big = statistics.median(sp[k][1] / sp[k][0] for k in big)
    mem = median_by(size_res, "n", "peak_mib")
    extra = median_by(size_res, "n", "fit_extra_mib")
    size_rows = [[f"{k:,}", f"{best[k]:.3f}", f"{med[k]:.3f} ({sp[k][1]:.3f})", f"{best[k] / k * 1e6:.1f}",
                  f"{a + b * k:.3f}", f"{mem[k]:.0f}" if k in mem else "-", f"{extra[k]:.0f}" if k in extra else "-",
                  f"{k * 784 * 4 / 2**20:.0f}"] for k in n]
    size_table = common.table(["N", "s/epoch, fastest repeat", "median (slowest)", "µs per image (fastest)", "a + bN",
                               "peak RSS, MiB", "added by fit, MiB", "images as float32, MiB"], size_rows)
    if len(extra) >= 2:
        ma, mb, mr2 = linear_fit(list(extra), list(extra.values()))
        mem_fit = (f"**Memory added by a fit ~ {ma:.0f} MiB {'+' if mb >= 0 else '-'} {abs(mb) * 1024:.2f} KiB per training "
                   f"image** (R^2 = {mr2:.3f}). The images are already resident before the fit (3.06 KiB each as "
                   f"float32), so the per-image term is temporary: vh's input check `as_images` runs "
                   f"`torch.isfinite(x)`, which ATen computes as `(x == x) * (x.abs() != inf)`, 784 + 3,136 + 784 + 784 "
                   f"bytes = 5.36 KiB per image at its peak (the train_speed section measures a one-pass alternative).")
    else:
        mem_fit = "Peak memory: not measurable here (needs Linux /proc)."

    d = sorted({r["latent"] for r in latent_res})
    lmed = median_by(latent_res, "latent", "s_per_epoch")
    lbest = fastest_by(latent_res, "latent")
    lsp = spread_by(latent_res, "latent", "s_per_epoch")
    lmem = median_by(latent_res, "latent", "peak_mib")
    lextra = median_by(latent_res, "latent", "fit_extra_mib")
    latent_table = common.table(
        ["latent d", "s/epoch, fastest repeat", "median (slowest)", "peak RSS, MiB", "added by fit, MiB"],
        [[k, f"{lbest[k]:.3f}", f"{lmed[k]:.3f} ({lsp[k][1]:.3f})", f"{lmem[k]:.0f}" if k in lmem else "-",
          f"{lextra[k]:.0f}" if k in lextra else "-"] for k in d])
    la, lb, lr2 = linear_fit(list(lbest), list(lbest.values()))

    pa, pb, _ = linear_fit([p["latent"] for p in payload], [p["payload_bytes"] for p in payload])
    ha, hb, _ = linear_fit([p["latent"] for p in payload], [p["html_bytes"] for p in payload])
    payload_table = common.table(
        ["latent d", "decoder parameters", "payload_bytes (weights text)", "text/html, no data", "text/html, data=mnist-5k"],
        [[p["latent"], f"{p['params_decoder']:,}", f"{p['payload_bytes']:,}", f"{p['html_bytes']:,}",
          f"{p['html_with_data_bytes']:,}"] for p in payload])
    noise = max((hi / lo for lo, hi in list(sp.values()) + list(lsp.values())), default=1.0)
    figures = "\n".join(f"![{p.stem}]({os.path.relpath(p, out.parent) if out else p.name})" for p in plot_paths)
    return f"""
Dataset: {dataset}{fallback_note}. Model: `vh.VAE(d)` (784-400-d, fit's defaults: batch 128, lr 3e-3 with decay,
precision {size_res[0]['precision']}, {size_res[0]['threads']} torch threads). Each configuration in its own
process; epochs = max(2, {IMAGES_PER_CONFIG:,} / N); {repeats} repeat(s) in alternating order; time = fit's
`history.seconds / epochs` with no test set (training only: a notebook's fit also evaluates its test set each epoch).
Peak memory: VmHWM of the process after resetting it just before the fit; "added by fit" = that peak minus the
resident memory just before the fit (torch, the data and a warm-up fit already loaded).

### Seconds per epoch and peak memory against training-set size (latent {size_latent})

{size_table}

**Fitted scaling: seconds per epoch ~ {a:.3f} s + {b * 1000:.4f} s per 1,000 images (R^2 = {r2:.4f}).**
Fitted to the fastest repeat of each size (the one least disturbed by other work). {'**Linear in N**' if linear else
'**Not linear in N**'}: the log-log slope of time per epoch against N from N = {big[0]:,} up is {slope:.2f} (1 = linear,
{'within' if linear else 'outside'} 0.85-1.15); the cost per image there is {min(per_image):.0f}-{max(per_image):.0f} µs (a factor
{per_image_spread:.2f}, against a median slowest/fastest ratio of {noise_big:.2f}x between repeats of one size, so the
variation is {'within' if per_image_spread <= noise_big else 'beyond'} the run-to-run noise). The intercept is the fixed work per
epoch (a copy of the weights for the non-finite restore, Python, the last short batch). At N = 60,000 an epoch takes
~{a + b * 60000:.2f} s on {size_res[0]['threads']} thread(s).
{mem_fit}

### Seconds per epoch and peak memory against latent size (N = {latent_res[0]['n']:,})

{latent_table}

Seconds per epoch ~ {la:.3f} s {'+' if lb >= 0 else '-'} {abs(lb) * 1000:.2f} ms per latent dimension (R^2 = {lr2:.2f}, fastest
repeats); from d = {d[0]} to d = {d[-1]} the time per epoch changes by {(lbest[d[-1]] / lbest[d[0]] - 1) * 100:+.0f}%
and the spread over d is {max(lbest.values()) / min(lbest.values()):.2f}x: the 784x400 layers do most of the work whatever
d is, so the latent size is nearly free between {d[0]} and {d[-1]}.

### Latent explorer payload against latent size

{payload_table}

The weights text grows by {pb:,.0f} bytes per latent dimension on top of {pa:,.0f} (the d x 400 first decoder
layer is the only part that grows); the whole HTML output by {hb:,.0f} bytes per dimension on top of {ha:,.0f}
(the explorer script, a still picture and the payload; with data it also carries test images and codes).

Noise: the slowest/fastest ratio over the repeats of one configuration was up to {noise:.2f}x (median over
configurations {statistics.median(hi / lo for lo, hi in list(sp.values()) + list(lsp.values())):.2f}x); the 1-minute load
average during the run was {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores, the benchmark's own
threads included (the speed probe above tells a slow machine from a busy one).

{figures}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each child (0: torch's default)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    common.add_common_args(parser)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    started = time.perf_counter()
    fallback_note = ""
    if args.quick:
        dataset, sizes, latents, size_latent, latent_n, args.repeats, per_config = \
            "mnist-5k", [500, 1000], [2, 8], 2, 1000, 1, 2000
    else:
        per_config = IMAGES_PER_CONFIG
        if common.full_data_dir() is not None and common.load_full("mnist") is not None:
            dataset, sizes = "mnist", FULL_SIZES
        else:
            dataset, sizes = "mnist-5k", SMALL_SIZES
            fallback_note = " (full MNIST not found: subsets of the embedded 4,000 training images instead)"
            print("[fallback] full MNIST is absent: measuring on mnist-5k sizes", SMALL_SIZES)
        latents, size_latent, latent_n = LATENTS, SIZE_SWEEP_LATENT, LATENT_SWEEP_SIZE[dataset]
    configs = [(n, size_latent) for n in sizes] + [(latent_n, d) for d in latents if (latent_n, d) not in
                                                     [(n, size_latent) for n in sizes]]
    print(f"{common.machine_line()}\n{len(configs)} configurations x {args.repeats} repeats on {dataset}", flush=True)
    results, loads = [], []
    for r in range(args.repeats):
        for n, d in (configs if r % 2 == 0 else configs[::-1]):
            loads.append(common.load_average() or 0.0)
            spec = {"dataset": dataset, "n": n, "latent": d, "epochs": max(2, math.ceil(per_config / n)), "repeat": r,
                    "threads": args.threads or None}
            res = measure(spec)
            results.append(res)
            print(f"  repeat {r} N={n:6d} d={d:3d}: {res['s_per_epoch']:.3f} s/epoch over {spec['epochs']} epochs, "
                  f"peak {res['peak_mib'] or 0:.0f} MiB (+{res['fit_extra_mib'] or 0:.0f} by fit)  ({common.load_now()})",
                  flush=True)
    loads.append(common.load_average() or 0.0)
    size_res = [r for r in results if r["latent"] == size_latent]
    latent_res = [r for r in results if r["n"] == latent_n]
    payload = payload_sizes(latents if not args.quick else [2, 8])
    out = common.out_path(args)
    plot_paths = []
    if out is not None:
        plot_paths = plots(out.parent, size_res, latent_res, payload,
                           size_fit(size_res), dataset)
    body = report(size_res, latent_res, payload, dataset, fallback_note, args.repeats, loads, plot_paths, out,
                  size_latent)
    title = "Growth: fit time and memory vs data and latent size; explorer payload" + \
        (" (quick smoke run)" if args.quick else "")
    common.write_section(out, "growth", common.section("growth", title, body, time.perf_counter() - started))


if __name__ == "__main__":
    main()
