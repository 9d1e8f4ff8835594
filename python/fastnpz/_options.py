"""fastnpz's settings: compression level, worker threads, progress.

They cannot be keyword arguments of ``savez_compressed``: every keyword it
accepted would be one less array name numpy users can pass. So they come
from two layers, looked up at each call:

1. process-wide defaults, which every thread sees: the built-in ones
   (level 6, all usable cores, no progress), replaced by the environment
   variables ``FASTNPZ_LEVEL`` and ``FASTNPZ_THREADS`` when fastnpz is
   imported, and by :func:`set_options` at any time;
2. per-context overrides from ``with options(...)``, kept in a
   :mod:`contextvars` variable, so they hold for the current thread or
   asyncio task only, as :func:`decimal.localcontext` does.
"""

from __future__ import annotations

import contextvars
import operator
import os
import sys
import threading
import warnings
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, NamedTuple

from ._progress import make_bar

__all__ = [
    "DEFAULT_LEVEL",
    "ENV_LEVEL",
    "ENV_THREADS",
    "current_level",
    "current_threads",
    "get_options",
    "make_progress",
    "options",
    "set_options",
    "usable_cores",
]

#: numpy's zipfile uses zlib's default, level 6.
DEFAULT_LEVEL = 6
#: Environment variables read once, when fastnpz is imported.
ENV_LEVEL = "FASTNPZ_LEVEL"
ENV_THREADS = "FASTNPZ_THREADS"

_Progress = bool | Callable[[int, int], object]


class _Settings(NamedTuple):
    """One layer of settings; None leaves a setting to the layer below."""

    level: int | None = None
    threads: int | None = None
    progress: _Progress | None = None

    def over(self, below: _Settings) -> _Settings:
        return _Settings(
            below.level if self.level is None else self.level,
            below.threads if self.threads is None else self.threads,
            below.progress if self.progress is None else self.progress,
        )

    def as_dict(self) -> dict[str, Any]:
        return dict(self._asdict())


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------
# Validation: errors name the option and the value
# ---------------------------------------------------------------------------


def _integer(name: str, value: object, expected: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be {expected}, not a bool ({value!r})")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be {expected}, not {type(value).__name__} ({value!r})") from None


def _check_level(level: object) -> int:
    expected = "an integer from 0 to 9"
    value = _integer("level", level, expected)
    if not 0 <= value <= 9:
        raise ValueError(f"level must be {expected}, got {value}")
    return value


def _check_threads(threads: object) -> int:
    expected = "an integer of at least 1"
    value = _integer("threads", threads, expected)
    if value < 1:
        raise ValueError(f"threads must be {expected}, got {value}")
    return value


def _check_progress(progress: Any) -> _Progress:
    if progress is True or progress is False or callable(progress):
        return progress  # type: ignore[no-any-return]
    raise TypeError(
        f"progress must be True, False, None or a callable progress(done_bytes, total_bytes), "
        f"not {type(progress).__name__} ({progress!r})"
    )


def _checked(level: object, threads: object, progress: object) -> _Settings:
    return _Settings(
        None if level is None else _check_level(level),
        None if threads is None else _check_threads(threads),
        None if progress is None else _check_progress(progress),
    )


# ---------------------------------------------------------------------------
# The two layers
# ---------------------------------------------------------------------------


def _from_environment(environ: Mapping[str, str]) -> _Settings:
    """The process-wide layer ``FASTNPZ_LEVEL``/``FASTNPZ_THREADS`` ask for;
    unset or empty variables leave the built-in defaults."""

    def read(variable: str, option: str, check: Callable[[object], int]) -> int | None:
        text = environ.get(variable, "").strip()
        if not text:
            return None
        try:
            return check(int(text))
        except ValueError as exc:
            detail = str(exc) if str(exc).startswith(option) else f"{option} must be an integer"
            raise ValueError(f"environment variable {variable}={text!r} is invalid: {detail}") from None

    return _Settings(level=read(ENV_LEVEL, "level", _check_level), threads=read(ENV_THREADS, "threads", _check_threads))


