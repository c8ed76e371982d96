"""Decoder likelihoods: each against torch.distributions, their units, parameters and reset, and the seam
(a model built with any of them trains, saves, reloads, retrains from scratch and reaches the explorer)."""
import math

import pytest
import torch

import vae_helpers as vh
from vae_helpers import likelihoods as lk
from vae_helpers import payload

NAMES = sorted(vh.LIKELIHOODS)


def _batch(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(5, 1, 28, 28, generator=gen) * 2, torch.rand(5, 1, 28, 28, generator=gen)


@pytest.mark.parametrize("name", NAMES)
def test_nll_is_minus_the_log_prob_of_torch_distributions(name):
    likelihood = vh.make_likelihood(name)
    if name != "bernoulli":
        with torch.no_grad():   # a scale that differs per pixel, so a swapped or broadcast scale would show
            likelihood.log_scale.copy_(torch.linspace(-3.0, 0.0, 784))
    logits, x = _batch()
    expected = -likelihood.distribution(logits).log_prob(x.reshape(5, -1)).sum(dim=1)
    assert likelihood.nll(logits, x).shape == (5,)
    assert torch.allclose(likelihood.nll(logits, x), expected, rtol=1e-5, atol=1e-3)
    mean = likelihood.mean(logits)                              # the image an output stands for
    assert mean.min() >= 0 and mean.max() <= 1
    assert torch.allclose(likelihood.distribution(logits).mean, mean.reshape(5, -1), atol=1e-6)


def test_units_say_which_losses_are_densities():
    logits = torch.zeros(2, 1, 28, 28)
    x = torch.full((2, 1, 28, 28), 0.5)                          # exactly the mean
    assert not vh.make_likelihood("bernoulli").is_density
    assert vh.make_likelihood("bernoulli").nll(logits, x)[0].item() == pytest.approx(784 * math.log(2), abs=0.01)
    for name in ("gaussian", "laplace"):
        density = vh.make_likelihood(name)
        assert density.is_density
        with torch.no_grad():
            density.log_scale.fill_(-20.0)
        assert density.scale().min().item() == pytest.approx(density.min_scale)   # the floor keeps it bounded
        assert density.nll(logits, x)[0] < 0                  # a density above 1: a negative loss


def test_gaussian_at_its_mean_costs_only_the_normaliser():
    gaussian = vh.make_likelihood("gaussian")
    logits, x = torch.zeros(3, 1, 28, 28), torch.full((3, 1, 28, 28), 0.5)
    expected = (gaussian.scale().log() + 0.5 * math.log(2 * math.pi)).sum()
    assert torch.allclose(gaussian.nll(logits, x), expected.expand(3))


def test_an_unknown_likelihood_says_what_exists_and_where_to_add_one():
    with pytest.raises(ValueError, match="bernoulli.*gaussian.*laplace.*likelihoods.py"):
        vh.VAE(2, likelihood="poisson")


@pytest.mark.parametrize("name", NAMES)
def test_a_model_built_with_any_likelihood_uses_it_everywhere(name, mnist5k, tmp_path):
    vh.set_seed(0)
    model = vh.VAE(2, hidden=(16,), likelihood=name)
    assert model.config.get("likelihood", "bernoulli") == name
    assert vh.build_model(model.config).likelihood.name == name
    x = mnist5k.test[:4]
    logits = model.decode_logits(torch.zeros(4, 2))
    assert torch.allclose(model.decode(torch.zeros(4, 2)), model.likelihood.mean(logits))
    assert torch.allclose(model.nll(logits, x), model.likelihood.nll(logits, x))
    assert payload.model_layout(model)["output"] == model.likelihood.output
    history = vh.train_or_load(model, mnist5k.subset(300), epochs=2, batch_size=64, progress=False, cache_dir=tmp_path)
    assert history.test_loss[-1] < history.test_loss[0]
    reloaded = vh.build_model(model.config)
    vh.train_or_load(reloaded, mnist5k.subset(300), epochs=2, batch_size=64, progress=False, cache_dir=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reloaded.state_dict().values()))


def test_retraining_starts_the_learned_scale_afresh():
    model = vh.VAE(2, hidden=(16,), likelihood="gaussian")
    with torch.no_grad():
        model.likelihood.log_scale.fill_(-3.0)               # as if trained
        model.decoder[0].weight.zero_()
    vh.checkpoints.reset_parameters(model)                   # what train_or_load(retrain=True) does first
    assert torch.allclose(model.likelihood.scale(), torch.full((784,), 0.2))
    assert model.decoder[0].weight.abs().sum() > 0


def test_a_likelihood_the_explorer_cannot_draw_is_caught(monkeypatch):
    class Softplus(lk.Bernoulli):
        name, output = "softplus-test", "softplus"
    monkeypatch.setitem(lk.LIKELIHOODS, Softplus.name, Softplus)
    from importlib import resources
    text = (resources.files("vae_helpers") / "static" / "explorer.js").read_text()
    with pytest.raises(ValueError, match="no decoder output softplus"):
        payload.check_explorer_js(text)
