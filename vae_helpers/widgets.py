"""The latent explorer: one slider per latent dimension driving every model's decoder, in the browser.

`latent_explorer(*models, data=...)` returns a `LatentExplorer`. Displayed, it is an HTML output
holding a still picture, the models' weights (int8) and a small script (static/explorer.js) that
replaces the picture with the live explorer wherever the page runs scripts: JupyterLab and
Notebook 7 (trusted outputs), an nbconvert HTML export, the course website. Renderers without
scripts (GitHub, an untrusted notebook) keep the picture. Being an anywidget too, the explorer
links the page to Python while its kernel runs: `explorer.z` follows the sliders and
`explorer.set_z(...)` moves them.
"""
from __future__ import annotations

import base64
import html
import io
import json
import textwrap
import uuid
from collections.abc import Sequence
from importlib import resources

import anywidget
import numpy as np
import torch
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage

from .checks import SIDE
from .latent import code_box
from .metrics import active_units
from .models import VAE, embed, has_encoder
from .payload import SCHEMA_VERSION, mlp_payload, model_layout, payload_bytes
from .display import palette_png
from .plotting import PALETTE, label_clusters

STEP = 0.05          # slider step in latent units
N_TEST = 200         # test images shipped with an explorer for "another test digit" (balanced in mnist-5k)
N_MAP = 1000         # test codes drawn on a 2-D latent map
MINUS = "\u2212"


def _static(name: str) -> str:
    return resources.files("vae_helpers").joinpath("static", name).read_text(encoding="utf-8")


def fmt(v: float, digits: int = 2) -> str:
    """A signed number with a true minus sign (U+2212), as the explorer prints it: +0.50, −1.25."""
    return f"{MINUS if v < 0 else '+'}{abs(v):.{digits}f}"


def _shared_latent_dim(models) -> int:
    if not models:
        raise ValueError("latent_explorer needs at least one model.")
    dims = {m.latent_dim for m in models}
    if len(dims) != 1:
        listing = ", ".join(f"{type(m).__name__}: {m.latent_dim}" for m in models)
        raise ValueError(f"All models must share latent_dim so one set of sliders drives them all; got {listing}.")
    return dims.pop()


def _kind(model) -> str:
    return "VAE" if isinstance(model, VAE) else "AE" if has_encoder(model) else "GAN"