_BUILT_IN = _Settings(level=DEFAULT_LEVEL, threads=None, progress=False)
# Replaced whole, never mutated, so a reader needs no lock.
_process = _from_environment(os.environ)
_process_lock = threading.Lock()
# The per-context overrides: a stack of layers, each already merged with the
# one below it, pushed by __enter__ and popped by __exit__.
_local: contextvars.ContextVar[tuple[_Settings, ...]] = contextvars.ContextVar("fastnpz_options", default=())


def _effective() -> _Settings:
    stack = _local.get()
    settings = stack[-1].over(_process) if stack else _process
    return settings.over(_BUILT_IN)


def current_level() -> int:
    """The compression level in force in this context."""
    level = _effective().level
    assert level is not None
    return level


def current_threads() -> int:
    """The thread bound in force in this context (default: usable cores)."""
    threads = _effective().threads
    return usable_cores() if threads is None else threads


def make_progress(label: str = "savez") -> Callable[[int, int], object] | None:
    """The progress callback for one call in this context, or None; a bar
    says ``label``."""
    progress = _effective().progress
    if progress is True:
        return make_bar(label)
    return None if progress is False else progress


def get_options() -> dict[str, Any]:
    """Return the settings in force in the current context.

    Returns
    -------
    dict
        A new dict ``{'level': int, 'threads': int, 'progress': None, True
        or callable}``: the innermost ``with options(...)`` values of this
        thread or task, else the process-wide defaults (see
        :func:`set_options`). ``threads`` is the configured upper bound;
        ``progress`` is None when off.

    See Also
    --------
    options : Change them for a ``with`` block.
    set_options : Change the process-wide defaults.

    Examples
    --------
    >>> import fastnpz
    >>> with fastnpz.options(level=1):
    ...     fastnpz.get_options()["level"]
    1
    """
    settings = _effective()
    return {
        "level": settings.level,
        "threads": current_threads() if settings.threads is None else settings.threads,
        "progress": None if settings.progress is False else settings.progress,
    }


_UNCHANGED: Any = object()


def set_options(
    *,
    level: int | None = _UNCHANGED,
    threads: int | None = _UNCHANGED,
    progress: bool | Callable[[int, int], object] | None = _UNCHANGED,
) -> dict[str, Any]:
    """Set fastnpz's process-wide defaults, seen by every thread.

    Only the settings passed change. Inside a ``with options(...)`` block,
    the block's own settings still win until it exits.

    Parameters
    ----------
    level : int or None, optional
        zlib level 0-9 for ``savez_compressed``. None: back to the built-in
        default, 6 (numpy's).
    threads : int or None, optional
        Upper bound on compression threads, at least 1; fastnpz never runs
        more than the usable cores. None: back to all usable cores.
    progress : bool, callable or None, optional
        As for :func:`options`. None or False: no progress output.

    Returns
    -------
    dict
        The previous process-wide settings (None where the built-in default
        was in force), so that ``set_options(**old)`` restores them.

    Raises
    ------
    TypeError, ValueError
        As for :func:`options`; then nothing changes.

    See Also
    --------
    options : Settings for one ``with`` block, in one thread or task.

    Notes
    -----
    When fastnpz is imported, the environment variables ``FASTNPZ_LEVEL``
    and ``FASTNPZ_THREADS`` (when set and not empty) give the initial
    process-wide level and thread bound; an invalid value makes the import
    fail with a ValueError naming the variable.

    Examples
    --------
    >>> import fastnpz
    >>> old = fastnpz.set_options(level=1)
    >>> fastnpz.get_options()["level"]
    1
    >>> _ = fastnpz.set_options(**old)
    """
    global _process
    given = _checked(
        None if level is _UNCHANGED else level,
        None if threads is _UNCHANGED else threads,
        None if progress is _UNCHANGED else progress,
    )
    with _process_lock:
        old = _process
        _process = _Settings(
            old.level if level is _UNCHANGED else given.level,
            old.threads if threads is _UNCHANGED else given.threads,
            old.progress if progress is _UNCHANGED else given.progress,
        )
    return old.as_dict()


