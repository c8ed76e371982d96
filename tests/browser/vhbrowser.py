"""Helpers for the browser tests: headless chromium, offline pages, Jupyter servers, screenshots.

Used by conftest.py (fixtures) and the test modules. Nothing here fetches from the network: pages
are opened from file:// (every other request is blocked) or from a Jupyter server on 127.0.0.1.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("VH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
HOW_TO_ENABLE = ("the browser tests need Debian's chromium at /usr/bin/chromium (or $VH_CHROMIUM) and Playwright's "
                 "Python package: `apt-get install chromium` and `pip install playwright` (no browser download "
                 "needed); with VH_REQUIRE_BROWSER=1 a missing browser fails instead of skipping")
WIDGET_ERROR = "Error displaying widget"
MINUS = "\u2212"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when chromium and Playwright are both available."""
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"no chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("no playwright package")
    return "; ".join(missing) or None


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save a PNG of the page under tests/browser/artifacts/ and print its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") + ".png")
    page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")
    return path


# ---- what a page shows ------------------------------------------------------------------------

# Text of the page that a reader sees as output, not the notebook's own source or prose (which may
# well mention the phrase "Error displaying widget" when it explains why widgets are avoided).
_VISIBLE_TEXT_JS = """() => {
  const skip = '.jp-InputArea, .jp-MarkdownCell, .jp-RenderedMarkdown, .cm-editor, .CodeMirror, script, style';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (p && !p.closest(skip)) out.push(n.textContent);
  }
  return out.join(' ');
}"""


def assert_no_widget_error(page) -> None:
    """No "Error displaying widget" anywhere in the page's outputs, frames included."""
    for frame in page.frames:
        try:
            text = frame.evaluate(_VISIBLE_TEXT_JS)
        except Exception:  # a frame that went away
            continue
        assert WIDGET_ERROR not in text, f"{WIDGET_ERROR!r} shown on {frame.url}: ...{text[text.find(WIDGET_ERROR) - 200:][:400]}"


class Watched:
    """A page with its console errors, uncaught exceptions and blocked requests recorded."""

    def __init__(self, page, allowed: tuple[str, ...]):
        self.page, self.errors, self.blocked = page, [], []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

        def route(r):
            if r.request.url.startswith(allowed):
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()
        if allowed:
            page.route("**/*", route)

    def explorer_errors(self) -> list[str]:
        """Console errors that come from the explorer (the JupyterLab UI logs its own, unrelated ones)."""
        return [e for e in self.errors if re.search(r"explorer|vae_helpers|vhExplorer|anywidget|widget", e, re.I)]


def new_page(browser, *, allowed=("file:", "data:", "blob:"), width=1000, height=1100, javascript=True) -> Watched:
    """A fresh context and page that only loads URLs starting with `allowed` (everything else aborted);
    allowed=() routes nothing (a Jupyter page: hundreds of requests to 127.0.0.1, and no network here).
    javascript=False: a renderer that strips scripts (GitHub and the like)."""
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1,
                                  java_script_enabled=javascript)
    return Watched(context.new_page(), tuple(allowed))


# ---- the explorer inside a page ------------------------------------------------------------------

def standalone_html(explorer, path: Path, title: str = "latent explorer") -> Path:
    """Write the explorer's text/html output into a page of its own, as a static site would."""
    data, _ = explorer._repr_mimebundle_()
    path.write_text("<!doctype html><html><head><meta charset='utf-8'><title>" + title + "</title></head>"
                    "<body style='margin:8px'>" + data["text/html"] + "</body></html>", encoding="utf-8")
    return path


def payload_of(html: str) -> dict:
    """The JSON payload an explorer's text/html carries (weights, limits, maps, ...)."""
    text = re.search(r'class="vh-payload">(.*?)</script>', html, re.S).group(1)
    return json.loads(text.replace("<\\/", "</"))


FIRST = "window.vhExplorers[0]"  # JS for the API of the page's first explorer (see explorer.js)


def decoded_pixels(page, api: str = FIRST) -> np.ndarray:
    """Each model's decoded canvas as read back with getImageData: (models, 784) in 0..255."""
    return np.array(page.evaluate(f"""() => Array.from(({api}).root.querySelectorAll('canvas.vh-decoded'))
        .map(c => Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0))"""),
        dtype=np.int32)


def canvas_pixels(page, selector: str, api: str = FIRST) -> np.ndarray:
    """A 28 x 28 canvas of the explorer (red channel) as 784 values in 0..255."""
    return np.array(page.evaluate(f"""(sel) => {{ const c = ({api}).root.querySelector(sel);
        return Array.from(c.getContext('2d').getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0); }}""",
                                  selector), dtype=np.int32)


