"""The course website (`make site`, tools/build_site.py) opened from file:// in chromium, offline.

The site is built from the stored notebooks into a scratch folder (or $VH_SITE_DIR is reused as it
is). Every request that is not file:// or data: is aborted and recorded; a page passes with no such
request and no console error. From the index, each notebook is reached through the site's own links
(the course map, then "next"), and back ("Course map"). axe-core (bundled in axe-playwright-python,
nothing fetched) checks the index, a notebook page and, for comparison, nbconvert's plain export.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import vhbrowser as vb

pytestmark = pytest.mark.browser

ROOT = vb.ROOT
OFFLINE = ("file:", "data:")
SITE_BUDGET_MB = 30
TYPESET_JS = "() => window.MathJax && MathJax.startup && MathJax.startup.promise.then(() => true)"


def notebook_stems() -> list[str]:
    return [p.stem for p in sorted(vb.notebooks_dir().glob("[0-9][0-9]_*.ipynb"))]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The built site: $VH_SITE_DIR as it is, else a fresh build of the stored notebooks (~10 s)."""
    if os.environ.get("VH_SITE_DIR"):
        return Path(os.environ["VH_SITE_DIR"])
    out = tmp_path_factory.mktemp("site") / "site"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(out),
                           "--notebooks", str(vb.notebooks_dir())], capture_output=True, text=True, timeout=600)
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def open_offline(pages, path_or_url, **kwargs) -> tuple[vb.Watched, float]:
    """Open a page with only file:// and data: allowed; returns it and its load time (to MathJax done) in s."""
    watched = pages(allowed=OFFLINE, width=1200, height=1000, **kwargs)
    url = path_or_url.as_uri() if isinstance(path_or_url, Path) else path_or_url
    start = time.perf_counter()
    watched.page.goto(url, wait_until="load")
    if watched.page.evaluate("() => !!document.querySelector('script[src*=mathjax]')"):
        watched.page.wait_for_function(TYPESET_JS, timeout=60_000)
    return watched, time.perf_counter() - start


def assert_clean(watched: vb.Watched, note: str) -> None:
    assert not watched.blocked, f"{note}: requests leaving file:// {watched.blocked}"
    assert not watched.errors, f"{note}: console errors {watched.errors}"
    vb.assert_no_widget_error(watched.page)


def test_site_files_are_local_and_within_budget(site):
    """Every script, style sheet and image of every page is a local file or a data: URL; size <= 30 MB."""
    remote = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)
    for page in sorted(site.glob("*.html")):
        text = page.read_text(encoding="utf-8")
        found = remote.findall(text)
        assert not found, f"{page.name} references remote files: {found[:3]}"
        for ref in re.findall(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]+)\"", text):
            assert (page.parent / ref.split("#")[0]).is_file(), f"{page.name}: {ref} is missing from the site"
    total = size_mb(site)
    print(f"site size: {total:.1f} MB in {sum(1 for p in site.rglob('*') if p.is_file())} files")
    assert total <= SITE_BUDGET_MB


