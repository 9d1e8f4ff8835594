"""Parity tooling for test suites: compare ``.npz`` archives by content.

fastnpz promises archives whose members (names, order, decompressed ``.npy``
bytes) are identical to numpy's, while the compressed bytes legitimately
differ. :func:`assert_npz_equal` checks exactly that promise and explains a
failure (missing, extra or reordered members; the first differing byte of a
member, decoded as a ``.npy`` header field or an array element).

Examples
--------
>>> import io, numpy as np, fastnpz
>>> from fastnpz.testing import assert_npz_equal
>>> a, b = io.BytesIO(), io.BytesIO()
>>> np.savez_compressed(a, x=np.arange(5))
>>> fastnpz.savez_compressed(b, x=np.arange(5))
>>> assert_npz_equal(a.getvalue(), b.getvalue())
"""

from __future__ import annotations

import ast
import collections
import io
import os
import struct
import zipfile
import zlib
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.lib import format as npformat

if TYPE_CHECKING:
    from _typeshed import SupportsRead

    _Source: TypeAlias = (
        str | os.PathLike[str] | os.PathLike[bytes] | bytes | bytearray | memoryview | SupportsRead[bytes]
    )

__all__ = ["assert_npz_equal", "npz_members"]

_NPY_MAGIC = b"\x93NUMPY"
#: Members described in detail in one failure message; the rest are listed.
_MAX_DETAILED = 10
#: Bytes of hex context shown on each side of the first differing byte.
_HEX_CONTEXT = 8


# ---------------------------------------------------------------------------
# Reading archives
# ---------------------------------------------------------------------------


def _read_source(source: Any) -> tuple[bytes, str]:
    """The raw archive bytes of a path, a bytes-like object or a binary file
    object (read from its current position, which is restored afterwards
    when the file is seekable), and a hint for when they are not an archive:
    a file object left at the end of what was just written to it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), ""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            return fh.read(), ""
    read = getattr(source, "read", None)
    if read is None:
        raise TypeError(
            "expected a path (str or os.PathLike), bytes, or a binary file object, "
            f"got {type(source).__name__}"
        )
    position = None
    seekable = getattr(source, "seekable", None)
    try:
        if seekable is None or seekable():
            position = source.tell()
    except (AttributeError, OSError, ValueError):
        position = None
    try:
        data = read()
    finally:
        if position is not None:
            source.seek(position)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"file object must be opened in binary mode: read() returned {type(data).__name__}")
    hint = ""
    if position:
        hint = (
            f"the {type(source).__name__} was read from its current position, {position}, "
            f"where {len(data)} bytes remain; after writing an archive to a file object, "
            "call .seek(0) before comparing it (or pass .getvalue() of a BytesIO)"
        )
    return bytes(data), hint


def _archive(source: Any) -> list[tuple[str, bytes]]:
    """The entries of ``source``; a file object not at the archive's start
    makes BadZipFile say so."""
    data, hint = _read_source(source)
    try:
        return _entries(data)
    except zipfile.BadZipFile as exc:
        if not hint:
            raise
        raise zipfile.BadZipFile(f"{exc}: {hint}") from exc


def _entries(data: bytes) -> list[tuple[str, bytes]]:
    """``(name, decompressed bytes)`` for every entry, in archive order
    (duplicated names included); CRCs are checked by zipfile."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info.filename, zf.read(info)) for info in zf.infolist()]


def npz_members(source: _Source) -> dict[str, bytes]:
    """Return the decompressed members of an ``.npz`` archive.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file object
        The archive. A file object is read from its current position, which
        is restored afterwards when the file is seekable.

    Returns
    -------
    dict of str to bytes
        Member name as stored in the zip (``"x.npy"``, not ``"x"``) to its
        decompressed bytes (the whole ``.npy`` file, header included), in
        archive order. Should a name occur more than once, the dict keeps the
        first one's position and the last one's bytes, as ``zipfile`` reads.

    Raises
    ------
    TypeError
        If ``source`` is none of the accepted types.
    zipfile.BadZipFile
        If ``source`` is not a zip archive or a member fails its CRC check;
        for a file object read from past its start (a BytesIO just written
        to), the message says to ``seek(0)`` first.

    See Also
    --------
    assert_npz_equal : Compare two archives member by member.

    Examples
    --------
    >>> import io, numpy as np, fastnpz
    >>> from fastnpz.testing import npz_members
    >>> buf = io.BytesIO()
    >>> fastnpz.savez(buf, np.zeros(2), y=np.ones(1))
    >>> members = npz_members(buf.getvalue())
    >>> list(members)
    ['y.npy', 'arr_0.npy']
    >>> members["y.npy"][:6]
    b'\\x93NUMPY'
    """
    return dict(_archive(source))


