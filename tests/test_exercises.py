"""Every exercise checker: the right answer passes, each typical wrong answer gets its own hint."""
import math

import pytest
import torch
import torch.nn.functional as F

import vae_helpers as vh
from vae_helpers import exercises as ex
from vae_helpers.training import History

GAPS = {50: (46.0, 287.0), 200: (52.0, 174.0), 1000: (78.0, 99.0), 4000: (86.0, 91.0)}


def verdict(key, answer, **objects):
    return ex.verdict(ex.EXERCISES[key], answer, **objects)


@pytest.mark.parametrize("key, objects, right, wrongs", [
    ("01.1", {"gaps": GAPS}, 122.0 / (784 * math.log(2)),
     {-122.0 / (784 * math.log(2)): "sign", 122.0: "nats per image", 122.0 / math.log(2): "bits per image",
      122.0 / 784: "nats per pixel", 241.0 / (784 * math.log(2)): "50-image", 174.0 / (784 * math.log(2)): "test loss alone"}),
    ("02.1", {}, 0.5, {1.0: "1/2", -0.5: "sign", 0.5 / math.log(2): "bits"}),
    ("03.2", {}, 50 ** 16, {16 ** 50: "exponent", 800: "combine", 2500: "2-D"}),
    ("03.3", {"log_evidence": -180.0, "elbo": -185.0}, 5.0, {-5.0: "sign", 5 / math.log(2): "bits"}),
    ("04.5", {"batch": 128, "latent_dim": 20}, 20, {2560: "only one of the two", 128: "division by the batch",
                                                     1 / 20: "inverted"}),
    ("05.1", {"free_bits": 0.5, "latent_dim": 16}, 8.0, {0.5: "one dimension", 0.0: "max(lambda"}),
    ("07.1", {"gan": vh.GAN(16)}, 321_184, {320_000: "bias", 321_184 + 314_401: "whole GAN", 6_800: "first layer"}),
])
def test_numeric_checkers(key, objects, right, wrongs):
    ok, message = verdict(key, right, **objects)
    assert ok and message.startswith("Correct")
    for value, word in wrongs.items():
        ok, message = verdict(key, value, **objects)
        assert not ok and word in message, (value, message)
    assert verdict(key, None, **objects) == (False, "Not answered yet: replace None with your answer and run the "
                                                    "cell again.")
    ok, message = verdict(key, "twelve", **objects)
    assert not ok and "Expected a number" in message


@pytest.mark.parametrize("key, objects, right", [
    ("01.2", {"small": History(train_loss=[90.0]), "flexible": History(train_loss=[42.0])}, False),
    ("01.3", {"salt": {200: 1.0, 1000: 0.04, 4000: 0.01}}, "4000"),
    ("02.2", {"accepted": {("VAE", 0): .2, ("Autoencoder", 0): .3, ("VAE", 1): .2, ("Autoencoder", 1): .4,
                           ("VAE", 2): .3, ("Autoencoder", 2): .2}, "seeds": (0, 1, 2)}, False),
    ("02.3", {"beta0": 2.0, "vae": 1.2, "ae": 2.1}, "AE"),
    ("02.3", {"beta0": 4.95, "vae": 1.72, "ae": 8.29}, "AE"),          # closer as a factor, not in plain distance
    ("02.3", {"beta0": 1.3, "vae": 1.2, "ae": 2.1}, "VAE"),
    ("03.1", {"model": vh.evidence.LinearGaussianModel(latent_dim=1, data_dim=1, noise_std=0.5, seed=3),
              "x": torch.tensor([1.2], dtype=torch.float64)}, True),         # notebook 03's toy: 21 points suffice
    ("03.1", {"model": vh.evidence.LinearGaussianModel(latent_dim=1, data_dim=1, noise_std=0.05, seed=3),
              "x": torch.tensor([1.2], dtype=torch.float64)}, False),        # a sharp posterior falls between points
    ("04.4", {}, "kl"),
    ("05.2", {"active_16": 2, "active_8": 5}, "not more"),
    ("06.1", {"gains": [-1.2, 0.4]}, "no"),
    ("06.1", {"gains": [1.5, 2.5]}, "yes"),
])
def test_prediction_checkers_show_the_measurement_only_after_an_answer(key, objects, right):
    ok, message = verdict(key, right, **objects)
    assert ok
    wrong = {True: False, False: True}.get(right) if isinstance(right, bool) else \
        {"4000": "200", "AE": "VAE", "VAE": "AE", "kl": "recon", "not more": "more", "no": "yes", "yes": "no"}[right]
    ok, wrong_message = verdict(key, wrong, **objects)
    assert not ok and wrong_message.startswith("Not quite")
    ok, unanswered = verdict(key, None, **objects)
    assert "Not answered yet" in unanswered and "Measured" not in unanswered
    if isinstance(right, bool):
        assert "Expected True or False" in verdict(key, "yes", **objects)[1]


def _ref_reparameterize(mu, logvar):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


