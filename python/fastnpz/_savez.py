"""numpy's ``savez`` argument semantics, in front of the Rust writer.

Everything here mirrors ``numpy.lib._npyio_impl._savez`` and the parts of
``zipfile`` it relies on, step for step, so that the same inputs give the
same names, warnings and exceptions. The one deliberate difference: every
member is converted and checked *before* the target is opened, so a bad
input never truncates or creates the target path.
"""

from __future__ import annotations

import errno
import inspect
import io
import os
import pickle
import stat
import struct
import warnings
from typing import Any

import numpy as np
from numpy.lib import format as npformat

from . import _fastnpz
from ._compat import format_internal, npyio_internal
from ._options import current_level, current_threads, make_progress, usable_cores

__all__ = ["NUMPY_TAKES_ALLOW_PICKLE", "has_array_function_override", "save_archive"]

_NDARRAY_ARRAY_FUNCTION = np.ndarray.__array_function__
_MISSING = object()
# numpy >= 2 pickles dtypes that are not "legacy" (StringDType, user dtypes).
_HAS_LEGACY_FLAG = hasattr(type(np.dtype(float)), "_legacy")
_NUMPY_VERSION = np.lib.NumpyVersion(np.__version__)
# Writes the header and, for format 2.0 and 3.0, warns as numpy.save does.
_write_array_header = format_internal("_write_array_header")
# numpy.lib.format.write_array pickles with protocol 4 from numpy 2.0 on
# (numpy PR 26388), 3 before.
_PICKLE_PROTOCOL = 4 if _NUMPY_VERSION >= "2.0.0" else 3
#: numpy.savez/savez_compressed take ``allow_pickle`` from numpy 2.1 on;
#: before that, ``allow_pickle=...`` is one more array name.
NUMPY_TAKES_ALLOW_PICKLE = "allow_pickle" in inspect.signature(np.savez_compressed).parameters


def _numpy_closes_on_error() -> bool:
    """Whether numpy's ``_savez`` closes the archive in a ``finally`` (numpy
    2.x), writing the central directory even when a member fails; numpy 1.x
    lets the error through and leaves closing to garbage collection."""
    try:
        return "finally:" in inspect.getsource(npyio_internal("_savez"))
    except (ImportError, OSError, TypeError):
        return bool(_NUMPY_VERSION >= "2.0.0")


_CLOSES_ON_ERROR = _numpy_closes_on_error()


def has_array_function_override(args: tuple[Any, ...], kwds: dict[str, Any]) -> bool:
    """True when numpy's ``__array_function__`` dispatch would hand the call
    to an override (the dispatcher's relevant arguments: ``*args`` and the
    keyword values, not ``file``)."""
    for value in (*args, *kwds.values()):
        kind = type(value)
        if kind is np.ndarray:
            continue
        # Present but None still counts: numpy's dispatch then raises.
        func = getattr(kind, "__array_function__", _MISSING)
        if func is not _MISSING and func is not _NDARRAY_ARRAY_FUNCTION:
            return True
    return False


def _zip_name(key: str) -> tuple[str, bytes, bool]:
    """The member name as zipfile stores it: cut at the first NUL, ``os.sep``
    turned into ``/``, ASCII or else UTF-8 (flag bit 11)."""
    name = key + ".npy"
    nul = name.find("\x00")
    if nul >= 0:
        name = name[:nul]
    if os.sep != "/" and os.sep in name:
        name = name.replace(os.sep, "/")
    try:
        encoded, utf8 = name.encode("ascii"), False
    except UnicodeEncodeError:
        encoded, utf8 = name.encode("utf-8"), True  # lone surrogates raise, as in zipfile
    # zipfile packs the name length as a ushort; longer names fail there.
    struct.pack("<H", len(encoded))
    return name, encoded, utf8


def _needs_pickle(array: np.ndarray) -> bool:
    dtype = array.dtype
    if dtype.hasobject:
        return True
    return _HAS_LEGACY_FLAG and not type(dtype)._legacy


class _Parts:
    """A write-only file for numpy's header writer: collects what it writes."""

    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)


def _header(array: np.ndarray, cache: dict[Any, bytes]) -> bytes:
    """The ``.npy`` header, written by numpy's own
    ``header_data_from_array_1_0`` and ``_write_array_header``.

    numpy's writer, not a copy of it: the text, the format version and the
    warnings for format 2.0 and 3.0 (numpy 2.5 reworded one) are then those
    of the installed numpy. It costs about 2 us more than a header built in
    Rust, on a cache miss only. Plain dtypes with a version 1.0 header, which
    never warn, are cached per call: thousands of same-shaped arrays then cost
    one header.
    """
    dtype = array.dtype
    plain = dtype.fields is None and dtype.metadata is None and not dtype.hasobject
    if plain:
        flags = array.flags
        key = (dtype, array.shape, flags.c_contiguous, flags.f_contiguous)
        hit = cache.get(key)
        if hit is not None:
            return hit
    sink = _Parts()
    _write_array_header(sink, npformat.header_data_from_array_1_0(array), None)
    header = b"".join(sink.parts)
    # header[6] is the major version, after the magic.
    if plain and header[6] == 1:
        cache[key] = header
    return header


