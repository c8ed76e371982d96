"""Time every notebook and every cell: first run with an empty model cache, then again with that cache warm.

Each notebook (notebooks/[0-9][0-9]_*.ipynb) is copied into a temporary folder (the repository's files are
never modified) and executed top to bottom with nbclient (record_timing=True: the kernel's own timestamps of
each cell). All notebooks of a run share one new, empty model cache ($VAE_HELPERS_CACHE_DIR), as a first-time
reader's machine would; the second pass runs fresh copies against that now warm cache.
Reported, never asserted: per-notebook totals (first / cached), the series total, the slowest cells first, and
a flag on everything over the budgets of DESIGN.md (embedded dataset, first run: any cell <= 15 s, any notebook
<= 40 s, the series <= 150 s; full MNIST / Fashion-MNIST: any notebook's first run <= 3 min).

Run: .venv/bin/python benchmarks/notebook_times.py [--dataset mnist] [--threads 1] [--top 12] [--quick] [--out F]
     [NOTEBOOK ...]
--quick runs a two-cell stand-in notebook (seconds), not the series.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

NOTEBOOKS = common.ROOT / "notebooks"
DATASET_LINE = re.compile(r'^(\s*DATASET\s*=\s*)"mnist-5k"', re.M)
BUDGETS = {  # seconds, from DESIGN.md ("Budgets (2-core CPU)")
    "mnist-5k": {"cell": 15.0, "notebook": 40.0, "series": 150.0},
    "full": {"cell": None, "notebook": 180.0, "series": None},
}
QUICK_CELLS = [  # --quick: a two-cell notebook that trains into the model cache, then loads from it
    'import vae_helpers as vh\n\nvh.set_seed(0)\nDATASET = "mnist-5k"\ndata = vh.load_dataset(DATASET)',
    "model = vh.VAE(2)\nhistory = vh.train_or_load(model, data, epochs=1, progress=False)\nprint(history)",
]


def quick_notebook(folder: Path) -> Path:
    """Write the --quick notebook into `folder` (seconds to run; exercises both passes and the shared cache)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in QUICK_CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "99_quick_smoke.ipynb"
    nbformat.write(nb, path)
    return path


@dataclass
class NotebookRun:
    """One execution of one notebook: per-cell seconds (kernel clock), wall time, any failure."""

    name: str
    cells: dict[int, float] = field(default_factory=dict)  # cell index -> seconds
    sources: dict[int, str] = field(default_factory=dict)  # cell index -> first line of code
    wall: float = 0.0        # including kernel start-up and shutdown
    error: str = ""

    @property
    def total(self) -> float:
        """Seconds spent executing cells (kernel start-up excluded)."""
        return sum(self.cells.values())


