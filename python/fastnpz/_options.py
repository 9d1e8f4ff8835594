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
from collections.abc import Iterator

__all__ = ["DEFAULT_LEVEL", "default_threads", "get_options", "options"]

#: numpy's zipfile uses zlib's default, level 6.
DEFAULT_LEVEL = 6

_level: contextvars.ContextVar[int | None] = contextvars.ContextVar("fastnpz_level", default=None)
_threads: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "fastnpz_threads", default=None
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


def get_options() -> dict[str, int]:
    """Return the settings in force in the current context.

    Returns
    -------
    dict
        ``{'level': int, 'threads': int}``.
    """
    return {"level": current_level(), "threads": current_threads()}


def options(*, level: int | None = None, threads: int | None = None) -> contextlib.AbstractContextManager[None]:
    """Set fastnpz's options for the calls made inside a ``with`` block.

    Parameters
    ----------
    level : int, optional
        zlib compression level, 0 (stored blocks, fastest) to 9 (smallest).
        Default: 6, numpy's. Applies to ``savez_compressed`` only.
    threads : int, optional
        Number of worker threads compressing in parallel. Default: the
        number of usable cores. ``1`` compresses on the calling thread.

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
        If either is not an integer.

    Examples
    --------
    >>> import numpy as np, fastnpz, io
    >>> with fastnpz.options(level=1, threads=2):
    ...     fastnpz.savez_compressed(io.BytesIO(), a=np.arange(10))
    """
    checked_level = None if level is None else _check_level(level)
    checked_threads = None if threads is None else _check_threads(threads)
    return _apply(checked_level, checked_threads)


@contextlib.contextmanager
def _apply(level: int | None, threads: int | None) -> Iterator[None]:
    tokens = []
    if level is not None:
        tokens.append((_level, _level.set(level)))
    if threads is not None:
        tokens.append((_threads, _threads.set(threads)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
