"""The GAN of notebook 07 and the augmentation experiment of notebook 06."""
import pytest
import torch

import vae_helpers as vh
from vae_helpers import augmentation as aug


def test_gan_has_the_decoders_size_samples_images_and_has_no_encoder():
    gan = vh.GAN(16)
    assert [m.in_features for m in gan.generator if hasattr(m, "in_features")] == [16, 400]
    assert sum(p.numel() for p in gan.generator.parameters()) == sum(p.numel() for p in vh.VAE(16).decoder.parameters())
    images = gan.sample(5, torch.Generator().manual_seed(0))
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, gan.sample(5, torch.Generator().manual_seed(0)))
    assert not hasattr(gan, "encode")


def test_gan_training_is_cached_and_records_both_losses(mnist5k, tmp_path):
    data = mnist5k.subset(256)
    gan = vh.GAN(4, hidden=(32,), critic=(32,))
    history = vh.train_or_load(gan, data, epochs=2, progress=False, cache_dir=tmp_path)
    assert history.epochs == 2 and all(v > 0 for v in history.train_loss + history.train_recon)
    again = vh.GAN(4, hidden=(32,), critic=(32,))
    assert vh.train_or_load(again, data, epochs=2, progress=False, cache_dir=tmp_path).train_loss == history.train_loss
    assert all(torch.equal(a, b) for a, b in zip(gan.state_dict().values(), again.state_dict().values()))
    assert history.precision == vh.training.resolve_precision("auto", torch.device("cpu"))


def test_gan_precision_is_chosen_like_fits_and_both_kinds_train(mnist5k):
    data = mnist5k.subset(128)
    for precision in ("fp32", "bf16"):
        vh.set_seed(0)
        gan = vh.GAN(4, hidden=(32,), critic=(32,))
        history = gan.fit(data, epochs=2, precision=precision, progress=False)
        assert history.precision == precision
        assert all(0 < v < 5 for v in history.train_loss + history.train_recon)   # BCEs, nats: finite and sane
    with pytest.raises(ValueError, match="precision must be"):
        vh.GAN(4).fit(data, epochs=1, precision="fp16", progress=False)


def test_few_labels_draws_per_class_by_seed(mnist5k):
    a, b = aug.few_labels(mnist5k, 10, seed=0), aug.few_labels(mnist5k, 10, seed=1)
    assert torch.bincount(a.train_labels, minlength=10).tolist() == [10] * 10
    assert torch.equal(a.train, aug.few_labels(mnist5k, 10, seed=0).train) and not torch.equal(a.train, b.train)
    assert torch.equal(a.test, mnist5k.test)
    with pytest.raises(ValueError, match="fewer than"):
        aug.few_labels(mnist5k.subset(50), 10)


def test_shift_rotate_moves_images_and_keeps_their_ink(mnist5k):
    x, g = mnist5k.test[:20], torch.Generator().manual_seed(0)
    assert torch.allclose(aug.shift_rotate(x, g, pixels=0.0, degrees=0.0), x, atol=1e-5)
    moved = aug.shift_rotate(x, g)
    assert moved.shape == x.shape and (moved - x).abs().mean() > 0.02
    assert moved.sum().item() == pytest.approx(x.sum().item(), rel=0.08)      # digits stay inside the frame


def test_the_classifier_learns_and_extra_data_reaches_it(mnist5k):
    labelled = aug.few_labels(mnist5k, 10, seed=0)
    accuracy = aug.classifier_accuracy(labelled, steps=100, seed=0)
    assert accuracy > 0.5                                               # chance is 0.1
    cvae = vh.ConditionalVAE(2, hidden=(16,))
    x, y = aug.cvae_samples(cvae)(labelled.train[:8], labelled.train_labels[:8], torch.Generator().manual_seed(0))
    assert x.shape == (16, 1, 28, 28) and torch.equal(y[:8], labelled.train_labels[:8]) and y.max() < 10
