"""Write the learners' version of every notebook into student/: `make student`.

Usage: python tools/make_student.py [--out student] [--notebooks DIR] [NN_name ...]

Each notebook loses its worked solutions and its outputs, with nbconvert's own preprocessors:
- TagRemovePreprocessor removes the cells tagged "solution" (each holds nbgrader's
  "### BEGIN SOLUTION" / "### END SOLUTION" markers and ends with an assert of the check);
- ClearOutputPreprocessor clears every output and execution count.
The learner's cells (`answer_N = None`, function stubs returning None) and the check cells stay, so a
learner's notebook runs top to bottom and each check says "Not answered yet" until answered.
(nbgrader's ClearSolutions is not used: it would replace the code between the markers with
`raise NotImplementedError()`, which stops a top-to-bottom run, and nbgrader brings SQLAlchemy,
alembic, Mako, RapidFuzz and its own Jupyter extensions.)

A solution marker left in any other cell (a solution cell that lost its tag) is an error, so no
answer can leak into student/. The jupytext pairing is dropped from the copies (no .md appears
beside them when a learner saves).
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOLUTION_TAG = "solution"
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solution_cells(nb) -> list:
    return [c for c in nb.cells if SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]


def student_version(nb, name: str = "notebook"):
    """A copy of the notebook without its solution cells and outputs."""
    nb = copy.deepcopy(nb)
    resources: dict = {}
    nb, resources = TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}, enabled=True).preprocess(nb, resources)
    nb, resources = ClearOutputPreprocessor(enabled=True).preprocess(nb, resources)
    leaks = [i for i, c in enumerate(nb.cells) if any(m in c.source for m in MARKERS)
             or c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    if leaks:
        raise SystemExit(f"{name}: cells {leaks} hold a solution marker but are not tagged {SOLUTION_TAG!r}: "
                         "tag them (see CONTRIBUTING.md) so that the learners' version leaves them out")
    nb.metadata.pop("jupytext", None)
    return nb


def build(out: Path, notebooks: Path, only: list[str] | None = None) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    done = {}
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        if only and path.stem not in only:
            continue
        nb = nbformat.read(path, as_version=4)
        student = student_version(nb, path.name)
        nbformat.validate(student)
        nbformat.write(student, out / path.name)
        done[path.stem] = len(solution_cells(nb))
        print(f"  {out.name}/{path.name}: {done[path.stem]} solution cell(s) removed, outputs cleared")
    print(f"student: {len(done)} notebooks in {out}")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "student")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="folder of the stored .ipynb files")
    parser.add_argument("only", nargs="*", help="notebook stems (default: all)")
    args = parser.parse_args(argv)
    build(args.out.resolve(), args.notebooks.resolve(), args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
