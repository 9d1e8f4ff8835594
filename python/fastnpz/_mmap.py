"""``fastnpz.load(..., mmap_mode="r" | "c")`` for ``.npz`` archives: stored
members come back as :class:`numpy.memmap` views of the file.

numpy ignores ``mmap_mode`` for archives (numpy issue 5976). A stored
member's ``.npy`` bytes lie in the file as they are, so its array data can be
mapped in place; compressed members, and members that cannot be mapped
(pickles, empty arrays, archives in memory), are read as ``NpzFile`` reads
them. Writing through a map would break the member's CRC, so only the
read-only and copy-on-write modes are offered.
"""

from __future__ import annotations

import math
import struct
import zipfile
from typing import Any

import numpy as np

from ._compat import format_internal
from ._load import NpzFile

__all__ = ["MappedNpzFile", "npz_mmap_mode"]

_read_magic = format_internal("read_magic")
_check_version = format_internal("_check_version")
_read_array_header = format_internal("_read_array_header")

_MODES = {"r": "r", "readonly": "r", "c": "c", "copyonwrite": "c"}
_WRITING = ("r+", "readwrite", "w+", "write")


def npz_mmap_mode(mode: Any) -> str:
    """The memmap mode for an archive, or ValueError."""
    if mode in _WRITING:
        raise ValueError(
            f"mmap_mode={mode!r} cannot be used with .npz archives: writing through the map "
            "would leave the member's CRC-32 wrong; use 'r' or 'c' (copy-on-write)"
        )
    try:
        return _MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be one of {['r', 'c', 'readonly', 'copyonwrite']!r} (got {mode!r})") from None


class MappedNpzFile(NpzFile):
    """An :class:`NpzFile` whose stored members are memory-mapped.

    Parameters
    ----------
    fid : file object
        The archive, a real file (with ``fileno``).
    mmap_mode : {'r', 'c'}
        Read-only, or copy-on-write.
    **kwargs
        As for :class:`NpzFile`.
    """

    def __init__(self, fid: Any, *, mmap_mode: str, **kwargs: Any) -> None:
        super().__init__(fid, **kwargs)
        self.mmap_mode = mmap_mode
        self._mapped_fid = fid

    def __getitem__(self, key: Any) -> Any:
        # NpzFile's stub shows numpy's public surface only.
        this: Any = self
        name = this._name(key)
        archive = self.zip
        if archive is not None:
            mapped = self._map(archive, archive.getinfo(name))
            if mapped is not None:
                return mapped
        return super().__getitem__(key)

    def _map(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.memmap[Any, Any] | None:
        """The member as a memmap, or None when it is not stored as a plain
        ``.npy`` the file can map."""
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1 or info.file_size != info.compress_size:
            return None
        fid = self._mapped_fid
        try:
            fid.fileno()
        except (AttributeError, OSError, ValueError):
            return None
        pos = fid.tell()
        try:
            fid.seek(info.header_offset)
            local = fid.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                return None
            name_len, extra_len = struct.unpack_from("<HH", local, 26)
            start = info.header_offset + 30 + name_len + extra_len
            fid.seek(start)
            try:
                version = _read_magic(fid)
                _check_version(version)
                this: Any = self
                limit = 2**64 if this.allow_pickle else this.max_header_size
                shape, fortran_order, dtype = _read_array_header(fid, version, max_header_size=limit)
            except ValueError:
                return None
            header_len = fid.tell() - start
        finally:
            fid.seek(pos)
        nbytes = math.prod(shape) * dtype.itemsize
        if dtype.hasobject or nbytes == 0 or header_len + nbytes != info.file_size:
            return None
        order = "F" if fortran_order else "C"
        # numpy's stubs want literal modes; this one was checked by npz_mmap_mode.
        memmap: Any = np.memmap
        mapped: np.memmap[Any, Any] = memmap(
            fid, dtype=dtype, mode=self.mmap_mode, offset=start + header_len, shape=shape, order=order
        )
        return mapped
