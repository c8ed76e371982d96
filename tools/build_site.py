"""Build the course website from the stored notebooks: `make site`, then open site/index.html.

Usage: python tools/build_site.py [--out site] [--notebooks DIR]

One HTML page per stored notebook (notebooks/NN_name.ipynb, outputs as stored: nothing is run) with
previous / course map / next links, and an index page with the course map (each notebook's title,
its one-line summary and run time, from the front matter of notebooks/NN_name.md). The pages open
from file:// with no network: every script and style sheet is copied into site/_static/ at build
time (MathJax 3 from the pinned npm package, see tools/vendor.py; JupyterLab's style sheets from
nbconvert), none is referenced on a CDN. The latent explorers are the notebooks' own text/html
outputs with their inline script, so their sliders work on the page with no Python running.

Worked solutions (cells tagged "solution", or with both source and outputs hidden) are folded in a
closed <details>. Every figure gets a text alternative: the alt text stored in the output's metadata
({"image/png": {"alt": "..."}}), else a fallback naming the section it is in (counted and listed here,
so that missing descriptions get written).
"""
from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import time
from pathlib import Path

import jinja2
import nbconvert
import nbformat
from nbconvert import HTMLExporter
from nbconvert.filters.markdown import markdown2html

sys.path.insert(0, str(Path(__file__).resolve().parent))
import navigation  # noqa: E402  (the catalogue of notebooks: titles, summaries, run times)
import vendor  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SITE_SRC = ROOT / "site_src"
NOTEBOOKS = ROOT / "notebooks"
SITE_TITLE = "Autoencoders to VAEs"
INDEX = "index.html"
CSS = ["_static/jupyterlab.css", "_static/jupyterlab-theme-light.css", "_static/site.css"]
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def rewrite_links(text: str, base: Path, stems: set[str], extra_pages: dict[Path, str], warnings: list[str]) -> str:
    """Markdown links for the site: NN_name.ipynb -> NN_name.html, the course map -> index.html, a linked
    Markdown file of the repository -> its rendered page; a local link with no page on the site loses its link."""
    index_stem = min(stems)

    def one(m: re.Match) -> str:
        bang, label, target = m.groups()
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
            return m.group(0)  # a web link or an anchor on the page: unchanged (followed only on a click)
        path, _, anchor = target.partition("#")
        stem = Path(path).stem
        if path.endswith(".ipynb") and stem in stems:
            if stem == index_stem and anchor == "the-course-map":
                return f"{bang}[{label}]({INDEX})"
            return f"{bang}[{label}]({stem}.html{'#' + anchor if anchor else ''})"
        resolved = (base / path).resolve()
        if path.endswith(".md") and resolved.is_file() and ROOT in resolved.parents:
            page = extra_pages.setdefault(resolved, resolved.stem.lower() + ".html")
            return f"{bang}[{label}]({page}{'#' + anchor if anchor else ''})"
        warnings.append(f"link to {target!r} has no page on the site: shown as plain text")
        return label
    return LINK.sub(one, text)


def heading_before(nb, index: int) -> str:
    """The last markdown heading above cell `index` (for a figure's fallback description)."""
    for cell in reversed(nb.cells[:index]):
        if cell.cell_type == "markdown":
            heads = [line.lstrip("#").strip() for line in cell.source.splitlines() if line.startswith("#")]
            if heads:
                return heads[-1]
    return "the top of the notebook"


def prepare(nb, title: str, stems: set[str], extra_pages: dict[Path, str], missing_alt: list[str]) -> None:
    """The site's copy of a notebook: title, links, no nav cell (the page has its own), alt text everywhere."""
    nb.metadata["title"] = title
    warnings: list[str] = []
    nb.cells = [c for c in nb.cells if "nav" not in c.get("metadata", {}).get("tags", [])]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = rewrite_links(cell.source, NOTEBOOKS, stems, extra_pages, warnings)
            continue
        for output in cell.get("outputs", []):
            for mime in ("image/png", "image/jpeg", "image/svg+xml"):
                if mime not in output.get("data", {}):
                    continue
                meta = output.setdefault("metadata", {}).setdefault(mime, {})
                if not meta.get("alt"):
                    section = heading_before(nb, i)
                    meta["alt"] = f"Figure in the section “{section}” (no text description stored yet)"
                    missing_alt.append(f"{title[:40]}… cell {i} ({section})")
    for w in warnings:
        print(f"  {title[:40]}…: {w}")


def exporter() -> HTMLExporter:
    return HTMLExporter(template_name="vh_site", extra_template_basedirs=[str(SITE_SRC / "templates")],
                        extra_template_paths=[str(SITE_SRC / "templates" / "vh_common")],
                        exclude_input_prompt=False, anchor_link_text="¶")


