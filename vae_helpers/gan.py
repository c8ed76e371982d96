"""The other answer to the autoencoder's generation problem: a small GAN (Goodfellow et al. 2014).

The generator has the size of the series' decoder (latent -> 400 -> 784) and the discriminator that of
its encoder (784 -> 400 -> 1), so a comparison with the VAE is like for like. A GAN has no encoder and
no likelihood: it can only be sampled. Its training is a game, not a loss to minimise, so it has its own
loop here (`GAN.fit`); everything else in the series trains with `vh.fit`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .checks import N_PIXELS, as_images
from .models import IMAGE_SHAPE, mlp, reset_layers
from .progress import progress as progress_bar
from .training import History, _split, default_device, make_optimizer, resolve_precision, stoppable
from .threads import adapt as adapt_threads


class GAN(nn.Module):
    """Generator z ~ N(0, I) -> image, and a discriminator image -> logit of "real"."""

    output = "sigmoid"   # generator output -> displayed pixels (what the explorer's payload states)
    recipe = "gan/adam-0.5/bf16-auto/2"   # GAN.fit's recipe, in its cache key: bumped when fit's defaults change

    def __init__(self, latent_dim: int = 16, hidden: Sequence[int] = (400,), critic: Sequence[int] = (400,),
                 dropout: float = 0.3):
        super().__init__()
        self.latent_dim, self.hidden, self.dropout = int(latent_dim), tuple(int(h) for h in hidden), float(dropout)
        self.critic = tuple(int(h) for h in critic)
        self.generator = mlp([self.latent_dim, *reversed(self.hidden), N_PIXELS])   # Linear/ReLU: the explorer runs it
        layers: list[nn.Module] = [nn.Dropout(self.dropout)]                         # dropout slows memorising
        for n_in, n_out in zip([N_PIXELS, *self.critic], self.critic):
            layers += [nn.Linear(n_in, n_out), nn.LeakyReLU(0.2)]
        self.discriminator = nn.Sequential(*layers, nn.Linear(self.critic[-1], 1))

    @property
    def config(self) -> dict:
        """What it takes to rebuild this model (and the cache key of train_or_load)."""
        return {"class": "GAN", "latent_dim": self.latent_dim, "hidden": list(self.hidden),
                "critic": list(self.critic), "dropout": self.dropout}

    @property
    def decoder(self) -> nn.Sequential:
        """The generator, under the name the explorer's payload reads."""
        return self.generator

    @property
    def device(self) -> torch.device:
        """The device the parameters live on."""
        return next(self.parameters()).device

    def reset_parameters(self) -> None:
        """Re-draw every layer's initial weights from the current torch RNG state."""
        reset_layers(self)

    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """Generated images, pixels in [0, 1]: (B, latent_dim) -> (B, 1, 28, 28) (`y` is ignored: not conditional)."""
        return torch.sigmoid(self.generator(z)).reshape(len(z), *IMAGE_SHAPE)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n` generated images from z ~ N(0, I), on CPU: (n, 1, 28, 28)."""
        self.eval()
        return self.decode(torch.randn(n, self.latent_dim, generator=generator).to(self.device)).cpu()

    def fit(self, data, *, epochs: int, batch_size: int = 64, lr: float = 2e-4, device=None,
            precision: str = "auto", progress: bool = True) -> History:
        """Alternate one discriminator and one generator step per minibatch (non-saturating loss, Adam beta1 = 0.5).

        Returns a History whose train_loss is the generator's loss and train_recon the discriminator's,
        per epoch, both binary cross-entropies in nats per image (train_kl stays 0; no test loss: a GAN has
        no likelihood to evaluate). `precision` as in `vh.fit` ("auto": bfloat16 autocast on CPUs with
        native bf16: 1.2x faster here, interleaved runs). Ctrl-C stops after the current batch.
        """
        train = as_images(_split(data)[0], "training images")
        device = torch.device(device) if device is not None else default_device()
        bf16 = resolve_precision(precision, device) == "bf16"
        self.to(device)
        train = train.reshape(len(train), -1).to(device)
        opt_g, opt_d = (make_optimizer(net, lr, betas=(0.5, 0.999)) for net in (self.generator, self.discriminator))
        history = History(precision="bf16" if bf16 else "fp32")
        bar = progress_bar(range(epochs), desc="Training GAN", unit="epoch", disable=not progress)
        with stoppable(self, bar, history):
            for _ in bar:
                adapt_threads()
                self.train()
                sums = torch.zeros(2, device=device)
                for idx in torch.randperm(len(train), device=device).split(batch_size):
                    sums += self._step(train[idx], opt_g, opt_d, bf16) * len(idx)
                g_loss, d_loss = (sums / len(train)).tolist()
                history.train_loss.append(g_loss)
                history.train_recon.append(d_loss)
                history.train_kl.append(0.0)
                bar.set_postfix_str(f"generator {g_loss:.2f}, discriminator {d_loss:.2f} nats", refresh=False)
        return history

    def _step(self, real: torch.Tensor, opt_g, opt_d, bf16: bool = False) -> torch.Tensor:
        """One discriminator step then one generator step on a batch of real images (B, 784); their losses, (2,)."""
        autocast = lambda: torch.autocast(real.device.type, dtype=torch.bfloat16, enabled=bf16)  # noqa: E731 - forwards only
        ones, zeros = torch.ones(len(real), 1, device=real.device), torch.zeros(len(real), 1, device=real.device)
        with autocast():
            fake = torch.sigmoid(self.generator(torch.randn(len(real), self.latent_dim, device=real.device)))
            d_loss = (F.binary_cross_entropy_with_logits(self.discriminator(real), ones)
                      + F.binary_cross_entropy_with_logits(self.discriminator(fake.detach()), zeros))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with autocast():
            g_loss = F.binary_cross_entropy_with_logits(self.discriminator(fake), ones)   # -log D(G(z)): non-saturating
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        return torch.stack([g_loss.detach(), d_loss.detach()])
