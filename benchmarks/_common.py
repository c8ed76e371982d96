"""Shared by the benchmark scripts: the machine, the results file, Markdown tables, the full datasets.

Each script owns one section of benchmarks/RESULTS.md (between HTML comment markers) and rewrites only
that section, so `make bench` can run the scripts one after another into the same file.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from execute_notebooks import cpu_model  # noqa: E402,F401 - the one CPU description, also in stored outputs
BENCH_DIR = ROOT / "benchmarks"
RESULTS = BENCH_DIR / "RESULTS.md"
PREAMBLE = """# Benchmark results

Measured numbers, reported and never asserted. `make bench` reruns every script below and rewrites
this file section by section; each section says when, where and with which command it was measured.
Wall-clock times on a shared machine are noisy: each section says how noisy (spread over repeats and
the machine's load while measuring). The speed probe in each section's header times a training step's five
large matrix products at the start and the end of the run: the same VM of the CI machine kind has run them
1.6-1.8x slower some hours than others with nothing else running, so compare run times across sections and
days only at similar probes.
"""


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """--quick and --out, the same in every script."""
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in seconds (tiny sizes, mnist-5k only); prints, and writes only with --out")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results file to update (default: {RESULTS.relative_to(ROOT)} for a full run, "
                             "none for --quick)")


def out_path(args: argparse.Namespace) -> Path | None:
    """Where this run writes its section: --out, else the real results file unless --quick."""
    if args.out is not None:
        return args.out
    return None if args.quick else RESULTS


def bf16_native() -> bool:
    from vae_helpers.training import bf16_is_fast
    return bf16_is_fast(torch.device("cpu"))


def machine_line() -> str:
    """One line: CPU, cores, torch version and threads, bf16 support, Python."""
    return (f"{cpu_model()}, {os.cpu_count()} logical cores ({torch.backends.cpu.get_cpu_capability()}, "
            f"native bf16: {'yes' if bf16_native() else 'no'}); torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads; Python {platform.python_version()}")


def products_ms(dtype: torch.dtype, repeats: int = 200) -> float:
    """Milliseconds for a training step's five 128x784x400 matrix products in `dtype` (torch's current threads)."""
    a, w, g = (torch.randn(*s, dtype=dtype) for s in ((128, 784), (400, 784), (128, 400)))
    ops = [lambda: a @ w.t(), lambda: g.t() @ a, lambda: g @ w, lambda: a @ w.t(), lambda: g.t() @ a]
    for op in ops * 5:
        op()
    start = time.perf_counter()
    for _ in range(repeats):
        for op in ops:
            op()
    return (time.perf_counter() - start) / repeats * 1e3


def speed_probe() -> str:
    """How fast this machine computes right now: best of 3 timings of `products_ms` in bfloat16 and float32."""
    # Why: one VM of the CI machine kind ran these products in 0.42 ms one afternoon and 0.68-0.77 ms the
    # same evening (bf16, 2 threads), with nothing else running on it; a run time means little without it.
    bf16, fp32 = (min(products_ms(dtype, 100) for _ in range(3)) for dtype in (torch.bfloat16, torch.float32))
    return f"{bf16:.2f} ms bf16, {fp32:.2f} ms float32 ({torch.get_num_threads()} threads)"


def load_now() -> str:
    """The machine's load right now: 1-minute load average and CPU pressure (share of time some task waited)."""
    parts = []
    try:
        parts.append(f"load {Path('/proc/loadavg').read_text().split()[0]}")
    except OSError:
        pass
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        parts.append(f"cpu pressure {float(re.search(r'avg10=([0-9.]+)', some).group(1)):.0f}%")
    except (OSError, AttributeError, IndexError):
        pass
    return ", ".join(parts) or "load unknown"


def load_average() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def command_line() -> str:
    """The command that produced this run, as typed from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return " ".join([".venv/bin/python", str(script), *map(shlex.quote, sys.argv[1:])])


def full_data_dir() -> Path | None:
    """A folder holding the official IDX files (mnist/, fashion-mnist/): $VAE_HELPERS_DATA_DIR, else ../shared/datasets."""
    for candidate in (os.environ.get("VAE_HELPERS_DATA_DIR"), ROOT.parent / "shared" / "datasets"):
        if candidate and (Path(candidate) / "mnist").is_dir():
            return Path(candidate)
    return None


def load_full(name: str = "mnist"):
    """The full dataset from local files only (never downloads), or None with the reason printed."""
    import vae_helpers as vh
    folder = full_data_dir()
    try:
        return vh.load_dataset(name, data_dir=folder, download=False)
    except vh.DatasetError as err:
        print(f"[skip] full {name!r} is not available on this machine, so its part is skipped "
              f"(set $VAE_HELPERS_DATA_DIR to a folder holding {name}/ to run it).\n  {str(err).splitlines()[0]}")
        return None


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (numbers already formatted by the caller)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def section(key: str, title: str, body: str, seconds: float, probe_before: str | None = None) -> str:
    """A results section: title, when/where/how (with the speed probe now, and at the start if given), then the body."""
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    probe = f"{probe_before} at the start, {speed_probe()} at the end" if probe_before else speed_probe()
    return (f"<!-- {key}:start -->\n## {title}\n\n"
            f"- command: `{command_line()}` (took {seconds / 60:.1f} min)\n"
            f"- date: {stamp}\n- machine: {machine_line()}\n"
            f"- speed probe (a training step's five large matrix products; lower is faster): {probe}\n"
            f"\n{body.strip()}\n<!-- {key}:end -->\n")


def write_section(path: Path | None, key: str, text: str) -> None:
    """Print the section and put it into the results file at `path` (replacing this key's old section)."""
    print("\n" + text)
    if path is None:
        return
    path = Path(path)
    old = path.read_text() if path.exists() else PREAMBLE
    pattern = re.compile(rf"<!-- {re.escape(key)}:start -->.*?<!-- {re.escape(key)}:end -->\n?", re.S)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
    print(f"(written to {path})")


def spread(values: list[float]) -> str:
    """'median (min-max)' of a list of numbers, for the noise line of a table."""
    import statistics
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
