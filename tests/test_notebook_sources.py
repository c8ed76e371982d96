"""The notebooks' text sources and their stored .ipynb agree, and the generated navigation is up to date."""
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))


def test_every_notebook_has_a_text_source_and_the_reverse():
    stems = {p.stem for p in SOURCES}
    stored = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert stems and stems == stored, f"unpaired: {sorted(stems ^ stored)}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_pair_is_in_sync(source):
    text = jupytext.read(source)
    stored = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert [c.cell_type for c in text.cells] == [c.cell_type for c in stored.cells], \
        f"{source.name} and its .ipynb differ in cells: run `python tools/execute_notebooks.py {source}`"
    for i, (a, b) in enumerate(zip(text.cells, stored.cells)):
        assert a.source == b.source, (f"cell {i} of {source.stem} differs between the .md source and the stored "
                                      f".ipynb: re-execute it with tools/execute_notebooks.py")
        assert a.metadata.get("tags", []) == b.metadata.get("tags", []), f"cell {i} tags differ"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_stored_outputs_are_complete(source):
    nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count is not None for c in code), f"{source.stem}: cells without stored outputs"
    assert not any(o.output_type == "error" for c in code for o in c.outputs), f"{source.stem}: an error is stored"
    assert "widgets" not in nb.metadata, "stored widget state makes nbconvert fetch widget scripts from a CDN"


def test_navigation_is_generated_and_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "navigation.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
