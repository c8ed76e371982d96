"""Build a reveal.js slide deck per notebook: `make slides`, then open slides/index.html.

Usage: python tools/build_slides.py [--out slides] [--notebooks DIR] [--print-metadata NN_name]

The slide boundaries come from each notebook's structure, set on a copy at export time (the stored
notebooks are never touched; `slide_metadata` below):
- the title and everything before the first "## " heading: the title slide;
- each "## " section: a slide (a markdown cell with a "## " heading in its middle is split there);
  the section's heading and the prose right under it are that slide's first page;
- each following code-and-figure step (a code cell with its outputs, with the prose just before it)
  is a sub-slide (reveal.js's vertical slides: down arrow), and so is each "### " sub-section;
- exercises: the question and its answer cell on one sub-slide, the check beside it; worked solutions
  (cells tagged "solution") and the navigation cell (tagged "nav") are skipped.
The deck is nbconvert's SlidesExporter with a template (site_src/templates/vh_reveal) that loads
reveal.js and MathJax 3 from files copied next to the decks (pinned npm packages, tools/vendor.py):
no CDN, the decks open from file:// offline. Speaker view: press "s".
"""
from __future__ import annotations

import argparse
import copy
import html
import json
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vendor  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SITE_SRC = ROOT / "site_src"
NOTEBOOKS = ROOT / "notebooks"
REVEAL_DIR = "reveal.js"
SKIP_TAGS = {"solution", "nav"}


def h2_lines(source: str) -> list[int]:
    """Indices of the lines of a markdown source that are "## " headings (outside code fences)."""
    found, fence = [], False
    for i, line in enumerate(source.splitlines()):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        elif not fence and line.startswith("## "):
            found.append(i)
    return found


def count_sections(nb) -> int:
    """The number of "## " sections in the notebook's markdown (solution and nav cells aside)."""
    return sum(len(h2_lines(c.source)) for c in nb.cells
               if c.cell_type == "markdown" and not SKIP_TAGS & set(c.get("metadata", {}).get("tags", [])))


def split_at_h2(nb) -> None:
    """Split each markdown cell so that every "## " heading starts a cell of its own (in place)."""
    cells = []
    for cell in nb.cells:
        cuts = h2_lines(cell.source) if cell.cell_type == "markdown" else []
        cuts = [i for i in cuts if i > 0]
        if not cuts:
            cells.append(cell)
            continue
        lines = cell.source.splitlines()
        for k, (a, b) in enumerate(zip([0] + cuts, cuts + [len(lines)])):
            part = copy.deepcopy(cell)
            part.source = "\n".join(lines[a:b]).strip("\n")
            if k:
                part.pop("id", None)
                part.metadata = {key: v for key, v in part.metadata.items() if key != "tags"}
            if part.source.strip():
                cells.append(part)
    nb.cells = cells
    for i, cell in enumerate(nb.cells):  # unique ids again after the split
        if "id" not in cell:
            cell.id = f"slide-split-{i}"


def slide_metadata(nb):
    """A copy of the notebook with slideshow.slide_type set on every cell from its headings (see the module doc)."""
    nb = copy.deepcopy(nb)
    split_at_h2(nb)
    previous = None  # kind of the last kept cell: "intro" (a heading slide's prose), "prose", "code"
    in_exercises = False
    for i, cell in enumerate(nb.cells):
        tags = set(cell.get("metadata", {}).get("tags", []))
        if SKIP_TAGS & tags or not cell.source.strip():
            kind = "skip"
        elif i == 0:
            kind, previous = "slide", "intro"
        elif cell.cell_type == "markdown" and h2_lines(cell.source) == [0]:
            kind, previous = "slide", "intro"
            in_exercises = cell.source[3:].lower().startswith("exercise")
        elif cell.cell_type == "markdown" and cell.source.lstrip().startswith("### "):
            kind, previous = "subslide", "prose"  # a sub-section (an exercise): a page of its own
        elif cell.cell_type == "markdown":
            kind = "subslide" if previous == "code" else "-"
            previous = "intro" if previous == "intro" else "prose"
        else:  # a code cell: its own step, unless the prose just before introduced it
            if previous == "prose" or (previous == "code" and in_exercises):
                kind = "-"
            else:
                kind = "subslide"
            previous = "code"
        cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
    return nb