def copy_static(out: Path) -> None:
    static = out / "_static"
    static.mkdir(parents=True, exist_ok=True)
    lab = Path(nbconvert.__file__).resolve().parents[4] / "share" / "jupyter" / "nbconvert" / "templates" / "lab" / "static"
    if not lab.is_dir():  # installed elsewhere: ask nbconvert where its templates are
        from jupyter_core.paths import jupyter_path
        lab = next(Path(p) / "lab" / "static" for p in jupyter_path("nbconvert", "templates")
                   if (Path(p) / "lab" / "static").is_dir())
    shutil.copy2(lab / "index.css", static / "jupyterlab.css")
    shutil.copy2(lab / "theme-light.css", static / "jupyterlab-theme-light.css")
    shutil.copy2(SITE_SRC / "static" / "site.css", static / "site.css")
    vendor.copy_mathjax(static / "mathjax")


def readme_pitch() -> str:
    """The README's first paragraph (the series' pitch), as HTML."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    return markdown2html(paragraphs[0]) if paragraphs else ""


def index_body(entries: list[dict]) -> str:
    rows = []
    for e in entries:
        run = f"{e['run_seconds']} s" if e.get("run_seconds") else "–"
        minutes = f"{e['class_minutes']} min" if e.get("class_minutes") else "–"
        rows.append(f"<tr><td><a href=\"{e['stem']}.html\">{html.escape(e['title'])}</a></td>"
                    f"<td>{html.escape(e['summary'])}</td><td>{run}</td><td>{minutes}</td></tr>")
    return (f"<h1>{SITE_TITLE}: an interactive notebook series</h1>\n{readme_pitch()}\n"
            "<h2 id=\"the-course-map\">The course map</h2>\n"
            "<table class=\"vh-map\"><caption class=\"vh-skip\">The notebooks in order</caption>\n"
            "<thead><tr><th scope=\"col\">notebook</th><th scope=\"col\">what you will see and measure</th>"
            "<th scope=\"col\">run time (first run, 2-core CPU)</th><th scope=\"col\">in class</th></tr></thead>\n"
            f"<tbody>{''.join(rows)}</tbody></table>\n"
            "<p>Each page shows a notebook with its stored outputs. The latent explorers are live: their sliders "
            "decode in your browser, with no Python running. Worked solutions are folded: try each exercise "
            "first. To run the code, open the notebooks in Jupyter (see the repository's README).</p>")


def build(out: Path, notebooks: Path) -> dict:
    start = time.perf_counter()
    entries = navigation.catalogue()
    stems = {e["stem"] for e in entries}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_static(out)
    (out / ".nojekyll").touch()  # GitHub Pages: serve _static/ as it is (Jekyll would drop folders starting with _)
    footer = (f"{SITE_TITLE}. Built from the stored notebooks with nbconvert {nbconvert.__version__} and "
              f"MathJax {vendor.version('mathjax')}; works offline, opened from disk.")
    extra_pages: dict[Path, str] = {}
    missing_alt: list[str] = []
    export = exporter()
    for i, e in enumerate(entries):
        nb = nbformat.read(notebooks / f"{e['stem']}.ipynb", as_version=4)
        prepare(nb, e["title"], stems, extra_pages, missing_alt)
        link = lambda k: {"href": f"{entries[k]['stem']}.html", "title": entries[k]["title"]}  # noqa: E731
        resources = {"metadata": {"name": e["title"]}, "vh": {
            "css": CSS, "mathjax_url": f"_static/mathjax/{vendor.MATHJAX_FILE}", "mathjax_config": vendor.mathjax_config(),
            "site_title": SITE_TITLE, "index_href": INDEX, "footer": footer,
            "default_alt": "Figure (no text description stored)",
            "prev": link(i - 1) if i > 0 else None, "next": link(i + 1) if i + 1 < len(entries) else None}}
        body, _ = export.from_notebook_node(nb, resources=resources)
        (out / f"{e['stem']}.html").write_text(body, encoding="utf-8")
        print(f"  {e['stem']}.html  {len(body.encode()) / 1e6:.1f} MB")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SITE_SRC)), autoescape=False)
    page = env.get_template("page.html.j2")
    common = {"css": CSS, "site_title": SITE_TITLE, "footer": footer}
    (out / INDEX).write_text(page.render(title=f"{SITE_TITLE}: the course map", body=index_body(entries), **common),
                             encoding="utf-8")
    for source, name in extra_pages.items():
        warnings: list[str] = []
        text = rewrite_links(source.read_text(encoding="utf-8"), source.parent, stems, {}, warnings)
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), source.stem)
        (out / name).write_text(page.render(title=title, body=markdown2html(text), **common), encoding="utf-8")
        print(f"  {name} (from {source.relative_to(ROOT)})" + "".join(f"\n    {w}" for w in warnings))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    if missing_alt:
        print(f"{len(missing_alt)} figure(s) have no alt text in their output metadata (a fallback is used):\n  "
              + "\n  ".join(missing_alt))
    print(f"site: {len(entries)} notebook pages + index in {out} ({size / 1e6:.1f} MB) "
          f"in {time.perf_counter() - start:.1f} s; open {(out / INDEX).as_uri()}")
    return {"pages": [INDEX] + [f"{e['stem']}.html" for e in entries], "bytes": size, "missing_alt": missing_alt}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of the stored .ipynb files")
    args = parser.parse_args(argv)
    build(args.out.resolve(), args.notebooks.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
