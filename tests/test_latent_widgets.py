"""The latent explorer (driven without a browser or kernel), interpolation and the manifold grid."""
import base64

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import vae_helpers as vh
from vae_helpers import widgets as w


@pytest.fixture(scope="module")
def trained(mnist5k):
    """A briefly trained AE and VAE with a 2-D latent (shared by the tests of this module)."""
    models = {}
    for cls in (vh.Autoencoder, vh.VAE):
        vh.set_seed(0)
        models[cls.__name__] = cls(2, hidden=(64, 32))
        vh.fit(models[cls.__name__], mnist5k.train[:1000], epochs=3, progress=False)
    return models["Autoencoder"], models["VAE"]


def expected_png_array(model, z, scale=w.SCALE):
    """What the explorer must show at z: the decoded probabilities as uint8, upscaled."""
    probs = model.decode(torch.tensor([z], dtype=torch.float32))[0, 0].detach().numpy()
    return np.rint(probs * 255).astype(np.uint8).repeat(scale, 0).repeat(scale, 1)


def test_png_roundtrip_is_exact_and_upscaled():
    image = np.linspace(0, 1, 784).reshape(28, 28)
    back = w.read_png(w.to_png(image, scale=3))
    assert back.shape == (84, 84) and back.dtype == np.uint8
    assert np.array_equal(back[::3, ::3], np.rint(image * 255).astype(np.uint8))
    assert np.array_equal(back[1::3, 2::3], back[::3, ::3])  # nearest neighbour: blocks of equal pixels


def test_moving_a_slider_redraws_every_model(trained, mnist5k):
    ae, vae = trained
    explorer = vh.latent_explorer(ae, vae, names=["AE", "VAE"], data=mnist5k)
    before = [img.value for img in explorer.images]
    explorer.sliders[1].value = 1.5
    assert explorer.z.tolist() == pytest.approx([0.0, 1.5])
    for model, image, old in zip((ae, vae), explorer.images, before):
        assert image.value != old
        assert np.abs(w.read_png(image.value).astype(int)
                      - expected_png_array(model, [0.0, 1.5]).astype(int)).max() <= 1
    assert "+1.50" in explorer.status.value


def test_slider_ranges_prior_for_vae_codes_for_ae(trained, mnist5k):
    ae, vae = trained
    vae_only = vh.latent_explorer(vae, data=mnist5k)
    assert [(s.min, s.max) for s in vae_only.sliders] == [(-3.0, 3.0)] * 2
    codes = vh.embed(ae, mnist5k.test).numpy()
    ae_only = vh.latent_explorer(ae, data=mnist5k)
    for d, s in enumerate(ae_only.sliders):
        assert s.min <= codes[:, d].min() + 0.01 and s.max >= codes[:, d].max() - 0.01
        assert s.max - s.min < 1.3 * (codes[:, d].max() - codes[:, d].min()) + 0.02
    with pytest.raises(ValueError, match="pass data"):
        vh.latent_explorer(ae)


def test_reset_lands_exactly_on_the_origin(trained, mnist5k):
    ae, _ = trained
    explorer = vh.latent_explorer(ae, data=mnist5k)
    explorer.set_z([0.37, -0.41])
    explorer.reset_button.click()
    assert explorer.z.tolist() == [0.0, 0.0]  # slider ends are multiples of the step, so 0 is on the grid
    for s in explorer.sliders:
        assert abs(s.min / s.step - round(s.min / s.step)) < 1e-6


def test_buttons_reset_sample_and_encode(trained, mnist5k):
    ae, vae = trained
    explorer = vh.latent_explorer(vae, ae, data=mnist5k)
    np.random.seed(0)
    explorer.sample_button.click()
    sampled = explorer.z.copy()
    assert np.abs(sampled).sum() > 0
    explorer.reset_button.click()
    assert explorer.z.tolist() == [0.0, 0.0]
    explorer.index.value = 17
    shown = w.read_png(explorer.test_image.value)[::2, ::2]
    assert abs(shown.astype(int) - np.rint(mnist5k.test[17, 0].numpy() * 255)).max() <= 1  # preview follows the index
    explorer.encode_button.click()
    mean = vh.embed(vae, mnist5k.test[17:18])[0].numpy()
    assert explorer.z == pytest.approx(mean, abs=0.051)  # sliders snap to their 0.05 step
    assert explorer.encode_button.description == "encode with VAE"


