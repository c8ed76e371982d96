"""The measures behind the notebooks' check cells."""
import math

import pytest
import torch

import vae_helpers as vh
from vae_helpers import metrics


def test_nearest_distance():
    reference = torch.zeros(3, 1, 28, 28)
    reference[1] += 1.0
    images = torch.stack([reference[1], reference[0] + 0.5])
    assert metrics.nearest_distance(images, reference).tolist() == pytest.approx([0.0, 14.0], abs=1e-3)


def test_empty_fraction_of_a_full_and_a_clustered_cloud():
    torch.manual_seed(0)
    uniform = torch.rand(20000, 2)
    assert metrics.empty_fraction(uniform, cells=10) == 0.0
    two_clusters = torch.cat([torch.rand(500, 2) * 0.1, 0.9 + torch.rand(500, 2) * 0.1])
    assert metrics.empty_fraction(two_clusters, cells=10) == pytest.approx(0.98)


def test_largest_jump_even_vs_abrupt():
    even = torch.linspace(0, 1, 11).reshape(11, 1, 1, 1).expand(11, 1, 2, 2)
    assert metrics.largest_jump(even) == pytest.approx(0.1)
    abrupt = torch.cat([torch.zeros(5, 1, 2, 2), torch.ones(6, 1, 2, 2)])
    assert metrics.largest_jump(abrupt) == pytest.approx(1.0)


def test_gaussian_kl_to_prior():
    torch.manual_seed(0)
    assert metrics.gaussian_kl_to_prior(torch.randn(200000, 3)) == pytest.approx(0.0, abs=1e-3)
    shifted = torch.randn(200000, 2) * 2 + 1  # N((1, 1), 4 I): KL = 0.5 * (tr 8 + |m|^2 2 - d 2 - log det 2 ln 4)
    assert metrics.gaussian_kl_to_prior(shifted) == pytest.approx(0.5 * (8 + 2 - 2 - 2 * math.log(4)), rel=0.01)


def test_bernoulli_floor_and_mean_image_loss(mnist5k):
    assert vh.metrics.bernoulli_floor(torch.zeros(3, 784)) == pytest.approx(0.0, abs=1e-6)
    assert vh.metrics.bernoulli_floor(torch.full((2, 784), 0.5)) == pytest.approx(784 * math.log(2))
    assert vh.metrics.mean_image_loss(mnist5k.train, mnist5k.test) > vh.metrics.bernoulli_floor(mnist5k.test)


def test_relative_distance_and_neighbour_ratio():
    a, b = torch.zeros(784), torch.ones(784)
    images = torch.stack([a, b, 0.5 * (a + b)])
    assert vh.metrics.relative_distance(images, a, b).tolist() == pytest.approx([0.0, 0.0, 0.5])
    gen = torch.Generator().manual_seed(123)                  # not the metric's own seed: independent draws
    assert 0.9 < vh.metrics.neighbour_ratio(torch.randn(1000, 2, generator=gen)) < 1.1   # a true prior sample
    assert vh.metrics.neighbour_ratio(3 * torch.randn(1000, 2, generator=gen) + 2) > 1.5    # wrong place and scale
    big = 3 * torch.randn(2000, 2, generator=gen) + 2                                      # subsampled to 300 codes
    assert vh.metrics.neighbour_ratio(big, max_codes=300) > 1.5
    assert 0.85 < vh.metrics.neighbour_ratio(torch.randn(2000, 2, generator=gen), max_codes=300) < 1.15
    base = vh.metrics.neighbour_ratio_baseline(500, 2, repeats=5)
    assert base.shape == (5,) and (base - 1).abs().max() < 0.2


def test_salt_is_stored_only_by_a_memorising_reconstruction(mnist5k):
    x, mask = vh.metrics.add_salt(mnist5k.test[:20], pixels=20, seed=0)
    assert mask.sum(dim=1).tolist() == [20.0] * 20 and x.shape == (20, 1, 28, 28)
    assert vh.metrics.salt_recovered(x, mask) == 1.0                  # a perfect copy reproduces all salt
    assert vh.metrics.salt_recovered(mnist5k.test[:20], mask) == 0.0  # the clean images have none


def test_units_and_auroc():
    assert vh.metrics.bits_per_dim(784 * math.log(2)) == pytest.approx(1.0)
    assert vh.metrics.auroc(torch.zeros(10), torch.ones(10)) == 1.0
    assert vh.metrics.auroc(torch.ones(10), torch.ones(10)) == 0.5


def test_kl_per_dimension_and_active_units(mnist5k):
    model = vh.VAE(3, hidden=(16,))
    with torch.no_grad():
        model.encoder[-1].weight.zero_()
        model.encoder[-1].bias.zero_()                               # q(z|x) = N(0, 1) for every image
    assert vh.metrics.kl_per_dimension(model, mnist5k.test[:50]).abs().max() < 1e-6
    assert not vh.metrics.active_units(model, mnist5k.test[:50]).any()