def state(page, api: str = FIRST) -> dict:
    """The explorer's state: {z, perModel, label, shown, note}."""
    return page.evaluate(f"() => JSON.parse(JSON.stringify(({api}).state))")


def slider_value(page, d: int, api: str = FIRST) -> float:
    return page.evaluate(f"(d) => +({api}).root.querySelectorAll('input[type=range]')[d].value", d)


def to_bytes(p: np.ndarray) -> np.ndarray:
    """Pixel probabilities as the explorer paints them (0..255)."""
    return np.rint(255 * np.clip(p, 0, 1)).astype(np.int32)


def marker_position(limits, z) -> tuple[float, float]:
    """Where a 2-D map (250 px, margins l44 r8 t22 b36) puts its cross for z, clamped to the plot area."""
    (xa, xb), (ya, yb) = limits
    x = 44 + (z[0] - xa) / (xb - xa) * 198
    y = 22 + (1 - (z[1] - ya) / (yb - ya)) * 192
    return min(max(x, 44), 242), min(max(y, 22), 214)


def assert_close(got, want, atol: float, note: str = "") -> None:
    """Nested lists of numbers equal within atol (pytest.approx takes flat ones only)."""
    assert got is not None, f"{note}: got None, want {want}"
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape and np.abs(got - want).max() <= atol, f"{note}: got {got.tolist()}, want {want.tolist()}"


def expected_pixels(payload, zs, label: int = 0) -> np.ndarray:
    """What each model's canvas must show for its z (the payload's quantised decoder in NumPy), 0..255.
    A conditional decoder also gets the class as a one-hot vector after z."""
    from vae_helpers.payload import decode_numpy
    images = []
    for m, z in zip(payload["models"], zs):
        x = np.zeros((1, m["decoder"][0]["in"]), dtype=np.float32)
        x[0, :len(z)] = z
        if x.shape[1] > len(z):
            x[0, len(z) + label] = 1
        images.append(to_bytes(decode_numpy(m["decoder"], x, m["layout"]["output"])[0]))
    return np.stack(images)


def shown_models(page, api: str = FIRST) -> list[bool]:
    """Which models' columns are on screen (show_one=True shows one model at a time)."""
    return page.evaluate(f"""() => Array.from(({api}).root.querySelectorAll('.vh-model'))
        .map(c => getComputedStyle(c).display !== 'none')""")


def check_canvases(page, payload, zs, note: str, api: str = FIRST) -> np.ndarray:
    """Each shown model's decoded canvas equals the decode of its z within 2/255; returns the pixels read."""
    got = decoded_pixels(page, api)
    want = expected_pixels(payload, zs, state(page, api)["label"])
    shown = np.array(shown_models(page, api))
    assert shown.any(), f"{note}: no model shown"
    worst = np.abs(got - want)[shown].max()
    assert worst <= 2, f"{note}: canvas differs from the decode of z={np.round(zs, 3).tolist()} by {worst}/255"
    return got


def check_markers(page, payload, zs, note: str, api: str = FIRST) -> None:
    """Each 2-D map's cross sits where its z is (clamped to the plot area)."""
    for i, (spec, z) in enumerate(zip(payload["maps"], zs)):
        got = page.evaluate(f"(i) => ({api}).markerAt(i)", i)
        assert got == pytest.approx(marker_position(spec["limits"], z), abs=1e-3), f"{note}: marker {i}"


def draw_zero(page, pad) -> None:
    """A mouse stroke on a drawing pad (a locator): an oval, like a hand-drawn 0."""
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    points = [(cx + 0.25 * box["width"] * np.sin(t), cy - 0.36 * box["height"] * np.cos(t))
              for t in np.linspace(0, 2 * np.pi, 40)]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()


# ---- the stored notebooks ------------------------------------------------------------------------

def notebooks_dir() -> Path:
    return Path(os.environ.get("VH_NOTEBOOKS_DIR") or ROOT / "notebooks")


def explorer_notebooks() -> list[Path]:
    """The stored notebooks whose outputs hold a latent explorer (an HTML output with class="vh-explorer")."""
    return [path for path in sorted(notebooks_dir().glob("*.ipynb")) if stored_explorer_cells(path)]


