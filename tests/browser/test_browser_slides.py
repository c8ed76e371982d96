"""The reveal.js decks (`make slides`, tools/build_slides.py) opened from file:// in chromium, offline.

The decks are built from the stored notebooks into a scratch folder (or $VH_SLIDES_DIR is reused).
Every request that is not file:// or data: is aborted and recorded. A deck passes when it opens with
no such request and no console error, and its slides are the notebook's structure: one title slide
plus one slide per "## " section.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import vhbrowser as vb

sys.path.insert(0, str(vb.ROOT / "tools"))
import build_slides  # noqa: E402

pytestmark = pytest.mark.browser


def notebook_params():
    found = sorted(vb.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))
    return [pytest.param(p, id=p.stem) for p in found] or [pytest.param(None, marks=pytest.mark.skip("no notebooks"))]


@pytest.fixture(scope="module")
def slides(tmp_path_factory) -> Path:
    if os.environ.get("VH_SLIDES_DIR"):
        return Path(os.environ["VH_SLIDES_DIR"])
    out = tmp_path_factory.mktemp("slides") / "slides"
    done = subprocess.run([sys.executable, str(vb.ROOT / "tools" / "build_slides.py"), "--out", str(out),
                           "--notebooks", str(vb.notebooks_dir())], capture_output=True, text=True, timeout=600)
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.parametrize("notebook", notebook_params())
def test_deck_opens_offline_with_one_slide_per_section(pages, slides, notebook):
    nb = nbformat.read(notebook, as_version=4)
    want = 1 + build_slides.count_sections(nb)
    deck = slides / f"{notebook.stem}.slides.html"
    text = deck.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text, "a worked solution is on the slides"
    watched = pages(allowed=("file:", "data:"), width=1280, height=800)
    page = watched.page
    page.goto(deck.as_uri(), wait_until="load")
    page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30_000)
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise.then(() => true)",
                           timeout=60_000)
    slides_count = page.evaluate("() => Reveal.getHorizontalSlides().length")
    pages_count = page.evaluate("() => Reveal.getTotalSlides()")
    print(f"{deck.name}: {slides_count} slides (title + {want - 1} sections), {pages_count} pages in all")
    assert slides_count > 1
    assert slides_count == want
    vb.screenshot(page, f"slides-{notebook.stem}", full_page=False)
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => Reveal.getIndices().h === 1", timeout=5_000)
    heading = page.evaluate("() => (Reveal.getCurrentSlide().querySelector('h2') || {}).textContent || ''")
    assert heading.strip(), "the second slide does not start with a section heading"
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(200)
    assert not watched.blocked, f"requests leaving file:// {watched.blocked}"
    assert not watched.errors, f"console errors {watched.errors}"
