"""``numpy.load``, with ``.npz`` archives read by the Rust core.

The dispatch on the file's first bytes is numpy's own, step for step; only
zip archives are read here, through :class:`NpzFile`, a subclass of numpy's
``NpzFile`` with the same attributes and behaviour. Everything else
(``.npy`` files, pickles, a bad ``encoding``) is handed to numpy's own
``load``.

Each member is inflated by the Rust core straight into the array numpy's
``read_array`` would have allocated, with the GIL released: several members
at once when they are read in order (``dict(f)``, ``f.items()``, a loop over
``f``), and the chunks of one large fastnpz-written member at once. Whatever
the core does not read in its plainest way -- an unusual zip layout, a
header numpy must parse, object arrays, a corrupt or lying member -- goes
through numpy's own code path on a ``zipfile.ZipFile``, so it gives numpy's
results and numpy's exceptions.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import os
import struct
import threading
import zipfile
from collections.abc import Callable
from typing import Any

import numpy
from numpy.lib import npyio as _npyio

from . import _fastnpz
from ._compat import format_internal, npyio_internal
from ._options import current_threads, make_progress, usable_cores
from ._patch import original

__all__ = ["NpzFile", "load"]

_NumpyNpzFile: type[Any] = _npyio.NpzFile
_BagObj: Callable[[Any], Any] = npyio_internal("BagObj")
_zipfile_factory: Callable[..., zipfile.ZipFile] = npyio_internal("zipfile_factory")
_read_array: Callable[..., Any] = format_internal("read_array")
_read_magic: Callable[[Any], tuple[int, int]] = format_internal("read_magic")
_check_version: Callable[[tuple[int, int]], None] = format_internal("_check_version")
_read_array_header: Callable[..., Any] = format_internal("_read_array_header")
_MAX_HEADER_SIZE: int = inspect.signature(original("load")).parameters["max_header_size"].default

#: Members read ahead of the one asked for, when members are read in order:
#: at most this many bytes of arrays held at once, and this many members.
READ_AHEAD_BYTES = 16 << 20
READ_AHEAD_MEMBERS = 512
#: File objects the Rust core reads by file descriptor (positioned reads,
#: so the object's own position is left to this module to set).
_FILE_TYPES = (io.BufferedReader, io.BufferedRandom, io.FileIO)


def _reshapes() -> bool:
    """Whether the installed numpy's ``read_array`` reshapes the array it
    read (numpy 2: the result is a view) or sets its ``shape`` (numpy 1:
    the result owns its data)."""
    try:
        return "array.reshape(shape)" in inspect.getsource(_read_array)
    except (OSError, TypeError):  # pragma: no cover - no source available
        return numpy.lib.NumpyVersion(numpy.__version__) >= "2.0.0"


_RESHAPES = _reshapes()


def _checks_magic_with_a_tuple() -> bool:
    """Whether the installed numpy's ``load`` tests the magic with one
    ``startswith`` of a tuple (numpy 2) or two calls (numpy 1): a ``read``
    that returns str fails with a different TypeError message in each."""
    try:
        return "startswith((_ZIP_PREFIX, _ZIP_SUFFIX))" in inspect.getsource(original("load"))
    except (OSError, TypeError):  # pragma: no cover - no source available
        return numpy.lib.NumpyVersion(numpy.__version__) >= "2.0.0"


_MAGIC_TUPLE = _checks_magic_with_a_tuple()


def _is_zip(magic: Any) -> bool:
    """numpy's test of the first bytes, as the installed numpy writes it."""
    if _MAGIC_TUPLE:
        return bool(magic.startswith((b"PK\x03\x04", b"PK\x05\x06")))
    return bool(magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"))  # noqa: PIE810 - numpy 1.x


def _zipfile_refuses_overlap() -> bool:
    """Whether the running zipfile refuses to open a member whose data runs
    into the next member's local header (CPython 3.12.2, 3.11.8 and later:
    "Overlapped entries"). Asked of zipfile itself, on a two-member archive
    whose first member's declared size reaches one byte into the second's
    local header."""
    records: list[bytes] = []
    central: list[bytes] = []
    for name, data in ((b"a", b"xx"), (b"b", b"y")):
        offset = sum(len(r) for r in records)
        size = len(data) + (1 if name == b"a" else 0)
        records.append(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, size, size, 1, 0) + name + data)
        central.append(
            struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, size, size, 1, 0, 0, 0, 0, 0, offset)
            + name
        )
    body, cd = b"".join(records), b"".join(central)
    raw = body + cd + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(cd), len(body), 0)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            archive.open("a").close()
    except zipfile.BadZipFile:
        return True
    return False


