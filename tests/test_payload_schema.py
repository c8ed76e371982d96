"""The contract between payload.py and explorer.js: one schema version on both sides, every layout field read."""
from importlib import resources

import pytest

import vae_helpers as vh
from vae_helpers import payload


def _explorer_js() -> str:
    return (resources.files("vae_helpers") / "static" / "explorer.js").read_text()


def test_python_and_javascript_agree_on_the_schema():
    payload.check_explorer_js(_explorer_js())


def test_a_deliberate_mismatch_is_caught():
    text = _explorer_js()
    bumped = text.replace(f"const SCHEMA = {payload.SCHEMA_VERSION};", f"const SCHEMA = {payload.SCHEMA_VERSION + 1};")
    assert bumped != text
    with pytest.raises(ValueError, match="change both together"):
        payload.check_explorer_js(bumped)
    forgetful = text.replace("layout.label_at_encoder", "layout.label_position")     # JS stops reading a field
    with pytest.raises(ValueError, match="label_at_encoder"):
        payload.check_explorer_js(forgetful)


@pytest.mark.parametrize("model, code, classes", [(vh.Autoencoder(3, hidden=(8,)), "point", 0),
                                                  (vh.VAE(3, hidden=(8,)), "mean_logvar", 0),
                                                  (vh.ConditionalVAE(3, hidden=(8,), n_classes=10), "mean_logvar", 10)])
def test_layout_states_what_the_browser_must_know(model, code, classes):
    layout = payload.model_layout(model)
    assert layout["code"] == code and layout["n_classes"] == classes and layout["output"] == "sigmoid"
    assert layout["image_shape"] == [1, 28, 28] and layout["label_at_encoder"] == 784 and layout["label_at_decoder"] == 3
    assert model.encoder[0].in_features == layout["label_at_encoder"] + classes      # the one-hot sits right after
    assert model.decoder[0].in_features == layout["label_at_decoder"] + classes


def test_the_explorer_payload_carries_schema_and_layouts(mnist5k):
    explorer = vh.latent_explorer(vh.Autoencoder(2, hidden=(8,)), vh.VAE(2, hidden=(8,)), data=mnist5k)
    sent = explorer.payload()
    assert sent["schema"] == payload.SCHEMA_VERSION
    assert [m["layout"]["code"] for m in sent["models"]] == ["point", "mean_logvar"]


def test_a_model_without_encoder_says_so():
    layout = payload.model_layout(vh.GAN(3, hidden=(8,), critic=(8,)))
    assert layout["code"] == "none" and layout["output"] == "sigmoid" and layout["n_classes"] == 0