# ---------------------------------------------------------------------------
# Describing .npy members
# ---------------------------------------------------------------------------


class _NpyHeader:
    """A parsed ``.npy`` header: the decoded dict, its total length in bytes
    (magic, version, length field, text and padding), and, when numpy can
    read it, the dtype, shape and order."""

    def __init__(self, data: bytes) -> None:
        self.info: dict[str, Any] | None = None
        self.length = 0
        self.dtype: np.dtype[Any] | None = None
        self.shape: tuple[int, ...] = ()
        self.fortran_order = False
        self.error: str | None = None
        if not data.startswith(_NPY_MAGIC):
            self.error = "not a .npy file (no \\x93NUMPY magic)"
            return
        try:
            major, minor = npformat.read_magic(io.BytesIO(data))
            if major == 1:
                (text_length,) = struct.unpack("<H", data[8:10])
                start = 10
            else:
                (text_length,) = struct.unpack("<I", data[8:12])
                start = 12
            raw = data[start : start + text_length]
            if len(raw) != text_length:
                raise ValueError("header is truncated")
            text = raw.decode("utf-8" if major >= 3 else "latin1")
            self.length = start + text_length
            info = ast.literal_eval(text)
            if not isinstance(info, dict):
                raise ValueError(f"header is not a dict: {text!r}")
            self.info = info
            self.dtype = npformat.descr_to_dtype(info["descr"])
            self.shape = tuple(info["shape"])
            self.fortran_order = bool(info["fortran_order"])
        except Exception as exc:  # noqa: BLE001 - describe, never fail the description
            self.error = f"unreadable .npy header ({type(exc).__name__}: {exc})"

    @property
    def plain(self) -> bool:
        """True when the data are raw elements of a fixed-size dtype (not a
        pickle, as object dtypes are stored)."""
        return self.dtype is not None and not self.dtype.hasobject and self.dtype.itemsize > 0

    def describe(self) -> str:
        if self.info is None:
            return self.error or "?"
        return repr(self.info)


def _first_difference(a: bytes, b: bytes) -> int:
    """Offset of the first differing byte; ``min(len)`` if one is a prefix."""
    n = min(len(a), len(b))
    if n:
        va = np.frombuffer(a, dtype=np.uint8, count=n)
        vb = np.frombuffer(b, dtype=np.uint8, count=n)
        diff = np.flatnonzero(va != vb)
        if diff.size:
            return int(diff[0])
    return n


def _hex_context(data: bytes, offset: int) -> str:
    """``data`` around ``offset`` in hex, the byte at ``offset`` bracketed."""
    start = max(0, offset - _HEX_CONTEXT)
    stop = min(len(data), offset + _HEX_CONTEXT + 1)
    parts = []
    for i in range(start, stop):
        parts.append(f"[{data[i]:02x}]" if i == offset else f"{data[i]:02x}")
    if offset >= len(data):
        parts.append("[<end>]")
    return f"@0x{start:06x}: " + " ".join(parts)


def _element(data: bytes, header: _NpyHeader, index: int) -> str:
    assert header.dtype is not None
    itemsize = header.dtype.itemsize
    start = header.length + index * itemsize
    if start + itemsize > len(data):
        return "<missing>"
    value = np.frombuffer(data, dtype=header.dtype, count=1, offset=start)[0]
    return str(value)