_ZIPFILE_REFUSES_OVERLAP = _zipfile_refuses_overlap()


def _zipfile_checks_zip64_end() -> bool:
    """Whether the running zipfile checks the zip64 end record against its
    locator (CPython 3.13.x and 3.14: "Corrupt zip64 end of central
    directory record"; 3.11's takes the record's fields as they are). Asked
    of zipfile itself, on an empty archive whose zip64 end record gives a
    wrong size for itself."""
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44 + 1, 45, 45, 0, 0, 0, 0, 0, 0)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 0, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0, 0, 0, 0, 0)
    try:
        zipfile.ZipFile(io.BytesIO(record + locator + end)).close()
    except zipfile.BadZipFile:
        return True
    return False


_ZIPFILE_CHECKS_ZIP64_END = _zipfile_checks_zip64_end()

#: numpy 2's NpzFile maps names with a dict; numpy 1.26 keeps a list.
_FILES_IS_DICT = isinstance(_NumpyNpzFile(io.BytesIO(b"PK\x05\x06" + bytes(18)))._files, dict)
# Shared by every thread, unlocked: two threads missing the same typestr at
# once both store an equal dtype, which is harmless (dicts are thread-safe).
_DTYPES: dict[str, numpy.dtype[Any]] = {}
_FALLBACK = object()


def _dtype(descr: str) -> numpy.dtype[Any]:
    """``numpy.dtype(descr)`` for a plain typestr, cached."""
    dtype = _DTYPES.get(descr)
    if dtype is None:
        dtype = _DTYPES[descr] = numpy.dtype(descr)
    return dtype


def _numpy_header(header: bytes, max_header_size: int) -> tuple[tuple[int, ...], bool, numpy.dtype[Any]]:
    """Parse ``header`` with numpy's own functions (raising as numpy would)."""
    stream = io.BytesIO(header)
    version = _read_magic(stream)
    _check_version(version)
    shape, fortran_order, dtype = _read_array_header(stream, version, max_header_size=max_header_size)
    return shape, fortran_order, dtype


def _shaped(array: numpy.ndarray[Any, Any], shape: tuple[int, ...], fortran_order: bool) -> numpy.ndarray[Any, Any]:
    """The last step of numpy's ``read_array``, as the installed numpy does it."""
    if _RESHAPES:
        if fortran_order:
            return array.reshape(shape[::-1]).transpose()
        return array.reshape(shape)
    if fortran_order:
        array.shape = shape[::-1]
        return array.transpose()
    array.shape = shape
    return array


def _plan_array(info: tuple[Any, ...], limit: Any) -> tuple[Any, tuple[int, ...], bool, int] | None:
    """The array numpy's ``read_array`` would fill for a member described
    by ``info`` (see ``Batch.describe``), its shape, order and data end; or
    None when numpy should read the member itself (it then raises numpy's
    exception, if any)."""
    header, descr, fortran_order, shape, text_len, body_len, data_end = info
    try:
        if descr is None:
            shape, fortran_order, dtype = _numpy_header(header, limit)
        else:
            if text_len > limit:
                return None
            dtype = _DTYPES.get(descr) or _dtype(descr)
        if dtype.hasobject:
            return None
        count = math.prod(shape)
        if count * dtype.itemsize != body_len:
            return None
        # numpy.empty: the array numpy.ndarray(count, dtype) makes, without
        # its keyword parsing (a third of a microsecond per member).
        return numpy.empty(count, dtype), tuple(shape), bool(fortran_order), data_end
    except Exception:  # noqa: BLE001 - numpy's own path then raises numpy's exception
        return None


