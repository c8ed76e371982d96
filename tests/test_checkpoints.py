"""save_model / load_model and the train-or-load cache."""
import pytest
import torch

import vae_helpers as vh
import vae_helpers.checkpoints as ckpt


def _trained_vae(mnist5k, **kw):
    vh.set_seed(0)
    model = vh.VAE(2, hidden=(32,))
    history = vh.fit(model, mnist5k.train[:300], epochs=1, progress=False, **kw)
    return model, history


def test_save_load_roundtrip(mnist5k, tmp_path):
    model, history = _trained_vae(mnist5k)
    path = vh.save_model(model, tmp_path / "sub" / "vae.pt", history=history)
    loaded = vh.load_model(path)
    assert isinstance(loaded, vh.VAE) and loaded.config == model.config
    x = mnist5k.test[:4]
    assert torch.equal(loaded.encode(x)[0], model.encode(x)[0])
    assert vh.load_checkpoint(path)["history"]["train_loss"] == history.train_loss
    into = vh.load_model(path, vh.VAE(2, hidden=(32,)))
    assert torch.equal(into.decode(torch.zeros(1, 2)), model.decode(torch.zeros(1, 2)))
    assert not list(tmp_path.glob("sub/*.tmp"))


def test_load_refuses_a_mismatched_model(mnist5k, tmp_path):
    model, _ = _trained_vae(mnist5k)
    path = vh.save_model(model, tmp_path / "vae.pt")
    with pytest.raises(vh.CheckpointError, match="does not match"):
        vh.load_model(path, vh.Autoencoder(2, hidden=(32,)))
    with pytest.raises(vh.CheckpointError, match="does not match"):
        vh.load_model(path, vh.VAE(3, hidden=(32,)))


def test_load_refuses_foreign_truncated_and_missing_files(mnist5k, tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(vh.CheckpointError, match="not written by vae_helpers"):
        vh.load_model(foreign)
    model, _ = _trained_vae(mnist5k)
    good = vh.save_model(model, tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(vh.CheckpointError, match="truncated"):
        vh.load_model(truncated)
    with pytest.raises(vh.CheckpointError, match="No checkpoint"):
        vh.load_model(tmp_path / "absent.pt")


def test_failed_save_keeps_the_old_file(mnist5k, tmp_path, monkeypatch):
    model, _ = _trained_vae(mnist5k)
    path = vh.save_model(model, tmp_path / "vae.pt")
    before = path.read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        vh.save_model(vh.VAE(2, hidden=(32,)), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["vae.pt"]


def test_train_or_load_trains_once_then_loads(mnist5k, tmp_path, monkeypatch, capsys):
    small = vh.load_dataset()
    small.train, small.test = small.train[:300], small.test[:100]
    first = vh.VAE(2, hidden=(32,))
    h1 = vh.train_or_load(first, small, epochs=2, seed=5, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.pt"))) == 1

    def no_training(*args, **kwargs):
        raise AssertionError("fit must not run when the cache has this configuration")

    monkeypatch.setattr(ckpt, "fit", no_training)
    second = vh.VAE(2, hidden=(32,))
    h2 = vh.train_or_load(second, small, epochs=2, seed=5, cache_dir=tmp_path, progress=False)
    assert "Loaded VAE from cache" in capsys.readouterr().out
    assert h2.test_loss == h1.test_loss
    assert all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters()))
    with pytest.raises(AssertionError, match="fit must not run"):
        vh.train_or_load(vh.VAE(2, hidden=(32,)), small, epochs=3, seed=5, cache_dir=tmp_path)


def test_train_or_load_is_seeded_from_a_fresh_start(mnist5k, tmp_path):
    small = vh.load_dataset()
    small.train, small.test = small.train[:200], small.test[:50]
    a, b = vh.VAE(2, hidden=(16,)), vh.VAE(2, hidden=(16,))
    torch.manual_seed(1)
    vh.train_or_load(a, small, epochs=1, seed=9, cache_dir=tmp_path / "a", progress=False)
    torch.manual_seed(2)  # a different RNG state before the call changes nothing
    vh.train_or_load(b, small, epochs=1, seed=9, cache_dir=tmp_path / "b", progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert (sorted(p.name for p in (tmp_path / "a").iterdir())
            == sorted(p.name for p in (tmp_path / "b").iterdir()))


def test_cache_key_changes_with_any_setting(mnist5k):
    model = vh.VAE(2)
    base = ckpt.cache_key(model, mnist5k, {"epochs": 5, "seed": 0})
    assert base != ckpt.cache_key(model, mnist5k, {"epochs": 6, "seed": 0})
    assert base != ckpt.cache_key(model, mnist5k, {"epochs": 5, "seed": 0, "beta": 2.0})
    assert base != ckpt.cache_key(vh.VAE(3), mnist5k, {"epochs": 5, "seed": 0})
    gan = vh.GAN(2)
    old_recipe = ckpt.cache_key(gan, mnist5k, {"epochs": 5, "seed": 0})
    gan.recipe = "an older recipe"                 # a model's own training recipe is part of its key
    assert old_recipe != ckpt.cache_key(gan, mnist5k, {"epochs": 5, "seed": 0})
    assert base.startswith("vae-z2-")


def test_a_shared_cache_is_read_beneath_the_learners_own(tmp_path, monkeypatch, capsys):
    """The teacher's read-only cache serves a learner whose own cache is empty; nothing is written to it."""
    small = vh.load_dataset()
    small.train, small.test = small.train[:300], small.test[:100]
    shared, own = tmp_path / "shared", tmp_path / "own"
    monkeypatch.setenv(ckpt.CACHE_ENV_VAR, str(shared))           # the teacher fills it
    teacher = vh.VAE(2, hidden=(32,))
    vh.train_or_load(teacher, small, epochs=1, seed=3, progress=False)
    before = sorted(p.name for p in shared.iterdir())
    monkeypatch.setenv(ckpt.CACHE_ENV_VAR, str(own))              # a learner
    monkeypatch.setenv(ckpt.SHARED_ENV_VAR, f"{tmp_path / 'missing'}{__import__('os').pathsep}{shared}")
    monkeypatch.setattr(ckpt, "fit", lambda *a, **k: pytest.fail("the shared cache has this model"))
    learner = vh.VAE(2, hidden=(32,))
    vh.train_or_load(learner, small, epochs=1, seed=3, progress=False)
    assert "Loaded VAE from the shared cache" in capsys.readouterr().out
    assert all(torch.equal(a, b) for a, b in zip(teacher.parameters(), learner.parameters()))
    assert sorted(p.name for p in shared.iterdir()) == before and not own.exists()


def test_an_unwritable_cache_costs_the_saved_copy_not_the_run(tmp_path, monkeypatch, capsys):
    small = vh.load_dataset()
    small.train, small.test = small.train[:300], small.test[:100]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")                               # mkdir under a file fails, even for root
    monkeypatch.setenv(ckpt.CACHE_ENV_VAR, str(blocker / "models"))
    history = vh.train_or_load(vh.VAE(2, hidden=(32,)), small, epochs=1, seed=3, progress=False)
    assert history.epochs == 1
    assert "Could not save the model to the cache" in capsys.readouterr().out