def parse_time(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def cell_seconds(cell) -> float | None:
    """A code cell's execution time from nbclient's timing metadata (execute_input to execute_reply)."""
    timing = cell.get("metadata", {}).get("execution", {})
    start = timing.get("iopub.execute_input") or timing.get("iopub.status.busy")
    end = timing.get("shell.execute_reply") or timing.get("iopub.status.idle")
    if not (start and end):
        return None
    return (parse_time(end) - parse_time(start)).total_seconds()


def first_line(source: str) -> str:
    lines = [ln.strip() for ln in source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    text = lines[0] if lines else source.strip().splitlines()[0] if source.strip() else ""
    return (text[:60] + "...") if len(text) > 60 else text


def prepare(src: Path, folder: Path, dataset: str) -> tuple[Path, bool]:
    """Copy a notebook into `folder`; for a full dataset rewrite its `DATASET = "mnist-5k"` line. (path, rewritten)."""
    dest = folder / src.name
    shutil.copy2(src, dest)
    if dataset == "mnist-5k":
        return dest, True
    nb = nbformat.read(dest, as_version=4)
    rewritten = False
    for cell in nb.cells:
        if cell.cell_type == "code" and DATASET_LINE.search(cell.source):
            cell.source = DATASET_LINE.sub(rf'\g<1>"{dataset}"', cell.source, count=1)
            rewritten = True
            break  # the one setup cell
    nbformat.write(nb, dest)
    return dest, rewritten


def execute(path: Path, timeout: int) -> NotebookRun:
    """Execute one notebook copy in its own folder; collect per-cell times even if a cell fails."""
    nb = nbformat.read(path, as_version=4)
    run = NotebookRun(path.stem)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        last = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip().splitlines()[-1]  # no terminal colours
        run.error = f"{type(err).__name__}: {last[:200]}"
    run.wall = time.perf_counter() - start
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            seconds = cell_seconds(cell)
            if seconds is not None:
                run.cells[index] = seconds
                run.sources[index] = first_line(cell.source)
    return run


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def run_series(paths: list[Path], dataset: str, timeout: int, threads: int | None = None
               ) -> tuple[list[NotebookRun], list[NotebookRun], dict]:
    """Both passes over fresh copies, sharing one new model cache; returns (first, cached, rewritten-by-name)."""
    env_before = {k: os.environ.get(k) for k in ("VAE_HELPERS_CACHE_DIR", "VAE_HELPERS_DATA_DIR", *THREAD_VARS)}
    passes: list[list[NotebookRun]] = [[], []]
    rewritten = {}
    with tempfile.TemporaryDirectory(prefix="vh_nbtimes_") as tmp:
        cache = Path(tmp) / "models"
        cache.mkdir()
        os.environ["VAE_HELPERS_CACHE_DIR"] = str(cache)  # inherited by every kernel started below
        if dataset != "mnist-5k" and common.full_data_dir():
            os.environ["VAE_HELPERS_DATA_DIR"] = str(common.full_data_dir())
        for var in THREAD_VARS if threads else ():
            os.environ[var] = str(threads)  # torch in each kernel starts with this many intra-op threads
        try:
            for p, label in enumerate(("first run, empty model cache", "second run, warm model cache")):
                folder = Path(tmp) / f"pass{p + 1}"
                shutil.copytree(NOTEBOOKS, folder, ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
                for src in paths:  # the notebooks' folder is copied too: relative files keep working
                    copy, rewritten[src.stem] = prepare(src, folder, dataset)
                    print(f"[{label}] {src.name} ...", end=" ", flush=True)
                    run = execute(copy, timeout)
                    passes[p].append(run)
                    print(f"{run.total:6.1f} s in cells, {run.wall:6.1f} s wall ({common.load_now()})"
                          + (f"  FAILED: {run.error}" if run.error else ""), flush=True)
        finally:
            for k, v in env_before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return passes[0], passes[1], rewritten


def report(first: list[NotebookRun], cached: list[NotebookRun], dataset: str, rewritten: dict, top: int,
           loads: list[float], threads: int | None = None) -> str:
    budget = BUDGETS["mnist-5k" if dataset == "mnist-5k" else "full"]
    flags = []

    def over(value: float, limit: float | None) -> str:
        return " **over**" if limit is not None and value > limit else ""

    rows = []
    for a, b in zip(first, cached):
        slowest = max(a.cells.items(), key=lambda kv: kv[1], default=(None, 0.0))
        rows.append([a.name + ("" if rewritten.get(a.name, True) else " (no DATASET line: its own data)"),
                     len(a.cells), f"{a.total:.1f}{over(a.total, budget['notebook'])}", f"{a.wall:.1f}",
                     f"{slowest[1]:.1f} (cell {slowest[0]})", f"{b.total:.1f}", f"{b.wall:.1f}",
                     a.error or b.error or "ok"])
        if budget["notebook"] is not None and a.total > budget["notebook"]:
            flags.append(f"{a.name}: first run {a.total:.1f} s > {budget['notebook']:.0f} s per notebook")
        if a.error or b.error:
            flags.append(f"{a.name}: FAILED ({a.error or b.error})")
    series_first, series_cached = sum(r.total for r in first), sum(r.total for r in cached)
    rows.append(["**series**", sum(len(r.cells) for r in first),
                 f"**{series_first:.1f}**{over(series_first, budget['series'])}", f"{sum(r.wall for r in first):.1f}",
                 "", f"**{series_cached:.1f}**", f"{sum(r.wall for r in cached):.1f}", ""])
    if budget["series"] is not None and series_first > budget["series"]:
        flags.append(f"series: first run {series_first:.1f} s > {budget['series']:.0f} s")
    per_notebook = common.table(
        ["notebook", "code cells", "first run: s in cells", "first run: s wall", "slowest cell, s",
         "cached: s in cells", "cached: s wall", "status"], rows)

    cached_by = {r.name: r for r in cached}
    cells = sorted(((s, r.name, i) for r in first for i, s in r.cells.items()), reverse=True)
    slow_rows = []
    for s, name, i in cells[:top]:
        again = cached_by[name].cells.get(i)
        slow_rows.append([name, i, f"`{first_line_of(first, name, i)}`", f"{s:.1f}{over(s, budget['cell'])}",
                          f"{again:.1f}" if again is not None else "-"])
    if budget["cell"] is not None:
        flags += [f"{name} cell {i}: {s:.1f} s > {budget['cell']:.0f} s per cell"
                  for s, name, i in cells if s > budget["cell"]]
    slow = common.table(["notebook", "cell", "starts with", "first run, s", "cached, s"], slow_rows)

    limits = ("any cell <= 15 s, any notebook <= 40 s, series <= 150 s" if dataset == "mnist-5k"
              else "any notebook's first run <= 180 s")
    flag_text = "\n".join(f"- {f}" for f in flags) if flags else "- none: every budget is met"
    return f"""
Dataset: `{dataset}`{'' if dataset == 'mnist-5k' else ' (the DATASET line of each setup cell rewritten)'}; kernels with
{f'{threads} torch thread(s) (OMP_NUM_THREADS={threads})' if threads else "torch's default threads"}.
Seconds are the kernel's own cell execution times (nbclient record_timing: execute_input to execute_reply),
summed per notebook; "wall" adds kernel start-up and shutdown. Budgets (DESIGN.md, first run): {limits}.
The budgets are meant under nbval; nbclient runs the same cells the same way.

{per_notebook}

Slowest cells of the first run:

{slow}

Over budget (reported, not asserted):

{flag_text}

Noise: a single run per pass; the 1-minute load average during the run was {min(loads):.1f}-{max(loads):.1f} on
{os.cpu_count()} cores, the kernels' own threads included; a re-run may differ by tens of percent, and by more
on another hour or VM of the same kind (compare the speed probes in the header).
"""


def first_line_of(runs: list[NotebookRun], name: str, index: int) -> str:
    return next(r.sources[index] for r in runs if r.name == name).replace("|", "\\|").replace("`", "'")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to time (default: notebooks/NN_*.ipynb)")
    parser.add_argument("--dataset", default="mnist-5k", choices=("mnist-5k", "mnist", "fashion-mnist"),
                        help="run on a full dataset by rewriting each copy's DATASET line (budget: 3 min/notebook)")
    parser.add_argument("--top", type=int, default=12, help="how many of the slowest cells to list")
    parser.add_argument("--timeout", type=int, default=600, help="seconds before a cell counts as hung")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads in every kernel (sets OMP_NUM_THREADS); default: torch's own choice")
    common.add_common_args(parser)
    args = parser.parse_args()
    started, probe = time.perf_counter(), common.speed_probe()
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    quick_dir = tempfile.TemporaryDirectory(prefix="vh_nbquick_") if args.quick else None
    if quick_dir is not None:
        args.dataset, paths = "mnist-5k", [quick_notebook(Path(quick_dir.name))]
    if not paths:
        sys.exit(f"No notebooks found in {NOTEBOOKS}.")
    if args.dataset != "mnist-5k" and common.load_full(args.dataset) is None:
        print(f"notebook_times --dataset {args.dataset} needs the full dataset's files; nothing measured.")
        return
    print(f"{common.machine_line()}\n{len(paths)} notebook(s), dataset {args.dataset}", flush=True)
    loads = [common.load_average() or 0.0]
    first, cached, rewritten = run_series(paths, args.dataset, args.timeout, args.threads)
    if quick_dir is not None:
        quick_dir.cleanup()
    loads.append(common.load_average() or 0.0)
    body = report(first, cached, args.dataset, rewritten, args.top, loads, args.threads)
    key = "notebook_times" + ("" if args.dataset == "mnist-5k" else f"_{args.dataset}") + \
        (f"_{args.threads}thread" if args.threads else "")
    title = (f"Notebook run times ({args.dataset}{f', {args.threads} torch thread(s)' if args.threads else ''}"
             f"{', quick smoke run' if args.quick else ''})")
    common.write_section(common.out_path(args), key, common.section(key, title, body, time.perf_counter() - started,
                                                                        probe))
    if any(r.error for r in first + cached):
        sys.exit(1)


if __name__ == "__main__":
    main()
