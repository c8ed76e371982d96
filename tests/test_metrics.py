"""The measures behind the notebooks' check cells."""
import math

import pytest
import torch

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
