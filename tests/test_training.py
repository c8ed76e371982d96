"""fit, evaluate, set_seed: losses fall, runs repeat, Ctrl-C keeps what was learned."""
import numpy as np
import pytest
import torch

import vae_helpers as vh


@pytest.mark.parametrize("cls", [vh.Autoencoder, vh.VAE])
def test_loss_falls_on_a_tiny_batch(cls, mnist5k):
    vh.set_seed(0)
    model = cls(2, hidden=(64, 32))
    history = vh.fit(model, mnist5k.train[:64], epochs=40, batch_size=16, progress=False)
    assert history.epochs == 40 and not history.test_loss
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]


def test_vae_reaches_a_sensible_test_loss_on_mnist5k(mnist5k):
    vh.set_seed(0)
    model = vh.VAE(2)
    history = vh.fit(model, mnist5k, epochs=8, progress=False)
    # Measured about 172 nats/image after 8 epochs; 543 is an untrained (p = 0.5) decoder.
    assert 150 < history.test_loss[-1] < 190
    assert 1 < history.test_kl[-1] < 15
    assert history.test_loss[-1] == pytest.approx(history.test_recon[-1] + history.test_kl[-1], rel=1e-6)


def test_two_seeded_runs_are_identical(mnist5k):
    results = []
    for _ in range(2):
        vh.set_seed(7)
        model = vh.VAE(2, hidden=(64,))
        history = vh.fit(model, mnist5k.train[:500], epochs=2, progress=False, test=mnist5k.test[:200])
        results.append((history, [p.detach().clone() for p in model.parameters()]))
    (h1, p1), (h2, p2) = results
    assert h1.train_loss == h2.train_loss and h1.test_loss == h2.test_loss
    assert all(torch.equal(a, b) for a, b in zip(p1, p2))


def test_set_seed_covers_numpy_and_random():
    import random
    vh.set_seed(3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    vh.set_seed(3)
    assert a == (random.random(), np.random.rand(), torch.rand(1).item())


def test_keyboard_interrupt_stops_cleanly_and_keeps_weights(mnist5k, monkeypatch, capsys):
    vh.set_seed(0)
    model = vh.Autoencoder(2, hidden=(32,))
    calls = {"n": 0}
    from vae_helpers.optim import FusedAdam
    step = FusedAdam.step

    def interrupting_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 25:  # during the third epoch (10 batches of 100 per epoch)
            raise KeyboardInterrupt
        return step(self, *args, **kwargs)

    monkeypatch.setattr(FusedAdam, "step", interrupting_step)
    before = [p.detach().clone() for p in model.parameters()]
    history = vh.fit(model, mnist5k.train[:1000], epochs=10, batch_size=100, progress=False)
    assert history.interrupted and history.epochs == 2
    assert "Interrupted after 2 complete epoch(s)" in capsys.readouterr().out
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert "interrupted" in repr(history)


def test_evaluate_units_and_mode(mnist5k):
    model = vh.Autoencoder(2, hidden=(16,))
    model.train()
    result = vh.evaluate(model, mnist5k.test[:300], batch_size=128)
    assert set(result) == {"loss", "recon", "kl"} and result["kl"] == 0
    assert 300 < result["loss"] < 800  # an untrained decoder: near 784 * ln 2 = 543 nats/image
    assert model.training  # mode restored


def test_fit_rejects_bad_input(mnist5k):
    with pytest.raises(TypeError, match="Dataset or a tensor"):
        vh.fit(vh.VAE(2), [1, 2, 3], epochs=1)
    with pytest.raises(ValueError, match="epochs and batch_size"):
        vh.fit(vh.VAE(2), mnist5k.train[:10], epochs=0)


def test_default_device_is_usable():
    assert torch.zeros(1, device=vh.default_device()).device.type in {"cpu", "cuda", "mps"}


def test_a_non_finite_loss_stops_training_and_restores_the_last_finite_weights(mnist5k, capsys):
    vh.set_seed(0)
    model = vh.VAE(2, hidden=(32,))
    history = vh.fit(model, mnist5k.train[:400], epochs=2, batch_size=100, progress=False)
    good = [p.detach().clone() for p in model.parameters()]
    history = vh.fit(model, mnist5k.train[:400], epochs=5, batch_size=100, lr=1e9, progress=False,
                     precision="fp32")  # an absurd learning rate: the loss overflows
    out = capsys.readouterr().out
    assert history.stopped and "non-finite" in history.stopped
    assert "Training stopped" in out and "batch" in out and "smaller learning rate" in out
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert history.epochs < 5 and all(np.isfinite(history.train_loss))
    if history.epochs == 0:  # stopped in the first epoch: back to the weights it started with
        assert all(torch.equal(a, b) for a, b in zip(good, model.parameters()))


def test_precision_auto_and_schedule():
    from vae_helpers.training import lr_factor, resolve_precision
    assert resolve_precision("auto", torch.device("cuda")) == "fp32"
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16", torch.device("cpu"))
    factors = [lr_factor(s, 100, 0.6) for s in range(100)]
    assert factors[:40] == [1.0] * 40 and factors[-1] == pytest.approx(1 / 60)
    assert all(a >= b for a, b in zip(factors, factors[1:]))
    assert lr_factor(99, 100, 0.0) == 1.0


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.999)])
def test_lean_fused_adam_matches_torch_fused_adam_bit_for_bit(mnist5k, betas):
    from vae_helpers.losses import model_loss
    from vae_helpers.optim import FusedAdam

    def train(make):
        vh.set_seed(0)
        model = vh.VAE(4, hidden=(64,))
        opt = make(model)
        for step in range(12):
            torch.manual_seed(100 + step)
            opt.param_groups[0]["lr"] = 3e-3 * (1 - step / 12)      # fit changes lr every step
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model_loss(model, mnist5k.train[step * 20:(step + 1) * 20]).total
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if step == 5:          # a parameter without a gradient keeps its state, as in torch.optim
                model.encoder[0].bias.grad = None
            opt.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    ours = train(lambda m: FusedAdam(m.parameters(), lr=3e-3, betas=betas))
    theirs = train(lambda m: torch.optim.Adam(m.parameters(), lr=3e-3, betas=betas, fused=True))
    assert torch.equal(ours, theirs)


def test_fit_uses_the_lean_adam_on_cpu_and_never_imports_dynamo(mnist5k):
    import subprocess
    import sys
    code = ("import sys, vae_helpers as vh; d = vh.load_dataset('mnist-5k'); "
            "vh.fit(vh.VAE(2, hidden=(32,)), d.train[:64], epochs=1, progress=False); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"      # importing it costs ~1.2 s per kernel before the first step
