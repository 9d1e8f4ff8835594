"""``NpzWriter``: an ``.npz`` archive written member by member.

Members go through the same conversion as ``savez_compressed``'s keyword
members (``_savez._member``) and the same Rust pipeline (chunk, compress in
parallel, zip records, sink); only the central directory waits for
``close``.
"""

from __future__ import annotations

import errno
import math
import operator
import os
import struct
import threading
import zipfile
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

import numpy as np
from numpy.lib import format as npformat

from . import _fastnpz
from ._options import current_level, current_threads, make_progress, usable_cores
from ._savez import _HAS_LEGACY_FLAG, _file_start, _member, _Parts, _write_array_header, _zip_name

if TYPE_CHECKING:  # typing.Self is Python 3.11+; annotations stay strings at runtime
    from typing_extensions import Self

__all__ = ["NpzStream", "NpzWriter"]

_END = b"PK\x05\x06"
_LOCATOR64 = b"PK\x06\x07"
_END64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_MAX_COMMENT = 0xFFFF


def _display_name(name: str) -> str:
    """A member's name as ``NpzFile.files`` lists it."""
    return name[: -len(".npy")] if name.endswith(".npy") else name


def _read_exact(f: Any, at: int, n: int) -> bytes:
    f.seek(at)
    data = bytes(f.read(n))
    if len(data) != n:
        raise zipfile.BadZipFile("File is not a zip file")
    return data


def _prior(f: Any) -> tuple[tuple[bytes, int, int, bytes], list[str], int]:
    """Read the archive in ``f`` for appending: its central directory's
    records verbatim, their count, the bytes before the archive (zipfile's
    ``concat``) and the end record's comment; the member names as zipfile
    reads them; and the file's length, where new members will go.

    zipfile itself reads the archive first, so anything it rejects raises
    its own ``BadZipFile`` and nothing is written."""
    f.seek(0)
    with zipfile.ZipFile(f) as z:
        names = z.namelist()
    size = f.seek(0, os.SEEK_END)
    tail_len = min(size, 22 + _MAX_COMMENT)
    tail = _read_exact(f, size - tail_len, tail_len)
    # The end record whose comment runs exactly to the end of the file.
    i = tail.rfind(_END)
    while i >= 0 and (len(tail) - i < 22 or i + 22 + struct.unpack_from("<H", tail, i + 20)[0] != len(tail)):
        i = tail.rfind(_END, 0, i)
    if i < 0:
        raise zipfile.BadZipFile("File is not a zip file")
    end_at = size - tail_len + i
    _, disk, disk_start, _, count, cd_size, cd_offset, comment_len = struct.unpack_from("<4s4H2LH", tail, i)
    comment = tail[i + 22 : i + 22 + comment_len]
    record_at = end_at
    if end_at >= 20:
        locator = _read_exact(f, end_at - 20, 20)
        if locator[:4] == _LOCATOR64:
            record_at = end_at - 20 - 56
            record = _read_exact(f, record_at, 56)
            if record[:4] != _END64:
                raise zipfile.BadZipFile("Corrupt zip64 end of central directory")
            count, _, cd_size, cd_offset = struct.unpack_from("<4Q", record, 24)
    if disk or disk_start:
        raise zipfile.BadZipFile("zipfiles that span multiple disks are not supported")
    cd_start = record_at - cd_size
    concat = cd_start - cd_offset
    if cd_start < 0 or concat < 0:
        raise zipfile.BadZipFile("Bad offset for central directory")
    directory = _read_exact(f, cd_start, cd_size)
    at = seen = 0
    while at < len(directory):
        if directory[at : at + 4] != _CENTRAL or at + 46 > len(directory):
            raise zipfile.BadZipFile("Bad magic number for central directory")
        name_len, extra_len, comment_len = struct.unpack_from("<3H", directory, at + 28)
        at += 46 + name_len + extra_len + comment_len
        seen += 1
    if at != len(directory) or seen != count or seen != len(names):
        raise zipfile.BadZipFile("central directory does not match its end record")
    return (directory, count, concat, comment), names, size


class _Window:
    """The first ``size`` bytes of a binary file, as a read-only file."""

    def __init__(self, f: Any, size: int) -> None:
        self._f = f
        self._size = size
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        if end <= self._pos:
            return b""
        self._f.seek(self._pos)
        data = bytes(self._f.read(end - self._pos))
        self._pos += len(data)
        return data