def test_site_navigation_offline(pages, site):
    """Index -> each notebook (course map links, then "next" from page to page) -> back to the course map:
    no request leaves file://, no console error, math typeset, every image has a text alternative,
    worked solutions folded (closed <details>, code not visible). Screenshots of each page."""
    stems = notebook_stems()
    watched, seconds = open_offline(pages, site / "index.html")
    page = watched.page
    rows = page.locator("table.vh-map tbody tr")
    assert rows.count() == len(stems)
    hrefs = [rows.nth(k).locator("a").get_attribute("href") for k in range(len(stems))]
    assert hrefs == [f"{s}.html" for s in stems]
    for k in range(len(stems)):
        cells = [rows.nth(k).locator("td").nth(c).inner_text().strip() for c in range(3)]
        assert all(cells) and re.fullmatch(r"\d+ s", cells[2]), f"course map row {k}: {cells}"
    assert_clean(watched, "index")
    vb.screenshot(page, "site-index")
    times = {"index.html": seconds}

    page.locator("table.vh-map a").first.click()  # the first notebook, through the course map
    for k, stem in enumerate(stems):
        page.wait_for_load_state("load")
        assert page.url.endswith(f"/{stem}.html"), page.url
        start = time.perf_counter()
        page.wait_for_function(TYPESET_JS, timeout=60_000)
        times[f"{stem}.html"] = time.perf_counter() - start  # after "load": the typesetting's own time
        nb = nbformat.read(vb.notebooks_dir() / f"{stem}.ipynb", as_version=4)
        if any("$" in c.source for c in nb.cells if c.cell_type == "markdown"):
            assert page.locator("mjx-container").count() > 0, f"{stem}: no math typeset"
        images = page.evaluate("() => Array.from(document.images).map(i => [i.getAttribute('alt'), i.naturalWidth])")
        assert all(alt and alt.strip() for alt, _ in images), f"{stem}: an image without alt text"
        assert all(width > 0 for _, width in images), f"{stem}: an image that did not load"
        solutions = [c for c in nb.cells if "solution" in c.get("metadata", {}).get("tags", [])]
        folded = page.locator("details.vh-solution")
        assert folded.count() == len(solutions), f"{stem}: {folded.count()} folded solutions, {len(solutions)} in the notebook"
        for j in range(folded.count()):
            assert folded.nth(j).get_attribute("open") is None
            assert not folded.nth(j).locator(".jp-InputArea").first.is_visible(), f"{stem}: solution {j} shown open"
        assert_clean(watched, stem)
        vb.screenshot(page, f"site-{stem}", full_page=False)
        if k + 1 < len(stems):
            page.locator("header nav a[rel=next]").click()
    page.locator("header nav").get_by_role("link", name="Course map").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/index.html")
    assert_clean(watched, "back to the index")
    print("load time from disk (index: goto to MathJax done; notebooks: typesetting after load), s: "
          + json.dumps({k: round(v, 2) for k, v in times.items()}))


def test_site_page_load_times(pages, site):
    """Each page opened directly from disk: time from navigation to load event and to MathJax done (printed)."""
    report = {}
    for page_file in ["index.html"] + [f"{s}.html" for s in notebook_stems()]:
        watched, seconds = open_offline(pages, site / page_file)
        timing = watched.page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
        report[page_file] = {"load_event_ms": round(timing), "typeset_done_s": round(seconds, 2),
                             "MB": round((site / page_file).stat().st_size / 1e6, 1)}
        assert_clean(watched, page_file)
        watched.page.context.close()
    print("page load from disk: " + json.dumps(report))
    assert all(r["typeset_done_s"] < 30 for r in report.values()), report


@pytest.mark.parametrize("notebook", vb.explorer_notebook_params())
def test_site_explorers_are_live(pages, site, notebook):
    """On the site, every explorer starts (live, still picture hidden) and its first slider moves its images
    (the canvases show the decode of the new z, within 2/255)."""
    watched, _ = open_offline(pages, site / f"{notebook.stem}.html")
    page = watched.page
    roots = page.locator(".vh-explorer")
    assert roots.count() == len(vb.stored_explorer_cells(notebook))
    for k in range(roots.count()):
        api = f"document.querySelectorAll('.vh-explorer')[{k}].vhExplorer"
        assert page.evaluate(f"() => !!({api})"), f"explorer {k} did not start; console: {watched.errors}"
        payload = json.loads(roots.nth(k).locator("script.vh-payload").text_content())
        slider = roots.nth(k).locator("input[type=range]").first
        slider.scroll_into_view_if_needed()
        slider.focus()
        before = vb.decoded_pixels(page, api)
        page.keyboard.press("End")
        state = vb.state(page, api)
        after = vb.check_canvases(page, payload, [state["z"]] * len(payload["models"]), f"site {notebook.stem}", api)
        assert (after != before).any(), f"explorer {k}: moving the slider did not change the decoded images"
    roots.first.scroll_into_view_if_needed()
    vb.screenshot(page, f"site-explorer-{notebook.stem}", full_page=False)
    assert_clean(watched, notebook.stem)


# ---- accessibility (axe-core) ---------------------------------------------------------------------

