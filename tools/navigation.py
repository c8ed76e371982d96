"""Generate the series' navigation from the notebooks' own titles and summaries.

Usage: python tools/navigation.py [--check]

Each notebook's text source (notebooks/NN_name.md) holds its title (its first "# " heading) and, in
its front matter, `vae_helpers: {summary: ..., run_seconds: ...}`. From these this script writes:
- the last cell of every notebook (tagged "nav"): previous / index / next links;
- the course map in 00_start_here (the cell tagged "course-map");
- the notebook table in README.md, between <!-- notebooks:start --> and <!-- notebooks:end -->.
Both the .md source and the .ipynb are updated (markdown cells only: outputs are untouched).
--check changes nothing and exits 1 if anything is out of date (the test suite runs it).
"""
from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README = ROOT / "README.md"
START, END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"


def catalogue() -> list[dict]:
    """One entry per notebook: stem, title, summary, run time (from the .md sources)."""
    entries = []
    for source in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md")):
        nb = jupytext.read(source)
        title = next(line[2:].strip() for c in nb.cells if c.cell_type == "markdown"
                     for line in c.source.splitlines() if line.startswith("# "))
        meta = nb.metadata.get("vae_helpers", {})
        entries.append({"stem": source.stem, "title": title, "summary": meta.get("summary", ""),
                        "run_seconds": meta.get("run_seconds"), "class_minutes": meta.get("class_minutes")})
    return entries


def nav_text(entries: list[dict], i: int) -> str:
    """The navigation line of notebook i."""
    parts = []
    if i > 0:
        parts.append(f"[← {entries[i - 1]['title']}]({entries[i - 1]['stem']}.ipynb)")
    parts.append(f"[index: the course map]({entries[0]['stem']}.ipynb#the-course-map)")
    if i < len(entries) - 1:
        parts.append(f"[{entries[i + 1]['title']} →]({entries[i + 1]['stem']}.ipynb)")
    return "---\n" + " | ".join(parts)


def course_map(entries: list[dict]) -> str:
    """The course map table of notebook 00 (links relative to the notebooks folder)."""
    rows = ["## The course map", "",
            "| notebook | what you will see and measure | run time (first run, 2-core CPU) | in class |",
            "|---|---|---|---|"]
    for e in entries:
        run = f"{e['run_seconds']} s" if e["run_seconds"] else "–"
        minutes = f"{e['class_minutes']} min" if e["class_minutes"] else "–"
        rows.append(f"| [{e['title']}]({e['stem']}.ipynb) | {e['summary']} | {run} | {minutes} |")
    return "\n".join(rows)


def readme_table(entries: list[dict]) -> str:
    """The notebook table of README.md (links relative to the repository root)."""
    rows = ["| notebook | what you will see and measure |", "|---|---|"]
    rows += [f"| [{e['title']}](notebooks/{e['stem']}.ipynb) | {e['summary']} |" for e in entries]
    return "\n".join(rows)


def _set_tagged_text(source: str, tag: str, text: str) -> str:
    """The .md source with the markdown cell tagged `tag` replaced by `text` (edited as text: no reformatting)."""
    marker = f'+++ {{"tags": ["{tag}"]}}\n'
    if marker not in source:
        raise SystemExit(f"no cell tagged {tag!r} in the source: add one (see CONTRIBUTING.md)")
    head, rest = source.split(marker, 1)
    following = rest.find("\n+++")  # the next cell break, if any
    following = following if following != -1 else rest.find("\n```{code-cell}")
    tail = rest[following:] if following != -1 else "\n"
    return f"{head}{marker}\n{text.strip()}\n{tail.lstrip(chr(10)) and chr(10) + tail.lstrip(chr(10))}"


def _set_tagged(nb, tag: str, text: str) -> bool:
    """Replace the source of the markdown cell tagged `tag`; True if it changed."""
    cell = next((c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        raise SystemExit(f"no cell tagged {tag!r} in the notebook: add one (see CONTRIBUTING.md)")
    if cell.source.strip() == text.strip():
        return False
    cell.source = text
    return True


def update(check: bool) -> list[str]:
    """Bring every generated part up to date (or only list what is stale when `check`)."""
    entries = catalogue()
    stale = []
    for i, e in enumerate(entries):
        wanted = {"nav": nav_text(entries, i)}
        if i == 0:
            wanted["course-map"] = course_map(entries)
        source_path = NOTEBOOKS / f"{e['stem']}.md"
        source = source_path.read_text(encoding="utf-8")
        new_source = source
        for tag, text in wanted.items():
            new_source = _set_tagged_text(new_source, tag, text)
        if new_source != source:
            stale.append(f"{source_path.name}: {', '.join(wanted)}")
            if not check:
                source_path.write_text(new_source, encoding="utf-8")
        stored = NOTEBOOKS / f"{e['stem']}.ipynb"
        if not stored.exists():
            stale.append(f"{stored.name} is missing")
            continue
        nb = nbformat.read(stored, as_version=4)
        changed = [tag for tag, text in wanted.items() if _set_tagged(nb, tag, text)]
        if changed:
            stale.append(f"{stored.name}: {', '.join(changed)}")
            if not check:
                nbformat.write(nb, stored)
    readme = README.read_text(encoding="utf-8")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{readme_table(entries)}\n{END}{tail}"
    if new != readme:
        stale.append("README.md: notebook table")
        if not check:
            README.write_text(new, encoding="utf-8")
    return stale


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = update(check)
    if check and stale:
        print("Navigation is out of date (run: python tools/navigation.py):\n  " + "\n  ".join(stale))
        return 1
    print("\n".join(f"updated {s}" for s in stale) if stale else "navigation up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
