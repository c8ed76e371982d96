"""The latent explorer's Python side (payload, ranges, still picture, sync traits), interpolation, manifold.

What the browser does with the payload is tested in tests/browser (a real chromium).
"""
import base64
import io
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

import vae_helpers as vh
from vae_helpers import payload as pl
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


def test_quantised_weights_decode_like_the_float_model(trained):
    for model in trained:
        layers = pl.mlp_payload(model.decoder)
        assert [(l["in"], l["out"]) for l in layers] == [(2, 32), (32, 64), (64, 784)]
        z = torch.randn(200, 2) * 3
        exact = model.decode(z).reshape(200, 784).detach().numpy()
        assert np.abs(pl.decode_numpy(layers, z.numpy()) - exact).max() < 0.05  # int8, a scale per 64 weights
        w_q, b_q = pl.dequantize(layers[0])
        assert np.abs(w_q - model.decoder[0].weight.detach().numpy()).max() <= \
            np.abs(model.decoder[0].weight.detach().numpy()).max() / 254 + 1e-7  # half a quantisation step


def test_group_sizes_cover_each_row():
    assert pl.group_size(2) == 2 and pl.group_size(64) == 64 and pl.group_size(400) == 58 and pl.group_size(784) == 61
    layer = torch.nn.Linear(400, 3)
    spec = pl.quantize(layer)
    assert len(pl.unb64(spec["scale"], np.float32)) == 3 * 7  # ceil(400 / 58) = 7 groups per row


def test_payload_size_of_the_default_model_is_within_budget():
    vae = vh.VAE(2)
    size = pl.payload_bytes(pl.mlp_payload(vae.decoder))
    assert 0.35e6 < size < 0.5e6  # the d-400-784 decoder: 314k weights as int8 in base64 (budget 0.5 MB)


def test_start_point_is_each_models_own_code_and_ranges_cover_the_codes(trained, mnist5k):
    ae, vae = trained
    explorer = vh.latent_explorer(ae, vae, names=["AE", "VAE"], data=mnist5k, start=5)
    codes = [vh.embed(m, mnist5k.test[5:6])[0].numpy() for m in (ae, vae)]
    for got, want in zip(explorer.model_z, codes):
        assert got == pytest.approx(want, abs=1e-5)
    assert explorer.z == pytest.approx(codes[0], abs=1e-5)  # the sliders show the first model's code
    ae_codes = vh.embed(ae, mnist5k.test).numpy()
    for d, (lo, hi) in enumerate(explorer.limits):
        low, high = min(ae_codes[:, d].min(), -3, 0), max(ae_codes[:, d].max(), 3, 0)
        pad = 0.05 * (ae_codes[:, d].max() - ae_codes[:, d].min()) + w.STEP    # code_box's 5% margin + one step
        assert low - pad - 1e-6 <= lo <= low + 1e-6 and high - 1e-6 <= hi <= high + pad + 1e-6   # covers, and tightly
        assert abs(lo / w.STEP - round(lo / w.STEP)) < 1e-6  # ends on the slider grid: reset lands on 0
    decoded = explorer.decoded()
    assert np.allclose(decoded[1], vae.decode(torch.tensor(codes[1][None]))[0, 0].detach().numpy(), atol=1e-6)


def test_set_z_and_encode_move_the_synced_point(trained, mnist5k):
    ae, vae = trained
    explorer = vh.latent_explorer(ae, vae, data=mnist5k, start=None)
    assert explorer.z.tolist() == [0.0, 0.0] and explorer.model_points == []
    explorer.set_z([0.5, -1.0])
    assert explorer.point == [0.5, -1.0] and all(np.allclose(z, [0.5, -1.0]) for z in explorer.model_z)
    explorer.set_z([1e6, -1e6])  # clipped to the sliders' range
    assert explorer.z.tolist() == pytest.approx(explorer.limits[:, [1, 0]].diagonal().tolist())
    explorer.encode(17)
    assert explorer.model_z[1] == pytest.approx(vh.embed(vae, mnist5k.test[17:18])[0].numpy(), abs=1e-5)
    with pytest.raises(ValueError, match="latent_dim=2"):
        explorer.set_z([1, 2, 3])
    explorer.drawing_pixels = [0.5] * 784  # what the browser sends after a drawing
    assert explorer.drawing.shape == (28, 28)


