"""The stored notebooks exported with `jupyter nbconvert --to html`, opened from disk in chromium.

Every request that is not file:// or data: is blocked (the export's CDN links for MathJax, require.js
or the widget manager simply fail, as they would offline). With scripts the explorers are live; with
scripts disabled (a renderer that strips them) each shows its still picture.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vhbrowser as vb

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    """One HTML export per stored notebook with an explorer (converted once, in a scratch folder)."""
    folder = tmp_path_factory.mktemp("nbconvert")
    done = {}
    for path in vb.explorer_notebooks():
        shutil.copy(path, folder / path.name)
        subprocess.run([str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to", "html", path.name],
                       cwd=folder, check=True, capture_output=True, timeout=120)
        done[path.name] = folder / (path.stem + ".html")
    return done


def explorers_in(page) -> list[dict]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('.vh-explorer')).map(root => {
      const img = root.querySelector('.vh-still img'), still = root.querySelector('.vh-still');
      return { live: !!root.querySelector('.vh-live') && !!root.vhExplorer,
               stillShown: !!still && getComputedStyle(still).display !== 'none',
               pictureHeight: img && img.complete && img.naturalHeight ? img.getBoundingClientRect().height : 0 }; })""")


@pytest.mark.parametrize("notebook", vb.explorer_notebook_params())
def test_nbconvert_export_is_live_offline(pages, exports, notebook):
    """Scripts on: every explorer is live and its sliders move its images (the decode of the new z)."""
    watched = pages(allowed=("file:", "data:"), width=1200, height=1000)
    page = watched.page
    page.goto(exports[notebook.name].as_uri(), wait_until="load")
    views = explorers_in(page)
    assert len(views) == len(vb.stored_explorer_cells(notebook)), f"explorers in the export: {views}"
    for k, view in enumerate(views):
        assert view["live"] and not view["stillShown"], f"explorer {k} did not start: {view}; console: {watched.errors}"
        api = f"document.querySelectorAll('.vh-explorer')[{k}].vhExplorer"
        payload = json.loads(page.locator(".vh-explorer script.vh-payload").nth(k).text_content())
        slider = page.locator(".vh-explorer").nth(k).locator("input[type=range]").first
        slider.focus()
        for key in ["End", "PageDown", "ArrowLeft"]:
            before = vb.decoded_pixels(page, api)
            page.keyboard.press(key)
            state = vb.state(page, api)
            assert state["z"][0] == pytest.approx(vb.slider_value(page, 0, api), abs=1e-9)
            after = vb.check_canvases(page, payload, [state["z"]] * len(payload["models"]), f"export {key}", api)
            assert (after != before).any() or key == "ArrowLeft", f"{key} did not change the images"
    vb.assert_no_widget_error(page)
    assert not watched.explorer_errors(), watched.explorer_errors()
    print(f"{notebook.name} export: {len(views)} live explorer(s); blocked {len(watched.blocked)} request(s): "
          f"{sorted({u.split('/')[2] for u in watched.blocked if '://' in u})}; console errors: {len(watched.errors)}")
    page.locator(".vh-explorer").first.scroll_into_view_if_needed()
    vb.screenshot(page, f"nbconvert-{notebook.stem}", full_page=False)


@pytest.mark.parametrize("notebook", vb.explorer_notebook_params())
def test_nbconvert_export_without_scripts_shows_still_pictures(pages, exports, notebook):
    """Scripts off (a renderer that strips them): each explorer shows its still picture, >= 200 px tall."""
    watched = pages(allowed=("file:", "data:"), width=1200, height=1000, javascript=False)
    page = watched.page
    page.goto(exports[notebook.name].as_uri(), wait_until="load")
    views = explorers_in(page)
    assert len(views) == len(vb.stored_explorer_cells(notebook))
    for k, view in enumerate(views):
        assert not view["live"] and view["stillShown"] and view["pictureHeight"] >= 200, f"explorer {k}: {view}"
    text = page.inner_text("body")
    assert vb.WIDGET_ERROR not in text
    page.locator(".vh-explorer").first.scroll_into_view_if_needed()
    vb.screenshot(page, f"nbconvert-noscript-{notebook.stem}", full_page=False)
