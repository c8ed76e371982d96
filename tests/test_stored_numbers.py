"""The stored outputs are what the notebooks compute: every printed number, re-executed, within tolerance.

Each notebook is run again top to bottom (the model cache makes this a load, not a retraining, after
`make test`'s nbval pass) and every number in the text each code cell prints is compared with the stored
one. Tolerance: two units of the last printed digit, or 2% of the value, whichever is larger (torch's CPU
output differs in the last bits across thread counts, and a share of 1,000 judged samples can move by a
sample or two). Lines about timing, caching and progress are skipped; so are cells tagged
nbval-ignore-output.

The comparison needs a machine of the same arithmetic as the one that computed the stored outputs
(notebooks/outputs_computed_on.txt, written by `make notebooks`): bf16 kernels round differently on other
processors, and a different processor moved 84 printed lines beyond tolerance (notebook 00 says by how much).
On another machine the notebook tests skip and say so; `make notebooks` there makes them compare again.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import execute_notebooks  # noqa: E402
PATHS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?")
TIMING = re.compile(r"\d+(?:\.\d+)?\s?(?:s|ms|µs)\b")     # a duration inside a line, as nbval_sanitize.cfg
SKIP = re.compile(r"\b(seconds?|years|took|about [\d.e+-]+ s\b|in \d[\d.]* s|s/step|steps? \[|it/s|from cache|retrain|trained|Training|ms\b)", re.I)


def printed_lines(cell) -> list[str]:
    """The lines a code cell printed (stdout and plain-text results), without timing or cache chatter."""
    text = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            text.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result",) and "text/plain" in out.get("data", {}):
            if "image/png" not in out["data"] and "text/html" not in out["data"]:
                text.append(out["data"]["text/plain"] + "\n")
    lines = [TIMING.sub("TIME", line) for line in "".join(text).splitlines() if not SKIP.search(line)]
    return [line for line in lines if NUMBER.search(line)]


def close(stored: str, fresh: str) -> bool:
    """Within two units of the stored number's last printed digit, or 2% of it."""
    a, b = (float(v.replace(",", "")) for v in (stored, fresh))
    decimals = len(stored.split(".")[1]) if "." in stored and "e" not in stored.lower() else 0
    return abs(a - b) <= max(2 * 10 ** -decimals, 0.02 * abs(a)) + 1e-9


def mismatches(stored_nb, fresh_nb) -> list[str]:
    """One line per printed number that differs beyond tolerance (or per line whose numbers changed in count)."""
    found = []
    for i, (old, new) in enumerate(zip(stored_nb.cells, fresh_nb.cells)):
        if old.cell_type != "code" or "nbval-ignore-output" in old.get("metadata", {}).get("tags", []):
            continue
        old_lines, new_lines = printed_lines(old), printed_lines(new)
        if len(old_lines) != len(new_lines):
            found.append(f"cell {i}: {len(old_lines)} printed lines with numbers stored, {len(new_lines)} now")
            continue
        for a, b in zip(old_lines, new_lines):
            na, nb_ = NUMBER.findall(a), NUMBER.findall(b)
            if len(na) != len(nb_) or not all(close(x, y) for x, y in zip(na, nb_)):
                found.append(f"cell {i}:\n    stored: {a}\n    now:    {b}")
    return found


def test_close_follows_the_printed_precision():
    assert close("0.25", "0.27") and not close("0.25", "0.28")
    assert close("163.6", "163.8") and not close("10.6", "10.9")
    assert close("1,933.8", "1933.9") and close("220", "224") and not close("22", "25")


def test_the_stored_outputs_say_which_machine_computed_them():
    assert execute_notebooks.COMPUTED_ON.read_text().count("; torch ") == 1


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_printed_numbers_match_a_fresh_run(path):
    stored_on, here = execute_notebooks.COMPUTED_ON.read_text().strip(), execute_notebooks.arithmetic()
    if stored_on != here:
        pytest.skip(f"the stored outputs were computed on {stored_on}; this machine is {here}: "
                    "printed numbers are compared only on the same arithmetic (run make notebooks here)")
    stored = nbformat.read(path, as_version=4)
    fresh = nbformat.read(path, as_version=4)
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    execute_notebooks.execute(fresh, path.parent, keep_going=True)     # the same runner as make notebooks
    found = mismatches(stored, fresh)
    assert not found, f"{path.name}: printed numbers differ from the stored outputs:\n" + "\n".join(found)


def test_storing_some_notebooks_on_another_machine_warns_and_keeps_the_record(tmp_path, monkeypatch, capsys):
    record = tmp_path / "computed_on.txt"
    monkeypatch.setattr(execute_notebooks, "COMPUTED_ON", record)
    monkeypatch.setattr(execute_notebooks, "arithmetic", lambda: "this cpu")
    execute_notebooks.record_machine(PATHS[:1])                 # nothing recorded yet: this machine
    assert record.read_text() == "this cpu\n"
    record.write_text("another cpu\n")
    execute_notebooks.record_machine([p.with_suffix(".md") for p in PATHS[:1]])
    assert record.read_text() == "another cpu\n" and "WARNING" in capsys.readouterr().out
    execute_notebooks.record_machine(execute_notebooks.sources([]))   # the whole series: this machine's now
    assert record.read_text() == "this cpu\n"
