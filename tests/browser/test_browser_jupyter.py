"""The latent explorer in JupyterLab 4 and Notebook 7: real servers on 127.0.0.1, driven in chromium.

Sync tests use a small generated notebook (conftest `fixture_notebook_files`: cell 0 loads two small
models, cell 1 displays an explorer, cell 2 prints explorer.z, cell 3 calls set_z, cell 4 encode(3)).
Each stored notebook with an explorer is opened untrusted, then run, saved, reloaded, restarted.
"""
from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

import vae_helpers as vh
import vhbrowser as vb

pytestmark = pytest.mark.browser

FIXTURE = "vh_fixture.ipynb"
EXPLORER_CELL, PRINT_CELL, SET_Z_CELL, ENCODE_CELL = 1, 2, 3, 4


def api_of_cell(i: int) -> str:
    """JS for the API of the explorer in cell i (explorer.js puts it on the .vh-explorer element)."""
    return f"document.querySelectorAll('.jp-Notebook .jp-Cell')[{i}].querySelector('.vh-explorer').vhExplorer"


FIXTURE_API = api_of_cell(EXPLORER_CELL)


def open_notebook(pages, server, name: str) -> vb.NotebookPage:
    return vb.NotebookPage(pages(allowed=(), width=1300, height=1000), server, name).open()


def payload_in_cell(nb: vb.NotebookPage, i: int) -> dict:
    return json.loads(nb.cell(i).locator(".vh-explorer script.vh-payload").first.text_content())


def assert_no_error(nb: vb.NotebookPage) -> None:
    """No "Error displaying widget" in the outputs, no console error from the explorer or a widget."""
    vb.assert_no_widget_error(nb.page)
    assert not nb.watched.explorer_errors(), nb.watched.explorer_errors()


