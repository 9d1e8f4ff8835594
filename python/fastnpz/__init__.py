"""fastnpz: ``numpy.savez_compressed``, only faster.

Change one import and keep everything else::

    from fastnpz import savez_compressed

The archive holds the same members, in the same order, with the same
decompressed ``.npy`` bytes and the same zip records as numpy's. Compression
runs in parallel Rust threads with the GIL released, borrowing the arrays'
memory instead of copying it.

Options that numpy's call has no room for (compression level, threads,
progress) are set for a ``with`` block by :func:`options`, or process-wide by
:func:`set_options`, so no array name is reserved.
:func:`patch_numpy` makes ``numpy.savez_compressed``/``numpy.savez`` use
fastnpz for a whole program; :mod:`fastnpz.testing` compares archives.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from ._options import get_options, options, set_options
from ._patch import is_numpy_patched, patch_numpy, patched_numpy, unpatch_numpy
from ._patch import original as _numpy_original
from ._savez import NUMPY_TAKES_ALLOW_PICKLE, has_array_function_override, save_archive

__all__ = [
    "__version__",
    "get_options",
    "is_numpy_patched",
    "options",
    "patch_numpy",
    "patched_numpy",
    "savez",
    "savez_compressed",
    "set_options",
    "unpatch_numpy",
]

try:
    __version__: str = version("fastnpz")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"


def _save(numpy_name: str, file: Any, args: tuple[Any, ...], kwds: dict[str, Any], **allow_pickle: Any) -> Any:
    """Hand the call to numpy's dispatch when an argument overrides
    ``__array_function__`` (with exactly the keywords given), else write the
    archive. ``allow_pickle`` is absent for numpy before 2.1."""
    if has_array_function_override(args, kwds):
        return _numpy_original(numpy_name)(file, *args, **allow_pickle, **kwds)
    save_archive(file, args, kwds, numpy_name == "savez_compressed", allow_pickle.get("allow_pickle", True))
    return None


def savez_compressed(file: Any, *args: Any, allow_pickle: Any = True, **kwds: Any) -> Any:
    """Save several arrays into a single file in compressed ``.npz`` format.

    A drop-in replacement for :func:`numpy.savez_compressed`, with the same
    signature, archive and behaviour, compressed in parallel.

    Parameters
    ----------
    file : str, os.PathLike or file object
        The filename or an open binary file object. ``.npz`` is appended to
        a filename that does not end with it. A file object is written from
        its current position, flushed, and left open; if it cannot
        ``tell``/``seek``, members are followed by data descriptors, as
        numpy's zipfile does.
    *args : array_like
        Arrays stored as ``arr_0``, ``arr_1``, ... after the keyword arrays.
    allow_pickle : bool, optional
        Allow object arrays (and non-legacy dtypes such as StringDType),
        which are stored as pickles. Default: True. Only with numpy >= 2.1,
        like numpy itself: with an older numpy, ``allow_pickle=...`` names
        an array, as it does there.
    **kwds : array_like
        Arrays stored under their keyword names, first, in call order.

    Returns
    -------
    None
        Or, when an argument overrides ``__array_function__``, whatever the
        override returns (the call is handed to numpy's dispatch).

    Raises
    ------
    ValueError
        For an ``arr_N`` keyword that clashes with a positional array, or an
        object array with ``allow_pickle=False``.
    TypeError
        For a ``file`` that is neither a path nor a binary file object.
    OSError
        When the file cannot be opened or written.

    See Also
    --------
    numpy.savez_compressed : The function this replaces.
    options : Set the compression level and thread count.

    Notes
    -----
    Differences from numpy, all on the side of safety or speed:

    - Every array is converted and checked before the target is opened, so
      a bad input raises numpy's exception without creating or truncating
      the target path.
    - Compressed bytes (and so compressed sizes and offsets) differ from
      zlib's; decompressed members are byte-identical to numpy's.
    - Compression level and threads come from :func:`options` (default:
      level 6 as numpy, all usable cores).

    Examples
    --------
    >>> import io, numpy as np
    >>> from fastnpz import savez_compressed
    >>> buf = io.BytesIO()
    >>> savez_compressed(buf, np.arange(3), y=np.eye(2))
    >>> _ = buf.seek(0)
    >>> sorted(np.load(buf).files)
    ['arr_0', 'y']
    """
    return _save("savez_compressed", file, args, kwds, allow_pickle=allow_pickle)


def savez(file: Any, *args: Any, allow_pickle: Any = True, **kwds: Any) -> Any:
    """Save several arrays into a single file in uncompressed ``.npz`` format.

    A drop-in replacement for :func:`numpy.savez` (``ZIP_STORED`` members),
    sharing :func:`savez_compressed`'s writer: same parameters, same
    behaviour, and a byte-identical archive.

    Parameters
    ----------
    file : str, os.PathLike or file object
        As for :func:`savez_compressed`.
    *args : array_like
        Arrays stored as ``arr_0``, ``arr_1``, ...
    allow_pickle : bool, optional
        Allow object arrays to be pickled. Default: True.
    **kwds : array_like
        Arrays stored under their keyword names.

    Returns
    -------
    None
        Or the result of an ``__array_function__`` override.

    See Also
    --------
    numpy.savez : The function this replaces.
    savez_compressed : The compressed variant.
    """
    return _save("savez", file, args, kwds, allow_pickle=allow_pickle)


def _without_allow_pickle(public: Any) -> Any:
    """``public`` as numpy before 2.1 spells it: ``(file, *args, **kwds)``,
    where ``allow_pickle=...`` names an array like any other keyword."""
    name = public.__name__

    def entry(file: Any, *args: Any, **kwds: Any) -> Any:
        return _save(name, file, args, kwds)

    entry.__name__, entry.__qualname__, entry.__doc__ = name, name, public.__doc__
    return entry


if not NUMPY_TAKES_ALLOW_PICKLE:
    # Follow the installed numpy's signature.
    savez_compressed = _without_allow_pickle(savez_compressed)
    savez = _without_allow_pickle(savez)
