"""Execute notebooks (scratch copies) with nbclient so that the models they train land in the model cache.

Run by the browser tests' `model_cache` fixture in the background; errors are tolerated here (the
tests that run the notebooks through the UI report them). After a notebook has run, a marker named
after its code (`marker_name`) is left in the cache, so an unchanged notebook is not run again.
Usage: python warm_cache.py CACHE_DIR NB.ipynb ...
"""
import hashlib
import sys
import time
from pathlib import Path

import nbformat


def marker_name(path) -> str:
    """A file name that changes whenever the notebook's code changes."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    return f".vh-browser-warmed-{Path(path).stem}-{hashlib.sha256(code.encode()).hexdigest()[:12]}"


if __name__ == "__main__":
    from nbclient import NotebookClient

    cache = Path(sys.argv[1])
    for path in sys.argv[2:]:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True, record_timing=False).execute()
        (cache / marker_name(path)).touch()
        print(f"warmed by {Path(path).name}: {time.perf_counter() - start:.1f} s", flush=True)