class _Options:
    """The context manager :func:`options` returns: immutable once made, so
    one object can be entered again, nested, or shared between threads."""

    __slots__ = ("_entered", "_origin", "_settings")

    def __init__(self, settings: _Settings, origin: tuple[str, int, str, dict[Any, Any]] | None) -> None:
        self._settings = settings
        self._origin = origin
        self._entered = False

    def __enter__(self) -> None:
        self._entered = True
        stack = _local.get()
        layer = self._settings.over(stack[-1]) if stack else self._settings
        _local.set((*stack, layer))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack = _local.get()
        if not stack:
            raise RuntimeError("fastnpz.options: __exit__ without a matching __enter__ in this context")
        _local.set(stack[:-1])

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self._settings._asdict().items() if v is not None)
        return f"fastnpz.options({given})"

    def __del__(self) -> None:
        if self._entered or self._origin is None:
            return
        filename, lineno, module, registry = self._origin
        try:
            warnings.warn_explicit(
                f"{self!r} was never entered, so it changed nothing: use it as "
                "`with fastnpz.options(...):` around the saves, or call "
                "fastnpz.set_options(...) to change the process-wide defaults",
                RuntimeWarning,
                filename,
                lineno,
                module=module,
                registry=registry,
            )
        except Exception:  # noqa: BLE001 - at interpreter exit warnings may be gone
            pass


def _caller() -> tuple[str, int, str, dict[Any, Any]] | None:
    """Where ``options(...)`` was called, for the never-entered warning."""
    try:
        frame = sys._getframe(2)
    except ValueError:  # pragma: no cover - called from the outermost frame
        return None
    module = frame.f_globals.get("__name__", "<unknown>")
    registry = frame.f_globals.setdefault("__warningregistry__", {})
    return frame.f_code.co_filename, frame.f_lineno, module, registry


def options(
    *,
    level: int | None = None,
    threads: int | None = None,
    progress: bool | Callable[[int, int], object] | None = None,
) -> _Options:
    """Set fastnpz's options for the calls made inside a ``with`` block.

    The settings hold from the start of the ``with`` block to its end, in
    the current thread or asyncio task only, as with
    :func:`decimal.localcontext`: other threads, including ones started
    inside the block, keep the process-wide defaults (:func:`set_options`).

    Parameters
    ----------
    level : int, optional
        zlib compression level, 0 (stored blocks, fastest) to 9 (smallest).
        Default: 6, numpy's. Applies to ``savez_compressed`` only.
    threads : int, optional
        Upper bound on the threads compressing in parallel, at least 1.
        Default: the usable cores. fastnpz never runs more threads than
        the usable cores, or than the work can use; ``1`` compresses on the
        calling thread.
    progress : bool or callable, optional
        Report progress of long saves, and of loads while they inflate
        members larger than 256 KiB (one report per batch of members
        read). ``True`` shows a bar: tqdm's
        (``tqdm.auto``, a widget in Jupyter with ipywidgets) when tqdm is
        installed, else a one-line text bar on stderr. A callable is called
        as ``progress(done_bytes, total_bytes)`` (uncompressed bytes) from
        the calling thread, about every 50 ms and once at the end; an
        exception it raises stops the save (or load) and propagates. ``False`` turns
        reporting off inside an outer ``options(progress=...)``. Default:
        no output.

    A setting left as None keeps the value in force around the block.

    Returns
    -------
    context manager
        Enter it with ``with``; on exit, the settings in force before are
        back. It can be entered again, and blocks nest. Created but never
        entered, it changes nothing, and a RuntimeWarning says so when it
        is discarded.

    Raises
    ------
    ValueError
        If ``level`` is outside 0-9 or ``threads`` is below 1.
    TypeError
        If ``level`` or ``threads`` is not an integer, or ``progress`` is
        neither a bool nor callable.

    See Also
    --------
    set_options : Process-wide defaults, seen by every thread.
    get_options : The settings in force here.

    Notes
    -----
    A new :class:`threading.Thread`, or a worker of a
    :class:`concurrent.futures.ThreadPoolExecutor`, starts from the
    process-wide defaults, not from the ``with`` blocks of the thread that
    made it. To hand the current settings to one, run the work in a copy of
    the current context: ``pool.submit(contextvars.copy_context().run, save,
    path)``. asyncio tasks copy the context when they are created, so a task
    created inside the block keeps its settings.

    Examples
    --------
    >>> import numpy as np, fastnpz, io
    >>> with fastnpz.options(level=1, threads=2):
    ...     fastnpz.savez_compressed(io.BytesIO(), a=np.arange(10))
    """
    return _Options(_checked(level, threads, progress), _caller())
