"""Gradient estimators and the variational-inference pieces of the evidence module."""
import numpy as np
import pytest
import torch

import vae_helpers as vh
from vae_helpers import estimators as es
from vae_helpers import evidence as ev


@pytest.fixture(scope="module")
def small_vae(mnist5k):
    vh.set_seed(0)
    vae = vh.VAE(2, hidden=(64,))
    vh.fit(vae, mnist5k.train[:1000], epochs=5, progress=False)
    return vae


def test_pathwise_has_far_less_variance_and_agrees_in_mean(small_vae, mnist5k):
    x = mnist5k.test[:16]
    pathwise = es.gradient_stats(small_vae, x, "pathwise", draws=300, seed=0)
    score = es.gradient_stats(small_vae, x, "score", draws=300, seed=1)
    biased = es.gradient_stats(small_vae, x, "pathwise, sigma held fixed", draws=300, seed=2)
    assert pathwise.mean.shape == (sum(p.numel() for p in small_vae.encoder[-1].parameters()),)
    assert score.total_variance > 50 * pathwise.total_variance
    assert not es.mean_test(pathwise, score).differs          # both unbiased
    assert es.mean_test(pathwise, biased).differs              # the counterfactual: sigma's gradient cut
    baseline = es.gradient_stats(small_vae, x, es.BASELINE, draws=300, seed=3)
    assert pathwise.total_variance < baseline.total_variance < score.total_variance   # helps, not to pathwise
    assert not es.mean_test(baseline, pathwise).differs       # a baseline that ignores z keeps the mean
    with pytest.raises(ValueError, match="method must be"):
        es.gradient_stats(small_vae, x, "magic", draws=2)
    with pytest.raises(ValueError, match="at least 2"):
        es.gradient_stats(small_vae, x, "score", draws=1)


def _fake(samples):
    return es.GradientStats(samples.double())


def test_mean_test_has_its_stated_false_alarm_rate_and_power():
    """Known answer: low-rank Gaussian noise (3 effective directions of 50), equal means vs a shifted mean."""
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(3, 50, generator=g)
    noise = lambda n: torch.randn(n, 3, generator=g) @ basis + 0.01 * torch.randn(n, 50, generator=g)
    alarms = [es.mean_test(_fake(noise(100)), _fake(noise(100)), level=0.9, null_draws=4000).differs for _ in range(300)]
    assert 0.05 < np.mean(alarms) < 0.15                 # a 10% test alarms about 10% of the time under the null
    shift = 1.2 * basis[0]                               # 1.2 noise sd along one noise direction (8.5 SE of the difference)
    hits = [es.mean_test(_fake(noise(100) + shift), _fake(noise(100)), level=0.999).differs for _ in range(50)]
    assert np.mean(hits) > 0.9
    t = es.mean_test(_fake(noise(100)), _fake(noise(100)))
    assert 2 < t.dof < 4.5 and t.threshold > 3          # few directions: a wide null, far above "about 1"


def test_elbo_plus_kl_to_the_posterior_is_the_evidence(small_vae, mnist5k):
    x = mnist5k.test[1]
    ll = ev.decoder_log_likelihood(small_vae, x)
    log_px = ev.grid_log_evidence(ll, 2, points=150)[0]
    with torch.no_grad():
        mu, logvar = small_vae.encode(x.unsqueeze(0))
    elbo, se = ev.elbo_estimate(ll, mu, logvar, 4000, torch.Generator().manual_seed(0), with_error=True)
    kl = ev.kl_to_posterior(ll, log_px, mu, logvar, points=101)
    assert kl >= 0 and se > 0
    assert abs(log_px - elbo - kl) < 4 * se + 0.05


def test_importance_weighted_bound_rises_towards_the_evidence(small_vae, mnist5k):
    x = mnist5k.test[2]
    ll = ev.decoder_log_likelihood(small_vae, x)
    log_px = ev.grid_log_evidence(ll, 2, points=240, limit=8.0)[0]   # wide: a briefly trained model's posterior
    with torch.no_grad():
        mu, logvar = small_vae.encode(x.unsqueeze(0))
    l1, _ = ev.importance_weighted_bound(ll, mu, logvar, 1, repeats=40, generator=torch.Generator().manual_seed(0))
    l500, se = ev.importance_weighted_bound(ll, mu, logvar, 500, repeats=10, generator=torch.Generator().manual_seed(1))
    assert l1 < l500 < log_px + 3 * se + 0.05


def test_fit_q_gains_elbo_from_a_poor_start(small_vae, mnist5k):
    x = mnist5k.test[3]
    ll = ev.decoder_log_likelihood(small_vae, x)
    mu0, logvar0 = torch.zeros(1, 2), torch.zeros(1, 2)         # the prior as a (poor) starting q
    mu, logvar, trace = ev.fit_q(ll, mu0, logvar0, steps=100, samples=8)
    start = ev.elbo_estimate(ll, mu0, logvar0, 2000, torch.Generator().manual_seed(0))
    end = ev.elbo_estimate(ll, mu, logvar, 2000, torch.Generator().manual_seed(0))
    assert end > start + 5 and len(trace) == 100


def test_grid_moments_of_a_known_gaussian():
    axis = torch.linspace(-5, 5, 201)
    h0, h1 = torch.meshgrid(axis, axis, indexing="ij")
    density = torch.exp(-0.5 * ((h0 - 1) / 0.5) ** 2 - 0.5 * ((h1 + 1) / 0.8) ** 2)
    mean, std = ev.grid_moments(density, axis)
    assert mean.tolist() == pytest.approx([1.0, -1.0], abs=1e-3) and std.tolist() == pytest.approx([0.5, 0.8], abs=1e-3)


@pytest.mark.parametrize("method", (*es.METHODS, es.BASELINE))
def test_batched_draws_equal_autograd_on_the_layer_one_draw_at_a_time(small_vae, mnist5k, method):
    """gradient_stats computes draws in blocks via the chain rule; autograd on the weights, one draw per
    backward pass, must give the same numbers (same seed: B * d = 16 normals per draw in both)."""
    x = mnist5k.test[:8]
    layer = small_vae.encoder[-1]
    torch.manual_seed(3)
    reference = []
    for _ in range(5):
        mu, logvar = small_vae._encode(x)
        out = torch.cat([mu, logvar], dim=1).unsqueeze(0)            # (1, B, 2d), still attached to the layer
        surrogate = es._surrogates(small_vae, out, x, method)[0]
        reference.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(surrogate, list(layer.parameters()))]))
    reference = torch.stack(reference).double()
    for block in (2, 250):
        batched = es.gradient_stats(small_vae, x, method, draws=5, seed=3, block=block).samples
        assert torch.allclose(batched, reference, rtol=1e-4, atol=1e-4 * reference.abs().max().item())
