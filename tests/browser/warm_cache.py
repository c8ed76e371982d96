"""Execute notebooks (scratch copies) with nbclient so that their models land in $VAE_HELPERS_CACHE_DIR.

Run by the browser tests' `model_cache` fixture in the background; errors are tolerated here (the
tests that run the notebooks through the UI report them).  Usage: python warm_cache.py NB.ipynb ...
"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True, record_timing=False).execute()
    print(f"warmed by {Path(path).name}: {time.perf_counter() - start:.1f} s", flush=True)
