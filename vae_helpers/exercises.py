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

import numpy as np
import torch

from .checks import N_PIXELS
from .losses import kl_divergence, reconstruction_loss
from .models import IMAGE_SHAPE

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
    wrongs = [(wrong(**objects), hint) for wrong, hint in exercise.wrong]
    if _same(answer, expected, exercise.rel, exercise.abs_tol):
        # "Correct" only when no typical wrong answer is closer: a tolerance wide enough to forgive rounding
        # must not let a wrong method that lands near the right number through.
        closer = [hint for value, hint in wrongs if _distance(answer, value) < _distance(answer, expected)]
        if not closer:
            return True, f"Correct!{measured}"
        return False, f"Not quite: {closer[0]}{measured}"
    for value, hint in wrongs:
        if _same(answer, value, exercise.rel, exercise.abs_tol):
            return False, f"Not quite: {hint}{measured}"
    return False, f"Not quite. {exercise.hint}{measured}".rstrip()


def _distance(answer, value) -> float:
    """|answer - value| for numbers; 0 for equal words or truth values, infinity for anything else."""
    if isinstance(value, (bool, str)) or isinstance(answer, (bool, str)):
        return 0.0 if _same(answer, value, 0.0, 0.0) else math.inf
    try:
        return abs(float(answer) - float(value))
    except (TypeError, ValueError):
        return math.inf


def check(key: str, answer, **objects) -> bool:
    """The one entry point: print whether `answer` to exercise `key` (e.g. "01.1") is right, with a specific hint
    if not, and return it. For the exercises that ask for a function ("04.1"-"04.3"), `answer` is the function."""
    if key in FUNCTION_EXERCISES:
        return _check_function(key, answer)
    if key not in EXERCISES:
        known = sorted([*EXERCISES, *FUNCTION_EXERCISES])
        raise KeyError(f"No exercise {key!r}; known: {', '.join(known)}.")
    ok, message = verdict(EXERCISES[key], answer, **objects)
    print(message)
    return ok


def _gap(gaps, n):
    return gaps[n][1] - gaps[n][0]


def _choice(condition: bool, yes: str, no: str) -> str:
    return yes if condition else no


