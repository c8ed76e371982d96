"""What a model sends to the browser: its MLP weights as int8 with one float32 scale per group of
at most 64 weights of a row, in base64.

Eight-bit weights make the decoder of the default model (d-400-784) about 0.43 MB of text instead
of 1.7 MB as float32; decoded pixel probabilities stay within a few hundredths of float32 (measured
in the tests). `mlp_numpy` evaluates the same quantised network in NumPy: it mirrors explorer.js.
"""
from __future__ import annotations

import base64
import re

import numpy as np
from torch import nn

from .likelihoods import LIKELIHOODS
from .models import IMAGE_SHAPE, N_PIXELS, VAE, has_encoder

# The contract between this module and vae_helpers/static/explorer.js. explorer.js declares `const SCHEMA = N`
# and refuses a payload of another version; `check_explorer_js` (run by the tests) fails when the two numbers
# differ or when the script stops reading a field of `model_layout`. Change both sides together.
SCHEMA_VERSION = 1


def b64(array: np.ndarray) -> str:
    """Base64 text of an array's raw little-endian bytes."""
    return base64.b64encode(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()).decode("ascii")


def unb64(text: str, dtype) -> np.ndarray:
    """The inverse of `b64` for a flat array of `dtype`."""
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<"))


def linear_layers(net: nn.Sequential) -> list[nn.Linear]:
    """The Linear layers of an MLP built as Linear, ReLU, Linear, ... (checked: the browser assumes it)."""
    layers = list(net)
    for i, module in enumerate(layers):
        expected = nn.Linear if i % 2 == 0 else nn.ReLU
        if not isinstance(module, expected):
            raise TypeError(f"The latent explorer runs MLPs of Linear and ReLU layers in the browser; layer {i} "
                            f"is a {type(module).__name__}. Use vh.Autoencoder or vh.VAE (or an MLP of that shape).")
    return [m for m in layers if isinstance(m, nn.Linear)]


GROUP = 64  # weights per scale: small groups follow the weights' range closely (error halves vs per row)


def group_size(n_in: int) -> int:
    """Inputs per scale group: rows are cut into ceil(n_in / 64) groups of equal size (the last shorter)."""
    groups = -(-n_in // GROUP)
    return -(-n_in // groups)


def quantize(layer: nn.Linear) -> dict:
    """One Linear layer as int8 weights, a float32 scale per group of a row, and float32 biases."""
    w = layer.weight.detach().cpu().double().numpy()                  # (out, in)
    size = group_size(w.shape[1])
    group = np.arange(w.shape[1]) // size                              # the group of each input
    scale = np.stack([np.abs(w[:, group == g]).max(axis=1) for g in range(group.max() + 1)], axis=1) / 127.0
    scale[scale == 0] = 1.0                                            # (out, groups)
    q = np.clip(np.rint(w / scale[:, group]), -127, 127).astype(np.int8)
    return {"in": layer.in_features, "out": layer.out_features, "group": size, "w": b64(q),
            "scale": b64(scale.astype(np.float32)), "b": b64(layer.bias.detach().cpu().numpy().astype(np.float32))}


def mlp_payload(net: nn.Sequential) -> list[dict]:
    """Every layer of an MLP, quantised."""
    return [quantize(layer) for layer in linear_layers(net)]


def dequantize(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) as float32 from a quantised layer: W[o, i] = q[o, i] * scale[o, i // group]."""
    q = unb64(spec["w"], np.int8).reshape(spec["out"], spec["in"]).astype(np.float32)
    scale = unb64(spec["scale"], np.float32).reshape(spec["out"], -1)
    return q * scale[:, np.arange(spec["in"]) // spec["group"]], unb64(spec["b"], np.float32)


def mlp_numpy(layers: list[dict], x: np.ndarray) -> np.ndarray:
    """Evaluate a quantised MLP (ReLU between layers, none after the last): (B, in) -> (B, out)."""
    h = np.asarray(x, dtype=np.float32)
    for i, spec in enumerate(layers):
        w, b = dequantize(spec)
        h = h @ w.T + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return h


# Decoder output -> displayed pixel value, mirroring explorer.js's OUTPUTS table (keyed by a likelihood's `output`).
OUTPUTS = {"sigmoid": lambda v: 1.0 / (1.0 + np.exp(-np.clip(v, -80, 80)))}


def decode_numpy(layers: list[dict], z: np.ndarray, output: str = "sigmoid") -> np.ndarray:
    """Displayed pixels from a quantised decoder, as the browser computes them: (B, d) -> (B, 784)."""
    return OUTPUTS[output](mlp_numpy(layers, z))


def model_layout(model: nn.Module) -> dict:
    """How the browser reads one model's networks: image shape, output transform, code layout, label slots."""
    n_classes = int(getattr(model, "n_classes", 0))
    code = "mean_logvar" if isinstance(model, VAE) else "point" if has_encoder(model) else "none"
    return {"image_shape": list(IMAGE_SHAPE),              # the decoder outputs prod(image_shape) values
            "output": model.output,                        # decoder output -> displayed pixels (explorer.js OUTPUTS)
            "code": code,                                  # encoder output: [mu, log s^2], z, or no encoder (a GAN)
            "n_classes": n_classes,                        # > 0: a one-hot label follows the input of both nets
            "label_at_encoder": N_PIXELS, "label_at_decoder": int(model.latent_dim)}


def check_explorer_js(text: str) -> None:
    """Raise ValueError when explorer.js (its source `text`) does not match this module's schema."""
    found = re.search(r"const SCHEMA = (\d+);", text)
    if not found or int(found.group(1)) != SCHEMA_VERSION:
        raise ValueError(f"explorer.js reads payload schema {found.group(1) if found else 'none'}, payload.py writes "
                         f"{SCHEMA_VERSION}: change both together.")
    unread = [key for key in model_layout(VAE(1, hidden=(1,))) if f"layout.{key}" not in text]
    if unread:
        raise ValueError(f"explorer.js never reads layout field(s) {', '.join(unread)} that payload.py sends.")
    table = re.search(r"const OUTPUTS = \{(.*?)\};", text, re.S)
    known = set(re.findall(r"^\s*(\w+):", table.group(1), re.M)) if table else set()
    missing = sorted({cls.output for cls in LIKELIHOODS.values()} - known)
    if missing:
        raise ValueError(f"explorer.js has no decoder output {', '.join(missing)} in its OUTPUTS table; a likelihood in "
                         "vae_helpers/likelihoods.py sends it. Add the transform there (and to payload.OUTPUTS).")


def payload_bytes(layers: list[dict]) -> int:
    """Characters of base64 text a quantised MLP adds to a page."""
    return sum(len(spec[k]) for spec in layers for k in ("w", "scale", "b"))
