"""Where one training step of vh.fit goes: variants of precision and optimizer, the matrix products alone, a profile.

The step is train_speed's model (784-400-20 VAE, batch 128) on random binary images; times are the best of 3
epochs of 156 steps, per step. "products alone" times the step's five large matrix products (encoder and decoder
784x400 layers: two forward, two weight gradients, one input gradient) by themselves: the step's floor on this
CPU. The profile (torch.profiler, 100 steps of the current settings) gives each operator's share of CPU time.
"batch 32" is fit's settings on smaller minibatches: how much of a step does not shrink with the batch (the
weight-sized work: casts, weight gradients, Adam). Last, the realism judge's time for 1,000 test images by
batch size (its outputs are identical for every batch size; tests/test_judge_exercises.py). Reported, never
asserted.

Run: .venv/bin/python benchmarks/step_profile.py [--quick] [--out F]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

import vae_helpers as vh  # noqa: E402
from vae_helpers.training import _train_epoch  # noqa: E402

VARIANTS = {  # name -> (bf16 autocast, Adam keywords)
    "bf16 autocast, fused Adam (fit's settings)": (True, {"fused": True}),
    "float32, fused Adam": (False, {"fused": True}),
    "bf16 autocast, foreach Adam": (True, {"foreach": True}),
    "float32, foreach Adam": (False, {"foreach": True}),
}
LOSS = {"beta": 1.0, "free_bits": 0.0}


def images(n: int) -> torch.Tensor:
    return (torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.5).float()


def step_ms(x: torch.Tensor, bf16: bool, adam: dict, epochs: int = 3, batch: int = 128) -> float:
    """Best-of-`epochs` milliseconds per step of `batch` images."""
    torch.manual_seed(0)
    model = vh.VAE(20, hidden=(400,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **adam)
    _train_epoch(model, opt, lambda s: 1e-3, 0, x[:1280], None, batch, LOSS, False, bf16)   # warm-up
    best = float("inf")
    for _ in range(epochs):
        start = time.perf_counter()
        _train_epoch(model, opt, lambda s: 1e-3, 0, x, None, batch, LOSS, False, bf16)
        best = min(best, time.perf_counter() - start)
    return best / -(-len(x) // batch) * 1e3


def judge_ms(batches=(50, 100, 250, 1000), repeats: int = 5) -> dict[int, float]:
    """Median milliseconds for the digit judge to score 1,000 test images, per batch size (interleaved)."""
    judge, images = vh.realism_judge("mnist-5k"), vh.load_dataset("mnist-5k").test[:1000]
    times = {b: [] for b in batches}
    for _ in range(repeats):
        for b in batches:
            start = time.perf_counter()
            judge._outputs(images, batch=b)
            times[b].append(time.perf_counter() - start)
    return {b: 1e3 * statistics.median(t) for b, t in times.items()}


def profile_rows(x: torch.Tensor, top: int = 10) -> list[list]:
    from torch.profiler import ProfilerActivity, profile
    torch.manual_seed(0)
    model = vh.VAE(20, hidden=(400,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    _train_epoch(model, opt, lambda s: 1e-3, 0, x[:1280], None, 128, LOSS, False, True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _train_epoch(model, opt, lambda s: 1e-3, 0, x[:12800], None, 128, LOSS, False, True)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [[f"`{e.key}`", f"{e.self_cpu_time_total / 100 / 1e3:.3f}", f"{e.count // 100}",
             f"{100 * e.self_cpu_time_total / total:.0f}%"] for e in events[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_common_args(parser)
    args = parser.parse_args()
    start = time.perf_counter()
    x = images(2560 if args.quick else 20000)
    rows = []
    for threads in (2, 1):
        vh.set_threads(threads)
        for name, (bf16, adam) in VARIANTS.items():
            rows.append([name, threads, f"{step_ms(x, bf16, adam, 1 if args.quick else 3):.2f}"])
            print(rows[-1], flush=True)
        rows.append(["bf16 autocast, fused Adam (fit's settings), batch 32", threads,
                     f"{step_ms(x[:len(x) // 4], True, {'fused': True}, 1 if args.quick else 3, batch=32):.2f}"])
        print(rows[-1], flush=True)
        for dtype in (torch.bfloat16, torch.float32):
            rows.append([f"the five large products alone, {str(dtype)[6:]}", threads, f"{common.products_ms(dtype):.2f}"])
            print(rows[-1], flush=True)
    judge_rows = []
    for threads in (2, 1):
        vh.set_threads(threads)
        judge_rows += [[b, threads, f"{ms:.0f}"] for b, ms in judge_ms(repeats=2 if args.quick else 5).items()]
    vh.set_threads("auto")
    body = f"""Per training step (784-400-20 VAE, batch 128; best of 3 epochs of {len(x) // 128} steps):

{common.table(["variant", "torch threads", "ms per step"], rows)}

Profile of fit's settings (bf16 autocast, fused Adam, {torch.get_num_threads()} threads), per step, top operators
by own CPU time (all threads):

{common.table(["operator", "ms per step", "calls per step", "share"], profile_rows(x))}

The realism judge (a small CNN, float32, channels-last) scoring 1,000 test digits, median of 5 interleaved runs;
it uses batches of 100 (outputs identical for every batch size):

{common.table(["judge batch size", "torch threads", "ms per 1,000 images"], judge_rows)}
"""
    common.write_section(common.out_path(args), "step_profile", common.section(
        "step_profile", "Where a training step's time goes" + (" (quick smoke run)" if args.quick else ""), body, time.perf_counter() - start))


if __name__ == "__main__":
    main()
