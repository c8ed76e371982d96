"""An autoencoder and a VAE built from the same MLP blocks, so comparisons are like for like."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .checks import N_PIXELS, SIDE, as_images
from .likelihoods import Likelihood, make_likelihood

IMAGE_SHAPE = (1, SIDE, SIDE)  # one grey channel


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


@torch.no_grad()
def reconstruct(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Deterministic reconstruction in [0, 1]: decode the code z (AE) or the mean mu (VAE)."""
    model.eval()
    x = as_images(x, "images to encode").to(model.device)
    y = labels.to(model.device) if labels is not None else None
    return model.decode(model.embed(x, y), y).cpu()


@torch.no_grad()
def embed(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None,
          batch_size: int = 2000) -> torch.Tensor:
    """One latent point per image (AE code, VAE mean): (N, 1, 28, 28) -> (N, latent_dim), on CPU."""
    model.eval()
    x = as_images(x, "images to encode")
    return torch.cat([model.embed(x[i:i + batch_size].to(model.device),
                                  labels[i:i + batch_size].to(model.device) if labels is not None else None).cpu()
                      for i in range(0, len(x), batch_size)])


def has_encoder(model: nn.Module) -> bool:
    """False for a model that can only be sampled (a GAN): no codes of real images, no slider range from codes."""
    return hasattr(model, "encoder")


def reset_layers(model: nn.Module) -> None:
    """Re-draw the initial weights of every layer inside `model` (not parameters defined on `model` itself)."""
    for module in model.modules():
        if module is not model and hasattr(module, "reset_parameters"):
            module.reset_parameters()


