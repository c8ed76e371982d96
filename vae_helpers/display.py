"""How figures are shown in the notebooks: projector-sized text and a text alternative on every figure.

`vh.notebook_setup()` (called once in each notebook's setup cell, never on import) makes every
matplotlib figure display as `<img alt="...">` HTML with a plain-text description beside it. The alt
text is the figure's own description (set with `vh.alt(fig, "...")`) or, failing that, one composed
from its titles, axis labels and legend. JupyterLab, Notebook 7, an nbconvert HTML export and the
course website all read the alt attribute; screen readers and text-only renderers get the description.

The contract for helpers that draw: a figure or an axes may carry its own description in the public
attribute `vh_alt` (a string). `alt(fig, text)` sets it on a figure; a plotting helper sets it on the axes
it draws (so a figure with several panels is described panel by panel); `describe_figure` reads them,
the figure's first, and composes a description from titles, labels and legends only where none is set.
"""
from __future__ import annotations

import base64
import html
import io

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from PIL import Image

from .plotting import STYLE
from .threads import adapt as adapt_threads


def alt(fig: Figure, text: str) -> Figure:
    """Give a figure its text alternative (what it shows, for readers who cannot see it); returns the figure."""
    fig.vh_alt = text
    return fig


def _axes_description(ax) -> str:
    """One panel: its own description if a helper gave it one, else its title, axes and legend."""
    if getattr(ax, "vh_alt", None):
        return ax.vh_alt
    bits = []
    if ax.get_title():
        bits.append(f'"{ax.get_title()}"')
    x, y = ax.get_xlabel(), ax.get_ylabel()
    if x or y:
        bits.append(f"{y or 'values'} against {x or 'position'}")
    legend = ax.get_legend()
    if legend is not None:
        labels = [t.get_text() for t in legend.get_texts()][:10]
        bits.append("legend: " + ", ".join(labels))
    if ax.images and not (x or y):
        bits.append("an image")
    return "; ".join(bits)


def describe_figure(fig: Figure) -> str:
    """The figure's text alternative: its own (see `alt`), or one composed from titles, labels and legends."""
    own = getattr(fig, "vh_alt", None)
    if own:
        return own
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    panels = [ax for ax in fig.axes if ax.get_visible() and (ax.has_data() or ax.images)
              and ax.get_label() != "<colorbar>"]
    if panels and all(ax.images and not ax.get_xlabel() and not ax.get_ylabel() and not getattr(ax, "vh_alt", None)
                      for ax in panels) and len(panels) > 2:
        names = [ax.get_title() for ax in panels if ax.get_title()]
        named = f", titled {', '.join(names[:12])}{', ...' if len(names) > 12 else ''}" if names else ""
        return f"Figure: {title + ': ' if title else ''}a grid of {len(panels)} images{named}."
    described = [d for d in (_axes_description(ax) for ax in panels) if d]
    if len(described) == 1:
        return f"Figure: {title + '. ' if title else ''}{described[0].rstrip('.')}."
    listing = " ".join(f"Panel {i}: {d.rstrip('.')}." for i, d in enumerate(described, start=1))
    return f"Figure{': ' + title if title else ''} ({len(described)} panels). {listing}".strip()


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of a figure as the inline backend draws it (tight box), reduced to a 256-colour palette."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", facecolor="white")
    return palette_png(buffer.getvalue(), colors=256)    # plots and grey images lose nothing visible


def palette_png(png: bytes, colors: int) -> bytes:
    """The same picture as a palette PNG of at most `colors` colours: a fraction of the bytes."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=colors).save(out, format="PNG", optimize=True)
    return out.getvalue()


def figure_html(fig: Figure) -> str:
    """An <img> with the figure as an embedded PNG and its text alternative."""
    png = base64.b64encode(figure_png(fig)).decode("ascii")
    return (f'<img alt="{html.escape(describe_figure(fig))}" src="data:image/png;base64,{png}" '
            'style="max-width:100%;height:auto">')


def notebook_setup() -> None:
    """In a notebook: projector-sized figure text, every figure shown as an <img> with a text alternative, and
    torch's thread count set by the load-aware policy of threads.py (a 0.2 s look now, then before every cell)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with every Jupyter install
        get_ipython = lambda: None  # noqa: E731
    shell = get_ipython()
    if shell is not None:
        # Load the backend now: the inline backend configures itself on first use, and doing so resets every
        # figure formatter (and some rcParams), which would undo what follows if it happened later.
        plt.switch_backend(plt.get_backend())
    plt.rcParams.update(STYLE)
    adapt_threads(wait=0.2)
    if shell is None:
        return
    formatters = shell.display_formatter.formatters
    formatters["image/png"].pop(Figure, None)                    # one copy of each figure, not two
    formatters["text/html"].for_type(Figure, figure_html)
    formatters["text/plain"].for_type(Figure, lambda fig, printer, cycle: printer.text(describe_figure(fig)))
    # Re-apply the thread policy before every cell, not only while `fit` trains: a cell that loads its models
    # and then evaluates, samples or judges would otherwise keep the count chosen in this setup cell: a kernel
    # started on a quiet machine kept 2 spinning threads when others arrived (benchmarks/class_arrives.py).
    events = shell.events
    if _before_cell not in events.callbacks["pre_run_cell"]:
        events.register("pre_run_cell", _before_cell)


def _before_cell(info=None) -> None:
    """IPython pre_run_cell hook: the thread policy from the load since its last look (reads /proc, no wait)."""
    adapt_threads()