def exporter() -> SlidesExporter:
    return SlidesExporter(template_name="vh_reveal", extra_template_basedirs=[str(SITE_SRC / "templates")],
                          extra_template_paths=[str(SITE_SRC / "templates" / "vh_common")],
                          reveal_url_prefix=REVEAL_DIR, reveal_theme="white", reveal_scroll=True,
                          reveal_number="c/t")


def deck_title(nb, stem: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return stem


def build(out: Path, notebooks: Path, only: list[str] | None = None) -> dict[str, dict]:
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    vendor.copy_reveal(out / REVEAL_DIR)
    vendor.copy_mathjax(out / "_static" / "mathjax")
    export = exporter()
    decks = {}
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        if only and path.stem not in only:
            continue
        nb = nbformat.read(path, as_version=4)
        title = deck_title(nb, path.stem)
        nb.metadata["title"] = title
        marked = slide_metadata(nb)
        types = [c.metadata['slideshow']['slide_type'] for c in marked.cells]
        resources = {"metadata": {"name": title}, "vh": {
            "mathjax_url": f"_static/mathjax/{vendor.MATHJAX_FILE}", "mathjax_config": vendor.mathjax_config(),
            "default_alt": "Figure (no text description stored)"}}
        body, _ = export.from_notebook_node(marked, resources=resources)
        name = f"{path.stem}.slides.html"
        (out / name).write_text(body, encoding="utf-8")
        decks[path.stem] = {"file": name, "title": title, "slides": types.count("slide"),
                            "subslides": types.count("slide") + types.count("subslide"),
                            "sections": count_sections(nb), "skipped": types.count("skip")}
        d = decks[path.stem]
        print(f"  {name}: {d['slides']} slides (title + {d['sections']} sections), {d['subslides']} pages in all, "
              f"{d['skipped']} cells skipped")
    rows = "".join(f"<li><a href=\"{d['file']}\">{html.escape(d['title'])}</a> ({d['slides']} slides, "
                   f"{d['subslides']} pages)</li>" for d in decks.values())
    (out / "index.html").write_text(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Slides: Autoencoders to VAEs</title>"
        "</head><body style=\"font-family:sans-serif;max-width:50em;margin:2em auto\"><main><h1>Slides: Autoencoders "
        "to VAEs</h1><p>One deck per notebook. Left/right: sections; down: the steps of a section; "
        "s: speaker view; Esc: overview.</p><ul>" + rows + "</ul></main></body></html>", encoding="utf-8")
    (out / "decks.json").write_text(json.dumps(decks, indent=1), encoding="utf-8")
    print(f"slides: {len(decks)} decks in {out} in {time.perf_counter() - start:.1f} s; open {(out / 'index.html').as_uri()}")
    return decks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "slides")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of the stored .ipynb files")
    parser.add_argument("--print-metadata", metavar="STEM", help="print each cell's slide type for one notebook")
    parser.add_argument("only", nargs="*", help="notebook stems to convert (default: all)")
    args = parser.parse_args(argv)
    if args.print_metadata:
        nb = slide_metadata(nbformat.read(args.notebooks / f"{args.print_metadata}.ipynb", as_version=4))
        for i, c in enumerate(nb.cells):
            first = next((line for line in c.source.splitlines() if line.strip()), "")
            print(f"{i:3d} {c.metadata['slideshow']['slide_type']:9s} {c.cell_type:8s} {first[:80]}")
        return 0
    build(args.out.resolve(), args.notebooks.resolve(), args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
