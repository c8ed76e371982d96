"""What readers of the stored notebooks see on any renderer (GitHub, an untrusted notebook, an export).

Static checks of notebooks/*.ipynb (or $VH_NOTEBOOKS_DIR): every latent explorer output carries a
still picture (image/png and an <img> in its HTML) and a line saying how to make it live; no widget
view is stored without a picture to fall back on; progress bars are stored finished; each notebook
stays within 5 MB. The browser tests in tests/browser/ check the same outputs rendered.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = Path(os.environ.get("VH_NOTEBOOKS_DIR") or ROOT / "notebooks")
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MAX_BYTES = 5 * 1024 * 1024


def outputs(nb):
    """(cell index, output) for every output of every code cell."""
    return [(i, out) for i, cell in enumerate(nb.cells) if cell.cell_type == "code" for out in cell.get("outputs", [])]


def text_of(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def is_explorer(out) -> bool:
    return 'class="vh-explorer"' in text_of(out.get("data", {}).get("text/html", ""))


def test_there_are_stored_notebooks():
    assert PATHS, f"no notebook in {NOTEBOOKS}"


@pytest.fixture(params=PATHS, ids=[p.stem for p in PATHS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_explorer_outputs_carry_a_still_picture_and_how_to_make_it_live(notebook):
    path, nb = notebook
    for i, out in outputs(nb):
        if not is_explorer(out):
            continue
        data = out["data"]
        assert "image/png" in data, f"{path.name} cell {i}: explorer output without image/png"
        plain = text_of(data.get("text/plain", ""))
        assert re.search(r"\brun\b.*\bnotebook\b", plain, re.I | re.S), \
            f"{path.name} cell {i}: text/plain does not say how to make the explorer live: {plain!r}"
        html = text_of(data["text/html"])
        still = re.search(r'<div class="vh-still">(.*?)</div>', html, re.S)
        assert still and re.search(r'<img [^>]*src="data:image/png;base64,', still.group(1)), \
            f"{path.name} cell {i}: the explorer's HTML has no still picture"


def test_notebooks_that_build_an_explorer_store_one(notebook):
    """A notebook calling vh.latent_explorer stores the current explorer output (not a stale widget)."""
    path, nb = notebook
    calls = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and "latent_explorer(" in cell.source]
    if calls:
        assert any(is_explorer(out) for _, out in outputs(nb)), \
            f"{path.name} calls latent_explorer (cell {calls[0]}) but stores no explorer output: re-execute it"


def test_no_widget_view_without_a_picture(notebook):
    path, nb = notebook
    bare = [i for i, out in outputs(nb) if WIDGET_VIEW in out.get("data", {}) and "image/png" not in out["data"]]
    assert not bare, f"{path.name}: widget views without image/png in cells {bare} (readers see an error or nothing)"


def test_progress_bars_are_stored_finished(notebook):
    path, nb = notebook
    started = []
    for i, out in outputs(nb):
        texts = [text_of(out.get("text", ""))] + [text_of(v) for k, v in out.get("data", {}).items()
                                                  if k.startswith("text/")]
        if any(re.search(r"(?<![\d.])0%\|", t) for t in texts):
            started.append(i)
    assert not started, f"{path.name}: progress bars stored at 0% in cells {started}"


def test_notebook_size_within_budget(notebook):
    path, _ = notebook
    size = path.stat().st_size
    assert size <= MAX_BYTES, f"{path.name} is {size / 1e6:.1f} MB (budget 5 MB)"


def test_every_figure_has_a_text_alternative(notebook):
    """Figures are stored as <img alt="..."> HTML (vh.notebook_setup); a bare image/png has no description."""
    path, nb = notebook
    bare, images = [], 0
    for i, out in outputs(nb):
        data = out.get("data", {})
        if is_explorer(out):
            continue
        for tag in re.findall(r"<img\b[^>]*>", text_of(data.get("text/html", ""))):
            images += 1
            if not re.search(r'\balt="[^"]{10,}"', tag):
                bare.append(i)
        if "image/png" in data and "text/html" not in data and not out.get("metadata", {}).get("image/png", {}).get("alt"):
            bare.append(i)
    assert not bare, f"{path.name}: figures without a text alternative in cells {sorted(set(bare))}"
