"""Shared fixtures; also configures the environment the notebooks run in under nbval."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # figures without a display, in tests and kernels

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def mnist5k():
    import vae_helpers as vh
    return vh.load_dataset("mnist-5k")


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """A private data cache and no $VAE_HELPERS_DATA_DIR: nothing is found unless a test puts it there."""
    import vae_helpers.data as data
    cache = tmp_path / "cache"
    monkeypatch.setattr(data, "cache_dir", lambda: cache)
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    return cache


def pytest_collection_finish(session):
    """The full run (`pytest` with no arguments) must collect unit tests and notebooks, never nothing."""
    if session.config.invocation_params.args:  # a partial run chosen by hand
        return
    kinds = {Path(str(item.path)).suffix for item in session.items}
    if not {".py", ".ipynb"} <= kinds:
        raise pytest.UsageError(f"The full test run must collect unit tests and notebooks; "
                                f"it found only {sorted(kinds) or 'nothing'}.")