@pytest.mark.parametrize("fn, words", [
    (_ref_reparameterize, "Correct"),
    (lambda mu, lv: mu + torch.exp(lv) * torch.randn_like(mu), "variance, not the standard deviation"),
    (lambda mu, lv: mu + lv * torch.randn_like(mu), "logvar itself"),
    (lambda mu, lv: mu + torch.randn_like(mu), "not scaled"),
    (lambda mu, lv: mu.clone(), "no randomness"),
    (lambda mu, lv: torch.normal(mu.detach(), torch.exp(0.5 * lv.detach())), "No gradient reaches mu"),
    (lambda mu, lv: (mu + torch.exp(0.5 * lv) * torch.randn_like(mu))[:, :1], "shaped like mu"),
    (lambda mu, lv: None, "Not answered yet"),
    (lambda mu, lv: 1 / 0, "raised ZeroDivisionError"),
])
def test_reparameterize_diagnoses(fn, words, capsys):
    ok = ex.check("04.1", fn)
    assert words in capsys.readouterr().out and ok == (words == "Correct")


def _kl(mu, lv):
    return 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(1)


@pytest.mark.parametrize("fn, words", [
    (_kl, "Correct"),
    (lambda mu, lv: -_kl(mu, lv), "sign"),
    (lambda mu, lv: 2 * _kl(mu, lv), "1/2 is missing"),
    (lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).mean(1), "averages over the latent dimensions"),
    (lambda mu, lv: _kl(mu, lv).mean(), "single number"),
    (lambda mu, lv: 0.5 * (mu.pow(2) + lv.exp() - 1 - lv), "one value per latent dimension"),
    (lambda mu, lv: 0.5 * (mu.pow(2) + lv.pow(2) - 1 - lv.pow(2).log()).sum(1), "standard deviation"),
])
def test_kl_diagnoses(fn, words, capsys):
    ok = ex.check("04.2", fn)
    assert words in capsys.readouterr().out and ok == (words == "Correct")


def _neg_elbo(x, logits, mu, lv, recon_reduce=lambda r: r.reshape(len(r), -1).sum(1), kl_scale=1.0, sign=1.0):
    recon = recon_reduce(F.binary_cross_entropy_with_logits(logits, x, reduction="none"))
    return (recon + sign * kl_scale * _kl(mu, lv)).mean()


@pytest.mark.parametrize("fn, words", [
    (_neg_elbo, "Correct"),
    (lambda x, lg, mu, lv: _neg_elbo(x, lg, mu, lv, kl_scale=0.0), "KL term is missing"),
    (lambda x, lg, mu, lv: _neg_elbo(x, lg, mu, lv, sign=-1.0), "wrong sign"),
    (lambda x, lg, mu, lv: _neg_elbo(x, lg, mu, lv, recon_reduce=lambda r: r.reshape(len(r), -1).mean(1)), "beta = 784"),
    (lambda x, lg, mu, lv: _neg_elbo(x, lg, mu, lv) * len(x), "sums over the batch"),
    (lambda x, lg, mu, lv: _neg_elbo(x, lg, mu, lv, kl_scale=1 / mu.shape[1]), "averaged over latent dimensions"),
    (lambda x, lg, mu, lv: _neg_elbo(x, torch.sigmoid(lg), mu, lv), "sigmoid twice"),
    (lambda x, lg, mu, lv: torch.ones(3), "one number"),
])
def test_negative_elbo_diagnoses(fn, words, capsys):
    ok = ex.check("04.3", fn)
    assert words in capsys.readouterr().out and ok == (words == "Correct")


def test_unknown_keys_are_reported():
    with pytest.raises(KeyError, match="No exercise"):
        ex.check("99.9", 1)
    with pytest.raises(KeyError, match="No exercise"):
        ex.check("99.9", lambda: None)


def test_correct_wins_only_when_no_typical_wrong_answer_is_closer():
    exercise = ex.Exercise(answer=lambda: 1.0, wrong=[(lambda: 1.015, "the wrong method")], rel=0.02)
    assert ex.verdict(exercise, 1.0)[0] and ex.verdict(exercise, 1.006)[0]      # within tolerance, nearer the right one
    ok, message = ex.verdict(exercise, 1.014)                                  # within tolerance of both, nearer the wrong
    assert not ok and "the wrong method" in message


def test_one_entry_point_for_numbers_and_functions(capsys):
    assert ex.check("03.2", 50 ** 16) is True and ex.check("04.1", None) is False
    assert "Not answered yet" in capsys.readouterr().out
    with pytest.raises(KeyError, match="04.1"):                                 # the message lists both kinds
        ex.check("99.9", 1.0)


def test_every_exercise_in_a_notebook_has_a_checker_and_a_unit_test():
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    used = {key for nb in (root / "notebooks").glob("[0-9][0-9]_*.md")
            for key in re.findall(r'exercises\.check\("(\d\d\.\d)"', nb.read_text())}
    assert len(used) >= 10
    tests = (root / "tests" / "test_exercises.py").read_text()
    for key in sorted(used):
        assert key in ex.EXERCISES or key in ex.FUNCTION_EXERCISES, f"{key} has no checker"
        assert f'"{key}"' in tests, f"{key} has no unit test"
