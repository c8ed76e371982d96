"""The learners' notebooks (`make student`, tools/make_student.py): no solution left, and they run.

Every notebook is converted (fast); notebooks 00 and 01 are executed top to bottom with nbclient
(VH_STUDENT_RUN=all runs every notebook; VAE_HELPERS_CACHE_DIR, if set, is the model cache they use,
warm or not): no error, and every exercise check prints "Not answered yet".
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import make_student  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK_CALL = re.compile(r"\bexercises\.check(?:_function)?\(")
RUN = [p for p in NOTEBOOKS if os.environ.get("VH_STUDENT_RUN") == "all" or p.stem[:2] in ("00", "01")]


def solution_lines(nb) -> set[str]:
    """Code lines of the worked solutions that appear in no other cell of the notebook (so a learner's
    stub such as `def my_kl(mu, logvar):` does not count)."""
    others = {line.strip() for c in nb.cells if c not in make_student.solution_cells(nb) for line in c.source.splitlines()}
    lines = set()
    for cell in make_student.solution_cells(nb):
        body = cell.source.split(make_student.MARKERS[0], 1)[-1].split(make_student.MARKERS[1], 1)[0]
        lines |= {s for line in body.splitlines() if (s := line.strip()) and not s.startswith("#") and s not in others}
    return lines


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    make_student.build(out, ROOT / "notebooks")
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_version_has_no_solution(student, path):
    """No solution cell, marker or solution line; no output; every learner cell and check cell kept."""
    original = nbformat.read(path, as_version=4)
    converted = nbformat.read(student / path.name, as_version=4)
    text = "\n".join(c.source for c in converted.cells)
    assert not any(m in text for m in make_student.MARKERS)
    assert not make_student.solution_cells(converted)
    leaked = [line for line in solution_lines(original) if line in text]
    assert not leaked, f"solution code left in {path.name}: {leaked}"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in converted.cells if c.cell_type == "code")
    kept = [c.source for c in original.cells if c not in make_student.solution_cells(original)]
    assert [c.source for c in converted.cells] == kept
    assert "jupytext" not in converted.metadata


@pytest.mark.parametrize("path", RUN, ids=[p.stem for p in RUN])
def test_student_notebook_runs_and_checks_say_not_answered(student, path, tmp_path):
    """Top to bottom with nbclient: no error; each exercise check prints "Not answered yet"."""
    from nbclient import NotebookClient
    nb = nbformat.read(student / path.name, as_version=4)
    os.environ.setdefault("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   record_timing=False).execute()  # raises CellExecutionError on the first error
    checks = 0
    for cell in nb.cells:
        calls = len(CHECK_CALL.findall(cell.source)) if cell.cell_type == "code" else 0
        if not calls:
            continue
        printed = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        assert printed.count("Not answered yet") == calls, f"{path.name}: check cell printed {printed!r}"
        checks += calls
    assert checks >= len(make_student.solution_cells(nbformat.read(path, as_version=4)))
    print(f"{path.name}: {checks} exercise check(s), each 'Not answered yet'")