def stored_explorer_cells(path: Path) -> list[int]:
    """Indices of the cells of a stored notebook whose outputs hold a latent explorer."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    return [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and any(
        'class="vh-explorer"' in str(output.get("data", {}).get("text/html", "")) for output in cell.get("outputs", []))]


def explorer_notebook_params():
    """pytest params over explorer_notebooks(), or one skipped param saying why there are none."""
    found = explorer_notebooks()
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"no notebook in {notebooks_dir()} stores an explorer output (class=\"vh-explorer\"); "
                   "execute the notebooks (make notebooks) first"))]
    return [pytest.param(path, id=path.stem) for path in found]


class Stopwatch:
    """Named laps, printed as one line: where a long test spends its time."""

    def __init__(self, name: str):
        self.name, self.laps, self.last = name, [], time.perf_counter()

    def lap(self, what: str) -> None:
        now = time.perf_counter()
        self.laps.append(f"{what} {now - self.last:.1f} s")
        self.last = now

    def __str__(self) -> str:
        return f"{self.name}: " + ", ".join(self.laps)


# ---- processes -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    """Process ids started by `pid`, recursively (its kernels run in sessions of their own)."""
    try:
        import psutil
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except Exception:
        return []


def stop_process_tree(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a process started with start_new_session=True: its group, then any descendant left over."""
    children = descendants(proc.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
        break
    for pid in children:  # kernels started by a Jupyter server: stopped by id, only if still there
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class JupyterServer:
    """`jupyter lab` or `jupyter notebook` on 127.0.0.1 with a token and private config/runtime dirs."""

    def __init__(self, kind: str, root_dir: Path, home: Path, extra_env: dict | None = None):
        self.kind, self.root_dir, self.home = kind, Path(root_dir), Path(home)
        self.port, self.token = free_port(), os.urandom(12).hex()
        self.base = f"http://127.0.0.1:{self.port}"
        dirs = {name: self.home / name.lower() for name in
                ("JUPYTER_CONFIG_DIR", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_RUNTIME_DIR",
                 "JUPYTER_DATA_DIR")}  # a private data dir: a private notebook-trust database too
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        write_settings(dirs["JUPYTERLAB_SETTINGS_DIR"])
        self.env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, "MPLBACKEND": "Agg", **(extra_env or {})}
        self.log_path = self.home / f"{kind}.log"
        self.proc = None

    def start(self, timeout: float = 90) -> "JupyterServer":
        cmd = [str(Path(sys.executable).parent / "jupyter"), self.kind, "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root_dir}", "--expose-app-in-browser"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root_dir,
                                     start_new_session=True)  # its own process group, stopped as one
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter {self.kind} exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                self.api("status")
                return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"jupyter {self.kind} did not answer within {timeout} s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_tree(self.proc)
            self.log.close()
            self.proc = None

    def api(self, path: str, method: str = "GET", body: dict | None = None):
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel this server runs (between tests: each kernel with torch holds ~0.4 GB)."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")
        for kernel in self.api("kernels"):
            self.api(f"kernels/{kernel['id']}", method="DELETE")

    def url(self, notebook: str) -> str:
        if self.kind == "lab":  # a fresh workspace per page: no tabs restored from an earlier test
            return f"{self.base}/lab/workspaces/w{os.urandom(4).hex()}/tree/{notebook}?reset&token={self.token}"
        return f"{self.base}/notebooks/{notebook}?token={self.token}"


def write_settings(settings_dir: Path) -> None:
    """User settings for the test servers: no news or update pop-ups, no autosave, every cell in the DOM."""
    settings = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"checkForUpdates": False, "fetchNews": "false", "doNotDisturbMode": True},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    }
    for name, value in settings.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


# ---- a notebook in JupyterLab or Notebook 7, driven through its menus and keys ---------------------

