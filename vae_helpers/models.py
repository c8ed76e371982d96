"""An autoencoder and a VAE built from the same MLP blocks, so comparisons are like for like."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .checks import as_images

IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 28 * 28


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Draw z = mu + sigma * eps with eps ~ N(0, I): a sample that gradients flow through."""
    eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


class _EncoderDecoder(nn.Module):
    """Shared skeleton: an MLP encoder with `code_size` outputs and an MLP decoder to pixel logits."""

    code_factor = 1  # outputs per latent dimension (1 for a point, 2 for a mean and a log-variance)

    def __init__(self, latent_dim: int = 2, hidden: Sequence[int] = (400,)):
        super().__init__()
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
        self.latent_dim = int(latent_dim)
        self.hidden = tuple(int(h) for h in hidden)
        self.encoder = mlp([N_PIXELS, *self.hidden, self.code_factor * self.latent_dim])
        self.decoder = mlp([self.latent_dim, *reversed(self.hidden), N_PIXELS])

    @property
    def config(self) -> dict:
        """What it takes to rebuild this model: class name, latent_dim, hidden sizes."""
        return {"class": type(self).__name__, "latent_dim": self.latent_dim, "hidden": list(self.hidden)}

    @property
    def device(self) -> torch.device:
        """The device the parameters live on."""
        return next(self.parameters()).device

    def _encoder_output(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(len(x), -1))  # (B, 1, 28, 28) -> (B, code_factor * latent_dim)

    def encode(self, x: torch.Tensor):
        """Check the images, then encode: z (B, latent_dim) for an AE, (mu, logvar) for a VAE."""
        return self._encode(as_images(x, "images to encode").to(self.device))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits shaped like the images: (B, latent_dim) -> (B, 1, 28, 28)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"decode expects z of shape (B, {self.latent_dim}), got {tuple(z.shape)}.")
        return self.decoder(z).reshape(len(z), *IMAGE_SHAPE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli pixel probabilities in [0, 1]: (B, latent_dim) -> (B, 1, 28, 28)."""
        return torch.sigmoid(self.decode_logits(z))

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, hidden={self.hidden}"


class Autoencoder(_EncoderDecoder):
    """A deterministic autoencoder: each image is encoded as one point z."""

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of each image: (B, 1, 28, 28) -> z (B, latent_dim)."""
        return self._encoder_output(x)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """A single point per image (the code z): (B, 1, 28, 28) -> (B, latent_dim)."""
        return self.encode(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction logits: (B, 1, 28, 28) -> (B, 1, 28, 28)."""
        return self.decode_logits(self._encode(x))


class VAE(_EncoderDecoder):
    """A variational autoencoder: each image is encoded as a Gaussian N(mu, diag(exp(logvar)))."""

    code_factor = 2

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x): (B, 1, 28, 28) -> two (B, latent_dim) tensors."""
        mu, logvar = self._encoder_output(x).chunk(2, dim=1)
        return mu, logvar

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """A single point per image (the mean mu of q(z|x)): (B, 1, 28, 28) -> (B, latent_dim)."""
        return self.encode(x)[0]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits from one sample of q(z|x), with mu and logvar."""
        mu, logvar = self._encode(x)
        return self.decode_logits(reparameterize(mu, logvar)), mu, logvar


MODEL_CLASSES = {cls.__name__: cls for cls in (Autoencoder, VAE)}


def build_model(config: dict) -> _EncoderDecoder:
    """Rebuild an untrained model from its `config` dict (see `model.config`)."""
    cls = MODEL_CLASSES.get(config.get("class"))
    if cls is None:
        raise ValueError(f"Unknown model class {config.get('class')!r}; expected one of {sorted(MODEL_CLASSES)}.")
    return cls(latent_dim=config["latent_dim"], hidden=config["hidden"])
