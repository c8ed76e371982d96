"""Progress bars that read well everywhere: tqdm in a terminal; in a notebook, one display updated in place.

tqdm's notebook bar is a widget: a static render (GitHub, an HTML export) or a notebook reopened
without its kernel shows its first frame ("0%| 0/20") or an error. Here the bar is a plain
display (text and HTML) that is replaced on every refresh, so what is stored is the final state.
"""
from __future__ import annotations

import html
import io

from tqdm.std import tqdm as _std_tqdm

BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {unit}s [{elapsed}{postfix}]"


def in_notebook() -> bool:
    """True when running inside a Jupyter kernel (where a display can be updated in place)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with every Jupyter install
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class DisplayBar(_std_tqdm):
    """A tqdm bar drawn as one Jupyter display (text/plain + text/html) updated in place."""

    def __init__(self, *args, **kwargs):
        self._handle = None
        kwargs["file"] = io.StringIO()  # tqdm's own writes go nowhere; `display` draws instead
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None):
        """Replace the notebook display with the bar's current text (called by tqdm on refresh)."""
        from IPython.display import display

        text = msg if msg is not None else self.__str__()
        done = self.n / self.total if self.total else 0.0
        bundle = {"text/plain": text,
                  "text/html": (f"<div style='font-family:monospace;font-size:13px'>"
                                f"<progress value='{done:.3f}' max='1' style='width:160px;vertical-align:middle'>"
                                f"</progress> {html.escape(text.split('|')[0])} {html.escape(text.split('|')[-1])}"
                                "</div>")}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)
        return True


def progress(iterable, *, desc: str, unit: str, disable: bool = False):
    """A progress bar over `iterable`: a `DisplayBar` in a notebook, plain tqdm elsewhere."""
    cls = DisplayBar if in_notebook() else _std_tqdm
    return cls(iterable, desc=desc, unit=unit, disable=disable, bar_format=BAR_FORMAT, mininterval=0.25)
