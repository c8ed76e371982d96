"""A kernel that started on a quiet machine, then a class arrives: does it keep spinning threads?

Notebook 02 runs from a warm shared model cache (the teacher's, filled first: no training, only evaluation,
sampling and judging). Kernel A starts alone; `--delay` seconds later `--others` more kernels start (the
class arriving). Each kernel's wall time is reported, for two settings of kernel A:
- "auto": the thread policy, applied by vh.notebook_setup() in the setup cell and again before every cell;
- "2 fixed": what kernel A did before the policy was re-applied per cell (its setup cell saw a quiet machine
  and kept 2 threads, and no `fit` ran to revisit that choice, since every model loads from the cache).
The other kernels always run "auto". Reported, never asserted.

Run: .venv/bin/python benchmarks/class_arrives.py [--others 3] [--delay 6] [--repeats 2] [--out F]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
import notebook_times  # noqa: E402

NOTEBOOK = next((common.ROOT / "notebooks").glob("02_*.ipynb"))
TOOLS = common.ROOT / "tools"


def run_kernel(notebook: Path, shared: Path, threads: str, times: list, index: int) -> None:
    """Execute `notebook` in a fresh process with its own empty cache above `shared`; wall seconds into times.

    A failed run leaves its error's last lines in times[index] (a thread cannot raise to its caller).
    """
    with tempfile.TemporaryDirectory(prefix="vh_class_") as tmp:
        env = dict(os.environ, VAE_HELPERS_SHARED_CACHE=str(shared), VAE_HELPERS_CACHE_DIR=str(Path(tmp) / "own"),
                   VAE_HELPERS_THREADS=threads)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                               str(notebook), "--output-dir", tmp, "--ExecutePreprocessor.timeout=900"],
                              env=env, capture_output=True, text=True, cwd=NOTEBOOK.parent)
        times[index] = time.perf_counter() - start if proc.returncode == 0 else proc.stderr[-1500:]


def arrival(notebook: Path, shared: Path, first: str, others: int, delay: float) -> list[float]:
    """Kernel A (threads `first`), then `others` kernels after `delay` s; every kernel's wall seconds, A first."""
    times = [0.0] * (1 + others)
    workers = [threading.Thread(target=run_kernel, args=(notebook, shared, first, times, 0))]
    workers[0].start()
    time.sleep(delay)
    workers += [threading.Thread(target=run_kernel, args=(notebook, shared, "auto", times, i)) for i in range(1, others + 1)]
    for w in workers[1:]:
        w.start()
    for w in workers:
        w.join()
    failed = [f"kernel {i}: {t}" for i, t in enumerate(times) if not isinstance(t, float) or t <= 0]
    if failed:
        raise RuntimeError("a kernel's notebook run failed:\n" + "\n".join(failed))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--others", type=int, default=3, help="kernels that arrive after kernel A")
    parser.add_argument("--delay", type=float, default=6.0, help="seconds between kernel A's start and theirs")
    parser.add_argument("--repeats", type=int, default=2, help="rounds; the two settings alternate within each")
    common.add_common_args(parser)
    args = parser.parse_args()
    start, probe = time.perf_counter(), common.speed_probe()
    results: dict[str, list[list[float]]] = {"auto": [], "2": []}
    with tempfile.TemporaryDirectory(prefix="vh_teacher_") as teacher:
        shared, notebook = Path(teacher) / "shared", NOTEBOOK
        if args.quick:   # a two-cell stand-in notebook, one late kernel, no teacher: checks the machinery only
            notebook, args.others, args.delay = notebook_times.quick_notebook(Path(teacher)), 1, 1.0
            shared.mkdir()
        else:
            subprocess.run([sys.executable, str(TOOLS / "execute_notebooks.py"), "--cache", str(shared),
                            str(NOTEBOOK.with_suffix(".md"))], check=True, capture_output=True, cwd=common.ROOT)
        for _ in range(1 if args.quick else args.repeats):
            for first in ("2", "auto"):
                results[first].append(arrival(notebook, shared, first, args.others, args.delay))
                print(f"kernel A {first:4s}: " + ", ".join(f"{t:.1f}" for t in results[first][-1]) + " s", flush=True)
    rows = []
    for first, label in (("2", "2 fixed (the setup cell's quiet-machine choice, kept)"),
                         ("auto", "auto (re-applied before every cell)")):
        a = [r[0] for r in results[first]]
        rest = [t for r in results[first] for t in r[1:]]
        rows.append([label, ", ".join(f"{t:.1f}" for t in a), f"{statistics.median(rest):.1f} ({min(rest):.1f}-"
                     f"{max(rest):.1f})", f"{statistics.median(max(r) for r in results[first]):.1f}"])
    body = f"""{notebook.stem} from a warm shared model cache (every model loads; the work is evaluation, sampling and
judging). Kernel A starts on a quiet machine; {args.others} more kernels (thread policy "auto") start {args.delay:g} s
later. Wall seconds per kernel (nbconvert, kernel start-up included), {len(results['auto'])} round(s), the two
settings of kernel A alternating.

{common.table(["kernel A's threads", "kernel A, s (each round)", "the others, s: median (range)",
               "last kernel done, s (median)"], rows)}

Noise: few rounds on a machine whose speed drifts by about 20%; the difference to read is kernel A's.
"""
    common.write_section(common.out_path(args), "class_arrives", common.section(
        "class_arrives", "A class arrives: a kernel started on a quiet machine, then others beside it"
        + (" (quick smoke run)" if args.quick else ""), body, time.perf_counter() - start, probe))


if __name__ == "__main__":
    main()