# Violations that come from nbconvert's own page chrome (its lab template's style sheets), not from the
# notebooks' content: the site overrides them (site_src/static/site.css); a plain export keeps them.
#   color-contrast: the "In [n]:"/"Out[n]:" prompts (grey at 50% opacity, 2.3:1) and some syntax colours
#     of the code cells (#080 numbers, #a2f operators, #408080 comments: 4.2-4.4:1 on #f5f5f5);
#   link-in-text-block: links in markdown cells styled without underline, only by colour.
NBCONVERT_CHROME = {
    "color-contrast": re.compile(r"jp-InputPrompt|jp-OutputPrompt|^<span class=\"(?:c1?|cm|mi|mf|ow|o|k|kn|nb|bp|s[12]?|sa|si|se|nn|nf|nc|fm|mh|il|p|kc)\">"),
    "link-in-text-block": re.compile(r"^<a href="),
}


def axe_report(page) -> list[dict]:
    """axe-core's violations of impact critical or serious on the page (each with its nodes' HTML)."""
    from axe_playwright_python.sync_playwright import Axe
    # preload: False: axe would re-read the style sheets with XMLHttpRequest, which file:// pages may not do
    # (console errors); only its CSS-orientation-lock rule needs that, the colour rules use computed styles.
    result = Axe().run(page, options={"resultTypes": ["violations"], "preload": False})
    return [v for v in result.response["violations"] if v["impact"] in ("critical", "serious")]


def describe(violations: list[dict]) -> str:
    return "; ".join(f"{v['impact']} {v['id']} x{len(v['nodes'])}: {v['nodes'][0]['html'][:120]}" for v in violations)


def test_axe_offline_bundle():
    """axe-playwright-python carries axe-core in the wheel (nothing fetched at run time)."""
    import axe_playwright_python
    script = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    assert script.stat().st_size > 100_000
    print("axe-core", re.search(r'axe.version="([0-9.]+)"', script.read_text(encoding="utf-8")).group(1))


@pytest.mark.parametrize("page_file", ["index.html", "05_latent_space_lab.html", "02_from_points_to_distributions.html"])
def test_site_axe(pages, site, page_file):
    """No critical or serious axe-core violation on the site's index and notebook pages (explorers live)."""
    if not (site / page_file).exists():
        pytest.skip(f"{page_file} is not in the site")
    watched, _ = open_offline(pages, site / page_file)
    if page_file != "index.html":
        watched.page.wait_for_timeout(300)  # the explorers have mounted
    assert_clean(watched, page_file)
    violations = axe_report(watched.page)
    print(f"axe on the site's {page_file}: {len(violations)} critical/serious violation(s) {describe(violations)}")
    assert not violations, describe(violations)
    assert_clean(watched, page_file)


def test_nbconvert_export_axe(pages, tmp_path):
    """A plain `jupyter nbconvert --to html` export (what a learner makes from a notebook): no critical or
    serious axe-core violation from the notebook's content. Violations of nbconvert's own chrome
    (NBCONVERT_CHROME) are reported and set aside; the export's CDN scripts are blocked, as offline."""
    notebook = vb.notebooks_dir() / "02_from_points_to_distributions.ipynb"
    if not notebook.exists():
        pytest.skip("no notebook 02")
    shutil.copy(notebook, tmp_path / notebook.name)
    subprocess.run([str(Path(sys.executable).parent / "jupyter"), "nbconvert", "--to", "html", notebook.name],
                   cwd=tmp_path, check=True, capture_output=True, timeout=180)
    watched = pages(allowed=OFFLINE, width=1200, height=1000)
    watched.page.goto((tmp_path / f"{notebook.stem}.html").as_uri(), wait_until="load")
    watched.page.wait_for_timeout(300)
    content, chrome = [], []
    for v in axe_report(watched.page):
        rule = NBCONVERT_CHROME.get(v["id"])
        ours = [n for n in v["nodes"] if not (rule and rule.search(n["html"]))]
        theirs = [n for n in v["nodes"] if n not in ours]
        if ours:
            content.append({**v, "nodes": ours})
        if theirs:
            chrome.append({**v, "nodes": theirs})
    print(f"axe on nbconvert's export of {notebook.name}: set aside as nbconvert's chrome: {describe(chrome)}; "
          f"blocked CDN requests: {sorted({u.split('/')[2] for u in watched.blocked})}")
    assert not content, f"violations from the notebook's content: {describe(content)}"
