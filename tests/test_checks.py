"""Bad input gets a clear error that names what was found, what is expected and the fix."""
import numpy as np
import pytest
import torch

import vae_helpers as vh
from vae_helpers.checks import ImageInputError, as_images


@pytest.mark.parametrize("shape", [(5, 1, 28, 28), (5, 28, 28), (5, 784)])
def test_accepted_shapes_become_n_1_28_28(shape):
    x = as_images(torch.rand(shape))
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32


def test_uint8_is_scaled_and_said_once(recwarn):
    pixels = torch.tensor([[0, 255] * 392], dtype=torch.uint8)
    x = as_images(pixels, "my uint8 images")
    assert float(x.max()) == 1.0 and float(x.min()) == 0.0
    as_images(pixels, "my uint8 images")
    said = [w for w in recwarn if "divided by 255" in str(w.message) or "dividing by 255" in str(w.message)]
    assert len(said) <= 1


@pytest.mark.parametrize("x, words", [
    (torch.rand(10, 1, 14, 14), ["(10, 1, 14, 14)", "(N, 1, 28, 28)", "resize"]),
    (torch.rand(28, 28), ["(28, 28)", "single image", "unsqueeze(0)"]),
    (torch.rand(4, 3, 28, 28), ["colour", "mean(dim=1"]),
    (torch.rand(10, 784) * 255, ["[", "255", "expected [0, 1]", "divide by 255"]),
    (torch.rand(10, 784) * 3, ["expected [0, 1]", "x / x.max()"]),
    (torch.rand(10, 784) * 2 - 1, ["(x + 1) / 2"]),
    (torch.zeros(0, 784), ["no images"]),
    (torch.randint(0, 999, (3, 784)), ["integer type", "x.float() / 255"]),
    ([1, 2, 3], ["tensor or numpy array", "list"]),
])
def test_bad_images_get_a_clear_error(x, words):
    with pytest.raises(ImageInputError) as err:
        as_images(x)
    for word in words:
        assert word in str(err.value)


def test_non_finite_pixels_are_counted():
    x = torch.rand(6, 784)
    x[1, :3] = float("nan")
    x[4, 0] = float("inf")
    with pytest.raises(ImageInputError, match=r"4 non-finite pixel value\(s\).* in 2 image\(s\)"):
        as_images(x)


def test_numpy_input_is_accepted():
    assert as_images(np.random.rand(2, 28, 28)).shape == (2, 1, 28, 28)


def test_fit_evaluate_encode_use_the_check():
    with pytest.raises(ImageInputError, match=r"training images have shape \(10, 1, 14, 14\)"):
        vh.fit(vh.VAE(2), torch.rand(10, 1, 14, 14), epochs=1, progress=False)
    with pytest.raises(ImageInputError, match="divide by 255"):
        vh.fit(vh.VAE(2), torch.rand(10, 784) * 255, epochs=1, progress=False)
    with pytest.raises(ImageInputError, match="non-finite"):
        vh.fit(vh.Autoencoder(2), torch.full((4, 784), float("nan")), epochs=1, progress=False)
    with pytest.raises(ImageInputError, match="images to evaluate"):
        vh.evaluate(vh.VAE(2), torch.rand(3, 1, 28, 28) * 3)
    with pytest.raises(ImageInputError, match="images to encode"):
        vh.VAE(2).encode(torch.rand(3, 196))
    with pytest.raises(ImageInputError, match="images to encode"):
        vh.reconstruct(vh.Autoencoder(2), torch.rand(3, 784) - 1)
    with pytest.raises(ImageInputError):
        vh.embed(vh.Autoencoder(2), torch.rand(2, 1, 27, 27))
