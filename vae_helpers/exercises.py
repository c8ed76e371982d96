"""Self-checks for the exercises: compare a learner's answer with the expected value, kindly."""
from __future__ import annotations

import math


def check_answer(answer, expected, *, rel: float = 0.05, abs_tol: float = 0.0, hint: str = "") -> bool:
    """Print whether `answer` matches `expected` (numbers within rel/abs_tol, else equality); return it."""
    if answer is None:
        print("Not answered yet: replace None with your answer and run the cell again.")
        return False
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        try:
            ok = math.isclose(float(answer), float(expected), rel_tol=rel, abs_tol=abs_tol)
        except (TypeError, ValueError):
            print(f"Expected a number, got {type(answer).__name__} {answer!r}.")
            return False
    else:
        ok = answer == expected
    print("Correct!" if ok else f"Not quite. {hint}".rstrip())
    return ok
