"""Execute every notebook from its text source and store the outputs readers see; report each run time.

Usage: python tools/execute_notebooks.py [--reuse-cache | --cache DIR] [--dataset NAME] [notebooks/NN_name.md ...]

The reviewable source of each notebook is notebooks/NN_name.md (MyST markdown, paired by jupytext);
this command builds notebooks/NN_name.ipynb from it, runs it top to bottom and writes it with its
outputs. With no argument it runs every notebook in order. It stops at the first failing notebook
and leaves that file untouched, so a failed run never stores an error output.

The models are trained into a fresh, temporary cache shared by the notebooks of this run, so the
stored outputs show what a first-time reader sees (training, then reuse by later notebooks).
--reuse-cache uses your usual model cache instead (faster; outputs then say "Loaded ... from cache").
--cache DIR trains into DIR and stores nothing: how a teacher fills a class's shared model cache
(`make class-cache`), which learners' kernels then read through $VAE_HELPERS_SHARED_CACHE.
--dataset NAME runs copies with DATASET = NAME in their setup cell, in a temporary folder, and
stores nothing: the way to check the series on "mnist" or "fashion-mnist".
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DATASET_LINE = re.compile(r'^DATASET = "[^"]*"', re.M)
# The machine the stored outputs were computed on: bf16 kernels round differently on different processors
# (an AMD EPYC and an Intel Xeon with AMX of the same 2-core kind gave 84 printed lines beyond tolerance),
# so tests/test_stored_numbers.py compares printed numbers only on a machine of the same arithmetic.
COMPUTED_ON = NOTEBOOKS / "outputs_computed_on.txt"


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def arithmetic() -> str:
    """What decides the notebooks' last digits: CPU model, torch's kernel level, AMX tiles, torch version."""
    import torch
    try:
        amx = " amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        amx = False
    return (f"{cpu_model()}; {torch.backends.cpu.get_cpu_capability()}; AMX {'yes' if amx else 'no'}; "
            f"torch {torch.__version__}")


def sources(args: list[str]) -> list[Path]:
    """The .md sources to run: those named (as .md or .ipynb), else all notebooks/NN_*.md in order."""
    if not args:
        return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))
    return [Path(a).with_suffix(".md") for a in args]


def build(source: Path, dataset: str | None = None) -> nbformat.NotebookNode:
    """The notebook of a text source (outputs empty), its DATASET line replaced if asked."""
    nb = jupytext.read(source)
    if dataset is not None:
        setup = next(c for c in nb.cells if c.cell_type == "code" and DATASET_LINE.search(c.source))
        setup.source = DATASET_LINE.sub(f'DATASET = "{dataset}"', setup.source, count=1)
    return nb


def execute(nb: nbformat.NotebookNode, folder: Path, timeout: int = 900, keep_going: bool = False) -> float:
    """Run a notebook top to bottom with `folder` as its working directory; return seconds taken.

    `keep_going` runs every cell even after one fails (the failures are then read from the outputs).
    """
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                   store_widget_state=False,  # widget state would make nbconvert fetch widget scripts from a CDN
                   allow_errors=keep_going, resources={"metadata": {"path": str(folder)}}).execute()
    return time.perf_counter() - start


def slow_cells(nb: nbformat.NotebookNode, over: float = 10.0) -> list[str]:
    """Cells that took more than `over` seconds (the kernel's own timing); removes the timestamps (clean diffs)."""
    slow = []
    for i, cell in enumerate(nb.cells):
        timing = cell.get("metadata", {}).pop("execution", None)
        if not timing or "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
            continue
        begin, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
        if (end - begin).total_seconds() > over:
            slow.append(f"cell {i}: {(end - begin).total_seconds():.1f} s")
    return slow


def failures(nb: nbformat.NotebookNode) -> list[str]:
    """One line per cell that raised: its index and the error's last line."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
    return found


def keep_failed(nb: nbformat.NotebookNode, source: Path, dataset: str | None) -> Path:
    """Write a notebook that failed, with the outputs it reached, next to the temporary files; return its path."""
    path = Path(tempfile.gettempdir()) / f"{source.stem}.{dataset or 'default'}.failed.ipynb"
    nbformat.write(nb, path)
    return path


def unsaved(nb: nbformat.NotebookNode) -> bool:
    """True if a cell printed that a trained model could not be saved to the cache."""
    return any("Could not save the model to the cache" in str(out.get("text", ""))
               for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []))


def record_machine(paths: list[Path]) -> None:
    """Write which machine computed the stored outputs; warn if they now come from two different ones."""
    here = arithmetic()
    before = COMPUTED_ON.read_text().strip() if COMPUTED_ON.exists() else ""
    if {p.resolve() for p in paths} >= {p.resolve() for p in sources([])} or before in ("", here):
        COMPUTED_ON.write_text(here + "\n")
    else:
        print(f"  WARNING: the other notebooks' outputs were computed on {before}, these on {here}; "
              "run every notebook on one machine (make notebooks)", flush=True)


def run(paths: list[Path], dataset: str | None, store: bool = True, must_save: bool = False) -> int:
    """Execute each notebook in order, store it (default dataset only) and print the time each took."""
    total, failed_any = 0.0, False
    store = store and dataset is None
    scratch = None if store else Path(tempfile.mkdtemp(prefix="vae_helpers_run_"))
    for source in paths:
        print(f"executing {source.stem} {'on ' + dataset if dataset else ''}...", flush=True)
        nb = build(source, dataset)
        folder = source.parent
        if scratch is not None:  # the notebook's links and relative paths still resolve in its own folder
            folder = scratch
        try:
            seconds = execute(nb, folder, keep_going=dataset is not None)
        except CellExecutionError:
            print(f"  FAILED: the outputs it reached are in {keep_failed(nb, source, dataset)}", flush=True)
            raise
        slow = slow_cells(nb)
        if slow:
            print("  slow cells (> 10 s): " + ", ".join(slow), flush=True)
        failed = failures(nb)
        if failed:  # only with --dataset: every cell ran, report all failing checks at once
            print("  FAILED:\n    " + "\n    ".join(failed) + f"\n  outputs: {keep_failed(nb, source, dataset)}",
                  flush=True)
            failed_any = True
        if must_save and unsaved(nb):   # --cache: a cache missing models would make a class train them
            print("  FAILED: a model could not be saved to the cache (is it writable?)", flush=True)
            failed_any = True
        total += seconds
        if store:
            nbformat.write(nb, source.with_suffix(".ipynb"))
        print(f"  {seconds:5.1f} s", flush=True)
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    if store:
        record_machine(paths)
    print(f"{len(paths)} notebook(s) executed in {total:.1f} s{' with failing checks' if failed_any else ''}")
    return 1 if failed_any else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--reuse-cache", action="store_true", help="use the usual model cache")
    parser.add_argument("--cache", type=Path, help="train into this model cache (a class's shared one); stores nothing")
    parser.add_argument("--dataset", help='run on another dataset ("mnist", "fashion-mnist"); stores nothing')
    args = parser.parse_args(argv)
    paths = sources(args.notebooks)
    if args.cache:
        args.cache.mkdir(parents=True, exist_ok=True)
        os.environ["VAE_HELPERS_CACHE_DIR"] = str(args.cache.resolve())
        return run(paths, args.dataset, store=False, must_save=True)
    if args.reuse_cache:
        return run(paths, args.dataset)
    with tempfile.TemporaryDirectory(prefix="vae_helpers_models_") as cache:
        os.environ["VAE_HELPERS_CACHE_DIR"] = cache  # inherited by the kernels started below
        return run(paths, args.dataset)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