def _recover(path: str | os.PathLike[str]) -> int:
    """See :meth:`NpzWriter.recover`."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        try:
            _prior(_Window(f, size))
            return 0
        except (zipfile.BadZipFile, struct.error, ValueError, OSError):
            pass
        step = 1 << 20
        end = size
        while end > 0:
            start = max(0, end - step)
            f.seek(start)
            # Overlap by 3 bytes so a signature across windows is found.
            window = f.read(min(size, end + 3) - start)
            i = window.rfind(_END)
            while i >= 0:
                at = start + i
                if at + 22 <= size:
                    f.seek(at + 20)
                    (comment_len,) = struct.unpack("<H", f.read(2))
                    cut: int = at + 22 + comment_len
                    if cut <= size:
                        try:
                            _prior(_Window(f, cut))
                        except (zipfile.BadZipFile, struct.error, ValueError, OSError):
                            pass
                        else:
                            break
                i = window.rfind(_END, 0, i)
            else:
                end = start
                continue
            break
        else:
            raise zipfile.BadZipFile(f"no complete archive found in {os.fspath(path)!r}")
    os.truncate(path, cut)
    return int(size - cut)


class NpzWriter:
    """Write an ``.npz`` archive one member at a time.

    The archive numpy's ``savez_compressed`` would write from the same
    members, added in order, without holding them all in memory at once.

    Parameters
    ----------
    file : str, os.PathLike or binary file object
        As for :func:`numpy.savez_compressed`: ``.npz`` is appended to a
        path that lacks it; a file object is written from its current
        position and never closed.
    mode : {'w', 'x', 'a'}, optional
        ``'w'`` (default) replaces ``file`` at :meth:`close`, atomically
        when it is a path: until then the old file stays as it was, and an
        exception inside the ``with`` block leaves it untouched, with no
        temporary file behind. ``'x'`` does the same but raises
        ``FileExistsError`` if the path exists. ``'a'`` adds members to the
        existing archive (any zip file; a path that does not exist is
        created) without rewriting the members already there; if the block
        raises, the file is cut back to its old bytes.
    compress : bool, optional
        True (default) deflates members as ``savez_compressed`` does, at the
        level from :func:`fastnpz.options`. False stores them as ``savez``
        does, except that each member's data starts on a 64-byte boundary
        of the file (padding goes in the local header's extra field, as
        zipalign writes it), so members can be memory-mapped.

    Attributes
    ----------
    names : list of str
        The members so far, in order, named as ``NpzFile.files`` names
        them (without ``.npy``); in mode ``'a'`` the existing ones first.

    Notes
    -----
    :meth:`write` compresses the member before it returns: the array may be
    changed or freed as soon as it does. Use the writer as a context
    manager, or call :meth:`close`: a writer garbage-collected unclosed is
    abandoned as by :meth:`abort` (a path keeps its old contents; a file
    object keeps the members written, without a central directory).

    Appending never modifies bytes before the archive's old end record. A
    hard kill mid-append leaves them intact, followed by a partial member;
    :meth:`recover` cuts that off.

    Threads may share one writer: its calls take turns (each write still
    compresses on all the cores), so members arrive whole, in the order the
    calls got their turn, and a name is added once.

    Examples
    --------
    >>> import numpy as np, fastnpz
    >>> with fastnpz.NpzWriter("run.npz") as w:
    ...     w.write("weights", np.ones((3, 4)))
    ...     w.write("bias", np.zeros(4))
    >>> fastnpz.load("run.npz").files
    ['weights', 'bias']
    """

    def __init__(
        self,
        file: str | os.PathLike[str] | BinaryIO,
        mode: Literal["w", "x", "a"] = "w",
        *,
        compress: bool = True,
    ) -> None:
        if mode not in ("w", "x", "a"):
            raise ValueError(f"mode must be 'w', 'x' or 'a', not {mode!r}")
        self._file: Any = None
        # One call at a time changes the archive (write, stream, close,
        # abort): threads sharing a writer take turns, each write still
        # compressing on all the cores, instead of the extension's
        # "Already mutably borrowed" and a name check that two threads could
        # both pass. Reentrant: a progress callback that calls back into the
        # writer gets the extension's RuntimeError, as before, not a deadlock.
        self._lock = threading.RLock()
        self._zip_names: list[str] = []
        self._seen: set[str] = set()
        self._writer: Any = None
        self._append_end: int | None = None
        self._streaming = False
        self._appending = False
        self._added = 0
        target: Any = file
        if not hasattr(target, "write"):
            target = os.fspath(target)
            if not target.endswith(".npz"):
                target = target + ".npz"
        level = current_level() if compress else -1
        threads = min(current_threads(), usable_cores())
        align = not compress
        if not hasattr(target, "read") or isinstance(target, os.PathLike):
            path = os.fspath(target)
            if isinstance(path, str) and "\x00" in path:
                raise ValueError("embedded null byte")
            prior = None
            size = None
            if mode == "a":
                try:
                    with open(path, "rb") as f:
                        prior, names, size = _prior(f)
                except FileNotFoundError:
                    mode = "x"
                else:
                    self._existing(names)
                    self._appending = True
            if mode == "x" and os.path.lexists(path):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
            self._writer = _fastnpz.ArchiveWriter.to_path(
                path, mode, level=level, align=align, threads=threads, prior=prior, size=size
            )
            return
        self._file = target
        if mode == "a":
            prior, names, end = _prior(target)
            self._existing(names)
            self._appending = True
            self._append_end = end
            target.seek(end)
            self._writer = _fastnpz.ArchiveWriter.to_file(
                target, start=end, seekable=True, level=level, align=align, threads=threads, prior=prior
            )
            return
        start, seekable = _file_start(target)
        self._writer = _fastnpz.ArchiveWriter.to_file(
            target, start=start, seekable=seekable, level=level, align=align, threads=threads
        )

    def _existing(self, names: list[str]) -> None:
        self._zip_names.extend(names)
        self._seen.update(names)

    @staticmethod
    def recover(path: str | os.PathLike[str]) -> int:
        """Cut an archive back to its last complete state after a hard kill
        (SIGKILL, power loss) during an append.

        An append writes only after the archive's old end record, so the
        old archive survives as a prefix of the file, followed by a partial
        new member. This finds the last end record whose central directory
        zipfile reads, and truncates the file just after it.

        Parameters
        ----------
        path : str or os.PathLike
            The archive.

        Returns
        -------
        int
            Bytes removed: 0 when the archive was already readable.

        Raises
        ------
        zipfile.BadZipFile
            No complete archive was found; the file is left as it was.
        """
        return _recover(path)

    @property
    def names(self) -> list[str]:
        """The member names so far, in order, without ``.npy``."""
        return [_display_name(n) for n in self._zip_names]

    @property
    def closed(self) -> bool:
        """Whether the archive was closed (or abandoned)."""
        return bool(self._writer.closed)

    def write(self, name: str, array: Any, *, allow_pickle: bool = True) -> None:
        """Add one member, ``name + ".npy"``.

        Parameters
        ----------
        name : str
            The member's name, as a keyword of ``savez_compressed``.
        array : array_like
            Converted with ``np.asanyarray``. It is compressed before this
            returns, so it may be changed or freed afterwards.
        allow_pickle : bool, optional
            Allow object arrays (and, in numpy 2, non-legacy dtypes), which
            are pickled as ``savez_compressed`` pickles them. Default True.

        Raises
        ------
        ValueError
            The name is already in the archive (nothing is added), or an
            object array with ``allow_pickle=False``, or the writer is
            closed.
        """
        if not isinstance(name, str):
            raise TypeError(f"member names must be str, not {type(name).__name__}")
        with self._lock:
            self._write(name, array, allow_pickle)

    def _write(self, name: str, array: Any, allow_pickle: bool) -> None:
        if self._writer.closed:
            raise ValueError("I/O operation on closed NpzWriter")
        if self._streaming:
            raise ValueError("a stream is open: end it before writing another member")
        zip_name = _zip_name(name)[0]
        if zip_name in self._seen:
            raise ValueError(f"{zip_name!r} is already in the archive")
        member = _member(name, array, allow_pickle, set(), {})
        self._writer.add([member], progress=make_progress())
        self._seen.add(zip_name)
        self._zip_names.append(zip_name)
        self._added += 1

    def stream(self, name: str, shape: Any, dtype: Any, fortran_order: bool = False) -> NpzStream:
        """Add one member whose data arrives in blocks, for arrays larger
        than memory.

        Use it as a context manager: the member is complete when the block
        ends without an exception; if it raises, the member is taken back
        (on seekable outputs) and not added.

        Parameters
        ----------
        name : str
            The member's name, as for :meth:`write`.
        shape : int or tuple of int
            The full array's shape.
        dtype : data-type
            Any dtype numpy writes a ``.npy`` header for without pickling.
        fortran_order : bool, optional
            Whether the blocks' bytes are in Fortran order. Default False.

        Returns
        -------
        NpzStream
            Takes the blocks through :meth:`NpzStream.write`.

        Raises
        ------
        ValueError
            The name is already in the archive, the dtype needs pickling,
            another stream is open, or (at the end of the block) the bytes
            written are not ``prod(shape) * dtype.itemsize``.

        Examples
        --------
        >>> import numpy as np, fastnpz
        >>> with fastnpz.NpzWriter("big.npz") as w:
        ...     with w.stream("field", (4, 1000), np.float64) as s:
        ...         for row in range(4):
        ...             s.write(np.full(1000, row, dtype=np.float64))
        """
        if not isinstance(name, str):
            raise TypeError(f"member names must be str, not {type(name).__name__}")
        if self._writer.closed:
            raise ValueError("I/O operation on closed NpzWriter")
        dt = np.dtype(dtype)
        if dt.hasobject or (_HAS_LEGACY_FLAG and not type(dt)._legacy):
            raise ValueError(f"dtype {dt} needs pickling and cannot be streamed")
        try:
            dims = tuple(operator.index(n) for n in shape)
        except TypeError:
            dims = (operator.index(shape),)
        if any(n < 0 for n in dims):
            raise ValueError(f"negative dimensions are not allowed: {dims}")
        zip_name, encoded, utf8 = _zip_name(name)
        if zip_name in self._seen:
            raise ValueError(f"{zip_name!r} is already in the archive")
        parts = _Parts()
        header = {"descr": npformat.dtype_to_descr(dt), "fortran_order": bool(fortran_order), "shape": dims}
        _write_array_header(parts, header, None)
        with self._lock:
            if zip_name in self._seen:  # again: another thread may have added it
                raise ValueError(f"{zip_name!r} is already in the archive")
            self._writer.stream_begin(encoded, utf8, b"".join(parts.parts))
            self._streaming = True
        return NpzStream(self, zip_name, dt, math.prod(dims) * dt.itemsize, bool(fortran_order))

    def _stream_done(self, zip_name: str | None) -> None:
        self._streaming = False
        if zip_name is not None:
            self._seen.add(zip_name)
            self._zip_names.append(zip_name)
            self._added += 1

    def close(self) -> None:
        """Write the central directory and put the archive in place. Does
        nothing when already closed."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if not self._writer.closed:
            if self._appending and not self._added:
                # Nothing to add: the archive stays exactly as it was.
                self._abandon()
                return
            try:
                self._writer.close()
            except BaseException:
                self._abandon()
                raise

    def abort(self) -> None:
        """Abandon the archive: mode ``'w'`` and ``'x'`` leave the path as
        it was before, mode ``'a'`` cuts the archive back to its old bytes.
        A file object in mode ``'w'`` keeps what was written to it."""
        with self._lock:
            if not self._writer.closed:
                self._abandon()

    def _abandon(self) -> None:
        self._writer.abort()
        if self._append_end is not None and self._file is not None:
            self._file.seek(self._append_end)
            self._file.truncate()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class NpzStream:
    """One member being written block by block; made by
    :meth:`NpzWriter.stream`.

    Attributes
    ----------
    nbytes : int
        The member's data size, ``prod(shape) * dtype.itemsize``.
    written : int
        Bytes written so far.
    """

    def __init__(self, writer: NpzWriter, zip_name: str, dtype: np.dtype[Any], nbytes: int, fortran: bool) -> None:
        self._owner = writer
        self._zip_name = zip_name
        self._dtype = dtype
        self._fortran = fortran
        self.nbytes = nbytes
        self.written = 0
        self._open = True

    def write(self, block: Any) -> None:
        """Continue the member with the bytes of ``block``.

        Parameters
        ----------
        block : bytes-like or numpy.ndarray
            A bytes-like object contributes its bytes as they are. An array
            must have the stream's dtype; it contributes its elements in the
            member's order (C, or Fortran with ``fortran_order=True``), so a
            block of whole rows (columns) continues a C (Fortran) member.
            The block is copied before this returns.

        Raises
        ------
        ValueError
            The block would run past the member's size (nothing of it is
            written), or its dtype differs from the stream's.
        """
        if not self._open:
            raise ValueError("the stream is closed")
        if isinstance(block, np.ndarray):
            if block.dtype != self._dtype:
                raise ValueError(f"block dtype {block.dtype} differs from the stream's {self._dtype}")
            flat = np.ravel(block, order="F" if self._fortran else "C")
            if not flat.flags.c_contiguous:
                flat = np.ascontiguousarray(flat)
            view = flat.view(np.uint8)
        else:
            view = np.frombuffer(block, dtype=np.uint8)
        n = view.nbytes
        if self.written + n > self.nbytes:
            raise ValueError(
                f"the stream holds {self.nbytes} bytes; this block would bring it to {self.written + n}"
            )
        self._owner._writer.stream_write(view)
        self.written += n

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._open = False
        if exc_type is not None or self.written != self.nbytes:
            self._owner._stream_done(None)
            self._owner._writer.stream_abort()
        if exc_type is not None:
            return
        if self.written != self.nbytes:
            raise ValueError(f"the stream got {self.written} bytes of {self.nbytes}; the member was not added")
        self._owner._writer.stream_end()
        self._owner._stream_done(self._zip_name)