def _member(
    key: str, value: Any, allow_pickle: Any, seen: set[str], cache: dict[Any, bytes]
) -> tuple[bytes, bool, bytes, Any]:
    """Convert and check one member, in numpy's order: ``asanyarray``, the
    zip name (duplicate warning, encoding), the header (dtype warnings,
    format version), then the pickle policy."""
    array = np.asanyarray(value)
    name, encoded, utf8 = _zip_name(key)
    if name in seen:
        warnings.warn(f"Duplicate name: {name!r}", UserWarning, stacklevel=5)
    seen.add(name)
    header = _header(array, cache)
    if _needs_pickle(array):
        if not allow_pickle:
            if array.dtype.hasobject:
                raise ValueError("Object arrays cannot be saved when allow_pickle=False")
            raise ValueError("User-defined dtypes cannot be saved when allow_pickle=False")
        # Pickle through a file object, as numpy does: the pickler frames
        # large payloads differently when it writes to a file.
        buffer = io.BytesIO()
        pickle.dump(array, buffer, protocol=_PICKLE_PROTOCOL)
        return encoded, utf8, header, buffer.getvalue()
    return encoded, utf8, header, array


def _probe_path(path: str) -> None:
    """Raise the OSError that zipfile's open of ``path`` would raise (it
    tries ``w+b``, then ``wb``), without creating or truncating anything."""
    flags = getattr(os, "O_CLOEXEC", 0)
    try:
        try:
            fd = os.open(path, os.O_RDWR | flags)
        except FileNotFoundError:
            raise
        except OSError:
            fd = os.open(path, os.O_WRONLY | flags)
    except FileNotFoundError:
        # Creating it: the directory it would land in (through a dangling
        # symlink, the link target's) must exist and be writable.
        parent = os.path.dirname(os.path.realpath(path)) or "."
        try:
            st = os.stat(parent)
        except OSError as exc:
            raise type(exc)(exc.errno, exc.strerror, path) from None
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path) from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path) from None
    else:
        os.close(fd)


def _file_start(file: Any) -> tuple[int | None, bool]:
    """zipfile's seekability test: ``tell()``, then ``seek(tell())``; an
    AttributeError or OSError from either means unseekable. Returns the
    start offset (None when ``tell()`` failed: offsets then count from 0)
    and whether seeking works."""
    try:
        start = file.tell()
    except (AttributeError, OSError):
        return None, False
    try:
        file.seek(start)
    except (AttributeError, OSError):
        return start, False
    return start, True


def save_archive(file: Any, args: tuple[Any, ...], kwds: dict[str, Any], compress: bool, allow_pickle: Any) -> None:
    """The body of ``savez``/``savez_compressed`` once dispatch is settled."""
    if not hasattr(file, "write"):
        file = os.fspath(file)
        if not file.endswith(".npz"):
            file = file + ".npz"

    namedict = kwds
    for i, value in enumerate(args):
        key = "arr_%d" % i
        if key in namedict.keys():
            raise ValueError(f"Cannot use un-named variables and keyword {key}")
        namedict[key] = value

    level = current_level() if compress else -1
    # ``threads`` is an upper bound: more threads than cores only add
    # switching (10000 ran 2.5x slower than the cores' count).
    threads = min(current_threads(), usable_cores())
    progress = make_progress()

    # numpy.lib.npyio.zipfile_factory: anything without `read` is a path;
    # zipfile then also treats path-like file objects as paths.
    if not hasattr(file, "read") or isinstance(file, os.PathLike):
        path = os.fspath(file)
        if isinstance(path, str) and "\x00" in path:
            raise ValueError("embedded null byte")
        try:
            converted = _members(namedict, allow_pickle, [])
        except BaseException:
            # numpy opens the file before converting anything, so an
            # unopenable path wins over a bad array.
            _probe_path(path)
            raise
        writer = _fastnpz.ArchiveWriter.to_path(path, "w", level=level, align=False, threads=threads)
        _write_all(writer, converted, progress)
        return

    start, seekable = _file_start(file)
    members: list[tuple[bytes, bool, bytes, Any]] = []
    try:
        _members(namedict, allow_pickle, members)
    except BaseException:
        # numpy 2's `finally: zipf.close()` leaves the members written so far
        # and the central directory in the file object; an error from that
        # write replaces the conversion error, as it does in numpy. numpy 1
        # has no `finally`, but has already written the earlier members.
        if _CLOSES_ON_ERROR or members:
            _write_all(_to_file(file, start, seekable, level, threads), members, None)
        raise
    _write_all(_to_file(file, start, seekable, level, threads), members, progress)


def _to_file(file: Any, start: int | None, seekable: bool, level: int, threads: int) -> Any:
    return _fastnpz.ArchiveWriter.to_file(
        file, start=start, seekable=seekable, level=level, align=False, threads=threads
    )


def _write_all(writer: Any, members: list[tuple[bytes, bool, bytes, Any]], progress: Any) -> None:
    """Every member in one call, then the directory: the pipeline
    ``NpzWriter`` writes through (measured: no cost over a dedicated call,
    3.5 us either way for a 4 KiB member into BytesIO). A failure abandons
    the archive: a path is left as it was."""
    try:
        writer.add(members, progress=progress)
        writer.close()
    except BaseException:
        writer.abort()
        raise


def _members(
    namedict: dict[str, Any], allow_pickle: Any, out: list[tuple[bytes, bool, bytes, Any]]
) -> list[tuple[bytes, bool, bytes, Any]]:
    """Convert every member into ``out``, in order; on failure ``out``
    holds the members before the failing one."""
    seen: set[str] = set()
    cache: dict[Any, bytes] = {}
    for key, value in namedict.items():
        out.append(_member(key, value, allow_pickle, seen, cache))
    return out