def eventually(check, timeout: float = 10.0):
    """Retry an assertion until it holds (the page follows Python through the kernel's messages)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def python_state(nb: vb.NotebookPage) -> dict:
    """Re-run the print cell: Python's explorer.z, explorer.model_z and the drawing's sum."""
    nb.page.wait_for_timeout(300)  # the page sends its point at most every 50 ms
    text = nb.run_cell(PRINT_CELL)
    return json.loads(re.search(r"PYTHON_Z (.*)", text).group(1))


def check_live(nb: vb.NotebookPage, i: int, bridged: bool | None = None) -> None:
    view = nb.explorer_view(i)
    assert view["live"] and view["api"] and view["stillHidden"], f"cell {i}: explorer not live: {view}"
    if bridged is not None:
        nb.page.wait_for_function(f"() => ({api_of_cell(i)}).root.querySelector('.vh-status').textContent"
                                  f".includes('running in the page') === {'false' if bridged else 'true'}",
                                  timeout=15_000)


def drag(page, slider, start: float, end: float) -> None:
    """Drag a slider with the mouse from one fraction of its width to another."""
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + start * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + end * box["width"], y, steps=10)
    page.mouse.up()


def check_sync(nb: vb.NotebookPage, models, data) -> None:
    """Run all; the page follows Python (encode, set_z) and Python follows the page (explorer.z)."""
    page = nb.page
    assert not nb.run_all(), nb.errors()
    check_live(nb, EXPLORER_CELL, bridged=True)
    payload = payload_in_cell(nb, EXPLORER_CELL)

    codes = json.loads(re.search(r"CODES (.*)", "".join(o.get("text", "") for o in nb.cells()[ENCODE_CELL]["outputs"])).group(1))
    for i, model in enumerate(models):  # the notebook's models are the test's (same weights)
        assert codes[i] == pytest.approx(vh.embed(model, data.test[3:4])[0].tolist(), abs=1e-5)

    def at_codes():  # after "run all" the last cell, explorer.encode(3), has put each model at its code
        state = vb.state(page, FIXTURE_API)
        vb.assert_close(state["perModel"], codes, 1e-6, "each model at its code of test image 3")
    try:
        eventually(at_codes)
    except AssertionError as error:  # say where the page and Python ended (a lost update shows here)
        raise AssertionError(f"{error}\npage state after run all: {vb.state(page, FIXTURE_API)}\n"
                             f"Python after run all: {python_state(nb)}") from None
    vb.check_canvases(page, payload, codes, "after explorer.encode(3)", FIXTURE_API)

    drag(page, nb.cell(EXPLORER_CELL).locator("input[type=range]").first, 0.2, 0.7)
    state = vb.state(page, FIXTURE_API)
    assert state["perModel"] is None and state["z"][0] == pytest.approx(vb.slider_value(page, 0, FIXTURE_API))
    python = python_state(nb)
    print(f"page z {state['z']}, Python explorer.z {python['z']}")
    assert python["z"] == pytest.approx(state["z"], abs=1e-6)
    vb.assert_close(python["model_z"], [state["z"]] * len(models), 1e-6, "explorer.model_z")

    nb.run_cell(SET_Z_CELL)  # explorer.set_z([0.55, -1.25])

    def at_set_z():
        state = vb.state(page, FIXTURE_API)
        assert state["z"] == pytest.approx([0.55, -1.25], abs=1e-9) and state["perModel"] is None, state
        assert [vb.slider_value(page, d, FIXTURE_API) for d in range(2)] == pytest.approx([0.55, -1.25], abs=1e-9)
    eventually(at_set_z)
    vb.check_canvases(page, payload, [[0.55, -1.25]] * 2, "after explorer.set_z", FIXTURE_API)

    nb.run_cell(ENCODE_CELL)  # explorer.encode(3)
    eventually(at_codes)
    vb.check_canvases(page, payload, codes, "after explorer.encode(3) again", FIXTURE_API)


def test_lab_explorer_syncs_with_python(pages, lab, models, data):
    """JupyterLab: run all; the explorer is live and linked: page and Python agree on z, set_z and
    encode move the page, a drawing reaches Python."""
    nb = open_notebook(pages, lab, FIXTURE)
    check_sync(nb, models, data)

    nb.cell(EXPLORER_CELL).locator("canvas.vh-pad").scroll_into_view_if_needed()
    vb.draw_zero(nb.page, nb.cell(EXPLORER_CELL).locator("canvas.vh-pad"))
    nb.page.wait_for_function(f"() => ({FIXTURE_API}).state.note.startsWith('your drawing')")
    state = vb.state(nb.page, FIXTURE_API)
    drawing = nb.page.evaluate(f"() => ({FIXTURE_API}).drawing")
    python = python_state(nb)
    vb.assert_close(python["model_z"], state["perModel"], 1e-6, "explorer.model_z after a drawing")
    assert python["drawing"] == pytest.approx(sum(drawing), abs=1e-3)
    assert_no_error(nb)
    nb.cell(EXPLORER_CELL).scroll_into_view_if_needed()
    vb.screenshot(nb.page, "lab-sync", full_page=False)


def test_notebook7_explorer_syncs_with_python(pages, notebook7, models, data):
    """Notebook 7: run all; the explorer is live and linked: page and Python agree on z (after a mouse
    drag), set_z and encode move the page."""
    nb = open_notebook(pages, notebook7, FIXTURE)
    check_sync(nb, models, data)
    assert_no_error(nb)
    nb.cell(EXPLORER_CELL).scroll_into_view_if_needed()
    vb.screenshot(nb.page, "notebook7-sync", full_page=False)


def test_notebook7_slider_keys_mouse_and_buttons(pages, notebook7, models, data):
    """Notebook 7: after a click on a slider ArrowRight x5 moves it 5 steps (the notebook's command-mode
    shortcuts must not eat the keys), PageUp/PageDown 10 steps; a mouse drag and every button work."""
    nb = open_notebook(pages, notebook7, FIXTURE)
    assert not nb.run_all(), nb.errors()
    check_live(nb, EXPLORER_CELL)
    page, api = nb.page, FIXTURE_API
    payload = payload_in_cell(nb, EXPLORER_CELL)
    step, (lo, hi) = payload["step"], payload["limits"][0]
    cells_before = len(nb.cells())

    slider = nb.cell(EXPLORER_CELL).locator("input[type=range]").first
    slider.scroll_into_view_if_needed()
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + box["height"] / 2)
    clicked = vb.slider_value(page, 0, api)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    moved = round((vb.slider_value(page, 0, api) - clicked) / step)
    assert moved == 5, f"ArrowRight x5 after a click on a slider moved it {moved} steps in Notebook 7"
    assert vb.state(page, api)["z"][0] == pytest.approx(vb.slider_value(page, 0, api), abs=1e-9)
    for key, steps in [("PageUp", 10), ("PageDown", -10), ("PageDown", -10)]:
        before = vb.slider_value(page, 0, api)
        page.keyboard.press(key)
        assert vb.slider_value(page, 0, api) == pytest.approx(min(hi, max(lo, before + steps * step)), abs=1e-9), key
    assert len(nb.cells()) == cells_before, "a notebook shortcut acted on the keys"
    z = vb.state(page, api)["z"]
    vb.check_canvases(page, payload, [z, z], "keys in Notebook 7", api)

    drag(page, slider, 0.2, 0.85)
    value = vb.slider_value(page, 0, api)
    assert value == pytest.approx(lo + 0.85 * (hi - lo), abs=0.05 * (hi - lo) + step), "mouse drag"
    z = vb.state(page, api)["z"]
    assert z[0] == pytest.approx(value, abs=1e-9)
    vb.check_canvases(page, payload, [z, z], "mouse drag in Notebook 7", api)

    buttons = nb.cell(EXPLORER_CELL)
    before = vb.state(page, api)["z"]
    buttons.get_by_role("button", name="sample from prior").click()
    z = vb.state(page, api)["z"]
    assert z != pytest.approx(before, abs=1e-9), "sample from prior kept z"
    vb.check_canvases(page, payload, [z, z], "sample from prior", api)
    previous = vb.state(page, api)["note"]
    buttons.get_by_role("button", name=f"another test {data.noun}").click()
    page.wait_for_function(f"(p) => ({api}).state.note !== p", arg=previous)
    state = vb.state(page, api)
    k = int(re.search(r"#(\d+)", state["note"]).group(1))
    for i, model in enumerate(models):
        assert state["perModel"][i] == pytest.approx(vh.embed(model, data.test[k:k + 1])[0].tolist(), abs=0.05)
    vb.check_canvases(page, payload, state["perModel"], f"test image {k}", api)
    buttons.get_by_role("button", name="reset to origin").click()
    assert vb.state(page, api)["z"] == [0, 0]
    vb.check_canvases(page, payload, [[0, 0]] * 2, "reset", api)
    assert python_state(nb)["z"] == [0, 0], "Python follows the buttons"
    assert_no_error(nb)
    nb.cell(EXPLORER_CELL).scroll_into_view_if_needed()
    vb.screenshot(page, "notebook7-keys-mouse-buttons", full_page=False)


def check_explorer_moves(nb: vb.NotebookPage, i: int) -> None:
    """A live explorer in cell i answers a key on its first slider with the decode of the new z."""
    api = api_of_cell(i)
    payload = payload_in_cell(nb, i)
    nb.cell(i).locator("input[type=range]").first.focus()
    before = vb.state(nb.page, api)["z"]
    nb.page.keyboard.press("PageUp" if before[0] < np.mean(payload["limits"][0]) else "PageDown")
    state = vb.state(nb.page, api)
    assert state["z"][0] != pytest.approx(before[0]) and state["perModel"] is None
    vb.check_canvases(nb.page, payload, [state["z"]] * len(payload["models"]), f"cell {i}", api)


@pytest.mark.parametrize("notebook", vb.explorer_notebook_params())
def test_lab_stored_notebook_untrusted_then_run_save_reload_restart(pages, lab, model_cache, notebook):
    """A stored notebook opened in JupyterLab is untrusted: each explorer shows its still picture (>= 200 px).
    Run all, save, reload: the explorers are live. Restart the kernel, save, reload: live (scripts of a
    trusted output) or a still picture. Never an error."""
    cells = vb.stored_explorer_cells(notebook)
    clock = vb.Stopwatch(notebook.name)
    nb = open_notebook(pages, lab, notebook.name)
    clock.lap("open")
    stored = nb.cells()
    for i in cells:
        assert not stored[i]["trusted"], "a stored notebook should open untrusted here (private trust database)"
        view = nb.explorer_view(i)
        assert not view["live"], f"cell {i}: an untrusted output ran its scripts"
        assert view["pictureHeight"] >= 200, f"cell {i}: no still picture >= 200 px: {view}"
    assert_no_error(nb)
    nb.cell(cells[0]).scroll_into_view_if_needed()
    vb.screenshot(nb.page, f"lab-untrusted-{notebook.stem}", full_page=False)

    model_cache.wait(notebook.name)
    clock.lap("wait for the model cache")
    errors = nb.run_all()
    clock.lap("run all")
    assert not errors, f"{notebook.name} failed when run in JupyterLab: {errors}"
    assert nb.explorer_cells() == cells, "the explorers are not where the stored notebook has them"
    for i in cells:
        check_live(nb, i, bridged=True)
        check_explorer_moves(nb, i)
    assert_no_error(nb)
    nb.cell(cells[0]).scroll_into_view_if_needed()
    vb.screenshot(nb.page, f"lab-run-{notebook.stem}", full_page=False)

    clock.lap("checks")
    nb.save()
    nb.reload()
    clock.lap("save, reload")
    for i in cells:
        check_live(nb, i)
        check_explorer_moves(nb, i)
    assert_no_error(nb)
    nb.cell(cells[0]).scroll_into_view_if_needed()
    vb.screenshot(nb.page, f"lab-reloaded-{notebook.stem}", full_page=False)

    nb.restart_kernel()
    nb.save()
    nb.reload()
    clock.lap("restart, save, reload")
    for i in cells:
        view = nb.explorer_view(i)
        assert (view["live"] and view["stillHidden"]) or view["pictureHeight"] >= 200, f"cell {i}: {view}"
        if view["live"]:
            check_explorer_moves(nb, i)
    assert_no_error(nb)
    nb.cell(cells[0]).scroll_into_view_if_needed()
    vb.screenshot(nb.page, f"lab-restarted-{notebook.stem}", full_page=False)
    clock.lap("checks")
    print(clock)
