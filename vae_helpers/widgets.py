"""The latent explorer: one slider per latent dimension driving every model's decoder side by side.

Images are rendered as PNG bytes into `ipywidgets.Image` (about 1 ms a move), not as new
matplotlib figures (about 20 ms). The rendering path is plain functions, testable without a kernel.
"""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image as PILImage

from .latent import code_box
from .models import VAE
from .plotting import embed

SCALE = 8            # 28 px -> 224 px on screen, nearest neighbour: sharp on a projector
MAP_PIXELS = 240     # side of the 2-D latent map, in screen pixels


# --- the rendering path: arrays in, PNG bytes out ------------------------------------

def to_png(image: np.ndarray, scale: int = SCALE) -> bytes:
    """PNG bytes of a (28, 28) grey image in [0, 1] (or an (H, W, 3) uint8 RGB image), upscaled."""
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    if scale > 1:
        image = image.repeat(scale, axis=0).repeat(scale, axis=1)  # nearest neighbour
    buffer = io.BytesIO()
    PILImage.fromarray(image).save(buffer, format="PNG", compress_level=1)  # speed over size
    return buffer.getvalue()


def read_png(data: bytes) -> np.ndarray:
    """Decode PNG bytes back to a uint8 array: (H, W) for grey, (H, W, 3) for colour or palette images."""
    image = PILImage.open(io.BytesIO(data))
    return np.asarray(image.convert("RGB") if image.mode == "P" else image)


@torch.no_grad()
def decode_image(model: torch.nn.Module, z: Sequence[float]) -> np.ndarray:
    """The decoder's pixel probabilities at one latent point: (latent_dim,) -> (28, 28) in [0, 1]."""
    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, -1).to(model.device)
    return model.decode(z)[0, 0].cpu().numpy()


def render_decoded(model: torch.nn.Module, z: Sequence[float], scale: int = SCALE) -> bytes:
    """PNG bytes of what `model` decodes at `z`."""
    return to_png(decode_image(model, z), scale)


class LatentMap:
    """A 2-D latent map: data codes coloured by label, drawn once; only the marker moves."""

    def __init__(self, codes: np.ndarray, labels: np.ndarray, limits: np.ndarray, title: str,
                 pixels: int = MAP_PIXELS):
        # A bare Agg figure, not pyplot: nothing appears in the notebook and no global state changes.
        fig = Figure(figsize=(pixels / 80, pixels / 80), dpi=80)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0.16, 0.14, 0.8, 0.76))
        ax.scatter(codes[:, 0], codes[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=3, alpha=0.7)
        ax.set_xlim(*limits[0])
        ax.set_ylim(*limits[1])
        ax.set_xlabel("z[0]", fontsize=9, labelpad=1)
        ax.set_ylabel("z[1]", fontsize=9, labelpad=1)
        ax.tick_params(labelsize=8)
        ax.set_title(title, fontsize=9)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3]
        # A palette image encodes ~10x faster than RGB: quantise the background once to 254
        # colours and keep the last two palette slots for the marker (black and white).
        quantised = PILImage.fromarray(rgb).quantize(colors=254)
        self.background = np.asarray(quantised).copy()                    # (H, W) palette indices
        self.palette = quantised.getpalette()[:254 * 3] + [0, 0, 0, 255, 255, 255]
        self._to_pixels = ax.transData.transform
        self._box = ax.get_window_extent().extents  # x0, y0, x1, y1 in display pixels (origin bottom-left)
        self.height = self.background.shape[0]

    BLACK, WHITE = 254, 255  # palette indices of the marker colours

    def pixel(self, z: Sequence[float]) -> tuple[int, int]:
        """(row, col) of latent point z on the map, clamped to the plotting area."""
        x, y = self._to_pixels((float(z[0]), float(z[1])))
        x0, y0, x1, y1 = self._box
        x, y = min(max(x, x0), x1), min(max(y, y0), y1)
        return int(round(self.height - y)), int(round(x))

    def render(self, z: Sequence[float]) -> bytes:
        """PNG bytes of the map with a cross marker at z (black on a white halo)."""
        image = self.background.copy()
        row, col = self.pixel(z)
        for half, width, colour in ((7, 2, self.WHITE), (6, 1, self.BLACK)):
            image[max(row - width, 0):row + width + 1, max(col - half, 0):col + half + 1] = colour
            image[max(row - half, 0):row + half + 1, max(col - width, 0):col + width + 1] = colour
        png = PILImage.fromarray(image, mode="P")
        png.putpalette(self.palette)
        buffer = io.BytesIO()
        png.save(buffer, format="PNG", compress_level=0)
        return buffer.getvalue()


