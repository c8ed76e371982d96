"""Figures: right content, labelled axes, titles."""
import matplotlib.pyplot as plt
import pytest
import torch

import vae_helpers as vh


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_show_images_grid_and_titles(mnist5k):
    fig = vh.show_images(mnist5k.test[:12], ncols=5, titles=[str(i) for i in range(12)], title="digits")
    axes = fig.axes
    assert len(axes) == 15  # 3 rows of 5; unused axes are blank
    assert axes[0].get_title() == "0" and fig._suptitle.get_text() == "digits"
    assert axes[0].images[0].get_array().shape == (28, 28)


def test_plot_reconstructions_rows(mnist5k):
    fig = vh.plot_reconstructions(vh.Autoencoder(2, hidden=(16,)), mnist5k.test, n=6)
    assert len(fig.axes) == 12
    assert fig.axes[0].get_ylabel() == "input" and fig.axes[6].get_ylabel() == "reconstruction"


@pytest.mark.parametrize("cls,latent", [(vh.Autoencoder, 2), (vh.VAE, 3), (vh.Autoencoder, 1)])
def test_plot_latent_scatter(cls, latent, mnist5k):
    ax = vh.plot_latent(cls(latent, hidden=(16,)), mnist5k.test[:200], mnist5k.test_labels[:200],
                        classes=mnist5k.classes)
    assert sum(len(c.get_offsets()) for c in ax.collections) == 200     # one scatter per class
    assert ax.get_xlabel() == "z[0]" and ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(mnist5k.classes)
    assert {t.get_text() for t in ax.texts} <= set(mnist5k.classes) and ax.texts  # class names at cluster centres


def test_plot_history_labels(mnist5k):
    h = vh.History(train_loss=[3.0, 2.0], test_loss=[3.5, 2.5])
    ax = vh.plot_history(h, h, names=["AE", "VAE"])
    assert ax.get_ylabel() == "loss (nats per image)" and ax.get_xlabel() == "epoch"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["AE train", "AE test", "VAE train", "VAE test"]


def test_reconstruct_and_embed_are_deterministic_for_a_vae(mnist5k):
    model = vh.VAE(2, hidden=(16,))
    x = mnist5k.test[:5]
    assert torch.equal(vh.reconstruct(model, x), vh.reconstruct(model, x))
    assert torch.equal(vh.embed(model, x), model.encode(x)[0])


def test_figures_leave_global_matplotlib_state_alone(mnist5k):
    import matplotlib
    matplotlib.interactive(True)  # as Jupyter's inline backend sets it
    try:
        size = plt.rcParams["font.size"]
        vh.show_images(mnist5k.test[:2])
        assert matplotlib.is_interactive(), "later notebook figures would stop showing"
        assert plt.rcParams["font.size"] == size
    finally:
        matplotlib.interactive(False)


def test_draw_gaussians_ellipse_size():
    fig, ax = plt.subplots()
    vh.draw_gaussians(ax, [[1.0, -1.0]], [[0.5, 0.25]], ["C0"])
    ellipse = ax.patches[0]
    assert ellipse.center == (1.0, -1.0)
    assert (ellipse.width, ellipse.height) == (2.0, 1.0)  # 2 std each side


def test_plot_encode_decode_shows_both_processes(mnist5k):
    fig = vh.plot_encode_decode(vh.Autoencoder(2, hidden=(16,)), vh.VAE(2, hidden=(16,)), mnist5k.test[0])
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 6 and titles.count("input x") == 2
    assert any(t.startswith("a point z") for t in titles) and any(t.startswith("N(μ, σ²)") for t in titles)
    assert len(fig.axes[4].patches) == 1  # the VAE's Gaussian ellipse
