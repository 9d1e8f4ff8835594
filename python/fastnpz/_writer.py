"""``NpzWriter``: an ``.npz`` archive written member by member.

Members go through the same conversion as ``savez_compressed``'s keyword
members (``_savez._member``) and the same Rust pipeline (chunk, compress in
parallel, zip records, sink); only the central directory waits for
``close``.
"""

from __future__ import annotations

import errno
import os
import struct
import zipfile
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from . import _fastnpz
from ._options import current_level, current_threads, make_progress, usable_cores
from ._savez import _file_start, _member, _zip_name

if TYPE_CHECKING:  # typing.Self is Python 3.11+; annotations stay strings at runtime
    from typing_extensions import Self

__all__ = ["NpzWriter"]

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
    manager, or call :meth:`close`; an unclosed archive has no central
    directory and is not readable.

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
        self._zip_names: list[str] = []
        self._seen: set[str] = set()
        self._writer: Any = None
        self._append_end: int | None = None
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
            if mode == "a":
                try:
                    with open(path, "rb") as f:
                        prior, names, _ = _prior(f)
                except FileNotFoundError:
                    mode = "x"
                else:
                    self._existing(names)
            if mode == "x" and os.path.lexists(path):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
            self._writer = _fastnpz.ArchiveWriter.to_path(
                path, mode, level=level, align=align, threads=threads, prior=prior
            )
            return
        self._file = target
        if mode == "a":
            prior, names, end = _prior(target)
            self._existing(names)
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
        if self._writer.closed:
            raise ValueError("I/O operation on closed NpzWriter")
        zip_name = _zip_name(name)[0]
        if zip_name in self._seen:
            raise ValueError(f"{zip_name!r} is already in the archive")
        member = _member(name, array, allow_pickle, set(), {})
        self._writer.add([member], progress=make_progress())
        self._seen.add(zip_name)
        self._zip_names.append(zip_name)

    def close(self) -> None:
        """Write the central directory and put the archive in place. Does
        nothing when already closed."""
        if not self._writer.closed:
            try:
                self._writer.close()
            except BaseException:
                self._abandon()
                raise

    def abort(self) -> None:
        """Abandon the archive: mode ``'w'`` and ``'x'`` leave the path as
        it was before, mode ``'a'`` cuts the archive back to its old bytes.
        A file object in mode ``'w'`` keeps what was written to it."""
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