# --- the widget -----------------------------------------------------------------------

def latent_explorer(*models: torch.nn.Module, names: Sequence[str] | None = None, data=None,
                    dims_per_page: int = 8, scale: int = SCALE, step: float = 0.05):
    """Sliders over the latent dimensions, each model's decoded image side by side (a widget).

    `data` (a Dataset) gives the AE slider range, the 2-D latent maps and the "encode" button.
    """
    return LatentExplorer(models, names=names, data=data, dims_per_page=dims_per_page,
                          scale=scale, step=step)


def _shared_latent_dim(models) -> int:
    if not models:
        raise ValueError("latent_explorer needs at least one model.")
    dims = {m.latent_dim for m in models}
    if len(dims) != 1:
        listing = ", ".join(f"{type(m).__name__}: {m.latent_dim}" for m in models)
        raise ValueError(f"All models must share latent_dim so one set of sliders drives them all; got {listing}.")
    return dims.pop()


class LatentExplorer(widgets.VBox):
    """Sliders, buttons and one decoded image per model; every slider move redraws all models."""

    def __init__(self, models, *, names=None, data=None, dims_per_page=8, scale=SCALE, step=0.05):
        super().__init__()
        self._build(models, names=names, data=data, dims_per_page=dims_per_page, scale=scale, step=step)

    def _repr_mimebundle_(self, **kwargs):
        # Beside the live widget, a still picture for renderers without a kernel (GitHub, nbviewer).
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self.snapshot()).decode("ascii")
        return bundle

    def _build(self, models, *, names, data, dims_per_page, scale, step):
        self.latent_dim = _shared_latent_dim(models)
        self.models = list(models)
        self.names = list(names) if names is not None else [type(m).__name__ for m in models]
        if len(self.names) != len(self.models):
            raise ValueError(f"{len(self.names)} names for {len(self.models)} models.")
        self.data, self.scale = data, scale
        for m in self.models:
            m.eval()
        # Each model encodes the test images once: for the slider ranges and the latent maps.
        self.codes = [embed(m, data.test) if data is not None else None for m in self.models]
        self.sliders = self._build_sliders(step)
        self.images = [widgets.Image(format="png", width=28 * scale, height=28 * scale) for _ in models]
        self.maps, self.map_images = self._build_maps()
        self.page = widgets.Dropdown(options=self._pages(dims_per_page), description="dimensions")
        self.page.observe(lambda change: self._show_page(), names="value")
        self.slider_box = widgets.VBox()
        self._show_page()
        self.status = widgets.HTML()
        controls = [self.page] if len(self.page.options) > 1 else []
        self.children = [self._model_columns(), *controls, self.slider_box,
                         widgets.HBox(self._build_buttons()), self.status]
        self.refresh()

    def _build_sliders(self, step: float) -> list:
        boxes = np.stack([code_box(m, codes=c) for m, c in zip(self.models, self.codes)])  # (models, dim, 2)
        # The union of the models' boxes, stretched to include the origin (the "reset" point).
        self.limits = np.stack([np.minimum(boxes[:, :, 0].min(0), 0), np.maximum(boxes[:, :, 1].max(0), 0)], axis=1)
        sliders = [widgets.FloatSlider(value=0.0, step=step, description=f"z[{i}]", continuous_update=True,
                                       # ends on multiples of `step`: the slider's grid contains 0
                                       min=round(step * math.floor(lo / step), 6),
                                       max=round(step * math.ceil(hi / step), 6),
                                       readout_format=".2f", layout=widgets.Layout(width="420px"))
                   for i, (lo, hi) in enumerate(self.limits)]
        self._holding = False
        for s in sliders:
            s.observe(self._on_slider, names="value")
        return sliders

    def _model_columns(self):
        columns = []
        for i, name in enumerate(self.names):
            parts = [widgets.HTML(f"<b style='font-size:16px'>{name}</b>"), self.images[i]]
            if self.maps:
                parts.append(self.map_images[i])
            columns.append(widgets.VBox(parts, layout=widgets.Layout(align_items="center", margin="0 12px")))
        return widgets.HBox(columns)

    def _build_buttons(self) -> list:
        auto = widgets.Layout(width="auto")  # buttons as wide as their labels
        self.reset_button = widgets.Button(description="reset to origin", icon="crosshairs", layout=auto)
        self.sample_button = widgets.Button(description="sample from prior", icon="random", layout=auto)
        self.reset_button.on_click(lambda _: self.set_z(np.zeros(self.latent_dim)))
        self.sample_button.on_click(lambda _: self.set_z(np.random.randn(self.latent_dim)))
        self.index = self.encode_button = self.test_image = None
        if self.data is None:
            return [self.reset_button, self.sample_button]
        self.index = widgets.BoundedIntText(value=0, min=0, max=len(self.data.test) - 1,
                                            description="test image", layout=widgets.Layout(width="200px"))
        self.encode_button = widgets.Button(description=f"encode with {self.names[0]}", icon="arrow-down",
                                            layout=auto)
        self.encode_button.on_click(lambda _: self.encode(self.index.value))
        self.test_image = widgets.Image(format="png", width=56, height=56)  # the image to encode
        self.index.observe(lambda change: self._show_test_image(), names="value")
        self._show_test_image()
        return [self.reset_button, self.sample_button, self.index, self.test_image, self.encode_button]

    def _build_maps(self):
        if self.latent_dim != 2 or self.data is None:
            return [], []
        labels = self.data.test_labels.numpy()
        maps = [LatentMap(codes.numpy(), labels, self.limits,
                          title=f"{name}: {'means' if isinstance(m, VAE) else 'codes'} of test images")
                for m, name, codes in zip(self.models, self.names, self.codes)]
        return maps, [widgets.Image(format="png") for _ in maps]

    def _pages(self, per_page: int) -> list[tuple[str, int]]:
        starts = range(0, self.latent_dim, max(1, per_page))
        self._per_page = max(1, per_page)
        return [(f"z[{s}] to z[{min(s + per_page, self.latent_dim) - 1}]", s) for s in starts]

    def _show_page(self) -> None:
        start = self.page.value
        self.slider_box.children = self.sliders[start:start + self._per_page]

    # --- state and callbacks -------------------------------------------------------------

    @property
    def z(self) -> np.ndarray:
        """The current latent point, (latent_dim,)."""
        return np.array([s.value for s in self.sliders], dtype=np.float32)

    def set_z(self, z: Sequence[float]) -> None:
        """Move every slider at once (clipped to its range) and redraw once."""
        self._holding = True
        try:
            for s, v in zip(self.sliders, np.asarray(z, dtype=float)):
                s.value = float(np.clip(v, s.min, s.max))
        finally:
            self._holding = False
        self.refresh()

    def encode(self, index: int) -> None:
        """Jump to the code (AE) or mean (VAE) of test image `index`, encoded by the first model."""
        if self.data is None:
            raise ValueError("No data was given to the explorer, so there is no test image to encode.")
        x = self.data.test[index:index + 1]
        self.set_z(embed(self.models[0], x)[0].numpy())

    def _show_test_image(self) -> None:
        self.test_image.value = to_png(self.data.test[self.index.value, 0].numpy(), scale=2)

    def _on_slider(self, change) -> None:
        if not self._holding:
            self.refresh()

    def refresh(self) -> None:
        """Redraw every model's image (and marker) for the current sliders: the per-move work."""
        z = self.z
        for model, image in zip(self.models, self.images):
            image.value = render_decoded(model, z, self.scale)
        for latent_map, image in zip(self.maps, self.map_images):
            image.value = latent_map.render(z)
        clipped = [f"{v:+.2f}" for v in z[:8]]
        self.status.value = f"z = [{', '.join(clipped)}{', ...' if len(z) > 8 else ''}]"

    def snapshot(self) -> bytes:
        """A still PNG of the current state: each model's image and, for a 2-D latent, its map."""
        rows = 2 if self.maps else 1
        fig = Figure(figsize=(max(4.5, 3.2 * len(self.models)), 3.4 * rows + 0.4), dpi=80)
        canvas = FigureCanvasAgg(fig)
        for i, name in enumerate(self.names):
            ax = fig.add_subplot(rows, len(self.models), i + 1)
            ax.imshow(read_png(self.images[i].value), cmap="gray", vmin=0, vmax=255)
            ax.set_title(f"{name} decodes z", fontsize=12)
            ax.axis("off")
            if self.maps:
                ax = fig.add_subplot(rows, len(self.models), len(self.models) + i + 1)
                ax.imshow(read_png(self.map_images[i].value))  # RGB
                ax.axis("off")
        z = ", ".join(f"{v:+.2f}" for v in self.z[:4]) + (", ..." if self.latent_dim > 4 else "")
        fig.suptitle(f"Latent explorer at z = [{z}]\n(a still picture: run the cell to use the sliders)",
                     fontsize=10)
        fig.tight_layout()
        buffer = io.BytesIO()
        canvas.print_png(buffer)
        return buffer.getvalue()