def test_output_bundle_holds_a_still_a_live_page_and_a_text_line(trained, mnist5k):
    explorer = vh.latent_explorer(*trained, names=["AE", "VAE"], data=mnist5k)
    data, metadata = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" not in data  # no view to break when the kernel is gone
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["image/png"]))))
    assert picture.shape[0] > 200 and picture.shape[1] > 400
    assert "run the notebook" in data["text/plain"] and metadata["image/png"]["alt"] == explorer.describe()
    page = data["text/html"]
    assert re.search(r'<img alt="Latent explorer \(still picture\): AE, VAE', page) and "run the notebook" in page
    payload = json.loads(re.search(r'class="vh-payload">(.*?)</script>', page, re.S).group(1).replace("<\\/", "</"))
    assert payload["key"] == explorer.key and len(payload["models"]) == 2 and payload["maps"] is not None
    assert payload["n_test"] == 200 and len(base64.b64decode(payload["labels"])) == 1000
    assert "window.vhExplorer.boot(document.currentScript)" in page
    assert not re.search(r"https?://", page)  # nothing fetched from the network
    assert w.fmt(-1.25) == "\u22121.25" and w.fmt(0.5) == "+0.50"  # one minus sign throughout
    at_point = vh.latent_explorer(*trained, data=mnist5k, z=[-1.0, 0.5])
    assert "z = (\u22121.00, +0.50)" in at_point.describe()


def test_large_latent_and_collapsed_dimensions(mnist5k):
    vh.set_seed(0)
    vae = vh.VAE(6, hidden=(32,))
    vh.fit(vae, mnist5k.train[:1000], epochs=3, beta=4.0, progress=False)
    explorer = vh.latent_explorer(vae, data=mnist5k)
    active = vh.metrics.active_units(vae, mnist5k.test[:1000])
    assert explorer.inactive[0] == (~active).tolist()
    payload = explorer.payload()
    assert payload["maps"] is None and payload["latent_dim"] == 6
    assert vh.latent_explorer(vae, inactive=[[True] * 6]).inactive == [[True] * 6]


def test_draw_ships_the_encoders(trained, mnist5k):
    plain = vh.latent_explorer(*trained, data=mnist5k)
    drawing = vh.latent_explorer(*trained, data=mnist5k, draw=True)
    assert all(m["encoder"] is None for m in plain.payload()["models"])
    assert all(m["encoder"] is not None for m in drawing.payload()["models"])
    assert drawing.payload_bytes > 1.9 * plain.payload_bytes


def test_bad_arguments_are_refused(trained, mnist5k):
    ae, vae = trained
    with pytest.raises(ValueError, match="share latent_dim.*Autoencoder: 2, VAE: 3"):
        vh.latent_explorer(vh.Autoencoder(2), vh.VAE(3))
    with pytest.raises(ValueError, match="at least one model"):
        vh.latent_explorer()
    with pytest.raises(ValueError, match="pass data"):
        vh.latent_explorer(ae)  # an AE's codes have no known range without data
    with pytest.raises(ValueError, match="start must be"):
        vh.latent_explorer(vae, data=mnist5k, start=5000)
    with pytest.raises(ValueError, match="2 names for 1 models"):
        vh.latent_explorer(vae, names=["a", "b"])


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


def test_each_map_covers_the_slider_range(trained, mnist5k):
    """The cross marking z must stay on every model's map wherever the sliders go (the AE's codes span less
    than the VAE's +-3 in some direction, so its map alone would not)."""
    explorer = vh.latent_explorer(*trained, data=mnist5k)
    for entry in explorer.payload()["maps"]:
        limits = np.array(entry["limits"])
        assert np.all(limits[:, 0] <= explorer.limits[:, 0] + 1e-9) and np.all(limits[:, 1] >= explorer.limits[:, 1] - 1e-9)
