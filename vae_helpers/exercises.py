"""Self-checks for the exercises: the expected answer is computed here, from the notebook's objects.

A learner's cell holds only their answer (`answer_1 = None`); the check cell calls
`vh.exercises.check("01.1", answer_1, gaps=gaps)`. The checker computes the right answer from the
objects passed in, recognises the typical wrong answers (sign, train/test swapped, per pixel
instead of per image, nats instead of bits, ...) and gives a hint specific to each. For a
prediction ("up" or "down"), what was measured is shown only once the learner has committed.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LN2 = math.log(2)


@dataclass
class Exercise:
    """One exercise: how to compute its answer, the typical wrong answers with their hints."""

    answer: Callable[..., Any]                                   # objects -> the expected answer
    wrong: list[tuple[Callable[..., Any], str]] = field(default_factory=list)  # (objects -> a wrong answer, hint)
    hint: str = ""                                               # for any other wrong answer
    explain: Callable[..., str] | None = None                    # objects -> what was measured (predictions)
    rel: float = 0.02                                            # relative tolerance for numbers
    abs_tol: float = 1e-9


def _same(answer, expected, rel: float, abs_tol: float) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return isinstance(answer, bool) and answer == expected
    if isinstance(expected, str):
        return isinstance(answer, str) and answer.strip().lower() == expected.strip().lower()
    try:
        return math.isclose(float(answer), float(expected), rel_tol=rel, abs_tol=abs_tol)
    except (TypeError, ValueError):
        return False


def _type_problem(answer, expected) -> str:
    """A message if `answer` is not the kind of thing asked for (a number, True/False, a word), else ""."""
    got = f"got {type(answer).__name__} {answer!r}"
    if isinstance(expected, bool):
        return "" if isinstance(answer, bool) else f"Expected True or False, {got}."
    if isinstance(expected, str):
        return "" if isinstance(answer, str) else f"Expected one of the words the question offers (in quotes), {got}."
    try:
        float(answer)
    except (TypeError, ValueError):
        return f"Expected a number, {got}."
    return "" if not isinstance(answer, (bool, str)) else f"Expected a number, {got}."


def verdict(exercise: Exercise, answer, **objects) -> tuple[bool, str]:
    """(correct?, the message to show) for `answer`, without printing."""
    if answer is None:
        return False, "Not answered yet: replace None with your answer and run the cell again."
    expected = exercise.answer(**objects)
    problem = _type_problem(answer, expected)
    if problem:
        return False, problem
    measured = f" {exercise.explain(**objects)}" if exercise.explain else ""
    if _same(answer, expected, exercise.rel, exercise.abs_tol):
        return True, f"Correct!{measured}"
    for wrong, hint in exercise.wrong:
        if _same(answer, wrong(**objects), exercise.rel, exercise.abs_tol):
            return False, f"Not quite: {hint}{measured}"
    return False, f"Not quite. {exercise.hint}{measured}".rstrip()


def check(key: str, answer, **objects) -> bool:
    """Print whether `answer` to exercise `key` (e.g. "01.1") is right, with a specific hint if not; return it."""
    if key not in EXERCISES:
        raise KeyError(f"No exercise {key!r}; known: {', '.join(sorted(EXERCISES))}.")
    ok, message = verdict(EXERCISES[key], answer, **objects)
    print(message)
    return ok


def check_answer(answer, expected, *, rel: float = 0.05, abs_tol: float = 0.0, hint: str = "") -> bool:
    """Compare `answer` with a value computed by the caller (numbers within rel/abs_tol); print and return it."""
    return check_exercise(Exercise(answer=lambda: expected, hint=hint, rel=rel, abs_tol=abs_tol), answer)


def check_exercise(exercise: Exercise, answer, **objects) -> bool:
    """`check` for an Exercise object that is not in the registry."""
    ok, message = verdict(exercise, answer, **objects)
    print(message)
    return ok


def _gap(gaps, n):
    return gaps[n][1] - gaps[n][0]


def _choice(condition: bool, yes: str, no: str) -> str:
    return yes if condition else no


EXERCISES: dict[str, Exercise] = {
    # --- 01: the limits of a vanilla autoencoder --------------------------------------------
    "01.1": Exercise(
        answer=lambda gaps: _gap(gaps, 200),
        wrong=[(lambda gaps: -_gap(gaps, 200), "the sign is flipped: the gap is test minus train (positive when "
                                               "the model does better on the images it was trained on)."),
               (lambda gaps: _gap(gaps, 50), "that is the 50-image model; the exercise asks about 200 images."),
               (lambda gaps: _gap(gaps, 1000), "that is the 1,000-image model; the exercise asks about 200 images."),
               (lambda gaps: gaps[200][1], "that is the test loss alone: subtract the training loss."),
               (lambda gaps: _gap(gaps, 200) / 784, "that is per pixel; the series reports nats per image "
                                                     "(summed over the 784 pixels)."),
               (lambda gaps: _gap(gaps, 200) / LN2, "that is in bits; the losses here are in nats.")],
        hint="gaps[n] holds (training loss, test loss) for n training images, in nats per image.", rel=0.01),
    "01.2": Exercise(
        answer=lambda small, flexible: small.train_loss[-1] < flexible.train_loss[-1] + 10,
        hint="capacity is what lets a network build a lookup table; a 16-unit layer has little of it.",
        explain=lambda small, flexible: (f"Measured final training loss: {small.train_loss[-1]:.1f} nats/image with "
                                         f"hidden=(16,), {flexible.train_loss[-1]:.1f} with the flexible network.")),
    "01.3": Exercise(
        answer=lambda salt: _choice(abs(salt[1000] - salt[200]) < abs(salt[1000] - salt[4000]), "200", "4000"),
        hint="more training images leave less spare capacity per image for storing noise.",
        explain=lambda salt: ("Measured share of the training salt reproduced: " +
                              ", ".join(f"{n:,} images {v:.0%}" for n, v in sorted(salt.items())) + ".")),
    # --- 02: from points to distributions ----------------------------------------------------
    "02.1": Exercise(
        answer=lambda: 0.5,
        wrong=[(lambda: 1.0, "you forgot the factor 1/2 in front of the sum."),
               (lambda: -0.5, "the sign: a KL divergence is never negative (the paper's Appendix B writes -KL)."),
               (lambda: 0.5 / LN2, "that is in bits; the series works in nats (natural logarithms)."),
               (lambda: 1.5, "sigma^2 - 1 - log sigma^2 is 0 when log sigma^2 = 0: only mu contributes.")],
        hint="Add up 1/2 (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2) over both dimensions; sigma_j^2 = exp(0) = 1.",
        rel=1e-3),
    "02.2": Exercise(
        answer=lambda accepted, seeds: sum(accepted["VAE", s] > accepted["Autoencoder", s] for s in seeds) >= 2,
        hint="two numbers are too few to draw crisp images for either model; the VAE's decoder is also the blurrier.",
        explain=lambda accepted, seeds: "Measured share accepted (seeds " + ", ".join(map(str, seeds)) + "): VAE " +
        ", ".join(f"{accepted['VAE', s]:.0%}" for s in seeds) + "; AE " +
        ", ".join(f"{accepted['Autoencoder', s]:.0%}" for s in seeds) + "."),
    "02.3": Exercise(
        answer=lambda beta0, vae, ae: _choice(abs(beta0 - vae) < abs(beta0 - ae), "VAE", "AE"),
        hint="without the KL term nothing pulls the codes towards the prior; only the noise of sampling remains.",
        explain=lambda beta0, vae, ae: f"Measured neighbour ratios: beta = 0 {beta0:.2f}, VAE {vae:.2f}, AE {ae:.2f}."),
    # --- 03: the probability model -------------------------------------------------------------
    "03.1": Exercise(
        answer=lambda model, x: abs(_grid_1d(model, x, 21) - model.log_evidence(x)) < 0.01,
        hint="in 1-D a smooth posterior needs only a few grid points per standard deviation.",
        explain=lambda model, x: (f"Measured: 21 points give {_grid_1d(model, x, 21):.4f} nats, the closed form "
                                  f"{model.log_evidence(x):.4f}.")),
    "03.2": Exercise(
        answer=lambda: 50 ** 16,
        wrong=[(lambda: 16 ** 50, "the exponent is the number of dimensions: G to the power d."),
               (lambda: 50 * 16, "the axes combine, they do not add: every point of one axis meets every point of "
                                 "the others."),
               (lambda: 50 ** 2, "that is the 2-D grid; this one has 16 axes.")],
        hint="one grid point per combination of the 50 positions of each of the 16 axes.", rel=1e-9),
    "03.3": Exercise(
        answer=lambda log_evidence, elbo: log_evidence - elbo,
        wrong=[(lambda log_evidence, elbo: elbo - log_evidence, "the sign: the ELBO is the lower of the two, "
                                                                 "so the KL (never negative) is log P(x) - ELBO."),
               (lambda log_evidence, elbo: (log_evidence - elbo) / LN2, "that is in bits; the series works in nats.")],
        hint="log P(x) = ELBO + KL(q || posterior).", rel=0.02),
}


def _grid_1d(model, x, points: int) -> float:
    from .evidence import grid_log_evidence
    return grid_log_evidence(model.log_likelihood(x), dim=1, points=points, limit=6.0)[0]
