"""Where this machine keeps the official datasets, for tests that use them when present."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shared_datasets() -> Path | None:
    """Folder holding the official MNIST / Fashion-MNIST files, if this machine has one."""
    for candidate in (os.environ.get("VAE_HELPERS_DATA_DIR"), ROOT.parent / "shared" / "datasets"):
        if candidate and (Path(candidate) / "mnist").is_dir():
            return Path(candidate)
    return None
