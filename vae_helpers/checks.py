"""One input check for every entry point that takes images: a clear error instead of a deep torch one.

Accepted: (N, 1, 28, 28), (N, 28, 28) or (N, 784); float pixels in [0, 1], or uint8 grey levels
0-255 (scaled by 1/255, said once). Anything else is refused with what was found, what is
expected, and how to fix it.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

SIDE = 28
N_PIXELS = SIDE * SIDE
_SAID = set()  # messages already shown in this session ("said once")


class ImageInputError(ValueError):
    """Images of the wrong shape, range or type; the message says how to fix them."""


def _note_once(message: str) -> None:
    if message not in _SAID:
        _SAID.add(message)
        warnings.warn(message, UserWarning, stacklevel=3)


def _shape_error(shape: tuple, name: str) -> ImageInputError:
    hint = ""
    if shape in ((SIDE, SIDE), (1, SIDE, SIDE), (N_PIXELS,)):
        hint = " This looks like a single image: add a batch dimension, e.g. x.unsqueeze(0) or x[None]."
    elif len(shape) >= 2 and shape[-1] != SIDE and shape[-1] * (shape[-2] if len(shape) > 2 else 1) != N_PIXELS:
        hint = (f" The models here take {SIDE} x {SIDE} grey images; resize yours first "
                f"(e.g. torch.nn.functional.interpolate(x, size=({SIDE}, {SIDE}), mode='area')).")
    elif len(shape) == 4 and shape[1] == 3:
        hint = " These look like colour images: convert to grey first, e.g. x.mean(dim=1, keepdim=True)."
    return ImageInputError(f"{name} have shape {shape}; expected (N, 1, {SIDE}, {SIDE}), (N, {SIDE}, {SIDE}) or "
                           f"(N, {N_PIXELS}).{hint}")


def as_images(x, name: str = "images") -> torch.Tensor:
    """Check and convert images to float32 (N, 1, 28, 28) in [0, 1], on the device they came on."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise ImageInputError(f"{name} must be a torch tensor or numpy array of images, got {type(x).__name__}.")
    shape = tuple(x.shape)
    if shape[1:] not in ((N_PIXELS,), (SIDE, SIDE), (1, SIDE, SIDE)):
        raise _shape_error(shape, name)
    if shape[0] == 0:
        raise ImageInputError(f"{name}: got no images at all (shape {shape}).")
    x = x.reshape(shape[0], 1, SIDE, SIDE)
    if x.dtype == torch.uint8:
        _note_once(f"{name} are uint8 grey levels: scaled to [0, 1] by dividing by 255.")
        return x.float() / 255.0
    if x.dtype == torch.bool:
        return x.float()
    if not torch.is_floating_point(x):
        raise ImageInputError(f"{name} have integer type {x.dtype}; expected float pixels in [0, 1] "
                              "or uint8 grey levels 0-255. Convert with x.float() / 255 if they are grey levels.")
    x = x.float()
    low, high = torch.aminmax(x)       # one pass; a NaN or inf shows up in the min or the max
    if bool(torch.isfinite(low) & torch.isfinite(high)) and low >= -1e-6 and high <= 1 + 1e-6:
        return x
    finite = torch.isfinite(x)          # something is wrong: find out what, for the message
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise ImageInputError(f"{name} contain {bad:,} non-finite pixel value(s) (NaN or inf) in "
                              f"{int((~finite).reshape(len(x), -1).any(dim=1).sum()):,} image(s); "
                              "replace or drop them first (e.g. torch.nan_to_num(x)).")
    low, high = float(x.min()), float(x.max())
    if low < -1e-6 or high > 1 + 1e-6:
        fix = ("divide by 255 (they look like 0-255 grey levels)" if high > 10 and low >= 0 else
               "divide by their maximum, x / x.max()" if low >= 0 else
               "map [-1, 1] to [0, 1] with (x + 1) / 2" if low >= -1 - 1e-6 and high <= 1 + 1e-6 else
               "rescale them, e.g. (x - x.min()) / (x.max() - x.min())")
        raise ImageInputError(f"{name} have pixel values in [{low:.3g}, {high:.3g}]; expected [0, 1] "
                              f"(a Bernoulli decoder models each pixel as a probability). To fix: {fix}.")
    return x
