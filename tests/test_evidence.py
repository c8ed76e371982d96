"""Evidence estimators: grid, naive Monte Carlo, importance sampling, ELBO; the linear Gaussian model."""
import math

import pytest
import torch

import vae_helpers as vh
from vae_helpers import evidence as ev


def test_log_normal_matches_torch():
    h = torch.randn(7, 3)
    mu, std = torch.randn(1, 3), torch.rand(1, 3) + 0.2
    expected = torch.distributions.Normal(mu, std).log_prob(h).sum(-1)
    assert torch.allclose(ev.log_normal(h, mu, std), expected, atol=1e-5)


def test_log_mean_exp_is_stable():
    values = torch.tensor([-1000.0, -1000.0 + math.log(3)])
    assert ev.log_mean_exp(values).item() == pytest.approx(-1000.0 + math.log(2), abs=1e-4)


@pytest.mark.parametrize("dim", [1, 2])
def test_grid_matches_closed_form_evidence_and_posterior(dim):
    model = ev.LinearGaussianModel(dim, data_dim=5, noise_std=0.8, seed=1)
    x = model.sample()
    log_px, log_post, axis = ev.grid_log_evidence(model.log_likelihood(x), dim, points=301 if dim == 1 else 151, limit=6)
    assert log_px == pytest.approx(model.log_evidence(x), abs=1e-3)
    cell = (axis[1] - axis[0]).item() ** dim
    assert (log_post.exp().sum() * cell).item() == pytest.approx(1.0, abs=1e-3)
    mean, _ = model.posterior(x)
    h = torch.cartesian_prod(*[axis] * dim).reshape(-1, dim).double()
    grid_mean = (log_post.exp().reshape(-1, 1) * h).sum(0) * cell
    assert torch.allclose(grid_mean, mean, atol=1e-2)


def test_naive_monte_carlo_is_right_in_1d_and_wrong_in_20d():
    gen = torch.Generator().manual_seed(0)
    easy = ev.LinearGaussianModel(1, seed=0)
    x = easy.sample()
    assert ev.naive_log_evidence(easy.log_likelihood(x), 1, 20000, gen) == pytest.approx(easy.log_evidence(x), abs=0.05)
    hard = ev.LinearGaussianModel(20, seed=0)
    x = hard.sample()
    assert ev.naive_log_evidence(hard.log_likelihood(x), 20, 1000, gen) < hard.log_evidence(x) - 10


def test_importance_sampling_with_the_exact_posterior_is_exact():
    model = ev.LinearGaussianModel(4, seed=2)
    x = model.sample()
    mean, cov = model.posterior(x)
    # For PPCA the posterior covariance is not diagonal; use a 1-D model, where it is.
    one = ev.LinearGaussianModel(1, seed=2)
    x1 = one.sample()
    m1, c1 = one.posterior(x1)
    estimate = ev.importance_log_evidence(one.log_likelihood(x1), m1.float(), c1.log().float().reshape(-1), 10)
    assert estimate == pytest.approx(one.log_evidence(x1), abs=1e-4)  # every weight equals p(x)
    elbo = ev.elbo_estimate(one.log_likelihood(x1), m1.float(), c1.log().float().reshape(-1), 20000,
                            torch.Generator().manual_seed(0))
    assert elbo == pytest.approx(one.log_evidence(x1), abs=0.02)  # KL(q || posterior) = 0
    assert mean.shape == (4,) and cov.shape == (4, 4)


def test_decoder_log_likelihood_and_elbo_bound(mnist5k):
    vh.set_seed(0)
    vae = vh.VAE(2, hidden=(128,))
    vh.fit(vae, mnist5k.train[:2000], epochs=10, progress=False)  # a usable encoder: q near the posterior
    x = mnist5k.test[0]
    ll = ev.decoder_log_likelihood(vae, x, chunk=7)
    h = torch.randn(20, 2)
    expected = -vh.reconstruction_loss(vae.decode_logits(h), x.expand(20, 1, 28, 28)).detach()
    assert torch.allclose(ll(h), expected, atol=1e-3)
    log_px, _, _ = ev.grid_log_evidence(ll, 2, points=120, limit=5)
    with torch.no_grad():
        mu, logvar = vae.encode(x.unsqueeze(0))
    elbo = ev.elbo_estimate(ll, mu, logvar, 2000, torch.Generator().manual_seed(0))
    assert elbo < log_px
    iw = ev.importance_log_evidence(ll, mu, logvar, 5000, torch.Generator().manual_seed(0))
    # Measured -0.9 nats; the log of an unbiased estimate of p(x) is biased low (Jensen).
    assert log_px - 2.0 < iw < log_px + 0.5


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_a_batch_of_images_shares_one_decoding_and_gives_each_images_own_values(mnist5k, likelihood):
    """decoder_log_likelihood on N images = the N one-image functions, stacked; the grid handles both shapes."""
    vh.set_seed(0)
    vae = vh.VAE(2, hidden=(32,), likelihood=likelihood)
    vh.fit(vae, mnist5k.train[:300], epochs=2, progress=False)
    xs = mnist5k.test[:5]
    h = torch.randn(50, 2)
    table = ev.decoder_log_likelihood(vae, xs, chunk=7)(h)
    single = torch.stack([ev.decoder_log_likelihood(vae, x)(h) for x in xs])
    assert table.shape == (5, 50) and table.dtype == torch.float32
    assert torch.allclose(table, single, rtol=1e-5, atol=1e-3)       # fp32 sums of 784 terms: ~1e-4 nats apart
    log_p, post, axis = ev.grid_log_evidence(ev.decoder_log_likelihood(vae, xs), 2, points=30, limit=4)
    assert log_p.shape == (5,) and post.shape == (5, 30, 30) and axis.shape == (30,)
    for k in (0, 4):
        one_p, one_post, _ = ev.grid_log_evidence(ev.decoder_log_likelihood(vae, xs[k]), 2, points=30, limit=4)
        assert log_p[k].item() == pytest.approx(one_p, abs=1e-3)
        assert torch.allclose(post[k], one_post, atol=2e-3)               # log-densities, nats