def sprite_png(images: torch.Tensor, per_row: int = 20) -> bytes:
    """Grey images (N, 1, 28, 28) in [0, 1] tiled row-major into one lossless PNG (the browser cuts it up)."""
    pixels = np.rint(images.reshape(len(images), SIDE, SIDE).cpu().numpy() * 255).astype(np.uint8)
    rows = -(-len(pixels) // per_row)
    sheet = np.zeros((rows * SIDE, per_row * SIDE), dtype=np.uint8)
    for k, image in enumerate(pixels):
        r, c = divmod(k, per_row)
        sheet[r * SIDE:(r + 1) * SIDE, c * SIDE:(c + 1) * SIDE] = image
    buffer = io.BytesIO()
    PILImage.fromarray(sheet).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def latent_explorer(*models: torch.nn.Module, names: Sequence[str] | None = None, data=None,
                    start: int | None = 0, z: Sequence[float] | None = None, draw: bool = False,
                    show_one: bool = False, inactive: Sequence[Sequence[bool]] | None = None,
                    step: float = STEP) -> "LatentExplorer":
    """Sliders over the latent dimensions, each model's decoded image side by side, decoded in the browser.

    `data` (a Dataset) gives the slider range of an AE, the 2-D latent maps, and test images to
    encode. The explorer opens at each model's own code of test image `start` (or at `z`, or at
    the origin if both are None). `draw=True` adds a drawing pad (the encoders are shipped too);
    `show_one=True` shows one model at a time with a menu to switch; `inactive` marks latent
    dimensions per model (e.g. collapsed ones) in grey.
    """
    return LatentExplorer(models, names=names, data=data, start=start, z=z, draw=draw, show_one=show_one,
                          inactive=inactive, step=step)


class LatentExplorer(anywidget.AnyWidget):
    """A latent explorer: HTML + script output, linked to Python through this (undisplayed) anywidget."""

    _esm = _static("bridge.js")
    key = traitlets.Unicode("").tag(sync=True)
    point = traitlets.List(traitlets.Float(), default_value=[]).tag(sync=True)       # the sliders' z
    model_points = traitlets.List(default_value=[]).tag(sync=True)                   # per model, after "encode"
    drawing_pixels = traitlets.List(default_value=[]).tag(sync=True)                 # the last drawing, 784 values
    test_index = traitlets.Int(-1).tag(sync=True)                                   # set by encode(i): the page shows it

    def __init__(self, models, *, names=None, data=None, start=0, z=None, draw=False, show_one=False,
                 inactive=None, step=STEP):
        self.latent_dim = _shared_latent_dim(models)
        self.models = list(models)
        self.names = list(names) if names is not None else [type(m).__name__ for m in self.models]
        if len(self.names) != len(self.models):
            raise ValueError(f"{len(self.names)} names for {len(self.models)} models.")
        self.data, self.step, self.draw, self.show_one = data, step, draw, show_one
        for m in self.models:
            m.eval()
        self.test_images = data.test[:N_TEST] if data is not None else None
        self.conditions = max(getattr(m, "n_classes", 0) for m in self.models)   # > 0: a class selector is shown
        self.codes = [self._embed(m, slice(0, N_MAP)) if data is not None and has_encoder(m) else None
                      for m in self.models]
        self.limits = self._slider_limits()
        z_models = self._start_points(start, z)
        super().__init__(key=uuid.uuid4().hex, point=[float(v) for v in z_models[0]],
                         model_points=[[float(v) for v in p] for p in z_models] if start is not None and z is None
                         else [])
        self.start = start if z is None else None
        self.label = int(data.test_labels[start]) if data is not None and start is not None else 0
        self.inactive = [list(map(bool, flags)) for flags in inactive] if inactive is not None else \
            [self._unused_dimensions(m) for m in self.models]

    # --- where things are --------------------------------------------------------------------

    def _slider_limits(self) -> np.ndarray:
        """(latent_dim, 2): the union of the models' boxes (prior +-3 for a VAE, codes for an AE), origin included."""
        boxes = np.stack([code_box(m, codes=c) for m, c in zip(self.models, self.codes)])
        low = np.minimum(boxes[:, :, 0].min(0), 0)
        high = np.maximum(boxes[:, :, 1].max(0), 0)
        return np.stack([self.step * np.floor(low / self.step), self.step * np.ceil(high / self.step)], axis=1).round(6)

    def _start_points(self, start, z) -> list[np.ndarray]:
        if z is not None:
            z = np.asarray(z, dtype=np.float64).reshape(-1)
            if len(z) != self.latent_dim:
                raise ValueError(f"z has {len(z)} values; the models have latent_dim={self.latent_dim}.")
            return [z] * len(self.models)
        if start is None or self.data is None:
            return [np.zeros(self.latent_dim)] * len(self.models)
        if not 0 <= start < len(self.data.test):
            raise ValueError(f"start must be a test image index from 0 to {len(self.data.test) - 1}, got {start}.")
        return [self._embed(m, slice(start, start + 1))[0].double().numpy() if has_encoder(m)
                else np.zeros(self.latent_dim) for m in self.models]

    def _unused_dimensions(self, model) -> list[bool]:
        """Latent dimensions a VAE does not use (collapsed to the prior: see metrics.active_units)."""
        if not isinstance(model, VAE) or self.data is None:
            return [False] * self.latent_dim
        labels = self.data.test_labels[:N_MAP] if getattr(model, "n_classes", 0) else None
        return (~active_units(model, self.data.test[:N_MAP], labels=labels)).tolist()

    @property
    def z(self) -> np.ndarray:
        """The sliders' latent point, (latent_dim,); follows the browser while the kernel runs."""
        return np.asarray(self.point, dtype=np.float32)

    @property
    def model_z(self) -> list[np.ndarray]:
        """The point each model decodes: its own code after "encode", otherwise the sliders' z for all."""
        if self.model_points:
            return [np.asarray(p, dtype=np.float32) for p in self.model_points]
        return [self.z] * len(self.models)

    @property
    def drawing(self) -> np.ndarray | None:
        """The last drawing from the pad, preprocessed like MNIST, as (28, 28) in [0, 1]; None if none."""
        return np.asarray(self.drawing_pixels, dtype=np.float32).reshape(SIDE, SIDE) if self.drawing_pixels else None

    def set_z(self, z: Sequence[float]) -> None:
        """Move the sliders (clipped to their range): every model decodes this z."""
        z = np.asarray(z, dtype=np.float64).reshape(-1)
        if len(z) != self.latent_dim:
            raise ValueError(f"z has {len(z)} values; the models have latent_dim={self.latent_dim}.")
        self.test_index = -1
        self.model_points = []
        self.point = [float(v) for v in np.clip(z, self.limits[:, 0], self.limits[:, 1])]

    def encode(self, index: int) -> None:
        """Put each model at its own code (AE: z, VAE: the mean) of test image `index`."""
        if self.data is None:
            raise ValueError("No data was given to the explorer, so there is no test image to encode.")
        points = [self._embed(m, slice(index, index + 1))[0].double().tolist() if has_encoder(m)
                  else [float(v) for v in self.z] for m in self.models]
        self.label = int(self.data.test_labels[index])
        with self.hold_sync():                                   # one message: the page sees all three together
            self.model_points = points
            self.point = points[0]
            self.test_index = -1                                 # a change even when the same image is asked twice
            self.test_index = int(index)

    def _embed(self, model, rows: slice) -> torch.Tensor:
        """Codes of test images `rows` (given their labels if the model is conditional)."""
        labels = self.data.test_labels[rows] if getattr(model, "n_classes", 0) else None
        return embed(model, self.data.test[rows], labels)

    @torch.no_grad()
    def decoded(self) -> list[np.ndarray]:
        """What each model shows now, decoded by torch in Python: a (28, 28) array per model."""
        out = []
        for m, z in zip(self.models, self.model_z):
            z = torch.tensor(z, dtype=torch.float32, device=m.device).reshape(1, -1)
            label = torch.tensor([self.label]) if getattr(m, "n_classes", 0) else None
            out.append(m.decode(z, label)[0, 0].cpu().numpy())
        return out

    # --- what the page receives -----------------------------------------------------------------

    def payload(self) -> dict:
        """Everything the browser needs, JSON-ready: weights (int8, base64), ranges, codes, test images."""
        d = self.latent_dim
        models = []
        for i, m in enumerate(self.models):
            entry = {"name": self.names[i], "kind": _kind(m), "layout": model_layout(m), "decoder": mlp_payload(m.decoder),
                     "encoder": mlp_payload(m.encoder) if self.draw and has_encoder(m) else None,
                     "inactive": self.inactive[i]}
            if self.test_images is not None and has_encoder(m):
                entry["test_codes"] = _b64_f32(self._embed(m, slice(0, N_TEST)))
            models.append(entry)
        payload = {"schema": SCHEMA_VERSION, "key": self.key, "latent_dim": d, "step": self.step, "limits": self.limits.tolist(),
                   "z0": list(self.point), "model_z0": [list(map(float, p)) for p in self.model_z],
                   "models": models, "show_one": self.show_one, "noun": self._noun(),
                   "classes": list(self.data.classes) if self.data is not None else [], "maps": None,
                   "note0": self._start_note(), "n_conditions": self.conditions, "label0": self.label}
        if self.data is not None:
            payload.update(test_images=base64.b64encode(sprite_png(self.test_images)).decode("ascii"),
                           n_test=len(self.test_images), start=self.start if self.start is not None and
                           self.start < len(self.test_images) else None,
                           test_labels=_b64_u8(self.data.test_labels[:N_TEST]))
            if d == 2:
                payload["labels"] = _b64_u8(self.data.test_labels[:N_MAP])
                payload["maps"] = [{"codes": _b64_f32(c), "limits": _map_limits(m, c, self.limits).tolist()}
                                   if c is not None else None for m, c in zip(self.models, self.codes)]
        return payload

    @property
    def payload_bytes(self) -> int:
        """Size of the weights this explorer puts into a page (base64 characters)."""
        return sum(payload_bytes(mlp_payload(m.decoder)) +
                   (payload_bytes(mlp_payload(m.encoder)) if self.draw and has_encoder(m) else 0) for m in self.models)

    def _noun(self) -> str:
        return self.data.noun if self.data is not None else "image"

    def _start_note(self) -> str:
        if self.model_points and self.start is not None:
            label = self.data.class_name(self.data.test_labels[self.start])
            none = "" if all(has_encoder(m) for m in self.models) else " (a model without an encoder at the origin)"
            return f"test {self._noun()} #{self.start} ({label}): each model at its own code{none}"
        return ""

    def describe(self) -> str:
        """One sentence saying what the explorer shows now (the still picture's text alternative)."""
        where = self._start_note() or "z = (" + ", ".join(fmt(v) for v in self.z[:4]) + \
            (", ..." if self.latent_dim > 4 else "") + ")"
        maps = " with each model's 2-D latent map of test codes and a cross at its point" if self.latent_dim == 2 \
            and self.data is not None else ""
        return (f"Latent explorer (still picture): {', '.join(self.names)} decoding a {self.latent_dim}-D latent "
                f"point side by side{maps}; {where}.")

    def still_png(self) -> bytes:
        """A still picture of the explorer as it opens: each model's decoded image and, for 2-D, its map."""
        images = self.decoded()
        rows = 2 if self.latent_dim == 2 and self.data is not None else 1
        n = len(self.models)
        fig = Figure(figsize=(max(3.1 * n + 0.4, 5.6), 3.0 * rows + 1.1), dpi=80)
        FigureCanvasAgg(fig)
        for i, (name, image, z) in enumerate(zip(self.names, images, self.model_z)):
            ax = fig.add_subplot(rows, n, i + 1)
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"{name} decodes z", fontsize=13)
            ax.axis("off")
            if rows == 2 and self.codes[i] is not None:
                ax = fig.add_subplot(rows, n, n + i + 1)
                _draw_map(ax, self.codes[i].numpy(), self.data.test_labels[:N_MAP].numpy(), self.data.classes,
                          _map_limits(self.models[i], self.codes[i], self.limits), z)
                ax.set_title(f"{name}: {'means' if _kind(self.models[i]) == 'VAE' else 'codes'} of test images",
                             fontsize=11)
        where = self._start_note() or "z = (" + ", ".join(fmt(v) for v in self.z[:4]) + \
            (", ..." if self.latent_dim > 4 else "") + ")"
        where = textwrap.fill(f"Latent explorer at {where}", 60)
        fig.suptitle(f"{where}\nstill picture: run the notebook to move the sliders", fontsize=11)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.canvas.print_png(buffer)
        return palette_png(buffer.getvalue(), colors=64)   # about a third of the bytes; stored twice per explorer

    def _repr_mimebundle_(self, **kwargs):
        png = base64.b64encode(self.still_png()).decode("ascii")
        alt = self.describe()
        line = "A still picture of the latent explorer: run the notebook (or open the course website) to move the sliders."
        payload = json.dumps(self.payload(), separators=(",", ":")).replace("</", "<\\/")
        page = (f'<div class="vh-explorer" data-key="{self.key}">'
                f'<div class="vh-still"><img alt="{html.escape(alt)}" src="data:image/png;base64,{png}" '
                f'style="max-width:100%;height:auto"><p style="font-size:13px;color:#444">{html.escape(line)}</p></div>'
                f'<script type="application/json" class="vh-payload">{payload}</script>'
                f'<script>{_static("explorer.js")}\nwindow.vhExplorer.boot(document.currentScript);</script></div>')
        data = {"text/html": page, "image/png": png, "text/plain": f"{alt} {line}"}
        return data, {"image/png": {"alt": alt}}


