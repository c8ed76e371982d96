"""Monte Carlo for the posterior (vae_helpers.posterior) against a Gaussian target with a known posterior."""
import math

import pytest
import torch

import vae_helpers as vh
from vae_helpers import posterior as po
from vae_helpers.evidence import log_normal

# Likelihood N(h; centre, width^2) per dimension with the prior N(0, 1): the posterior is Gaussian with
# precision 1 + 1/width^2 and mean centre / width^2 divided by that precision.
CENTRE, WIDTH = torch.tensor([1.5, -0.5]), 0.4
POST_VAR = 1 / (1 + 1 / WIDTH ** 2)
POST_MEAN = CENTRE / WIDTH ** 2 * POST_VAR


def log_likelihood(h):
    return log_normal(h, CENTRE, WIDTH)


def test_importance_sampling_finds_the_posterior_and_a_better_proposal_has_a_larger_ess():
    g = torch.Generator().manual_seed(0)
    prior = po.importance_posterior(log_likelihood, torch.zeros(2), torch.ones(2), 20000, g)
    near = po.importance_posterior(log_likelihood, POST_MEAN, torch.full((2,), 1.2 * math.sqrt(POST_VAR)), 20000, g)
    for sample in (prior, near):
        assert torch.allclose(sample.mean, POST_MEAN, atol=0.03)
        assert torch.allclose(sample.std, torch.full((2,), math.sqrt(POST_VAR)), atol=0.03)
        assert sample.weights.sum().item() == pytest.approx(1.0) and sample.evaluations == 20000
    assert near.ess > 5 * prior.ess                           # measured about 18,000 against 1,500


def test_metropolis_chains_run_side_by_side_and_sample_their_own_posteriors():
    shifts = torch.tensor([[0.0, 0.0], [2.0, 1.0], [-1.0, 3.0]])      # three targets, one per chain

    def log_joint(h):                                                 # row i: target i
        return log_normal(h, CENTRE + shifts, WIDTH) + log_normal(h)

    chains, acceptance = po.metropolis(log_joint, torch.zeros(3, 2), torch.full((3, 2), 0.3), 6000, burn_in=500,
                                       generator=torch.Generator().manual_seed(1))
    assert chains.shape == (5500, 3, 2) and ((acceptance > 0.2) & (acceptance < 0.9)).all()
    expected = (CENTRE + shifts) / WIDTH ** 2 * POST_VAR
    assert torch.allclose(chains.mean(0), expected, atol=0.06)
    assert torch.allclose(chains.std(0), torch.full((3, 2), math.sqrt(POST_VAR)), atol=0.04)


def _grid(weights, centres, sd=0.3, points=121, limit=4.0):
    axis = torch.linspace(-limit, limit, points)
    h = torch.cartesian_prod(axis, axis)
    density = sum(w * log_normal(h, torch.tensor(c), sd).exp() for w, c in zip(weights, centres))
    return density.log().reshape(points, points), axis


def test_grid_modes_counts_separate_peaks_and_their_masses():
    two, axis = _grid([0.7, 0.3], [(-1.0, 0.0), (1.0, 0.5)])        # 2.2 sd apart per axis: two modes
    modes, masses = po.grid_modes(two, axis)
    assert len(modes) == 2 and masses.tolist() == pytest.approx([0.7, 0.3], abs=0.02)
    assert torch.allclose(modes[0], torch.tensor([-1.0, 0.0]), atol=0.07)
    one, axis = _grid([0.5, 0.5], [(-0.15, 0.0), (0.15, 0.0)])      # one sd apart: a single hill
    assert len(po.grid_modes(one, axis)[0]) == 1
    sample = po.grid_sample(two, axis)
    assert sample.mass_near(torch.tensor([1.0, 0.5]), 1.0) == pytest.approx(0.3, abs=0.02)


def test_batch_log_joint_scores_each_image_with_its_own_code():
    model = vh.VAE(2, hidden=(8,))
    x = torch.rand(3, 1, 28, 28)
    h = torch.randn(3, 2)
    joint = po.batch_log_joint(model, x)(h)
    expected = torch.stack([vh.evidence.decoder_log_likelihood(model, x[i])(h[i:i + 1])[0] for i in range(3)])
    assert torch.allclose(joint, expected + log_normal(h), atol=1e-3)