class NpzFile(_NumpyNpzFile):  # type: ignore[misc]
    """A lazy mapping over the arrays of an ``.npz`` archive.

    A subclass of :class:`numpy.lib.npyio.NpzFile` with its whole public
    surface -- ``files``, ``f``, ``zip``, ``fid``, ``allow_pickle``,
    ``max_header_size``, ``pickle_kwargs``, the mapping methods, ``repr``,
    ``close`` and the context manager -- and the same behaviour. Members are
    inflated by fastnpz's Rust core, several at a time when they are read in
    order; ``zip``, the :class:`zipfile.ZipFile`, is opened when first used.

    Parameters
    ----------
    fid : file-like object, str or os.PathLike
        The archive: an open binary file or a path.
    own_fid : bool, optional
        Whether closing this object closes ``fid``.
    allow_pickle : bool, optional
        Allow object arrays, which are stored as pickles.
    pickle_kwargs : dict, optional
        Keyword arguments for ``pickle.load``.
    max_header_size : int, optional
        The largest ``.npy`` header read without ``allow_pickle``.

    See Also
    --------
    load : Open an archive (or load a ``.npy`` file or a pickle).
    numpy.lib.npyio.NpzFile : The class this extends.
    """

    _zip: zipfile.ZipFile | None = None
    _reader: Any = None
    _seek_to: int | None = None
    _closed = False
    _iterating = False

    def __init__(
        self,
        fid: Any,
        own_fid: bool = False,
        allow_pickle: bool = False,
        pickle_kwargs: dict[str, Any] | None = None,
        *,
        max_header_size: int = _MAX_HEADER_SIZE,
    ) -> None:
        self._lock = threading.Lock()
        self._ready: dict[int, Any] = {}
        # Members numpy reads (object arrays, unusual headers, damage).
        self._numpy_reads: set[int] = set()
        self._last = -2
        reader, memory = _open_reader(fid)
        if reader is None:
            # zipfile reads it, as in numpy (with numpy's errors).
            super().__init__(
                fid,
                own_fid=own_fid,
                allow_pickle=allow_pickle,
                pickle_kwargs=pickle_kwargs,
                max_header_size=max_header_size,
            )
            return
        names: list[str] = reader.names()
        self._files: Any
        if _FILES_IS_DICT:
            self.files = [name.removesuffix(".npy") for name in names]
            self._files = dict(zip(self.files, names, strict=False))
            self._files.update(zip(names, names, strict=False))
        else:
            self._files = names
            self.files = [name[:-4] if name.endswith(".npy") else name for name in names]
        self.allow_pickle = allow_pickle
        self.max_header_size = max_header_size
        self.pickle_kwargs = pickle_kwargs
        self.f = _BagObj(self)
        if own_fid:
            self.fid = fid
        self._reader = reader
        self._source = fid
        self._memory = memory
        self._sizes: list[int] = reader.sizes()
        # zipfile keeps the last entry of a duplicated name.
        self._index = {name: i for i, name in enumerate(names)}
        # Where zipfile leaves the file after reading the directory.
        fid.seek(reader.directory_end())

    @property
    def fid(self) -> Any:
        """The file this object owns and closes (None for one it was
        handed), positioned where numpy's would be."""
        fid = self.__dict__.get("_fid")
        to, self._seek_to = self._seek_to, None
        if to is not None and fid is not None and not fid.closed:
            fid.seek(to)
        return fid

    @fid.setter
    def fid(self, value: Any) -> None:
        self._seek_to = None
        self.__dict__["_fid"] = value

    @property
    def zip(self) -> zipfile.ZipFile | None:
        """The :class:`zipfile.ZipFile` (opened on first use); None once closed."""
        # zipfile moves the file itself from here on.
        self._seek_to = None
        if self._zip is None and self._reader is not None and not self._closed:
            # numpy's ZipFile read the directory when the archive was
            # opened: show zipfile the archive's tail as it was then, and
            # everything else as the file is now.
            size, offset, tail = self._reader.snapshot()
            self._zip = _zipfile_factory(_AsOpened(self._source, size, offset, tail))
        return self._zip

    @zip.setter
    def zip(self, value: zipfile.ZipFile | None) -> None:
        self._zip = value

    def close(self) -> None:
        """Close the file (when this object owns it) and the archive."""
        self._closed = True
        self._seek_to = None
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        self._reader = None
        self._ready = {}
        if self.fid is not None:
            self.fid.close()
            self.fid = None
        self.f = None  # break reference cycle

    def _name(self, key: Any) -> str:
        """The member a key reads, resolved as the installed numpy does."""
        if _FILES_IS_DICT:
            try:
                return str(self._files[key])
            except KeyError:
                raise KeyError(f"{key} is not a file in the archive") from None
        if key in self._files:
            return str(key)
        if key in self.files:
            return str(key) + ".npy"
        raise KeyError(f"{key} is not a file in the archive")

    def __getitem__(self, key: Any) -> Any:
        name = self._name(key)
        reader = self._reader
        if reader is None or self._closed or getattr(self._source, "closed", False):
            return self._numpy_getitem(key)
        index = self._index[name]
        if index in self._numpy_reads:
            return self._numpy_getitem(key)
        with self._lock:
            ready = self._ready.pop(index, None)
            sequential = index == self._last + 1 or (index == 0 and self._iterating)
            self._iterating = False
            self._last = index
        if ready is None:
            indices = self._plan(index) if sequential else [index]
            read = self._read(reader, indices)
            ready = read.pop(index, None)
            with self._lock:
                self._ready.update(read)
        if ready is None:
            self._numpy_reads.add(index)
            return self._numpy_getitem(key)
        array, data_end = ready
        # Where zipfile leaves the file after reading this member: at once
        # for a file the caller holds, when next seen (``fid``) for one
        # this object owns (a seek was a tenth of a 4 KiB member's time).
        if self._source is self.__dict__.get("_fid"):
            self._seek_to = data_end
        else:
            self._source.seek(data_end)
        return array

    def _numpy_getitem(self, key: Any) -> Any:
        """``key`` read by numpy's own ``__getitem__`` (through zipfile,
        which moves the file itself: no position is left pending)."""
        self._seek_to = None
        return super().__getitem__(key)

    def _plan(self, index: int) -> list[int]:
        """``index`` and the members after it that are not read yet, while
        they fit in ``READ_AHEAD_BYTES`` with the members already held.
        Members read ahead and then passed over are dropped first: reading
        in order did not ask for them."""
        indices = [index]
        with self._lock:
            for passed in [i for i in self._ready if i < index]:
                del self._ready[passed]
            budget = READ_AHEAD_BYTES - sum(self._sizes[i] for i in self._ready)
        for following in range(index + 1, min(len(self._sizes), index + READ_AHEAD_MEMBERS)):
            if following in self._ready or following in self._numpy_reads:
                continue
            budget -= self._sizes[following]
            if budget < 0:
                break
            indices.append(following)
        return indices

    # Reading in order starts with one of these: the first member read after
    # it is read with the ones after it.
    def __iter__(self) -> Any:
        self._iterating = True
        return super().__iter__()

    def keys(self) -> Any:
        self._iterating = True
        return super().keys()

    def items(self) -> Any:
        self._iterating = True
        return super().items()

    def values(self) -> Any:
        self._iterating = True
        return super().values()

    def _read(self, reader: Any, indices: list[int]) -> dict[int, tuple[Any, int]]:
        """Read members with the Rust core; returns {index: (array, data
        end)} for those it read, leaving the others to numpy."""
        threads = min(current_threads(), usable_cores())
        limit = 2**64 if self.allow_pickle else self.max_header_size
        with self._buffer() as buffer:
            if buffer is _FALLBACK:
                return {}
            batch = reader.prepare(indices, threads, buffer)
            plans = [None if info is None else _plan_array(info, limit) for info in batch.describe()]
            arrays = [None if p is None else p[0] for p in plans]
            filled = reader.fill(batch, arrays, threads, buffer, make_progress("load"))
        out = {}
        for index, plan, ok in zip(indices, plans, filled, strict=False):
            if ok and plan is not None:
                array, shape, fortran_order, data_end = plan
                out[index] = (_shaped(array, shape, fortran_order), data_end)
        return out

    @contextlib.contextmanager
    def _buffer(self) -> Any:
        """The archive's bytes for one call, when it lives in memory."""
        if not self._memory:
            yield None
            return
        try:
            with _bytes_of(self._source) as array:
                yield array
        except (ValueError, BufferError):
            yield _FALLBACK