def _describe_data_difference(
    name: str, actual: bytes, desired: bytes, header: _NpyHeader, offset: int
) -> list[str]:
    assert header.dtype is not None
    itemsize = header.dtype.itemsize
    flat = (offset - header.length) // itemsize
    byte_in_element = (offset - header.length) % itemsize
    lines = []
    count = int(np.prod(header.shape, dtype=np.int64))
    where = f"element {flat} (flat, in stored {'Fortran' if header.fortran_order else 'C'} order)"
    if 0 <= flat < count and header.shape:
        index = tuple(int(i) for i in np.unravel_index(flat, header.shape, order="F" if header.fortran_order else "C"))
        where += f", index {index}"
    lines.append(f"  data differ at {where}, byte {byte_in_element} of {itemsize}, dtype {header.dtype}:")
    lines.append(f"    actual[{flat}]  = {_element(actual, header, flat)}")
    lines.append(f"    desired[{flat}] = {_element(desired, header, flat)}")
    if len(actual) == len(desired) and (len(actual) - header.length) % itemsize == 0:
        n = (len(actual) - header.length) // itemsize
        va = np.frombuffer(actual, dtype=np.uint8, offset=header.length).reshape(n, itemsize)
        vd = np.frombuffer(desired, dtype=np.uint8, offset=header.length).reshape(n, itemsize)
        differing = int(np.count_nonzero((va != vd).any(axis=1)))
        lines.append(f"  {differing} of {n} elements differ")
    return lines


def _describe_member(name: str, actual: bytes, desired: bytes) -> list[str]:
    offset = _first_difference(actual, desired)
    lines = [
        f"member {name!r} differs: actual {len(actual)} bytes, desired {len(desired)} bytes, "
        f"first difference at byte {offset}"
    ]
    if offset >= min(len(actual), len(desired)):
        shorter = "actual" if len(actual) < len(desired) else "desired"
        lines.append(f"  {shorter} is a truncated copy of the other (they agree up to byte {offset})")
    ha, hd = _NpyHeader(actual), _NpyHeader(desired)
    if ha.info is None and hd.info is None:
        lines.append(f"  neither is a readable .npy file: actual {ha.error}; desired {hd.error}")
    elif offset < max(ha.length, hd.length) or ha.info is None or hd.info is None:
        lines.append(f"  difference is in the .npy header (length: actual {ha.length}, desired {hd.length}):")
        lines.append(f"    actual header:  {ha.describe()}")
        lines.append(f"    desired header: {hd.describe()}")
        if ha.info is not None and ha.info == hd.info:
            lines.append("    (the decoded dicts are equal: the header text, spacing or padding differ)")
    elif ha.plain:
        lines.extend(_describe_data_difference(name, actual, desired, ha, offset))
    else:
        kind = "pickled object data" if ha.dtype is not None and ha.dtype.hasobject else "data"
        lines.append(f"  difference is in the {kind}, byte {offset - ha.length} after the header (dtype {ha.dtype})")
    lines.append(f"  actual  {_hex_context(actual, offset)}")
    lines.append(f"  desired {_hex_context(desired, offset)}")
    return lines


# ---------------------------------------------------------------------------
# The assertion
# ---------------------------------------------------------------------------


def _load(source: Any, which: str, err_msg: str) -> list[tuple[str, bytes]]:
    data, hint = _read_source(source)
    try:
        return _entries(data)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        message = f"cannot read the {which} archive: {type(exc).__name__}: {exc}"
        if hint:
            message += f"\n{hint}"
        if err_msg:
            message += "\n" + err_msg
        raise AssertionError(message) from exc


def _names_message(actual: list[str], desired: list[str], check_order: bool) -> list[str]:
    lines: list[str] = []
    count_a, count_d = collections.Counter(actual), collections.Counter(desired)
    missing = list((count_d - count_a).elements())
    extra = list((count_a - count_d).elements())
    if missing:
        lines.append(f"missing members (in desired, not in actual): {missing}")
    if extra:
        lines.append(f"extra members (in actual, not in desired): {extra}")
    if check_order and not missing and not extra and actual != desired:
        position = next(i for i, (x, y) in enumerate(zip(actual, desired, strict=True)) if x != y)
        lines.append(
            f"members are in a different order (first at position {position}: "
            f"actual {actual[position]!r}, desired {desired[position]!r}; "
            "pass check_order=False to ignore the order)"
        )
    if lines:
        lines.append(f"  actual members:  {actual}")
        lines.append(f"  desired members: {desired}")
    return lines


