"""fastnpz: ``numpy.savez_compressed``, ``numpy.savez`` and, for ``.npz``
archives, ``numpy.load``, only faster.

Change one import and keep everything else::

    from fastnpz import savez_compressed, load

The archive holds the same members, in the same order, with the same
decompressed ``.npy`` bytes and the same zip records as numpy's. Compression
runs in parallel Rust threads with the GIL released, borrowing the arrays'
memory instead of copying it; loading inflates members in parallel straight
into the arrays numpy would have returned.

Options that numpy's call has no room for (compression level, threads,
progress) are set for a ``with`` block by :func:`options`, or process-wide by
:func:`set_options`, so no array name is reserved.
:func:`patch_numpy` makes ``numpy.savez_compressed``/``numpy.savez``/
``numpy.load`` use fastnpz for a whole program; :mod:`fastnpz.testing` compares archives.
"""

from __future__ import annotations

import inspect
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import testing
from ._load import NpzFile, load
from ._options import get_options, options, set_options
from ._patch import is_numpy_patched, patch_numpy, patched_numpy, unpatch_numpy
from ._patch import original as _numpy_original
from ._savez import NUMPY_TAKES_ALLOW_PICKLE, has_array_function_override, save_archive
from ._writer import NpzStream, NpzWriter

__all__ = [
    "NpzFile",
    "NpzStream",
    "NpzWriter",
    "__version__",
    "get_options",
    "is_numpy_patched",
    "load",
    "options",
    "patch_numpy",
    "patched_numpy",
    "savez",
    "savez_compressed",
    "set_options",
    "testing",
    "unpatch_numpy",
]

try:
    __version__: str = version("fastnpz")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"


def _save(numpy_name: str, args: tuple[Any, ...], kwds: dict[str, Any]) -> Any:
    """Write the archive, or, when an argument overrides
    ``__array_function__``, hand the call to numpy's function exactly as it
    was made, so the override sees the caller's arguments and no others."""
    if "file" in kwds:
        if args:
            raise TypeError(f"{numpy_name}() got multiple values for argument 'file'")
        arrays = {key: value for key, value in kwds.items() if key != "file"}
        file, positional = kwds["file"], args
    elif args:
        arrays, file, positional = kwds, args[0], args[1:]
    else:
        raise TypeError(f"{numpy_name}() missing 1 required positional argument: 'file'")
    allow_pickle = True
    if NUMPY_TAKES_ALLOW_PICKLE and "allow_pickle" in arrays:
        allow_pickle = arrays["allow_pickle"]
        arrays = {key: value for key, value in arrays.items() if key != "allow_pickle"}
    if has_array_function_override(positional, arrays):
        return _numpy_original(numpy_name)(*args, **kwds)
    save_archive(file, positional, arrays, numpy_name == "savez_compressed", allow_pickle)
    return None


# The public functions take ``(*args, **kwds)``, ``file`` included, so that
# an override receives the call as it was made: ``file`` by keyword stays a
# keyword, and no keyword the caller left out (``allow_pickle``) is added.
# Their ``__signature__`` is the installed numpy's, for help() and inspect.


def savez_compressed(*args: Any, **kwds: Any) -> Any:
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
        For a ``file`` that is neither a path nor a binary file object, or
        missing or given twice.
    OSError
        When the file cannot be opened or written.

    See Also
    --------
    numpy.savez_compressed : The function this replaces.
    options : Set the compression level, thread bound and progress for a block.
    set_options : Set them for the whole process.

    Notes
    -----
    Differences from numpy, all on the side of safety or speed:

    - Every array is converted and checked before the target is opened, so
      a bad input raises numpy's exception without creating or truncating
      the target path.
    - Compressed bytes (and so compressed sizes and offsets) differ from
      zlib's; decompressed members are byte-identical to numpy's.
    - Compression level and threads come from :func:`options` or
      :func:`set_options` (default: level 6 as numpy, all usable cores).

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
    return _save("savez_compressed", args, kwds)


def savez(*args: Any, **kwds: Any) -> Any:
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
    return _save("savez", args, kwds)


for _public in (savez_compressed, savez):
    _public.__dict__["__signature__"] = inspect.signature(_numpy_original(_public.__name__))
del _public