class _AsOpened:
    """A file object as zipfile found it when the archive was opened: its
    size then, and its bytes from ``offset`` (the central directory) to that
    end as they were; everything before ``offset`` is read from ``fid`` as
    it is now, through ``fid`` (so its position moves as zipfile's reads
    move it, and a buffered file serves what it buffered, as in numpy)."""

    def __init__(self, fid: Any, size: int, offset: int, tail: bytes) -> None:
        self._fid = fid
        self._size = size
        self._offset = offset
        self._tail = tail
        self._pos: int = fid.tell()

    def __getattr__(self, name: str) -> Any:
        # Everything else (closed, name, mode, fileno, ...) is the file's.
        return getattr(self._fid, name)

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        if base + offset < 0:
            raise OSError(22, "Invalid argument")
        self._pos = base + offset
        self._fid.seek(self._pos)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        parts = []
        if self._pos < min(end, self._offset):
            self._fid.seek(self._pos)
            parts.append(self._fid.read(min(end, self._offset) - self._pos))
        if end > self._offset:
            parts.append(self._tail[max(self._pos, self._offset) - self._offset : end - self._offset])
        data = b"".join(parts)
        self._pos += len(data)
        self._fid.seek(self._pos)
        return data


@contextlib.contextmanager
def _bytes_of(stream: io.BytesIO) -> Any:
    """A uint8 array over a BytesIO's memory, for the duration of a block
    (the export stops the BytesIO from resizing meanwhile)."""
    view = stream.getbuffer()
    try:
        array = numpy.frombuffer(view, numpy.uint8)
        try:
            yield array
        finally:
            del array
    finally:
        view.release()


