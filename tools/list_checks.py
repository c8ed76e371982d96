"""List every check of every notebook with its subject and counterfactual values (make checks).

Usage: python tools/list_checks.py [--dataset NAME] [NOTEBOOK ...]

Without --dataset it reads the stored outputs (the embedded dataset); with it, it executes each notebook on
that dataset first (nothing stored). A check is a code cell after a markdown cell whose last paragraph
starts with "**Check"; it counts as shown failing on its counterfactual when its output holds a table printed by
`vh.claims.claim` (vae_helpers/claims.py) that PASSED, i.e. the rule held on the subject and failed on every
counterfactual. Ends with the line "checks whose counterfactual fails: N of M"; exits with 1 unless N = M and
no cell raised an error (CI runs it on every dataset).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import execute_notebooks  # noqa: E402  (same folder)

from vae_helpers.claims import MARK  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def text_of(cell) -> str:
    """All text a code cell printed, errors included."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            parts.append(f"ERROR {out.get('ename')}: {out.get('evalue')}\n")
    return "".join(parts)


def checks_of(nb) -> list[tuple[int, str, list[str], bool]]:
    """(cell index, first line of the claim, its table lines, shown failing on its counterfactuals) per check."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or i == 0:
            continue
        before = nb.cells[i - 1]
        last = before.source.strip().split("\n\n")[-1] if before.cell_type == "markdown" else ""
        if not last.startswith("**Check"):                  # the check's statement closes the cell before it
            continue
        text = text_of(cell)
        lines = text.splitlines()
        tables = [k for k, line in enumerate(lines) if line.startswith(MARK)]
        ends = tables[1:] + [len(lines)]                      # each table runs to the next one (or the end)
        table = [line for k, end in zip(tables, ends) for line in lines[k:end] if line.startswith((MARK, "  "))]
        shown = bool(tables) and "ERROR" not in text and all(
            "-> PASSED" in line for line in table if line.strip().startswith("->"))
        claim = last.split("\n")[0].replace("**Check.**", "").strip()[:100]
        found.append((i, claim, table, shown))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--dataset", help="execute the notebooks on this dataset first (nothing is stored)")
    args = parser.parse_args(argv)
    paths = [Path(p).with_suffix(".md") for p in args.notebooks] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.md"))
    shown_total = total = 0
    errors = []
    for source in paths:
        if args.dataset:
            nb = execute_notebooks.build(source, args.dataset)
            execute_notebooks.execute(nb, Path(tempfile.mkdtemp(prefix="checks_")), keep_going=True)
        else:
            nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        errors += [f"{source.stem} cell {i}" for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
                   and any(out.get("output_type") == "error" for out in cell.get("outputs", []))]
        for index, claim, table, shown in checks_of(nb):
            total += 1
            shown_total += shown
            print(f"{source.stem} cell {index}: {'counterfactual fails' if shown else 'NOT SHOWN'} | {claim}")
            for line in table:
                print("    " + line)
    print(f"checks whose counterfactual fails: {shown_total} of {total}"
          + (f" (on {args.dataset})" if args.dataset else " (stored outputs, embedded dataset)"))
    if errors:
        print("cells that raised an error: " + ", ".join(errors))
    return 0 if shown_total == total and not errors else 1    # CI fails unless every check is shown


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