class _EncoderDecoder(nn.Module):
    """Shared skeleton: an MLP encoder with `code_size` outputs and an MLP decoder to pixel logits.

    With `n_classes > 0` the model is conditional: the label, one-hot, is an extra input of both
    networks, and every method that takes images or codes also takes the labels `y`. The decoder's
    likelihood (vae_helpers.likelihoods, by name) scores images and says what image an output stands for.
    """

    code_factor = 1  # outputs per latent dimension (1 for a point, 2 for a mean and a log-variance)

    def __init__(self, latent_dim: int = 2, hidden: Sequence[int] = (400,), n_classes: int = 0,
                 likelihood: str = "bernoulli"):
        super().__init__()
        self.likelihood: Likelihood = make_likelihood(likelihood)
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
        self.latent_dim = int(latent_dim)
        self.hidden = tuple(int(h) for h in hidden)
        self.n_classes = int(n_classes)
        self.encoder = mlp([N_PIXELS + self.n_classes, *self.hidden, self.code_factor * self.latent_dim])
        self.decoder = mlp([self.latent_dim + self.n_classes, *reversed(self.hidden), N_PIXELS])

    def reset_parameters(self) -> None:
        """Re-draw every layer's initial weights from the current torch RNG state (the likelihood's scale too)."""
        reset_layers(self)

    @property
    def config(self) -> dict:
        """What it takes to rebuild this model: class name, latent_dim, hidden sizes, classes and likelihood if not default."""
        config = {"class": type(self).__name__, "latent_dim": self.latent_dim, "hidden": list(self.hidden)}
        if self.n_classes:
            config["n_classes"] = self.n_classes
        if self.likelihood.name != "bernoulli":   # left out by default, so Bernoulli models keep their cache keys
            config["likelihood"] = self.likelihood.name
        return config

    def _with_label(self, inputs: torch.Tensor, y) -> torch.Tensor:
        """inputs (B, k) -> (B, k + n_classes) with the one-hot label appended (unchanged if unconditional)."""
        if not self.n_classes:
            return inputs
        if y is None:
            raise ValueError(f"{type(self).__name__} is conditional: pass the labels y (integers 0 to "
                             f"{self.n_classes - 1}, one per image or code).")
        y = torch.as_tensor(y, device=inputs.device).long().reshape(-1)
        if len(y) == 1 and len(inputs) > 1:
            y = y.expand(len(inputs))
        if len(y) != len(inputs) or int(y.min()) < 0 or int(y.max()) >= self.n_classes:
            raise ValueError(f"labels must be {len(inputs)} integers from 0 to {self.n_classes - 1}; got {len(y)} "
                             f"in [{int(y.min())}, {int(y.max())}].")
        return torch.cat([inputs, F.one_hot(y, self.n_classes).to(inputs.dtype)], dim=1)

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|z) per image under the model's likelihood, in nats (a density if the likelihood is one), (B,)."""
        return self.likelihood.nll(logits, x)

    @property
    def device(self) -> torch.device:
        """The device the parameters live on."""
        return next(self.parameters()).device

    @property
    def output(self) -> str:
        """How a decoder output becomes displayed pixels (the likelihood's; the explorer's payload sends it)."""
        return self.likelihood.output

    def _encoder_output(self, x: torch.Tensor, y=None) -> torch.Tensor:
        # (B, 1, 28, 28) -> (B, code_factor * latent_dim)
        return self.encoder(self._with_label(x.reshape(len(x), -1), y))

    def encode(self, x: torch.Tensor, y=None):
        """Check the images, then encode: z (B, latent_dim) for an AE, (mu, logvar) for a VAE."""
        return self._encode(as_images(x, "images to encode").to(self.device), y)

    def decode_logits(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """Pixel logits shaped like the images: (B, latent_dim) -> (B, 1, 28, 28)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"decode expects z of shape (B, {self.latent_dim}), got {tuple(z.shape)}.")
        return self.decoder(self._with_label(z, y)).reshape(len(z), *IMAGE_SHAPE)

    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """The images the codes stand for (the likelihood's mean), pixels in [0, 1]: (B, latent_dim) -> (B, 1, 28, 28)."""
        return self.likelihood.mean(self.decode_logits(z, y))

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, hidden={self.hidden}, likelihood={self.likelihood.name}"


class Autoencoder(_EncoderDecoder):
    """A deterministic autoencoder: each image is encoded as one point z."""

    def _encode(self, x: torch.Tensor, y=None) -> torch.Tensor:
        """The code of each image: (B, 1, 28, 28) -> z (B, latent_dim)."""
        return self._encoder_output(x, y)

    def embed(self, x: torch.Tensor, y=None) -> torch.Tensor:
        """A single point per image (the code z): (B, 1, 28, 28) -> (B, latent_dim)."""
        return self.encode(x, y)

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        """Reconstruction logits: (B, 1, 28, 28) -> (B, 1, 28, 28)."""
        return self.decode_logits(self._encode(x, y), y)


class VAE(_EncoderDecoder):
    """A variational autoencoder: each image is encoded as a Gaussian N(mu, diag(exp(logvar)))."""

    code_factor = 2

    def _encode(self, x: torch.Tensor, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x): (B, 1, 28, 28) -> two (B, latent_dim) tensors."""
        mu, logvar = self._encoder_output(x, y).chunk(2, dim=1)
        return mu, logvar

    def embed(self, x: torch.Tensor, y=None) -> torch.Tensor:
        """A single point per image (the mean mu of q(z|x)): (B, 1, 28, 28) -> (B, latent_dim)."""
        return self.encode(x, y)[0]

    def forward(self, x: torch.Tensor, y=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits from one sample of q(z|x), with mu and logvar."""
        mu, logvar = self._encode(x, y)
        return self.decode_logits(reparameterize(mu, logvar), y), mu, logvar


class ConditionalVAE(VAE):
    """A VAE that is also given the class label: q(z|x, y) and p(x|z, y) (Sohn et al. 2015)."""

    def __init__(self, latent_dim: int = 2, hidden: Sequence[int] = (400,), n_classes: int = 10,
                 likelihood: str = "bernoulli"):
        if int(n_classes) < 1:
            raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}.")
        super().__init__(latent_dim, hidden, n_classes, likelihood)


class LabelRegressor(nn.Module):
    """The baseline for conditional generation: an MLP from a one-hot label straight to pixel logits.

    Trained to reconstruct (with `vh.fit`, like every model here), it has nothing to vary for a given
    label, so it learns the best single image for each class: the average of the class, blurred where
    the examples disagree.
    """

    def __init__(self, n_classes: int = 10, hidden: Sequence[int] = (400,), likelihood: str = "bernoulli"):
        super().__init__()
        self.n_classes = int(n_classes)
        self.net = mlp([self.n_classes, *hidden, N_PIXELS])
        self.likelihood: Likelihood = make_likelihood(likelihood)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Pixel logits for labels y: (B,) -> (B, 1, 28, 28). The images x are not looked at (that is the point)."""
        y = torch.as_tensor(y, device=self.net[0].weight.device).long().reshape(-1)
        return self.net(F.one_hot(y, self.n_classes).float()).reshape(len(y), *IMAGE_SHAPE)

    def nll(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """-log p(x|y) per image under the likelihood, in nats, (B,)."""
        return self.likelihood.nll(logits, x)

    @torch.no_grad()
    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """The image for each label y (the likelihood's mean): (B,) -> (B, 1, 28, 28)."""
        return self.likelihood.mean(self(None, y))


MODEL_CLASSES = {cls.__name__: cls for cls in (Autoencoder, VAE, ConditionalVAE)}


def build_model(config: dict) -> _EncoderDecoder:
    """Rebuild an untrained model from its `config` dict (see `model.config`)."""
    cls = MODEL_CLASSES.get(config.get("class"))
    if cls is None:
        raise ValueError(f"Unknown model class {config.get('class')!r}; expected one of {sorted(MODEL_CLASSES)}.")
    extra = {key: config[key] for key in ("n_classes", "likelihood") if key in config}
    return cls(latent_dim=config["latent_dim"], hidden=config["hidden"], **extra)