def assert_npz_equal(actual: _Source, desired: _Source, *, check_order: bool = True, err_msg: str = "") -> None:
    """Assert that two ``.npz`` archives hold the same members, byte for byte.

    Compares what :func:`numpy.load` reads, not how it was compressed: the
    member names, their order (unless ``check_order=False``) and each
    member's *decompressed* bytes (the whole ``.npy`` file: header, then
    data). Compressed bytes, compressed sizes and offsets may differ, as
    they do between fastnpz and numpy.

    Parameters
    ----------
    actual, desired : str, os.PathLike, bytes or binary file object
        The archives. A file object is read from its current position (so
        seek back to the start after writing one), which is restored
        afterwards when the file is seekable.
    check_order : bool, optional
        Also require the members in the same order. Default: True (numpy
        writes keyword arrays first, in call order, then ``arr_0``, ...).
    err_msg : str, optional
        Added to the failure message.

    Raises
    ------
    AssertionError
        If the archives differ, or one cannot be read as a zip archive (for
        a file object read from past its start, the message says to
        ``seek(0)`` first). The message lists missing, extra or reordered members and, for each
        differing member, its name, both sizes, the first differing byte and
        whether it lies in the ``.npy`` header (both header dicts shown) or
        in the data (the element index and both values, for fixed-size
        dtypes), with a hex excerpt of both.
    TypeError
        If an argument is none of the accepted types.

    See Also
    --------
    npz_members : The decompressed members themselves.
    numpy.testing.assert_array_equal : Compare loaded arrays instead.

    Examples
    --------
    >>> import io, numpy as np, fastnpz
    >>> from fastnpz.testing import assert_npz_equal
    >>> expected, got = io.BytesIO(), io.BytesIO()
    >>> np.savez_compressed(expected, w=np.eye(3), b=np.zeros(3))
    >>> fastnpz.savez_compressed(got, w=np.eye(3), b=np.zeros(3))
    >>> assert_npz_equal(got.getvalue(), expected.getvalue())

    A difference is located and decoded:

    >>> got = io.BytesIO()
    >>> fastnpz.savez_compressed(got, w=np.eye(3), b=np.ones(3))
    >>> assert_npz_equal(got.getvalue(), expected.getvalue())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    AssertionError: ...
    member 'b.npy' differs: actual 152 bytes, desired 152 bytes, first difference at byte 134
      data differ at element 0 (flat, in stored C order), index (0,), byte 6 of 8, dtype float64:
        actual[0]  = 1.0
        desired[0] = 0.0
      3 of 3 elements differ
    ...
    """
    entries_a = _load(actual, "actual", err_msg)
    entries_d = _load(desired, "desired", err_msg)
    names_a = [name for name, _ in entries_a]
    names_d = [name for name, _ in entries_d]

    lines = _names_message(names_a, names_d, check_order)

    # Pair members by name (the n-th occurrence with the n-th, for names
    # stored more than once), in the desired archive's order.
    by_name: dict[str, list[bytes]] = collections.defaultdict(list)
    for name, data in entries_a:
        by_name[name].append(data)
    seen: collections.Counter[str] = collections.Counter()
    differing: list[tuple[str, bytes, bytes]] = []
    for name, data_d in entries_d:
        occurrence = seen[name]
        seen[name] += 1
        candidates = by_name.get(name, [])
        if occurrence < len(candidates) and candidates[occurrence] != data_d:
            label = name if occurrence == 0 else f"{name} (occurrence {occurrence + 1})"
            differing.append((label, candidates[occurrence], data_d))

    if differing:
        lines.append(f"{len(differing)} member(s) differ after decompression: {[d[0] for d in differing]}")
        for label, data_a, data_d in differing[:_MAX_DETAILED]:
            lines.extend(_describe_member(label, data_a, data_d))
        if len(differing) > _MAX_DETAILED:
            lines.append(f"... and {len(differing) - _MAX_DETAILED} more differing member(s)")

    if lines:
        head = ["", "NPZ archives are not equal"]
        if err_msg:
            head.append(err_msg)
        raise AssertionError("\n".join(head + lines))