def test_latent_map_marker_follows_the_sliders(trained, mnist5k):
    ae, vae = trained
    explorer = vh.latent_explorer(vae, data=mnist5k)
    latent_map = explorer.maps[0]
    explorer.set_z([-2.0, 2.0])
    top_left = latent_map.pixel([-2.0, 2.0])
    explorer.set_z([2.0, -2.0])
    bottom_right = latent_map.pixel([2.0, -2.0])
    assert top_left[0] < bottom_right[0] and top_left[1] < bottom_right[1]  # row grows downwards
    shown = w.read_png(explorer.map_images[0].value)
    assert shown.shape[2] == 3 and shown[bottom_right].tolist() == [0, 0, 0]  # the marker is drawn where z is
    assert latent_map.pixel([100.0, 100.0]) == latent_map.pixel([3.0, 3.0])  # clamped to the map


def test_large_latent_is_paged(mnist5k):
    vae = vh.VAE(20, hidden=(16,))
    explorer = vh.latent_explorer(vae, dims_per_page=8)
    assert len(explorer.sliders) == 20
    assert len(explorer.page.options) == 3 and len(explorer.slider_box.children) == 8
    explorer.page.value = 16
    assert [s.description for s in explorer.slider_box.children] == ["z[16]", "z[17]", "z[18]", "z[19]"]
    explorer.sliders[19].value = 2.0  # every dimension stays reachable
    assert explorer.z[19] == 2.0
    assert explorer.maps == [] and explorer.encode_button is None


def test_mismatched_latent_dims_are_refused():
    with pytest.raises(ValueError, match="share latent_dim.*Autoencoder: 2, VAE: 3"):
        vh.latent_explorer(vh.Autoencoder(2), vh.VAE(3))
    with pytest.raises(ValueError, match="at least one model"):
        vh.latent_explorer()


def test_stored_output_has_a_still_picture(trained, mnist5k):
    explorer = vh.latent_explorer(*trained, data=mnist5k)
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    picture = w.read_png(base64.b64decode(bundle["image/png"]))
    assert picture.ndim == 3 and picture.shape[0] > 200 and picture.shape[1] > 400


def test_interpolate_ends_at_the_reconstructions(trained, mnist5k):
    ae, vae = trained
    x_a, x_b = mnist5k.test[0], mnist5k.test[1]
    for model in (ae, vae):
        images, z = vh.interpolate(model, x_a, x_b, steps=7, return_codes=True)
        assert images.shape == (7, 1, 28, 28) and z.shape == (7, 2)
        ends = vh.reconstruct(model, torch.stack([x_a, x_b]))
        assert torch.allclose(images[0], ends[0], atol=1e-5) and torch.allclose(images[-1], ends[1], atol=1e-5)
        steps = np.diff(z.numpy(), axis=0)
        assert np.allclose(steps, steps[0], atol=1e-5)  # evenly spaced on a straight line
    with pytest.raises(ValueError, match="steps must be >= 2"):
        vh.interpolate(vae, x_a, x_b, steps=1)


def test_manifold_grid_spacing(trained, mnist5k):
    ae, vae = trained
    _, axes = vh.manifold_grid(vae, n=5)
    assert axes[0] == pytest.approx([-1.2816, -0.5244, 0.0, 0.5244, 1.2816], abs=1e-3)  # N(0,1) deciles
    images, axes = vh.manifold_grid(ae, n=4, x=mnist5k.test)
    codes = vh.embed(ae, mnist5k.test).numpy()
    assert axes[0][0] == pytest.approx(codes[:, 0].min()) and axes[0][-1] == pytest.approx(codes[:, 0].max())
    assert images.shape == (4, 4, 28, 28)
    with pytest.raises(ValueError, match="2-D latent"):
        vh.manifold_grid(vh.VAE(3))


def test_plot_manifold_axes(trained, mnist5k):
    ax = vh.plot_manifold(trained[1], n=9)
    assert ax.get_xlabel() == "z[0]" and "quantiles" in ax.get_title()
    assert ax.images[0].get_array().shape == (9 * 28, 9 * 28)
    plt.close("all")
