"""Opt-in: make numpy itself save and load with fastnpz, for a whole program.

:func:`patch_numpy` replaces ``numpy.savez_compressed``, ``numpy.savez`` and
``numpy.load`` (and the same names in ``numpy.lib.npyio`` and
``numpy.lib._npyio_impl``, wherever numpy defines them) with fastnpz's
functions, so code that calls numpy's -- third-party libraries included --
writes and reads through fastnpz. ``patch_numpy(load=False)`` leaves
``numpy.load`` as numpy's.
:func:`unpatch_numpy` puts numpy's functions back; :func:`patched_numpy`
does both around a ``with`` block.

Only module attributes are replaced: code that did
``from numpy import savez_compressed`` *before* the patch keeps numpy's
function.

Recursion hazard, for fastnpz's own code
----------------------------------------
``fastnpz.savez_compressed`` hands calls with an ``__array_function__``
override to numpy's function. While numpy is patched, ``np.savez_compressed``
*is* fastnpz's function, so looking it up on ``numpy`` at call time would
recurse. fastnpz must call :func:`original` instead::

    from ._patch import original
    ...
    return original("savez_compressed")(file, *args, **kwds)

:func:`original` always returns numpy's own function, patched or not.
The originals are captured when this module is first imported (before any
patch), and kept in :data:`_ORIGINALS`.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

__all__ = ["is_numpy_patched", "original", "patch_numpy", "patched_numpy", "unpatch_numpy"]

#: The numpy functions fastnpz replaces.
NAMES: tuple[str, ...] = ("savez_compressed", "savez", "load")
#: Modules whose attributes of those names are replaced, where present
#: (``numpy.lib.npyio`` holds them in numpy 1.x, ``numpy.lib._npyio_impl``
#: in numpy 2.x).
MODULES: tuple[str, ...] = ("numpy", "numpy.lib.npyio", "numpy.lib._npyio_impl")

#: numpy's own functions, by name, captured at import (never fastnpz's).
_ORIGINALS: dict[str, Callable[..., Any]] = {}
#: While patched: (module name, attribute) -> the object that was there.
_saved: dict[tuple[str, str], Any] = {}
_lock = threading.RLock()


def _modules() -> list[ModuleType]:
    found = []
    for name in MODULES:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return found


def _is_fastnpz(func: Any) -> bool:
    return getattr(func, "__module__", None) == "fastnpz"


def _capture_originals() -> None:
    for name in NAMES:
        for module in _modules():
            func = getattr(module, name, None)
            if func is not None and not _is_fastnpz(func):
                _ORIGINALS.setdefault(name, func)
                break


_capture_originals()


def original(name: str) -> Callable[..., Any]:
    """Return numpy's own function ``name``, whether or not numpy is patched.

    Parameters
    ----------
    name : {'savez_compressed', 'savez', 'load'}
        The function's name in ``numpy``.

    Returns
    -------
    callable
        numpy's function (e.g. ``numpy.savez_compressed`` as numpy defines
        it), never fastnpz's replacement.

    Raises
    ------
    KeyError
        If ``name`` is not one of the functions fastnpz replaces.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnpz._patch import original, patched_numpy
    >>> with patched_numpy():
    ...     original("savez_compressed") is np.savez_compressed
    False
    >>> original("savez_compressed") is np.savez_compressed
    True
    """
    try:
        return _ORIGINALS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a numpy function fastnpz replaces; expected one of {list(NAMES)}") from None


def patch_numpy(*, load: bool = True) -> None:
    """Make numpy's ``savez_compressed``, ``savez`` and ``load`` fastnpz's.

    Replaces the attributes in ``numpy``, ``numpy.lib.npyio`` and
    ``numpy.lib._npyio_impl`` wherever they exist, remembering what was
    there. Idempotent: patching again keeps the first originals, so one
    :func:`unpatch_numpy` restores numpy.

    Parameters
    ----------
    load : bool, optional
        Also route ``numpy.load`` to :func:`fastnpz.load` (default). With
        False, only saving goes through fastnpz.

    See Also
    --------
    unpatch_numpy : Restore numpy's functions.
    patched_numpy : Patch for the duration of a ``with`` block.

    Notes
    -----
    This changes process-wide state (every thread sees the patched numpy).
    fastnpz's options (:func:`fastnpz.options`) apply to patched calls too.

    Examples
    --------
    >>> import numpy as np, fastnpz
    >>> from fastnpz._patch import patch_numpy, unpatch_numpy
    >>> patch_numpy()
    >>> np.savez_compressed is fastnpz.savez_compressed, np.load is fastnpz.load
    (True, True)
    >>> unpatch_numpy()
    >>> patch_numpy(load=False)
    >>> np.savez_compressed is fastnpz.savez_compressed, np.load is fastnpz.load
    (True, False)
    >>> unpatch_numpy()
    """
    import fastnpz  # lazily: fastnpz may import this module

    names = NAMES if load else tuple(n for n in NAMES if n != "load")
    with _lock:
        for module in _modules():
            for name in names:
                if not hasattr(module, name):
                    continue
                key = (module.__name__, name)
                if key not in _saved:
                    _saved[key] = getattr(module, name)
                setattr(module, name, getattr(fastnpz, name))


def unpatch_numpy() -> None:
    """Restore the functions :func:`patch_numpy` replaced.

    A no-op when numpy is not patched.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnpz._patch import original, patch_numpy, unpatch_numpy
    >>> patch_numpy(); unpatch_numpy()
    >>> np.savez is original("savez")
    True
    """
    with _lock:
        for (module_name, name), value in _saved.items():
            module = importlib.import_module(module_name)
            setattr(module, name, value)
        _saved.clear()


def is_numpy_patched() -> bool:
    """Return True between :func:`patch_numpy` and :func:`unpatch_numpy`.

    Examples
    --------
    >>> from fastnpz._patch import is_numpy_patched, patched_numpy
    >>> with patched_numpy():
    ...     is_numpy_patched()
    True
    >>> is_numpy_patched()
    False
    """
    with _lock:
        return bool(_saved)


@contextlib.contextmanager
def patched_numpy(*, load: bool = True) -> Iterator[None]:
    """Patch numpy for the duration of a ``with`` block.

    On exit, even by an exception, numpy is restored -- unless it was
    already patched on entry, in which case it stays patched, so blocks
    nest.

    Parameters
    ----------
    load : bool, optional
        Also route ``numpy.load`` to :func:`fastnpz.load` (default).

    Examples
    --------
    >>> import io, numpy as np
    >>> from fastnpz._patch import patched_numpy
    >>> with patched_numpy():
    ...     np.savez_compressed(io.BytesIO(), a=np.arange(3))  # fastnpz writes
    """
    with _lock:
        was_patched = bool(_saved)
        patch_numpy(load=load)
    try:
        yield
    finally:
        if not was_patched:
            unpatch_numpy()
