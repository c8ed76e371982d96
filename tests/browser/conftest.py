"""Fixtures for the browser tests (marker `browser`): chromium, small trained models, Jupyter servers.

Without chromium or Playwright these tests are skipped with a note on how to enable them; with
VH_REQUIRE_BROWSER=1 (CI) a missing browser is a failure. Screenshots go to tests/browser/artifacts/.

Environment:
  VH_REQUIRE_BROWSER=1   fail instead of skip when the browser is missing
  VH_CHROMIUM            chromium binary (default /usr/bin/chromium)
  VH_NOTEBOOKS_DIR       the stored notebooks to test (default notebooks/; e.g. a freshly executed copy)
  VAE_HELPERS_CACHE_DIR  model cache for the Jupyter servers' kernels (default: the per-user cache, as
                         in the notebooks; warmed by running each notebook once, in the background)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vhbrowser as vb

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def _browser_available():
    """Skip (or, with VH_REQUIRE_BROWSER=1, fail) when chromium or Playwright is missing."""
    missing = vb.browser_missing()
    if missing:
        if os.environ.get("VH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"VH_REQUIRE_BROWSER=1 but {missing}: {vb.HOW_TO_ENABLE}", pytrace=False)
        pytest.skip(f"{missing}: {vb.HOW_TO_ENABLE}")


# Run order: the Jupyter sync tests start the servers (and the model cache's warming in the background),
# the nbconvert tests run meanwhile, then the stored notebooks are run through JupyterLab, and the
# standalone page (with its latency measurements) comes last, on a quieter machine.
ORDER = ["test_browser_jupyter.py::test_lab_explorer", "test_browser_jupyter.py::test_notebook7",
         "test_browser_nbconvert.py", "test_browser_jupyter.py::test_lab_stored_notebook", "test_browser_standalone.py"]


def pytest_collection_modifyitems(session, config, items):
    """Put the browser tests in ORDER (other tests keep their places)."""
    def rank(item):
        return next((k for k, key in enumerate(ORDER) if key in item.nodeid), len(ORDER))
    slots = [k for k, item in enumerate(items) if HERE in Path(str(item.path)).parents]
    for k, item in zip(slots, sorted((items[k] for k in slots), key=rank)):
        items[k] = item


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can take a screenshot of a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def browser(_browser_available):
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=vb.CHROMIUM, headless=True, args=vb.CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def pages(browser, request):
    """Open watched pages: `pages(allowed=..., width=..., height=...)`; closed after the test, with a
    screenshot of each when the test failed."""
    opened = []

    def open_page(**kwargs) -> vb.Watched:
        watched = vb.new_page(browser, **kwargs)
        opened.append(watched)
        return watched

    yield open_page
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for k, watched in enumerate(opened):
        if failed:
            print(f"page {k} at {watched.page.url}: console errors {watched.errors[-20:]}")
            try:
                vb.screenshot(watched.page, f"{request.node.name}-failed-{k}")
            except Exception as error:  # the page may be gone; the failure itself matters more
                print(f"no failure screenshot: {error}")
        watched.page.context.close()


# ---- models and data ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def data():
    import vae_helpers as vh
    return vh.load_dataset()


@pytest.fixture(scope="session")
def models(data):
    """A default-size Autoencoder(2) and VAE(2) trained for 4 epochs (~3 s; then loaded from the model cache)."""
    import torch

    import vae_helpers as vh
    trained, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy 2-core machine, 2 threads spin against other processes: 10-50x slower
    try:
        for cls in (vh.Autoencoder, vh.VAE):
            model = cls(2)
            vh.train_or_load(model, data, epochs=4, seed=0, progress=False)
            trained.append(model.eval())
    finally:
        torch.set_num_threads(threads)
    return tuple(trained)


# ---- stored notebooks and Jupyter servers ---------------------------------------------------------

class CacheWarmer:
    """Executes the stored explorer notebooks once with nbclient (scratch copies, in the background, niced)
    so that the models they train are in the servers' cache when a test runs them through the UI."""

    def __init__(self, cache: Path, workdir: Path, notebooks: list[Path]):
        self.cache, self.workdir, self.notebooks = cache, workdir, notebooks
        self.proc, self.log_path = None, workdir / "warm.log"

    def start(self) -> None:
        if self.proc is not None or not self.notebooks:
            return
        copies = []
        for path in self.notebooks:
            shutil.copy(path, self.workdir / path.name)
            copies.append(str(self.workdir / path.name))
        nice = ["nice", "-n", "10"] if shutil.which("nice") else []
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([*nice, sys.executable, str(HERE / "warm_cache.py"), str(self.cache), *copies],
                                     cwd=self.workdir,
                                     env={**os.environ, "VAE_HELPERS_CACHE_DIR": str(self.cache), "MPLBACKEND": "Agg",
                                          "OMP_NUM_THREADS": "1"},  # one thread: it runs beside the browser tests
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def done(self, name: str) -> str | None:
        """The warmer's line for notebook `name` once it has run, else None."""
        lines = self.log_path.read_text().splitlines() if self.log_path.exists() else []
        return next((line for line in lines if line.startswith(f"warmed by {name}:")), None)

    def wait(self, name: str, timeout: float = 300) -> None:
        """Wait until notebook `name` has been run once (or the warmer has stopped)."""
        if self.proc is None or name not in [p.name for p in self.notebooks]:
            return
        started = time.monotonic()
        while self.proc.poll() is None and not self.done(name) and time.monotonic() - started < timeout:
            time.sleep(0.5)
        print(f"waited {time.monotonic() - started:.1f} s for the model cache: {self.done(name) or 'not warmed'}")

    def stop(self) -> None:
        if self.proc is not None:
            vb.stop_process_tree(self.proc)
            self.log.close()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """The servers' model cache: the notebooks' own ($VAE_HELPERS_CACHE_DIR, else the per-user cache),
    warmed in the background by running each stored explorer notebook once (again when its code changes)."""
    from vae_helpers.checkpoints import model_cache_dir
    cache = model_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    from warm_cache import marker_name
    cold = [path for path in vb.explorer_notebooks() if not (cache / marker_name(path)).exists()]
    warmer = CacheWarmer(cache, tmp_path_factory.mktemp("warm"), cold)
    print(f"model cache {cache}: " + (f"warming it for {', '.join(p.name for p in cold)} in the background"
                                      if cold else "already warmed for these notebooks"))
    warmer.start()
    yield warmer
    warmer.stop()


@pytest.fixture(scope="session")
def fixture_notebook_files(models, tmp_path_factory):
    """A small notebook (tiny models loaded from a file, an explorer, a print of explorer.z) and its weights."""
    import nbformat
    import torch
    from nbformat.v4 import new_code_cell, new_notebook
    folder = tmp_path_factory.mktemp("fixture_notebook")
    ae, vae = models
    torch.save({"ae": ae.state_dict(), "vae": vae.state_dict()}, folder / "vh_fixture_models.pt")
    cells = [
        "import json, torch\nimport vae_helpers as vh\ndata = vh.load_dataset()\n"
        "weights = torch.load('vh_fixture_models.pt')\nae, vae = vh.Autoencoder(2), vh.VAE(2)\n"
        "ae.load_state_dict(weights['ae']); vae.load_state_dict(weights['vae']);",
        "explorer = vh.latent_explorer(ae, vae, names=['AE', 'VAE'], data=data, draw=True)\nexplorer",
        "print('PYTHON_Z', json.dumps({'z': explorer.z.tolist(), 'model_z': [z.tolist() for z in explorer.model_z],\n"
        "      'drawing': None if explorer.drawing is None else float(explorer.drawing.sum())}))",
        "explorer.set_z([0.55, -1.25])",
        "explorer.encode(3)\nprint('CODES', json.dumps([vh.embed(m, data.test[3:4])[0].tolist() for m in (ae, vae)]))",
    ]
    nb = new_notebook(cells=[new_code_cell(c) for c in cells],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, folder / "vh_fixture.ipynb")
    return folder


def _server(kind, tmp_path_factory, model_cache, fixture_notebook_files, request):
    root = tmp_path_factory.mktemp(f"{kind}_root")
    for path in vb.notebooks_dir().glob("*.ipynb"):  # copies: saving in the UI never touches the repo
        shutil.copy(path, root / path.name)
    for path in fixture_notebook_files.iterdir():
        shutil.copy(path, root / path.name)
    server = vb.JupyterServer(kind, root, tmp_path_factory.mktemp(f"{kind}_home"),
                              extra_env={"VAE_HELPERS_CACHE_DIR": str(model_cache.cache)})
    request.addfinalizer(server.stop)  # registered first: stopped on any failure below too
    server.start()
    return server


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, model_cache, fixture_notebook_files, request):
    """`jupyter lab` on 127.0.0.1 (free port, token, private config/settings/workspaces/runtime/data dirs)."""
    return _server("lab", tmp_path_factory, model_cache, fixture_notebook_files, request)


@pytest.fixture(scope="session")
def notebook_server(tmp_path_factory, model_cache, fixture_notebook_files, request):
    """`jupyter notebook` (Notebook 7), set up like lab_server."""
    return _server("notebook", tmp_path_factory, model_cache, fixture_notebook_files, request)


@pytest.fixture
def lab(lab_server):
    yield lab_server
    lab_server.shutdown_kernels()


@pytest.fixture
def notebook7(notebook_server):
    yield notebook_server
    notebook_server.shutdown_kernels()