def _open_reader(fid: Any) -> tuple[Any, bool]:
    """A Rust reader over ``fid``'s archive, and whether it reads memory;
    (None, False) when zipfile should read it."""
    try:
        if type(fid) is io.BytesIO:
            with _bytes_of(fid) as array:
                return _fastnpz.Reader.open_buffer(array, _ZIPFILE_REFUSES_OVERLAP, _ZIPFILE_CHECKS_ZIP64_END), True
        if type(fid) in _FILE_TYPES and not fid.closed:
            fd = os.dup(fid.fileno())
            return _fastnpz.Reader.open_fd(fd, _ZIPFILE_REFUSES_OVERLAP, _ZIPFILE_CHECKS_ZIP64_END), False
    except (OSError, ValueError, BufferError, io.UnsupportedOperation):
        pass
    return None, False


def load(
    file: Any,
    mmap_mode: Any = None,
    allow_pickle: bool = False,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    *,
    max_header_size: int = _MAX_HEADER_SIZE,
) -> Any:
    """Load arrays or pickled objects from ``.npy``, ``.npz`` or pickled files.

    A drop-in replacement for :func:`numpy.load`, with the same signature
    and behaviour. ``.npz`` archives return a :class:`NpzFile` whose members
    are inflated by fastnpz's parallel Rust core; everything else is read by
    numpy itself.

    Parameters
    ----------
    file : file-like object, str or os.PathLike
        The file to read. A file-like object is read from its current
        position; a path is opened, and for an ``.npz`` the returned
        object owns (and closes) it.
    mmap_mode : {None, 'r+', 'r', 'w+', 'c'}, optional
        Memory-map a ``.npy`` file. For an ``.npz`` (an extension: numpy
        ignores the mode there), 'r' or 'c' return stored members as
        read-only or copy-on-write :class:`numpy.memmap` views of the file;
        'r+' and 'w+' raise ValueError.
    allow_pickle : bool, optional
        Allow object arrays and pickles. Default: False.
    fix_imports : bool, optional
        For Python 2 pickles, as in :func:`numpy.load`.
    encoding : str, optional
        For Python 2 pickles: 'ASCII', 'latin1' or 'bytes'.
    max_header_size : int, optional
        The largest ``.npy`` header read without ``allow_pickle``.

    Returns
    -------
    result : array, tuple, dict, NpzFile, ...
        What :func:`numpy.load` returns for the same file.

    Raises
    ------
    OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, ...
        Whatever :func:`numpy.load` raises for the same file.

    See Also
    --------
    numpy.load : The function this replaces.
    NpzFile : What an ``.npz`` file loads as.

    Examples
    --------
    >>> import io, numpy as np, fastnpz
    >>> buf = io.BytesIO()
    >>> fastnpz.savez_compressed(buf, a=np.arange(3))
    >>> _ = buf.seek(0)
    >>> with fastnpz.load(buf) as f:
    ...     f["a"]
    array([0, 1, 2])
    """
    numpy_load = original("load")
    if encoding not in ("ASCII", "latin1", "bytes"):
        return numpy_load(file, mmap_mode, allow_pickle, fix_imports, encoding, max_header_size=max_header_size)
    pickle_kwargs = {"encoding": encoding, "fix_imports": fix_imports}
    with contextlib.ExitStack() as stack:
        if hasattr(file, "read"):
            fid = file
            own_fid = False
        else:
            fid = stack.enter_context(open(os.fspath(file), "rb"))
            own_fid = True
        # numpy's dispatch on the first bytes, including its position dance.
        magic = fid.read(6)
        if not magic:
            raise EOFError("No data left in file")
        fid.seek(-min(6, len(magic)), 1)
        if _is_zip(magic) and mmap_mode is not None:
            from ._mmap import MappedNpzFile, npz_mmap_mode

            mode = npz_mmap_mode(mmap_mode)
            stack.pop_all()
            return MappedNpzFile(
                fid,
                mmap_mode=mode,
                own_fid=own_fid,
                allow_pickle=allow_pickle,
                pickle_kwargs=pickle_kwargs,
                max_header_size=max_header_size,
            )
        if _is_zip(magic):
            stack.pop_all()
            return NpzFile(
                fid,
                own_fid=own_fid,
                allow_pickle=allow_pickle,
                pickle_kwargs=pickle_kwargs,
                max_header_size=max_header_size,
            )
    # Not an archive: numpy reads it, from the same starting point.
    return numpy_load(file, mmap_mode, allow_pickle, fix_imports, encoding, max_header_size=max_header_size)


# help() and inspect.signature show numpy's own signature.
load.__signature__ = inspect.signature(original("load"))  # type: ignore[attr-defined]
