"""The subject-against-counterfactual check helper and the tool that lists every check (make checks)."""
import sys
from pathlib import Path

import nbformat
import pytest

import vae_helpers as vh

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import list_checks  # noqa: E402


def test_claim_passes_only_when_the_rule_holds_on_the_subject_and_fails_on_each_counterfactual(capsys):
    result = vh.claims.claim("A beats B", "> 2", lambda v: v > 2, subject={"A": 5.0}, counterfactual={"B": 1.0})
    assert result.passed
    out = capsys.readouterr().out
    assert out.startswith("CHECK: A beats B | rule: > 2") and "-> PASSED" in out and "fails on 1 of 1" in out
    with pytest.raises(AssertionError, match="C \\(should fail\\)"):
        vh.claims.claim("A beats B", "> 2", lambda v: v > 2, subject={"A": 5.0}, counterfactual={"B": 1.0, "C": 3.0})
    with pytest.raises(AssertionError, match="A \\(should hold\\)"):
        vh.claims.claim("A beats B", "> 2", lambda v: v > 2, subject={"A": 1.5}, counterfactual={"B": 1.0})
    assert "-> FAILED" in capsys.readouterr().out
    with pytest.raises(ValueError, match="demonstration"):
        vh.claims.claim("identity", "== 0", lambda v: v == 0, subject={"A": 0.0}, counterfactual={})


def _notebook(outputs):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("setup")]
    for text in outputs:
        nb.cells += [nbformat.v4.new_markdown_cell("**Check.** a claim"),
                     nbformat.v4.new_code_cell("...", outputs=[nbformat.v4.new_output("stream", name="stdout", text=text)])]
    nb.cells += [nbformat.v4.new_markdown_cell("prose"), nbformat.v4.new_code_cell("not a check")]
    return nb


def test_list_checks_counts_only_checks_shown_failing_on_their_counterfactual():
    shown = "CHECK: x | rule: r\n  subject  A  +1  holds\n  counterfactual  B  +0  fails\n  -> PASSED: ...\n"
    nb = _notebook([shown, "plain numbers, no table\n", shown.replace("-> PASSED", "-> FAILED")])
    found = list_checks.checks_of(nb)
    assert [index for index, *_ in found] == [2, 4, 6]
    assert [ok for *_, ok in found] == [True, False, False]
