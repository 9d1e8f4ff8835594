"""The bar behind ``options(progress=True)``.

tqdm is optional: with it, tqdm draws the bar (``tqdm.auto``, a widget in
Jupyter, when ipywidgets is installed; its text bar otherwise); without it, a
one-line text bar on stderr does, so ``progress=True`` needs no extra install.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["make_bar"]

#: Seconds between redraws of the text bar (tqdm keeps its own pace).
_REDRAW_SECONDS = 0.2


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


class _TqdmBar:
    """Adapts ``tqdm.auto.tqdm`` to the ``(done, total)`` callback."""

    def __init__(self, tqdm: Any, label: str) -> None:
        self._tqdm = tqdm
        self._label = label
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = self._tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=self._label)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()


class _TextBar:
    """``savez  42% 12.0/28.6 MiB`` on stderr, redrawn in place with ``\\r``
    (which Jupyter also honours), ended by a newline when the save ends."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._last = float("-inf")
        self._closed = False

    def __call__(self, done: int, total: int) -> None:
        if self._closed:
            return
        finished = done >= total
        now = time.monotonic()
        if not finished and now - self._last < _REDRAW_SECONDS:
            return
        self._last = now
        percent = 100 * done // total if total else 100
        width = 30
        filled = width * percent // 100
        bar = "#" * filled + "." * (width - filled)
        line = f"\r{self._label} {percent:3d}% [{bar}] {_mib(done)}/{_mib(total)}"
        stream = sys.stderr
        stream.write(line + ("\n" if finished else ""))
        stream.flush()
        self._closed = finished


def make_bar(label: str = "savez") -> Callable[[int, int], object]:
    """A fresh progress callback for one save (or load, with its label):
    tqdm's bar if tqdm is installed, else the text bar."""
    try:
        # tqdm.auto picks the notebook widget in Jupyter, but warns there
        # and draws text when ipywidgets is missing: go to text directly.
        if importlib.util.find_spec("ipywidgets") is None:
            from tqdm.std import tqdm  # type: ignore[import-untyped,unused-ignore]
        else:
            from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return _TextBar(label)
    return _TqdmBar(tqdm, label)