def _b64_f32(values: torch.Tensor) -> str:
    return base64.b64encode(values.detach().cpu().numpy().astype("<f4").tobytes()).decode("ascii")


def _b64_u8(values: torch.Tensor) -> str:
    return base64.b64encode(values.cpu().numpy().astype(np.uint8).tobytes()).decode("ascii")


def _map_limits(model, codes: torch.Tensor, sliders: np.ndarray) -> np.ndarray:
    """A 2-D map's axes: the codes' box with a margin (for a VAE, at least the prior's +-3), widened to the
    sliders' range so that the cross marking z stays on the map wherever the sliders go."""
    box = code_box(model, codes=codes, margin=0.08) if not isinstance(model, VAE) else \
        np.stack([np.minimum(codes.numpy().min(0) - 0.3, -3), np.maximum(codes.numpy().max(0) + 0.3, 3)], axis=1)
    box = np.stack([np.minimum(box[:, 0], sliders[:, 0]), np.maximum(box[:, 1], sliders[:, 1])], axis=1)
    return np.round(box, 3)


def _draw_map(ax, codes: np.ndarray, labels: np.ndarray, classes, limits: np.ndarray, z) -> None:
    """A latent map on matplotlib axes: codes coloured by class, class names at cluster medians, a cross at z."""
    colours = [PALETTE[int(c) % len(PALETTE)] for c in labels]
    ax.scatter(codes[:, 0], codes[:, 1], c=colours, s=4, alpha=0.55, linewidths=0)
    label_clusters(ax, codes, labels, classes)
    x = np.clip(z[0], *limits[0])
    y = np.clip(z[1], *limits[1])
    ax.plot([x], [y], marker="+", markersize=16, mew=4, color="white")
    ax.plot([x], [y], marker="+", markersize=14, mew=2, color="black")
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    ax.set_xlabel("z[0]", fontsize=11)
    ax.set_ylabel("z[1]", fontsize=11)
    ax.tick_params(labelsize=10)
