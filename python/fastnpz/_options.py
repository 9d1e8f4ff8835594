"""Per-context settings: compression level and worker threads.

They live in :mod:`contextvars`, not in extra keyword arguments, because every
keyword that ``savez_compressed`` accepted would be one less array name numpy
users can pass. Context variables follow threads and asyncio tasks, so one
notebook cell or library call can change them without affecting another.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
import os
from typing import Any
from collections.abc import Callable, Iterator

__all__ = ["DEFAULT_LEVEL", "default_threads", "get_options", "make_progress", "options"]

#: numpy's zipfile uses zlib's default, level 6.
DEFAULT_LEVEL = 6

_level: contextvars.ContextVar[int | None] = contextvars.ContextVar("fastnpz_level", default=None)
_threads: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "fastnpz_threads", default=None
)
_progress: contextvars.ContextVar[bool | Callable[[int, int], object] | None] = contextvars.ContextVar(
    "fastnpz_progress", default=None
)


def default_threads() -> int:
    """Number of worker threads used when none is set: the usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _check_level(level: object) -> int:
    if isinstance(level, bool):
        raise TypeError("level must be an int, not bool")
    value = operator.index(level)  # type: ignore[arg-type]  # TypeError for floats, strings, ...
    if not 0 <= value <= 9:
        raise ValueError(f"level must be between 0 and 9, got {value}")
    return value


def _check_threads(threads: object) -> int:
    if isinstance(threads, bool):
        raise TypeError("threads must be an int, not bool")
    value = operator.index(threads)  # type: ignore[arg-type]
    if value < 1:
        raise ValueError(f"threads must be at least 1, got {value}")
    return value


def current_level() -> int:
    """The compression level in force in this context."""
    level = _level.get()
    return DEFAULT_LEVEL if level is None else level


def current_threads() -> int:
    """The worker thread count in force in this context."""
    threads = _threads.get()
    return default_threads() if threads is None else threads


def get_options() -> dict[str, Any]:
    """Return the settings in force in the current context.

    Returns
    -------
    dict
        ``{'level': int, 'threads': int, 'progress': None | True | callable}``.
    """
    return {"level": current_level(), "threads": current_threads(), "progress": _progress.get()}


class _TqdmProgress:
    """Adapts ``tqdm.auto`` (a notebook widget in Jupyter, text elsewhere) to
    the ``(done, total)`` callback."""

    def __init__(self) -> None:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]

        self._tqdm = tqdm
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = self._tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="savez")
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()


def make_progress() -> Callable[[int, int], object] | None:
    """The progress callback for one call in this context, or None."""
    progress = _progress.get()
    if progress is True:
        return _TqdmProgress()
    return progress or None


def _check_progress(progress: object) -> bool | Callable[[int, int], object]:
    if progress is True:
        try:
            import tqdm.auto  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
        except ImportError:
            raise ImportError(
                "progress=True shows a tqdm progress bar; install tqdm (pip install tqdm) "
                "or pass a callable progress(done_bytes, total_bytes)"
            ) from None
        return True
    if progress is False:
        return False
    if callable(progress):
        return progress  # type: ignore[return-value,unused-ignore]
    raise TypeError(f"progress must be True, False, None or a callable, not {type(progress).__name__}")


def options(
    *,
    level: int | None = None,
    threads: int | None = None,
    progress: bool | Callable[[int, int], object] | None = None,
) -> contextlib.AbstractContextManager[None]:
    """Set fastnpz's options for the calls made inside a ``with`` block.

    Parameters
    ----------
    level : int, optional
        zlib compression level, 0 (stored blocks, fastest) to 9 (smallest).
        Default: 6, numpy's. Applies to ``savez_compressed`` only.
    threads : int, optional
        Number of worker threads compressing in parallel. Default: the
        number of usable cores. ``1`` compresses on the calling thread.
    progress : bool or callable, optional
        Report progress of long saves. ``True`` shows a ``tqdm.auto`` bar
        (a widget in Jupyter; needs tqdm installed). A callable is called as
        ``progress(done_bytes, total_bytes)`` (uncompressed bytes) from the
        calling thread, about every 50 ms and once at the end; an exception
        it raises stops the save and propagates. ``False`` turns reporting
        off inside an outer ``options(progress=...)``. Default: no output.

    Returns
    -------
    context manager
        Restores the previous settings on exit. Settings are per context
        (thread, asyncio task), and ``with`` blocks nest.

    Raises
    ------
    ValueError
        If ``level`` is outside 0-9 or ``threads`` is below 1.
    TypeError
        If ``level`` or ``threads`` is not an integer, or ``progress`` is
        neither a bool nor callable.
    ImportError
        For ``progress=True`` without tqdm installed.

    Examples
    --------
    >>> import numpy as np, fastnpz, io
    >>> with fastnpz.options(level=1, threads=2):
    ...     fastnpz.savez_compressed(io.BytesIO(), a=np.arange(10))
    """
    checked_level = None if level is None else _check_level(level)
    checked_threads = None if threads is None else _check_threads(threads)
    checked_progress = None if progress is None else _check_progress(progress)
    return _apply(checked_level, checked_threads, checked_progress)


@contextlib.contextmanager
def _apply(
    level: int | None, threads: int | None, progress: bool | Callable[[int, int], object] | None
) -> Iterator[None]:
    tokens: list[tuple[contextvars.ContextVar[Any], contextvars.Token[Any]]] = []
    if level is not None:
        tokens.append((_level, _level.set(level)))
    if threads is not None:
        tokens.append((_threads, _threads.set(threads)))
    if progress is not None:
        tokens.append((_progress, _progress.set(progress)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
