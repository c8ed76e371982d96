"""Models (shapes, shared blocks, reparameterisation) and losses (units, closed-form KL)."""
import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence as torch_kl

import vae_helpers as vh


@pytest.mark.parametrize("cls", [vh.Autoencoder, vh.VAE])
@pytest.mark.parametrize("latent_dim", [1, 2, 16])
def test_encode_decode_shapes(cls, latent_dim):
    model = cls(latent_dim, hidden=(64, 32))
    x = torch.rand(5, 1, 28, 28)
    code = model.encode(x)
    if cls is vh.VAE:
        mu, logvar = code
        assert mu.shape == logvar.shape == (5, latent_dim)
    else:
        assert code.shape == (5, latent_dim)
    assert model.embed(x).shape == (5, latent_dim)
    x_hat = model.decode(torch.randn(5, latent_dim))
    assert x_hat.shape == (5, 1, 28, 28)
    assert x_hat.min() >= 0 and x_hat.max() <= 1


def test_ae_and_vae_share_blocks():
    ae, vae = vh.Autoencoder(3, hidden=(40, 20)), vh.VAE(3, hidden=(40, 20))
    shapes = lambda m: [p.shape for p in m.parameters()]  # noqa: E731
    assert shapes(ae.decoder) == shapes(vae.decoder)
    # The only difference: the VAE's last encoder layer has twice the outputs (mu and logvar).
    assert shapes(ae.encoder)[:-2] == shapes(vae.encoder)[:-2]
    assert vae.encoder[-1].out_features == 2 * ae.encoder[-1].out_features


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        vh.VAE(0)
    with pytest.raises(ValueError, match=r"decode expects z of shape \(B, 2\)"):
        vh.Autoencoder(2).decode(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="Unknown model class"):
        vh.build_model({"class": "GAN", "latent_dim": 2, "hidden": [8]})


def test_build_model_from_config_roundtrip():
    model = vh.VAE(4, hidden=(32,))
    clone = vh.build_model(model.config)
    assert isinstance(clone, vh.VAE) and clone.config == model.config


def test_reparameterize_gradient_flows_and_statistics():
    torch.manual_seed(0)
    mu = torch.full((20000, 2), 1.5, requires_grad=True)
    logvar = torch.full((20000, 2), 2 * torch.log(torch.tensor(0.5)).item(), requires_grad=True)
    z = vh.reparameterize(mu, logvar)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))  # dz/dmu = 1
    assert logvar.grad.abs().sum() > 0                   # gradient reaches the variance too
    assert z.mean().item() == pytest.approx(1.5, abs=0.02)
    assert z.std().item() == pytest.approx(0.5, abs=0.02)


def test_kl_matches_torch_distributions():
    torch.manual_seed(1)
    mu, logvar = torch.randn(8, 5), torch.randn(8, 5)
    expected = torch_kl(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(dim=1)
    got = vh.kl_divergence(mu, logvar)
    assert got.shape == (8,)
    assert torch.allclose(got, expected, atol=1e-5)


def test_kl_matches_monte_carlo_estimate():
    torch.manual_seed(2)
    mu, logvar = torch.tensor([[0.8, -0.5, 0.1]]), torch.tensor([[-0.7, 0.4, 0.0]])
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.sample((200_000,))  # (S, 1, 3)
    mc = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1).mean()
    assert vh.kl_divergence(mu, logvar).item() == pytest.approx(mc.item(), rel=0.02)


def test_kl_is_zero_only_at_the_prior():
    assert vh.kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)).tolist() == [0.0, 0.0, 0.0]
    assert (vh.kl_divergence(torch.randn(3, 4), torch.randn(3, 4)) > 0).all()


def test_reconstruction_loss_is_summed_over_pixels_per_image():
    logits, x = torch.randn(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    per_image = vh.reconstruction_loss(logits, x)
    assert per_image.shape == (4,)
    assert per_image.sum().item() == pytest.approx(
        F.binary_cross_entropy_with_logits(logits, x, reduction="sum").item(), rel=1e-5)
    # All-zero logits means p = 0.5 per pixel: exactly 784 * ln 2 nats per image.
    assert vh.reconstruction_loss(torch.zeros(2, 1, 28, 28), x[:2]).tolist() == pytest.approx([543.4] * 2, abs=0.1)


def test_negative_elbo_parts_and_beta():
    torch.manual_seed(3)
    logits, x = torch.randn(6, 1, 28, 28), torch.rand(6, 1, 28, 28)
    mu, logvar = torch.randn(6, 2), torch.randn(6, 2)
    parts = vh.negative_elbo(logits, x, mu, logvar, beta=4.0)
    assert parts.recon.item() == pytest.approx(vh.reconstruction_loss(logits, x).mean().item())
    assert parts.kl.item() == pytest.approx(vh.kl_divergence(mu, logvar).mean().item())
    assert parts.total.item() == pytest.approx(parts.recon.item() + 4.0 * parts.kl.item(), rel=1e-6)


def test_model_loss_for_both_models():
    x = torch.rand(3, 1, 28, 28)
    ae_parts = vh.model_loss(vh.Autoencoder(2, hidden=(16,)), x)
    assert ae_parts.kl.item() == 0 and ae_parts.total.item() == ae_parts.recon.item()
    vae_parts = vh.model_loss(vh.VAE(2, hidden=(16,)), x)
    assert vae_parts.kl.item() > 0