EXERCISES: dict[str, Exercise] = {
    # --- 01: the limits of a vanilla autoencoder --------------------------------------------
    "01.1": Exercise(
        answer=lambda gaps: _gap(gaps, 200) / (N_PIXELS * LN2),
        wrong=[(lambda gaps: -_gap(gaps, 200) / (N_PIXELS * LN2), "the sign is flipped: the gap is test minus train "
                                                              "(positive when the model does better on its own images)."),
               (lambda gaps: _gap(gaps, 200), "that is the gap in nats per image; convert it to bits per pixel."),
               (lambda gaps: _gap(gaps, 200) / LN2, "that is bits per image; divide by the 784 pixels too."),
               (lambda gaps: _gap(gaps, 200) / N_PIXELS, "that is nats per pixel; one bit is ln 2 nats."),
               (lambda gaps: _gap(gaps, 50) / (N_PIXELS * LN2), "that is the 50-image model; the exercise asks about 200."),
               (lambda gaps: _gap(gaps, 1000) / (N_PIXELS * LN2), "that is the 1,000-image model; the exercise asks about 200."),
               (lambda gaps: gaps[200][1] / (N_PIXELS * LN2), "that is the test loss alone: subtract the training loss.")],
        hint="gaps[n] holds (training loss, test loss) for n training images, in nats per image (summed over 784 "
             "pixels); a bit is ln 2 nats.", rel=0.01),
    "01.2": Exercise(
        answer=lambda small, flexible: small.train_loss[-1] < flexible.train_loss[-1] + 10,
        hint="a lookup table has to be found by gradient descent; a narrow network has fewer ways to get there.",
        explain=lambda small, flexible: (f"Measured final training loss: {small.train_loss[-1]:.1f} nats/image with "
                                         f"hidden=(16,), {flexible.train_loss[-1]:.1f} with the flexible network.")),
    "01.3": Exercise(
        answer=lambda salt: _choice(abs(salt[1000] - salt[200]) < abs(salt[1000] - salt[4000]), "200", "4000"),
        hint="at a fixed budget of 400 steps, how many times does each image get seen with 200, 1,000 and 4,000 "
             "images?",
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
        hint="where do the autoencoder's codes sit relative to N(0, I) (notebook 01, section 6), and where did the "
             "KL term put the VAE's? Blurry but readable samples count as real.",
        explain=lambda accepted, seeds: "Measured share accepted (seeds " + ", ".join(map(str, seeds)) + "): VAE " +
        ", ".join(f"{accepted['VAE', s]:.0%}" for s in seeds) + "; AE " +
        ", ".join(f"{accepted['Autoencoder', s]:.0%}" for s in seeds) + "."),
    "02.3": Exercise(
        answer=lambda beta0, vae, ae: _choice(abs(math.log(beta0 / vae)) < abs(math.log(beta0 / ae)), "VAE", "AE"),
        hint="without the KL term nothing pulls the codes towards the prior; only the noise of sampling remains.",
        explain=lambda beta0, vae, ae: f"Measured neighbour ratios: beta = 0 {beta0:.2f}, VAE {vae:.2f}, AE {ae:.2f}."),
    # --- 03: the probability model -------------------------------------------------------------
    "03.1": Exercise(
        answer=lambda model, x: abs(_grid_1d(model, x, 21) - model.log_evidence(x)) < 0.01,
        hint="a Riemann sum of a smooth function that decays fast at both ends of the grid converges much faster "
             "than its spacing suggests: try it with 21 points and compare with the closed form.",
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
    # --- 04: variational inference --------------------------------------------------------------
    "04.4": Exercise(
        answer=lambda: "kl",
        wrong=[(lambda: "recon", "the reconstruction line sums over pixels and divides by the batch size: nats per "
                                 "image, as it should be. Look at the reduction of the other line.")],
        hint='answer "recon" or "kl".'),
    "04.5": Exercise(
        answer=lambda batch, latent_dim: float(latent_dim),
        wrong=[(lambda batch, latent_dim: float(batch * latent_dim),
                "torch.mean divides by batch x latent_dim, but the right KL for this loss is also divided by the "
                "batch (the recon line is divided by len(x)): only one of the two divisions is wrong."),
               (lambda batch, latent_dim: float(batch), "the division by the batch is right here (it matches the "
                                                        "recon line's / len(x)); look at the other division."),
               (lambda batch, latent_dim: 1.0 / latent_dim,
                "inverted: the buggy term is smaller than the right one, so the factor is larger than 1.")],
        hint="write both as a sum over the (batch, latent_dim) terms: the right one is sum / batch (like recon); "
             "what does torch.mean divide the sum by?",
        rel=1e-6),
    # --- 05: the latent-space lab -------------------------------------------------------------------
    "05.1": Exercise(
        answer=lambda free_bits, latent_dim: free_bits * latent_dim,
        wrong=[(lambda free_bits, latent_dim: free_bits, "that is one dimension's allowance; every dimension is charged "
                                                         "at least lambda."),
               (lambda free_bits, latent_dim: 0.0, "the true KL can be 0, but the charged term replaces each dimension's "
                                                   "KL by max(lambda, KL_j).")],
        hint="the charged term is the sum over dimensions of max(lambda, KL_j).", rel=1e-6),
    "05.2": Exercise(
        answer=lambda active_16, active_8: _choice(active_16 > active_8, "more", "not more"),
        hint="beta is the price of a nat of information in the code.",
        explain=lambda active_16, active_8: f"Measured active dimensions: beta = 8 {active_8}, beta = 16 {active_16}."),
    # --- 06 and 07: VAE samples as data, a GAN ------------------------------------------------------------------------------
    "07.1": Exercise(
        answer=lambda gan: sum(p.numel() for p in gan.generator.parameters()),
        wrong=[(lambda gan: sum(m.weight.numel() for m in gan.generator if hasattr(m, "weight")),
                "that counts the weights only: every unit of a Linear layer also has a bias."),
               (lambda gan: sum(p.numel() for p in gan.parameters()),
                "that is the whole GAN: the question asks for the generator alone, not the discriminator."),
               (lambda gan: sum(p.numel() for p in gan.generator[0].parameters()),
                "that is the first layer only: add the layer from the 400 hidden units to the 784 pixels.")],
        hint="two Linear layers: (inputs x outputs) weights + outputs biases each.", rel=0.0, abs_tol=0.5),
    "06.1": Exercise(
        answer=lambda gains: _choice(float(np.mean(gains)) >= 1.0, "yes", "no"),
        hint="a VAE trained on the labelled images can only recombine them.",
        explain=lambda gains: "Measured gains with 50 per class: " + ", ".join(f"{g:+.1f}" for g in gains) + " points."),
}


def _grid_1d(model, x, points: int) -> float:
    from .evidence import grid_log_evidence
    return grid_log_evidence(model.log_likelihood(x), dim=1, points=points, limit=6.0)[0]


# --- exercises where the learner writes a function: diagnose the typical bugs -----------------

def _call(fn, *args):
    """fn(*args), or the message to show if it fails."""
    try:
        result = fn(*args)
    except Exception as err:  # noqa: BLE001 - any error in the learner's code is reported, not raised
        return None, f"Your function raised {type(err).__name__}: {err}"
    if result is None:
        return None, "Not answered yet: your function returns None; write its body and run both cells again."
    return result, ""


def _diagnose_reparameterize(fn) -> tuple[bool, str]:
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(4000, 3, generator=gen).requires_grad_(True)
    logvar = torch.full((4000, 3), float(torch.log(torch.tensor(4.0)))).requires_grad_(True)   # sigma = 2
    z, problem = _call(fn, mu, logvar)
    if problem:
        return False, problem
    if not isinstance(z, torch.Tensor) or z.shape != mu.shape:
        return False, f"It returns {getattr(z, 'shape', type(z).__name__)}; expected a tensor shaped like mu, {tuple(mu.shape)}."
    if not z.requires_grad:
        return False, ("No gradient reaches mu: build z = mu + sigma * eps from mu and logvar themselves "
                       "(torch.normal(mu, sigma) samples without passing gradients).")
    z2, _ = _call(fn, mu, logvar)
    if torch.equal(z.detach(), z2.detach()):
        return False, "It returns the same z twice: no randomness. Draw eps = torch.randn_like(mu) on every call."
    spread = (z.detach() - mu.detach()).std().item()
    known = {4.0: "exp(logvar) is the variance, not the standard deviation: sigma = exp(0.5 * logvar).",
             1.386: "logvar itself was used as the standard deviation: sigma = exp(0.5 * logvar).",
             1.0: "the noise is not scaled: multiply eps by sigma = exp(0.5 * logvar).",
             16.0: "that is exp(2 * logvar): sigma = exp(0.5 * logvar)."}
    for value, hint in known.items():
        if abs(spread - value) < 0.08 * value:
            return False, f"The samples spread with standard deviation {spread:.2f} instead of 2: {hint}"
    if abs(spread - 2.0) > 0.15 or abs((z.detach() - mu.detach()).mean().item()) > 0.1:
        return False, f"z should be centred on mu with standard deviation exp(0.5 * logvar) (here 2); got {spread:.2f}."
    grads = torch.autograd.grad(z.sum(), [mu, logvar], allow_unused=True)
    if grads[0] is None or not torch.allclose(grads[0], torch.ones_like(mu)):
        return False, ("dz/dmu should be 1 for every element. Samplers such as torch.normal(mu, sigma) do not pass "
                       "gradients the way the trick needs: write z = mu + sigma * eps with eps = torch.randn_like(mu).")
    if grads[1] is None or grads[1].abs().sum() == 0:
        return False, "No gradient reaches logvar: compute sigma from logvar with differentiable operations."
    return True, "Correct! z = mu + exp(0.5 * logvar) * eps: random, centred on mu, with gradients to mu and logvar."


def _diagnose_kl(fn) -> tuple[bool, str]:
    gen = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(8, 5, generator=gen), 0.5 * torch.randn(8, 5, generator=gen)
    got, problem = _call(fn, mu, logvar)
    if problem:
        return False, problem
    ref = kl_divergence(mu, logvar)
    if not isinstance(got, torch.Tensor):
        return False, f"It returns a {type(got).__name__}; expected a tensor with one KL per image."
    if got.shape == mu.shape:
        return False, "It returns one value per latent dimension: sum over the dimensions (dim=1) to get one KL per image."
    if got.numel() == 1:
        total = got.item()
        if abs(total - ref.mean().item()) < 1e-4 * max(1, abs(total)) or abs(total - ref.sum().item()) < 1e-4 * abs(ref.sum().item()):
            return False, ("It returns a single number for the batch: keep one KL per image, shape (B,); "
                           "the loss takes the batch mean later.")
    if got.shape != ref.shape:
        return False, f"It returns shape {tuple(got.shape)}; expected (B,) = {tuple(ref.shape)}."
    wrongs = {"the sign is flipped: the paper's Appendix B writes -KL = 1/2 sum(1 + log s^2 - mu^2 - s^2); "
              "the loss adds +KL, which is never negative.": -ref,
              "the factor 1/2 is missing.": 2 * ref,
              "it averages over the latent dimensions: the KL of independent dimensions adds up (sum, not mean).":
                  ref / mu.shape[1],
              "it treats logvar as the standard deviation; here logvar is log sigma^2, so sigma^2 = exp(logvar).":
                  0.5 * (mu.pow(2) + logvar.pow(2) - 1.0 - logvar.pow(2).log()).sum(dim=1),
              "it uses exp(logvar) where the variance's log belongs (or the other way round).":
                  0.5 * (mu.pow(2) + logvar - 1.0 - logvar.exp().log().log().nan_to_num()).sum(dim=1)}
    if torch.allclose(got, ref, rtol=1e-4, atol=1e-5):
        return True, "Correct! KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2), one value per image, in nats."
    for hint, value in wrongs.items():
        if torch.allclose(got, value, rtol=1e-4, atol=1e-5):
            return False, f"Not quite: {hint}"
    return False, "Not quite: compare with 1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j), summed over dimensions."


def _diagnose_negative_elbo(fn) -> tuple[bool, str]:
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(6, *IMAGE_SHAPE, generator=gen) > 0.7).float()
    logits = torch.randn(6, *IMAGE_SHAPE, generator=gen)
    mu, logvar = torch.randn(6, 4, generator=gen), 0.3 * torch.randn(6, 4, generator=gen)
    got, problem = _call(fn, x, logits, mu, logvar)
    if problem:
        return False, problem
    if not isinstance(got, torch.Tensor) or got.numel() != 1:
        return False, "It should return one number: the batch mean of -ELBO, in nats per image."
    got = got.item()
    recon = reconstruction_loss(logits, x)
    kl = kl_divergence(mu, logvar)
    ref = (recon + kl).mean().item()
    wrongs = {"the KL term is missing: -ELBO = reconstruction + KL.": recon.mean().item(),
              "the KL has the wrong sign: it is added to the reconstruction loss.": (recon - kl).mean().item(),
              "the reconstruction is averaged over pixels while the KL is summed: that silently sets beta = 784. "
              "Sum over pixels.": (recon / N_PIXELS + kl).mean().item(),
              "everything is averaged over pixels: report nats per image (sum over the 784 pixels).":
                  (recon / N_PIXELS + kl / N_PIXELS).mean().item(),
              "it sums over the batch: take the mean over images, so the number does not depend on the batch size.":
                  (recon + kl).sum().item(),
              "the KL is averaged over latent dimensions instead of summed.": (recon + kl / 4).mean().item(),
              "the logits were passed through a sigmoid twice (use binary_cross_entropy_with_logits on logits).":
                  (reconstruction_loss(torch.sigmoid(logits), x) + kl).mean().item()}
    if abs(got - ref) < 1e-5 * abs(ref):
        return True, f"Correct! -ELBO = mean over images of (reconstruction summed over pixels + KL): {ref:.1f} nats per image here."
    for hint, value in wrongs.items():
        if abs(got - value) < 1e-5 * max(1.0, abs(value)):
            return False, f"Not quite: {hint}"
    return False, "Not quite: -ELBO per image = BCE-with-logits summed over the 784 pixels + KL summed over dimensions; then the batch mean."


FUNCTION_EXERCISES = {"04.1": _diagnose_reparameterize, "04.2": _diagnose_kl, "04.3": _diagnose_negative_elbo}


def _check_function(key: str, fn) -> bool:
    """Test a learner's function for exercise `key` and say precisely what is wrong, if anything; return it."""
    if fn is None:
        print("Not answered yet: define your function in the cell above and run it, then run this check.")
        return False
    ok, message = FUNCTION_EXERCISES[key](fn)
    print(message)
    return ok
