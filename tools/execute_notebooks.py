"""Execute every notebook in place (the outputs readers see), and report each one's run time.

Usage: python tools/execute_notebooks.py [--reuse-cache] [notebooks/NN_name.ipynb ...]
With no notebook it runs notebooks/*.ipynb in order. Stops at the first failing notebook
and leaves that file untouched, so a failed run never stores an error output.

The models are trained into a fresh, temporary cache shared by the notebooks of this run, so the
stored outputs show what a first-time reader sees (training, then reuse by later notebooks).
--reuse-cache uses your usual model cache instead (faster; outputs then say "Loaded ... from cache").
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def execute(path: Path, timeout: int = 300) -> float:
    """Run one notebook top to bottom in its own folder and save it; return seconds taken."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,  # no timestamps: clean diffs
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(args: list[str]) -> int:
    reuse = "--reuse-cache" in args
    paths = [Path(a) for a in args if a != "--reuse-cache"] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if reuse:
        return run(paths)
    with tempfile.TemporaryDirectory(prefix="vae_helpers_models_") as cache:
        os.environ["VAE_HELPERS_CACHE_DIR"] = cache  # inherited by the kernels started below
        return run(paths)


def run(paths: list[Path]) -> int:
    """Execute each notebook in order and print the time each took."""
    total = 0.0
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        seconds = execute(path)
        total += seconds
        print(f"  {seconds:5.1f} s", flush=True)
    print(f"{len(paths)} notebook(s) executed in {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