_READY_JS = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w && w.context && w.context.isReady && k && k.status === 'idle'); }"""

# all code cells ran (or one failed and the rest were skipped), nothing queued, the kernel idle
_DONE_JS = """() => { const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  const cells = w.content.model.cells; let all = true, failed = false;
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i); if (c.type !== 'code') continue;
    if (c.executionState === 'running') return false;
    if (!c.executionCount) all = false;
    for (let j = 0; j < c.outputs.length; j++) if (c.outputs.get(j).type === 'error') failed = true; }
  return all || failed; }"""

_CELLS_JS = """() => { const cells = window.jupyterapp.shell.currentWidget.content.model.cells, out = [];
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i);
    out.push({ type: c.type, count: c.type === 'code' ? c.executionCount : null, trusted: c.trusted,
               outputs: c.type === 'code' ? c.outputs.toJSON() : [] }); }
  return out; }"""


class NotebookPage:
    """One notebook open in `jupyter lab` or `jupyter notebook` (Notebook 7) in a watched page."""

    def __init__(self, watched: Watched, server: JupyterServer, name: str):
        self.watched, self.page, self.server, self.name = watched, watched.page, server, name

    def open(self) -> "NotebookPage":
        self.page.goto(self.server.url(self.name))
        return self.wait_ready()

    def wait_ready(self, timeout: float = 60_000, retry: bool = True) -> "NotebookPage":
        """Document loaded, kernel started and idle, outputs rendered. A page that has not come up
        within `timeout` is reloaded once (seen once in ~40 runs on a loaded machine: a blank JupyterLab)."""
        try:
            self.page.wait_for_function(_READY_JS, timeout=timeout, polling=250)
        except Exception as error:
            if not retry or "Timeout" not in str(error):
                raise
            text = self.page.evaluate("document.body ? document.body.innerText.slice(0, 300) : ''")
            print(f"{self.server.kind}: {self.name} not ready after {timeout / 1000:.0f} s (page text {text!r}; "
                  f"console errors {self.watched.errors[-5:]}); reloading once")
            self.page.reload()
            return self.wait_ready(timeout, retry=False)
        self.page.wait_for_timeout(500)
        return self

    def reload(self) -> "NotebookPage":
        self.page.reload()
        return self.wait_ready()

    def menu(self, menu: str, command: str) -> None:
        """Click a menu of the menu bar, then one of its items (by its Lumino command id)."""
        self.page.get_by_role("menuitem", name=menu, exact=True).click()
        self.page.locator(f".lm-Menu-item[data-command='{command}']").click()

    def run_all(self, timeout: float = 240_000) -> list[str]:
        """Run > Run All Cells; wait until done. Returns the errors raised by cells ("Name: value")."""
        self.menu("Run", "runmenu:run-all")
        self.page.wait_for_timeout(300)
        self.page.wait_for_function(_DONE_JS, timeout=timeout, polling=250)
        return self.errors()

    def cells(self) -> list[dict]:
        return self.page.evaluate(_CELLS_JS)

    def errors(self) -> list[str]:
        return [f"cell {i}: {o['ename']}: {o['evalue']}" for i, c in enumerate(self.cells())
                for o in c["outputs"] if o.get("output_type") == "error"]

    def cell(self, i: int):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(i)

    def run_cell(self, i: int, timeout: float = 60_000) -> str:
        """Select cell i (a click on its prompt), Ctrl+Enter, wait for it to finish; returns its output text."""
        counts = [c["count"] or 0 for c in self.cells()]
        self.cell(i).locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Control+Enter")
        self.page.wait_for_function(f"""() => {{ const w = window.jupyterapp.shell.currentWidget;
            const c = w.content.model.cells.get({i});
            return c.executionCount > {max(counts)} && w.sessionContext.session.kernel.status === 'idle'; }}""",
                                    timeout=timeout, polling=100)
        errors = [e for e in self.errors() if e.startswith(f"cell {i}:")]
        assert not errors, errors
        return "".join(o.get("text", "") for o in self.cells()[i]["outputs"])

    def save(self) -> None:
        """Ctrl+S, then wait until the document is no longer dirty."""
        self.cell(0).locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)

    def restart_kernel(self) -> None:
        """Kernel > Restart Kernel..., confirm, wait for the new kernel to be idle."""
        self.menu("Kernel", "kernelmenu:restart")
        self.page.locator(".jp-Dialog .jp-mod-accept").click()
        self.page.wait_for_timeout(1000)
        self.wait_ready()

    def explorer_cells(self) -> list[int]:
        """Indices of the cells whose outputs hold a latent explorer (in the notebook's current model)."""
        return [i for i, c in enumerate(self.cells()) if any('class="vh-explorer"' in str(o.get("data", {}).get("text/html", ""))
                                                             for o in c["outputs"])]

    def explorer_view(self, i: int) -> dict:
        """How cell i shows its explorer: live (scripts ran), still picture height, bridge to the kernel."""
        return self.cell(i).evaluate("""(cell) => {
          const root = cell.querySelector('.vh-explorer'), live = cell.querySelector('.vh-live');
          const still = cell.querySelector('.vh-still'), imgs = Array.from(cell.querySelectorAll('.jp-OutputArea-output img'));
          const shown = imgs.filter(i => i.offsetParent !== null && i.complete && i.naturalHeight > 0)
                            .map(i => i.getBoundingClientRect().height);
          const status = cell.querySelector('.vh-status');
          return { root: !!root, live: !!live, api: !!(root && root.vhExplorer),
                   stillHidden: still ? getComputedStyle(still).display === 'none' : null,
                   pictureHeight: shown.length ? Math.max(...shown) : 0,
                   bridged: status ? !status.textContent.includes('running in the page') : null }; }""")
