"""Checks of the series' claims: one statistic, on the claim's subject and on counterfactuals that must fail.

A check that passes whatever the model did checks nothing. So each check cell computes its statistic on the
*subject* of the claim (the model, sample or estimate the claim is about) and on at least one
*counterfactual*: what the claim says must differ (the other model, a true N(0, I) sample, shuffled
labels, ...). `claim` prints them side by side and asserts that the rule holds on every subject and fails
on every counterfactual. `tools/list_checks.py` (make checks) collects the printed tables of all notebooks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

MARK = "CHECK:"       # first word of a printed check table (tools/list_checks.py looks for it)


@dataclass
class ClaimCheck:
    """The outcome of one check: the rule's verdict on each subject and counterfactual."""

    claim: str
    rule: str
    rows: list[tuple[str, str, float, bool]]     # (role, name, statistic, rule holds)

    @property
    def passed(self) -> bool:
        """True when the rule holds on every subject and fails on every counterfactual."""
        return all(ok == (role == "subject") for role, _, _, ok in self.rows)

    def table(self, fmt: str = "{:+.3g}") -> str:
        """The printed form: one line per subject and counterfactual, then the verdict."""
        width = max(len(name) for _, name, _, _ in self.rows)
        lines = [f"{MARK} {self.claim} | rule: {self.rule}"]
        lines += [f"  {role:14s} {name:{width}s}  {fmt.format(value):>9s}  {'holds' if ok else 'fails'}"
                  for role, name, value, ok in self.rows]
        failed = sum(not ok for role, _, _, ok in self.rows if role == "counterfactual")
        total = sum(role == "counterfactual" for role, _, _, _ in self.rows)
        lines.append(f"  -> {'PASSED' if self.passed else 'FAILED'}: the rule holds on "
                     f"{sum(ok for role, _, _, ok in self.rows if role == 'subject')} of "
                     f"{sum(role == 'subject' for role, _, _, _ in self.rows)} subjects and fails on {failed} of "
                     f"{total} counterfactuals")
        return "\n".join(lines)


def claim(claim: str, rule: str, holds: Callable[[float], bool], subject: dict[str, float],
          counterfactual: dict[str, float], fmt: str = "{:+.3g}") -> ClaimCheck:
    """Print the check table of `claim` and assert it: `holds` true on each subject, false on each counterfactual.

    `rule` says `holds` in words (e.g. "> 4 standard errors = 0.06"); statistics are plain floats.
    """
    if not subject or not counterfactual:
        raise ValueError("a check needs at least one subject and one counterfactual; an identity or sanity "
                         "check is a demonstration: print it without `claim`.")
    rows = [("subject", name, float(v), bool(holds(v))) for name, v in subject.items()]
    rows += [("counterfactual", name, float(v), bool(holds(v))) for name, v in counterfactual.items()]
    result = ClaimCheck(claim, rule, rows)
    print(result.table(fmt))
    if not result.passed:
        wrong = [f"{name} ({'should hold' if role == 'subject' else 'should fail'})"
                 for role, name, _, ok in rows if ok != (role == "subject")]
        raise AssertionError(f"check '{claim}' failed on: {', '.join(wrong)}")
    return result
