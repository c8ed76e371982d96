"""Figures in the notebooks: an <img> with a text alternative, the description composed from the figure."""
import base64
import io
import re

import matplotlib.pyplot as plt
import pytest
from IPython.core.interactiveshell import InteractiveShell
from matplotlib.figure import Figure
from PIL import Image

import vae_helpers as vh
from vae_helpers.display import describe_figure, figure_html


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_explicit_alt_wins():
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    assert vh.alt(fig, "A rising line.") is fig and describe_figure(fig) == "A rising line."


def test_description_from_titles_labels_and_legend():
    fig, axes = plt.subplots(1, 2)
    axes[0].plot([1, 2], label="train")
    axes[0].legend()
    axes[0].set(title="Losses", xlabel="epoch", ylabel="loss (nats per image)")
    axes[1].imshow([[0, 1]])
    fig.suptitle("Training")
    text = describe_figure(fig)
    assert text.startswith("Figure: Training (2 panels)") and '"Losses"' in text
    assert "loss (nats per image) against epoch" in text and "legend: train" in text and ".." not in text


def test_helper_figures_describe_themselves(mnist5k):
    text = describe_figure(vh.show_images(mnist5k.test[:5], ncols=5, titles=list("abcde"), title="five"))
    assert text == "Figure: five: a grid of 5 grey images, titled a, b, c, d, e."
    fig, ax = plt.subplots()
    vh.plot_latent(vh.VAE(2, hidden=(8,)), mnist5k.test[:50], mnist5k.test_labels[:50], classes=mnist5k.classes, ax=ax)
    assert "scatter plot of the 50 images' latent points" in describe_figure(fig)
    assert "reconstructs" in describe_figure(vh.plot_reconstructions(vh.Autoencoder(2, hidden=(8,)), mnist5k.test, n=4))


def test_figure_html_is_an_image_with_alt():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    vh.alt(fig, 'A "diagonal" line & more')
    html = figure_html(fig)
    alt = re.search(r'alt="([^"]*)"', html).group(1)
    assert alt == "A &quot;diagonal&quot; line &amp; more"
    png = base64.b64decode(re.search(r"base64,([^\"]+)", html).group(1))
    assert Image.open(io.BytesIO(png)).size[0] > 100


def test_notebook_setup_replaces_the_png_by_html_with_alt():
    shell = InteractiveShell.instance()
    try:
        vh.notebook_setup()                                  # finds the shell through IPython.get_ipython()
        fig, ax = plt.subplots()
        ax.plot([1, 2])
        ax.set_title("A line")
        data, _ = shell.display_formatter.format(fig)
        assert "image/png" not in data                      # one copy of the figure, not two
        assert 'alt="Figure: &quot;A line&quot;' in data["text/html"] and data["text/plain"].startswith("Figure:")
        assert plt.rcParams["font.size"] >= 11
    finally:
        shell.display_formatter.formatters["text/html"].pop(Figure, None)
        shell.display_formatter.formatters["text/plain"].pop(Figure, None)
        InteractiveShell.clear_instance()


def test_notebook_setup_reapplies_the_thread_policy_before_every_cell(monkeypatch):
    """The thread count follows the load cell by cell, also in cells that never call fit (models loaded)."""
    import vae_helpers.display as display
    looks = []
    monkeypatch.setattr(display, "adapt_threads", lambda wait=0.0: looks.append(wait) or 1)
    shell = InteractiveShell.instance()
    try:
        vh.notebook_setup()
        vh.notebook_setup()                                  # run twice (a re-run setup cell): one hook, not two
        assert shell.events.callbacks["pre_run_cell"].count(display._before_cell) == 1
        looks.clear()
        shell.run_cell("x = 1")
        shell.run_cell("y = 2")
        assert looks == [0.0, 0.0]                           # one look per cell, without a wait
    finally:
        shell.display_formatter.formatters["text/html"].pop(Figure, None)
        shell.display_formatter.formatters["text/plain"].pop(Figure, None)
        InteractiveShell.clear_instance()
