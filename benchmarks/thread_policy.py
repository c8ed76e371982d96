"""Which torch thread count to use: measured alone and beside one busy competitor process, on all cores and on one.

Two workloads, each under every (load, threads) pair:
- a training run: vh.fit of notebook 02's 16-D VAE on the embedded digits (20 epochs' worth of steps), repeated;
- notebook 02 itself, first run (a fresh copy in a new, empty model cache), as a learner's kernel runs it.
Threads: "2 fixed" is torch's own default on a 2-core machine (what the series did before the policy),
"1 fixed", and "auto" (vae_helpers/threads.py). The competitor is a Python busy loop (one core), started
before and stopped (by its process id) after each run. "1 core" pins everything to CPU 0 with the affinity
mask, as `taskset -c 0` would. Reported, never asserted.

Run: .venv/bin/python benchmarks/thread_policy.py [--repeats 3] [--no-notebook] [--quick] [--out F]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
import notebook_times  # noqa: E402

THREADS = {"2 fixed (torch's default)": "2", "1 fixed": "1", "auto (the policy)": "auto"}
TRAIN = """
import sys, time, vae_helpers as vh
data = vh.load_dataset("mnist-5k")
epochs = vh.epochs_for(data, {epochs})
vh.set_seed(0)
start = time.perf_counter()
vh.fit(vh.VAE(16), data, epochs=epochs, progress=False)
print(time.perf_counter() - start)
"""


@contextmanager
def competitor(on: bool):
    """A busy Python loop on one core for the duration (stopped by its pid), or nothing."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if on else None
    try:
        time.sleep(0.5 if on else 0)
        yield
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


@contextmanager
def environment(threads: str, one_core: bool):
    """VAE_HELPERS_THREADS and the affinity mask for child processes, restored afterwards."""
    before, mask = os.environ.get("VAE_HELPERS_THREADS"), os.sched_getaffinity(0)
    os.environ["VAE_HELPERS_THREADS"] = threads
    if one_core:
        os.sched_setaffinity(0, {min(mask)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, mask)
        if before is None:
            os.environ.pop("VAE_HELPERS_THREADS")
        else:
            os.environ["VAE_HELPERS_THREADS"] = before


def train_seconds(epochs: int, timeout: float) -> float | None:
    """Seconds of one training run in a fresh process (None if it ran past `timeout`)."""
    try:
        out = subprocess.run([sys.executable, "-c", TRAIN.format(epochs=epochs)], capture_output=True, text=True,
                             timeout=timeout, check=True, cwd=common.ROOT)
    except subprocess.TimeoutExpired:
        return None
    return float(out.stdout.strip().splitlines()[-1])


def notebook_seconds(timeout: int) -> tuple[float | None, str]:
    """Notebook 02's first run in a new empty model cache: (seconds in cells or None, error)."""
    src = next(notebook_times.NOTEBOOKS.glob("02_*.ipynb"))
    with tempfile.TemporaryDirectory(prefix="vh_threads_") as tmp:
        os.environ["VAE_HELPERS_CACHE_DIR"] = str(Path(tmp) / "models")
        folder = Path(tmp) / "notebooks"   # the notebooks' folder too: relative files keep working
        shutil.copytree(notebook_times.NOTEBOOKS, folder, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
        try:
            copy, _ = notebook_times.prepare(src, folder, "mnist-5k")
            run = notebook_times.execute(copy, timeout)
        finally:
            os.environ.pop("VAE_HELPERS_CACHE_DIR", None)
    return (None if run.error else run.total), run.error


def conditions(one_core_too: bool) -> list[tuple[str, bool, bool, str]]:
    """(label, competitor on, one core, threads) for every measured pair."""
    rows = []
    for cores in ([False, True] if one_core_too else [False]):
        for busy in (False, True):
            for label, threads in THREADS.items():
                if cores and threads == "2":
                    label = "2 fixed (more threads than cores)"
                where = "1 core" if cores else f"{len(os.sched_getaffinity(0))} cores"
                rows.append((f"{where}, {'one busy competitor' if busy else 'quiet'}", busy, cores, label))
    return rows


def fmt(values: list[float | None]) -> str:
    done = [v for v in values if v is not None]
    if not done:
        return "stopped"
    text = f"{statistics.median(done):.1f}" + (f" ({min(done):.1f}-{max(done):.1f})" if len(done) > 1 else "")
    return text + (f", {len(values) - len(done)} stopped" if len(done) < len(values) else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="training runs per condition")
    parser.add_argument("--no-notebook", action="store_true", help="skip the notebook 02 runs")
    parser.add_argument("--timeout", type=int, default=240, help="seconds before a run counts as stopped")
    common.add_common_args(parser)
    args = parser.parse_args()
    start, probe = time.perf_counter(), common.speed_probe()
    epochs = 2 if args.quick else 20
    results: dict[tuple, dict] = {}
    for where, busy, one_core, label in conditions(not args.quick):
        threads = THREADS.get(label, "2")
        row = results.setdefault((where, label), {"train": [], "nb": None, "err": ""})
        with environment(threads, one_core), competitor(busy):
            for _ in range(1 if args.quick else args.repeats):
                row["train"].append(train_seconds(epochs, args.timeout))
            if not (args.quick or args.no_notebook or one_core):
                row["nb"], row["err"] = notebook_seconds(args.timeout)
        row["load"] = common.load_now()
        print(f"{where:32s} {label:34s} train {fmt(row['train'])} s, notebook 02 {row['nb']} s "
              f"({common.load_now()}) {row['err']}", flush=True)
    rows = [[where, label, fmt(r["train"]), "-" if r["nb"] is None and not r["err"] else fmt([r["nb"]]), r["load"]]
            for (where, label), r in results.items()]
    body = f"""Workloads: a training run (vh.fit, notebook 02's 16-D VAE, mnist-5k, {epochs} epochs' worth of steps
from `vh.epochs_for`, fresh process, {args.repeats} repeats: median (min-max) seconds) and notebook 02's first run
(seconds in cells, empty model cache). Competitor: one Python busy loop. "1 core": affinity mask {{0}} (as
`taskset -c 0`). Threads set with VAE_HELPERS_THREADS; "auto" is the load-aware policy of vae_helpers/threads.py.

{common.table(["machine state", "torch threads", "training run, s", "notebook 02 first run, s", "load at the end"], rows)}

Noise: the notebook column is one run per condition, in a fixed order (not interleaved); "stopped" means a cell
ran past {args.timeout} s or the notebook failed. On a quiet machine "2 fixed" and "auto" are the same setting, so
their difference shows the noise of one run.
"""
    common.write_section(common.out_path(args), "thread_policy", common.section(
        "thread_policy", "Thread policy: torch threads alone and beside a busy process"
        + (" (quick smoke run)" if args.quick else ""), body,
        time.perf_counter() - start, probe))


if __name__ == "__main__":
    main()
