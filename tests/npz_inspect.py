"""Raw ZIP / .npy inspection and numpy-vs-fastnpz comparison helpers.

Everything here is independent of ``zipfile``'s own reader: the archive is
walked record by record from the raw bytes so that every field numpy (i.e.
CPython's zipfile with ``force_zip64=True``) writes can be compared with what
fastnpz writes.

numpy is always the oracle: helpers take numpy's output and fastnpz's output
for the same input and compare them; nothing is compared against hand-written
expected bytes.
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import os
import pickle
import re
import struct
import threading
import time
import traceback
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

ZIP64_LIMIT = (1 << 31) - 1

SIG_LOCAL = b"PK\x03\x04"
SIG_CENTRAL = b"PK\x01\x02"
SIG_DD = b"PK\x07\x08"
SIG_EOCD = b"PK\x05\x06"
SIG_EOCD64 = b"PK\x06\x06"
SIG_EOCD64_LOC = b"PK\x06\x07"


class ZipParseError(AssertionError):
    pass


@dataclass
class LocalHeader:
    offset: int
    version_needed: int
    flags: int
    method: int
    mod_time: int
    mod_date: int
    crc: int
    csize32: int
    usize32: int
    name: bytes
    extra: bytes
    data_offset: int
    # decoded from the zip64 extra (None when absent)
    z64_usize: int | None = None
    z64_csize: int | None = None
    extra_layout: tuple = ()


@dataclass
class DataDescriptor:
    offset: int
    has_signature: bool
    crc: int
    csize: int
    usize: int
    length: int


@dataclass
class CentralEntry:
    offset: int
    version_made_by: int
    version_needed: int
    flags: int
    method: int
    mod_time: int
    mod_date: int
    crc: int
    csize32: int
    usize32: int
    name: bytes
    extra: bytes
    comment: bytes
    disk_start: int
    internal_attr: int
    external_attr: int
    local_offset32: int
    # resolved values (zip64 extra applied)
    usize: int = 0
    csize: int = 0
    local_offset: int = 0


@dataclass
class Member:
    central: CentralEntry
    local: LocalHeader
    descriptor: DataDescriptor | None
    compressed: bytes
    end: int  # offset just past data (+ descriptor)


@dataclass
class Archive:
    raw: bytes
    base: int  # where the first local header starts (prefix length)
    members: list = field(default_factory=list)
    cd_offset: int = 0
    cd_size: int = 0
    eocd: dict = field(default_factory=dict)
    eocd64: dict | None = None
    eocd64_locator: dict | None = None
    eocd_offset: int = 0
    archive_end: int = 0

    @property
    def names(self):
        return [m.central.name for m in self.members]


def _u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def _u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def _u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def _parse_extra(extra: bytes):
    """Return list of (id, payload) records; raise if malformed."""
    out = []
    o = 0
    while o < len(extra):
        if o + 4 > len(extra):
            raise ZipParseError(f"truncated extra field record at {o}: {extra!r}")
        hid, hlen = struct.unpack_from("<HH", extra, o)
        payload = extra[o + 4:o + 4 + hlen]
        if len(payload) != hlen:
            raise ZipParseError(f"extra record 0x{hid:04x} claims {hlen} bytes, "
                                f"only {len(payload)} present")
        out.append((hid, payload))
        o += 4 + hlen
    return out


def _find_eocd(raw: bytes) -> int:
    # numpy writes no archive comment; the EOCD is normally the last 22 bytes,
    # but a file object positioned over old content can keep trailing bytes,
    # so search backwards.
    pos = raw.rfind(SIG_EOCD)
    while pos >= 0:
        if pos + 22 <= len(raw):
            comment_len = _u16(raw, pos + 20)
            if pos + 22 + comment_len <= len(raw):
                return pos
        pos = raw.rfind(SIG_EOCD, 0, pos)
    raise ZipParseError("no end of central directory record found")


_PARSE_CACHE: dict = {}


def parse_zip(raw: bytes, base: int = 0, eocd_offset: int | None = None) -> Archive:
    raw = bytes(raw)
    key = (len(raw), hash(raw), base, eocd_offset)
    hit = _PARSE_CACHE.get(key)
    if hit is not None and hit.raw == raw:
        return hit
    ar = _parse_zip(raw, base, eocd_offset)
    if len(_PARSE_CACHE) > 8:
        _PARSE_CACHE.clear()
    _PARSE_CACHE[key] = ar
    return ar


def _parse_zip(raw: bytes, base: int = 0, eocd_offset: int | None = None) -> Archive:
    """Parse an archive whose first local header is at ``base``.

    Walks: end record -> (zip64 locator -> zip64 end record) -> central
    directory -> each local header, its data and its data descriptor, and
    checks that the records tile the file contiguously
    (base .. local/data/dd .. central directory .. [zip64 end, locator] .. end).
    """
    raw = bytes(raw)
    ar = Archive(raw=raw, base=base)
    e = _find_eocd(raw) if eocd_offset is None else eocd_offset
    if raw[e:e + 4] != SIG_EOCD:
        raise ZipParseError(f"bad EOCD signature at {e}")
    (disk, cd_disk, n_disk, n_total, cd_size, cd_off,
     comment_len) = struct.unpack_from("<HHHHIIH", raw, e + 4)
    ar.eocd = dict(disk=disk, cd_disk=cd_disk, n_disk=n_disk, n_total=n_total,
                   cd_size=cd_size, cd_offset=cd_off, comment_len=comment_len,
                   comment=raw[e + 22:e + 22 + comment_len])
    ar.eocd_offset = e
    ar.archive_end = e + 22 + comment_len
    n_entries = n_total
    cd_end_expected = e
    if e >= 20 and raw[e - 20:e - 16] == SIG_EOCD64_LOC:
        loc = e - 20
        z_disk, z_off, z_ndisks = struct.unpack_from("<IQI", raw, loc + 4)
        ar.eocd64_locator = dict(disk=z_disk, offset=z_off, total_disks=z_ndisks)
        z = z_off
        if raw[z:z + 4] != SIG_EOCD64:
            raise ZipParseError(f"zip64 locator points at {z}, no zip64 EOCD there")
        (rsize, made_by, needed, d1, d2, nd, nt, csz, cof) = struct.unpack_from(
            "<QHHIIQQQQ", raw, z + 4)
        ar.eocd64 = dict(record_size=rsize, version_made_by=made_by,
                         version_needed=needed, disk=d1, cd_disk=d2, n_disk=nd,
                         n_total=nt, cd_size=csz, cd_offset=cof,
                         extensible=raw[z + 56:z + 12 + rsize])
        if z + 12 + rsize != loc:
            raise ZipParseError("zip64 EOCD record does not end at the locator")
        n_entries, cd_size, cd_off = nt, csz, cof
        cd_end_expected = z
    ar.cd_offset, ar.cd_size = cd_off, cd_size
    if cd_off + cd_size != cd_end_expected:
        raise ZipParseError(
            f"central directory [{cd_off}, +{cd_size}) does not end where the end "
            f"records start ({cd_end_expected})")

    o = cd_off
    centrals = []
    for i in range(n_entries):
        if raw[o:o + 4] != SIG_CENTRAL:
            raise ZipParseError(f"central entry {i}: bad signature at {o}: {raw[o:o+4]!r}")
        (made_by, needed, flags, method, t, d, crc, csz, usz, nlen, xlen, clen,
         dstart, iattr, eattr, loff) = struct.unpack_from("<HHHHHHIIIHHHHHII", raw, o + 4)
        name = raw[o + 46:o + 46 + nlen]
        extra = raw[o + 46 + nlen:o + 46 + nlen + xlen]
        comment = raw[o + 46 + nlen + xlen:o + 46 + nlen + xlen + clen]
        ce = CentralEntry(o, made_by, needed, flags, method, t, d, crc, csz, usz,
                          name, extra, comment, dstart, iattr, eattr, loff)
        ce.usize, ce.csize, ce.local_offset = usz, csz, loff
        for hid, payload in _parse_extra(extra):
            if hid == 1:
                vals = list(struct.unpack_from("<%dQ" % (len(payload) // 8), payload))
                if usz == 0xFFFFFFFF:
                    ce.usize = vals.pop(0)
                if csz == 0xFFFFFFFF:
                    ce.csize = vals.pop(0)
                if loff == 0xFFFFFFFF:
                    ce.local_offset = vals.pop(0)
        centrals.append(ce)
        o += 46 + nlen + xlen + clen
    if o != cd_off + cd_size:
        raise ZipParseError(f"central directory entries end at {o}, "
                            f"expected {cd_off + cd_size}")

    pos = base
    for i, ce in enumerate(centrals):
        lo = ce.local_offset
        if lo != pos:
            raise ZipParseError(
                f"member {i} ({ce.name!r}): local header at {lo}, but previous "
                f"record ended at {pos} (records must be contiguous)")
        if raw[lo:lo + 4] != SIG_LOCAL:
            raise ZipParseError(f"member {i}: bad local signature at {lo}")
        (needed, flags, method, t, d, crc, csz, usz, nlen, xlen) = struct.unpack_from(
            "<HHHHHIIIHH", raw, lo + 4)
        name = raw[lo + 30:lo + 30 + nlen]
        extra = raw[lo + 30 + nlen:lo + 30 + nlen + xlen]
        lh = LocalHeader(lo, needed, flags, method, t, d, crc, csz, usz, name,
                         extra, lo + 30 + nlen + xlen)
        layout = []
        for hid, payload in _parse_extra(extra):
            layout.append((hid, len(payload)))
            if hid == 1 and len(payload) >= 8:
                lh.z64_usize = _u64(payload, 0)
                if len(payload) >= 16:
                    lh.z64_csize = _u64(payload, 8)
        lh.extra_layout = tuple(layout)
        dstart = lh.data_offset
        comp = raw[dstart:dstart + ce.csize]
        if len(comp) != ce.csize:
            raise ZipParseError(f"member {i}: data truncated")
        end = dstart + ce.csize
        dd = None
        if flags & 0x08:
            has_sig = raw[end:end + 4] == SIG_DD
            p = end + (4 if has_sig else 0)
            # zip64 local header => 8-byte sizes in the descriptor
            if lh.z64_usize is not None:
                dcrc, dcs, dus = struct.unpack_from("<IQQ", raw, p)
                ln = (p - end) + 20
            else:
                dcrc, dcs, dus = struct.unpack_from("<III", raw, p)
                ln = (p - end) + 12
            dd = DataDescriptor(end, has_sig, dcrc, dcs, dus, ln)
            end += ln
        ar.members.append(Member(ce, lh, dd, comp, end))
        pos = end
    if pos != cd_off:
        raise ZipParseError(f"last member ends at {pos}, central directory at {cd_off}")
    return ar


# ----------------------------------------------------------------------------
# .npy helpers
# ----------------------------------------------------------------------------

def npy_data_start(member: bytes) -> int:
    assert member[:6] == b"\x93NUMPY", f"not an .npy member: {member[:16]!r}"
    major = member[6]
    if major == 1:
        return 10 + _u16(member, 8)
    return 12 + _u32(member, 8)


def npy_dtype(member: bytes):
    """dtype from an .npy member header (None for pickled/unknown)."""
    from numpy.lib import format as npformat
    f = io.BytesIO(member)
    try:
        ver = npformat.read_magic(f)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if ver == (1, 0):
                _, _, dt = npformat.read_array_header_1_0(f, max_header_size=10**9)
            else:
                _, _, dt = npformat.read_array_header_2_0(f, max_header_size=10**9)
    except Exception:  # noqa: BLE001
        return None
    return dt


def inflate_raw(comp: bytes) -> bytes:
    d = zlib.decompressobj(-15)
    out = d.decompress(comp) + d.flush()
    assert d.eof, "deflate stream has no final block"
    assert d.unused_data == b"", f"{len(d.unused_data)} bytes after end of deflate stream"
    return out


def member_payloads(ar: Archive) -> list[bytes]:
    out = []
    for m in ar.members:
        if m.central.method == 0:
            out.append(m.compressed)
        elif m.central.method == 8:
            out.append(inflate_raw(m.compressed))
        else:
            raise AssertionError(f"unexpected method {m.central.method}")
    return out


# ----------------------------------------------------------------------------
# comparison helpers
# ----------------------------------------------------------------------------

def _fields(obj, names):
    return {n: getattr(obj, n) for n in names}


LOCAL_FIELDS = ("version_needed", "flags", "method", "mod_time", "mod_date",
                "usize32", "name", "extra_layout", "z64_usize")
CENTRAL_FIELDS = ("version_made_by", "version_needed", "flags", "method",
                  "mod_time", "mod_date", "crc", "usize32", "usize", "name",
                  "comment", "disk_start", "internal_attr", "external_attr")


def assert_archives_equivalent(np_raw: bytes, fz_raw: bytes, *, np_base=0,
                               fz_base=0, stored=None, what="", nondeterministic=()):
    """Compare every zip record field except compressed size and the offsets
    that follow from compressed sizes.  Returns (np_archive, fz_archive)."""
    ctx = f" [{what}]" if what else ""
    a = parse_zip(np_raw, np_base)
    try:
        b = parse_zip(fz_raw, fz_base)
    except ZipParseError as exc:
        raise AssertionError(f"fastnpz archive is structurally invalid{ctx}: {exc}") from exc

    assert b.names == a.names, (
        f"member names/order differ{ctx}:\n numpy:   {a.names[:20]}\n fastnpz: {b.names[:20]}")
    assert len(b.members) == len(a.members)
    for i, (ma, mb) in enumerate(zip(a.members, b.members, strict=True)):
        nm = f"{ctx} member {i} {ma.central.name!r}"
        key = ma.central.name.decode("utf-8", "replace")
        key = key[:-4] if key.endswith(".npy") else key
        # CRCs of members with undefined (padding) bytes cannot be compared
        crc_ok = not (nondeterministic == "all" or key in nondeterministic)
        # --- local header -------------------------------------------------
        fa, fb = _fields(ma.local, LOCAL_FIELDS), _fields(mb.local, LOCAL_FIELDS)
        assert fb == fa, f"local header fields differ{nm}:\n numpy:   {fa}\n fastnpz: {fb}"
        assert mb.local.crc == ma.local.crc or (not crc_ok and ma.local.crc), (
            f"local header CRC differs{nm}: numpy {ma.local.crc:#x}, fastnpz {mb.local.crc:#x}")
        # compressed size position: sentinel in 32-bit field + present in extra
        assert (mb.local.csize32 == 0xFFFFFFFF) == (ma.local.csize32 == 0xFFFFFFFF), (
            f"local 32-bit compressed size sentinel differs{nm}: "
            f"numpy {ma.local.csize32:#x}, fastnpz {mb.local.csize32:#x}")
        assert (mb.local.z64_csize is None) == (ma.local.z64_csize is None), (
            f"local zip64 compressed-size presence differs{nm}")
        if ma.local.z64_csize == 0 and ma.descriptor is not None:
            assert mb.local.z64_csize == 0, (
                f"local zip64 compressed size should be 0 before a data descriptor{nm}: "
                f"got {mb.local.z64_csize}")
        elif ma.local.z64_csize is not None:
            assert mb.local.z64_csize == mb.central.csize, (
                f"local zip64 compressed size {mb.local.z64_csize} != actual "
                f"{mb.central.csize}{nm}")
        if ma.local.csize32 not in (0xFFFFFFFF,):
            # non-zip64 local header: the 32-bit field holds the real size (or 0)
            if ma.local.csize32 == 0:
                assert mb.local.csize32 == 0, f"local csize32 should be 0{nm}"
            else:
                assert mb.local.csize32 == mb.central.csize, f"local csize32 wrong{nm}"
        # --- central directory -------------------------------------------
        ca, cb = _fields(ma.central, CENTRAL_FIELDS), _fields(mb.central, CENTRAL_FIELDS)
        if not crc_ok:
            ca.pop("crc"), cb.pop("crc")
        assert cb == ca, f"central directory fields differ{nm}:\n numpy:   {ca}\n fastnpz: {cb}"
        big = max(ma.central.csize, mb.central.csize, ma.central.local_offset,
                  mb.central.local_offset, ma.central.usize) > ZIP64_LIMIT
        if not big:
            assert mb.central.extra == ma.central.extra, (
                f"central extra field differs{nm}: numpy {ma.central.extra!r}, "
                f"fastnpz {mb.central.extra!r}")
            assert (mb.central.csize32 == 0xFFFFFFFF) == (ma.central.csize32 == 0xFFFFFFFF)
            assert (mb.central.local_offset32 == 0xFFFFFFFF) == (
                ma.central.local_offset32 == 0xFFFFFFFF)
        else:
            if mb.central.csize > ZIP64_LIMIT:
                assert mb.central.csize32 == 0xFFFFFFFF, f"csize > limit needs zip64{nm}"
            if mb.central.local_offset > ZIP64_LIMIT:
                assert mb.central.local_offset32 == 0xFFFFFFFF, f"offset > limit needs zip64{nm}"
        # --- data descriptor ----------------------------------------------
        assert (mb.descriptor is None) == (ma.descriptor is None), (
            f"data descriptor presence differs{nm}: numpy "
            f"{ma.descriptor is not None}, fastnpz {mb.descriptor is not None}")
        if ma.descriptor is not None:
            da, db = ma.descriptor, mb.descriptor
            assert (db.has_signature, db.length) == (da.has_signature, da.length), (
                f"data descriptor layout differs{nm}: numpy {da}, fastnpz {db}")
            assert (db.crc if crc_ok else None, db.usize) == (
                da.crc if crc_ok else None, da.usize), (
                f"data descriptor crc/usize differ{nm}: numpy {da}, fastnpz {db}")
            assert db.csize == mb.central.csize, f"descriptor csize != central csize{nm}"
        if stored is True or ma.central.method == 0:
            assert mb.central.csize == mb.central.usize, f"stored member csize != usize{nm}"
        # --- data integrity -------------------------------------------------
        if mb.central.method == 8:
            payload = inflate_raw(mb.compressed)
        else:
            payload = mb.compressed
        assert len(payload) == mb.central.usize, f"payload length != usize{nm}"
        assert zlib.crc32(payload) == mb.central.crc, f"CRC32 does not match payload{nm}"

    # --- end records -----------------------------------------------------
    ea = {k: v for k, v in a.eocd.items() if k not in ("cd_size", "cd_offset")}
    eb = {k: v for k, v in b.eocd.items() if k not in ("cd_size", "cd_offset")}
    assert eb == ea, f"end of central directory differs{ctx}:\n numpy: {ea}\n fastnpz: {eb}"
    assert (b.eocd64 is None) == (a.eocd64 is None), (
        f"zip64 end record presence differs{ctx}: numpy {a.eocd64 is not None}, "
        f"fastnpz {b.eocd64 is not None}")
    if a.eocd64 is not None:
        za = {k: v for k, v in a.eocd64.items() if k not in ("cd_size", "cd_offset")}
        zb = {k: v for k, v in b.eocd64.items() if k not in ("cd_size", "cd_offset")}
        assert zb == za, f"zip64 end record differs{ctx}:\n numpy: {za}\n fastnpz: {zb}"
        la = dict(a.eocd64_locator, offset=None)
        lb = dict(b.eocd64_locator, offset=None)
        assert lb == la, f"zip64 locator differs{ctx}"
    # sentinel usage of the 32-bit cd offset/size must follow the same rule
    for k in ("cd_size", "cd_offset"):
        if max(a.eocd[k], b.eocd[k]) != 0xFFFFFFFF:
            continue
        # one side overflowed: only acceptable when its real value is large
        real_b = b.cd_size if k == "cd_size" else b.cd_offset
        if b.eocd[k] == 0xFFFFFFFF:
            assert real_b > ZIP64_LIMIT or a.eocd[k] == 0xFFFFFFFF
    return a, b


def _longdouble_significant(data: bytes, dtype: np.dtype) -> bytes:
    """Strip the unused bytes of x86 80-bit long doubles."""
    finfo = np.finfo(np.longdouble)
    if finfo.nmant != 63 or np.dtype(np.longdouble).itemsize not in (12, 16):
        return data
    isz = np.dtype(np.longdouble).itemsize
    step = dtype.itemsize
    if dtype.kind == "f":
        parts = [(0, 10)]
    else:
        parts = [(0, 10), (isz, isz + 10)]
    buf = np.frombuffer(data, dtype=np.uint8).reshape(-1, step)
    return b"".join(bytes(buf[:, a:b].tobytes()) for a, b in parts)


def has_undefined_bytes(dt: np.dtype) -> bool:
    """dtype whose raw bytes numpy does not write deterministically
    (long double padding) -- compared via np.load instead."""
    if dt.fields:
        return any(has_undefined_bytes(f[0]) for f in dt.fields.values())
    if dt.subdtype is not None:
        return has_undefined_bytes(dt.subdtype[0])
    return dt.kind in "fc" and dt.type in (np.longdouble, np.clongdouble) and \
        np.finfo(np.longdouble).nmant == 63


def _read_member(f, key):
    """``f[key]``, read once more after CPython 3.11.7's spurious
    ``SystemError: AST constructor recursion depth mismatch`` from the
    ``ast.literal_eval`` numpy parses headers with (CPython gh-106905,
    fixed in 3.11.8): CI's numpy 1.26 step once failed on it, reading
    numpy's own archive, and passed when hypothesis ran the case again."""
    try:
        return f[key]
    except SystemError as e:
        if "recursion depth mismatch" not in str(e):
            raise
        return f[key]


def assert_loaded_equal(np_src, fz_src, what=""):
    ctx = f" [{what}]" if what else ""
    with np.load(np_src, allow_pickle=True) as A, np.load(fz_src, allow_pickle=True) as B:
        assert list(B.files) == list(A.files), f"np.load files differ{ctx}: {A.files} vs {B.files}"
        for k in A.files:
            x, y = _read_member(A, k), _read_member(B, k)
            assert type(y) is type(x), f"{k}: loaded type {type(y)} != {type(x)}{ctx}"
            assert y.dtype == x.dtype, f"{k}: dtype {y.dtype} != numpy's {x.dtype}{ctx}"
            assert y.shape == x.shape, f"{k}: shape {y.shape} != numpy's {x.shape}{ctx}"
            assert y.flags.f_contiguous == x.flags.f_contiguous, f"{k}: f_contiguous{ctx}"
            assert y.flags.c_contiguous == x.flags.c_contiguous, f"{k}: c_contiguous{ctx}"
            if x.dtype.hasobject:
                assert repr(y.tolist()) == repr(x.tolist()) or np.array_equal(
                    y, x), f"{k}: object values differ{ctx}"
            elif x.dtype.names is not None:
                assert _struct_equal(x, y), f"{k}: structured values differ{ctx}"
            else:
                assert _plain_equal(x, y), f"{k}: values differ{ctx}"


def _plain_equal(x, y):
    if x.dtype.kind in "mM":
        return np.array_equal(x.astype("i8"), y.astype("i8"))
    if x.dtype.kind == "V":
        return x.tobytes() == y.tobytes()
    return bool(np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"))


def _struct_equal(x, y):
    if x.dtype.names is None:
        return _plain_equal(x, y)
    return all(_struct_equal(x[n], y[n]) for n in x.dtype.names)


def assert_members_equal(np_raw: bytes, fz_raw: bytes, *, np_base=0, fz_base=0,
                         nondeterministic=(), what=""):
    """Decompressed member bytes identical; for members listed in
    ``nondeterministic`` (names without .npy or 'all') only the .npy header
    bytes are compared here (values via assert_loaded_equal)."""
    ctx = f" [{what}]" if what else ""
    a = parse_zip(np_raw, np_base)
    b = parse_zip(fz_raw, fz_base)
    pa, pb = member_payloads(a), member_payloads(b)
    assert b.names == a.names, f"member names differ{ctx}: {a.names[:10]} vs {b.names[:10]}"
    for name, x, y in zip(a.names, pa, pb, strict=True):
        key = name.decode("utf-8", "replace")
        key = key[:-4] if key.endswith(".npy") else key
        if nondeterministic == "all" or key in nondeterministic:
            sx, sy = npy_data_start(x), npy_data_start(y)
            hx, hy = x[:sx], y[:sy]
            assert hy == hx, f"{key}: .npy header differs{ctx}:\n numpy:   {hx!r}\n fastnpz: {hy!r}"
            assert len(y) == len(x), f"{key}: member length {len(y)} != numpy's {len(x)}{ctx}"
            dt = npy_dtype(x)
            if dt is not None and dt.names is None and dt.subdtype is None \
                    and has_undefined_bytes(dt):
                # plain long double: the significant 10 bytes must be identical
                assert _longdouble_significant(y[sy:], dt) == _longdouble_significant(
                    x[sx:], dt), f"{key}: significant long double bytes differ{ctx}"
            continue
        if y != x:
            i = next((j for j in range(min(len(x), len(y))) if x[j] != y[j]), min(len(x), len(y)))
            raise AssertionError(
                f"{key}: decompressed member bytes differ{ctx} (len numpy {len(x)}, "
                f"fastnpz {len(y)}, first difference at byte {i}):\n"
                f" numpy:   {x[max(0, i-16):i+32]!r}\n fastnpz: {y[max(0, i-16):i+32]!r}")


def assert_testzip_ok(raw: bytes):
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        bad = zf.testzip()
    assert bad is None, f"zipfile.testzip() reports a bad member: {bad!r}"


def assert_full_parity(np_raw, fz_raw, *, np_base=0, fz_base=0, nondeterministic=(),
                       stored=False, what="", check_load=True):
    """Records + member bytes + np.load + testzip."""
    assert_archives_equivalent(np_raw, fz_raw, np_base=np_base, fz_base=fz_base,
                               stored=stored, what=what, nondeterministic=nondeterministic)
    assert_members_equal(np_raw, fz_raw, np_base=np_base, fz_base=fz_base,
                         nondeterministic=nondeterministic, what=what)
    assert_testzip_ok(fz_raw)
    if check_load:
        assert_loaded_equal(io.BytesIO(np_raw), io.BytesIO(fz_raw), what=what)


def record_call(func, *args, **kwargs):
    """Call and return (result, exception, [(category, message)]).

    After an exception, the frames it holds are cleared and garbage is
    collected at once: numpy 1.x's savez leaves its ZipFile open on error,
    and that ZipFile's ``__del__`` raising at a random later collection
    once landed inside CPython 3.11.7's AST constructor, whose traceback
    formatting (pytest's unraisable-exception hook) parsed source again and
    broke the outer parse ("AST constructor recursion depth mismatch",
    CPython gh-106905) in whatever test ran then."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            res, exc = func(*args, **kwargs), None
        except Exception as e:  # noqa: BLE001
            res, exc = None, e
            traceback.clear_frames(e.__traceback__)
            gc.collect()
    return res, exc, [(x.category, str(x.message)) for x in w]


@contextlib.contextmanager
def fifo_drained(path):
    """Make a FIFO at ``path`` and drain it from a Python thread while the
    block runs (that thread needs the GIL, so a writer holding it through
    a blocking write would hang); yields the list the chunks go to, complete
    once the block has ended."""
    os.mkfifo(path)
    rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    chunks, done = [], threading.Event()

    def reader():
        while True:
            try:
                c = os.read(rfd, 65536)
            except BlockingIOError:
                c = None
            if c:
                chunks.append(c)
            elif done.is_set():
                return
            else:
                time.sleep(0.002)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        yield chunks
    finally:
        done.set()
        t.join(10)
        os.close(rfd)
    assert not t.is_alive(), "the FIFO reader did not finish"


def first_diff(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def assert_bytes_identical(np_raw: bytes, fz_raw: bytes, what=""):
    if np_raw == fz_raw:
        return
    i = first_diff(np_raw, fz_raw)
    raise AssertionError(
        f"archive bytes differ from numpy's{' [' + what + ']' if what else ''}: "
        f"len numpy {len(np_raw)}, fastnpz {len(fz_raw)}, first difference at {i}:\n"
        f" numpy:   {np_raw[max(0, i-24):i+40]!r}\n fastnpz: {fz_raw[max(0, i-24):i+40]!r}")


# ----------------------------------------------------------------------------
# numpy vs fastnpz drivers
# ----------------------------------------------------------------------------

def funcs(kind):
    """(numpy function, fastnpz function) for 'savez_compressed' / 'savez'."""
    import fastnpz
    return getattr(np, kind), getattr(fastnpz, kind)


def save_bytes(func, *args, **kwargs):
    """Save into a fresh BytesIO; return (bytes, warnings, exception)."""
    buf = io.BytesIO()
    res, exc, w = record_call(func, buf, *args, **kwargs)
    return buf.getvalue(), w, exc


def check_parity(kind, *args, nondeterministic=(), what="", check_load=True, **kwargs):
    """Save ``args``/``kwargs`` with numpy and fastnpz (``kind`` is
    'savez_compressed' or 'savez') into BytesIO and compare everything.
    Returns (numpy bytes, fastnpz bytes)."""
    npf, fzf = funcs(kind)
    np_raw, np_w, np_exc = save_bytes(npf, *args, **kwargs)
    fz_raw, fz_w, fz_exc = save_bytes(fzf, *args, **kwargs)
    if np_exc is not None or fz_exc is not None:
        raise AssertionError(
            f"unexpected exception{' [' + what + ']' if what else ''}: numpy raised "
            f"{np_exc!r}, fastnpz raised {fz_exc!r}")
    assert fz_w == np_w, f"warnings differ [{what}]:\n numpy:   {np_w}\n fastnpz: {fz_w}"
    if kind == "savez" and not nondeterministic and np_raw == fz_raw:
        # byte-identical to numpy's archive: nothing more to compare
        return np_raw, fz_raw
    assert_full_parity(np_raw, fz_raw, nondeterministic=nondeterministic,
                       stored=(kind == "savez"), what=what, check_load=check_load)
    if kind == "savez" and not nondeterministic:
        assert_bytes_identical(np_raw, fz_raw, what=what)
    return np_raw, fz_raw


class RecordingStream:
    """A minimal binary file object: keeps what is written, ``write``
    returns the count, ``read`` gives nothing, no ``tell``/``seek`` (so
    zipfile treats it as unseekable). Tests subclass it for other shapes."""

    def __init__(self, prefix=b""):
        self.data = bytearray(prefix)

    def write(self, b):
        self.data += bytes(b)
        return len(b)

    def read(self, n=-1):
        return b""

    def flush(self):
        pass


class Unseekable(RecordingStream):
    """tell() and seek() raise OSError (tell() works with ``tell_ok``);
    records flushes and close() calls."""

    def __init__(self, tell_ok=False, prefix=b""):
        super().__init__(prefix)
        self.tell_ok = tell_ok
        self.flushed_upto = -1
        self.closed_called = False

    def read(self, n=-1):
        raise OSError("not readable")

    def flush(self):
        self.flushed_upto = len(self.data)

    def tell(self):
        if self.tell_ok:
            return len(self.data)
        raise OSError("unseekable")

    def seek(self, *a):
        raise OSError("unseekable")

    def close(self):
        self.closed_called = True


# ----------------------------------------------------------------------------
# load parity: numpy.load is the oracle for fastnpz.load
# ----------------------------------------------------------------------------

#: With this variable set to 1 the load tests run numpy's own np.load as the
#: loader under test, to validate the tests before fastnpz.load exists.
LOAD_ORACLE_ENV = "FASTNPZ_TEST_LOAD_ORACLE"


class LoaderMissing(BaseException):
    """Raised by the stand-in for a missing fastnpz.load. Not an Exception,
    so no helper records it as an outcome: every test using it fails."""


class fastnpz_has_no_NpzFile:  # named so that a failing issubclass reads as the cause
    pass


def loader_under_test():
    """``(load, NpzFile)`` under test: fastnpz's, or numpy's own with
    FASTNPZ_TEST_LOAD_ORACLE=1. Stand-ins that fail the tests replace what
    fastnpz lacks (a missing loader must fail the load tests, not skip
    them)."""
    if os.environ.get(LOAD_ORACLE_ENV) == "1":
        return np.load, np.lib.npyio.NpzFile
    import fastnpz

    def missing_load(*args, **kwargs):
        raise LoaderMissing(f"fastnpz has no load; set {LOAD_ORACLE_ENV}=1 to run the "
                            "load tests against numpy.load itself")
    return (getattr(fastnpz, "load", missing_load),
            getattr(fastnpz, "NpzFile", fastnpz_has_no_NpzFile))


# Object addresses in messages (reprs of file objects) differ between the
# fresh sources each loader is given.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def exc_key(exc):
    """What must match for an exception: exact type, message, cause type."""
    cause = exc.__cause__
    return ("raises", type(exc), _ADDRESS.sub(" at 0x?", str(exc)),
            None if cause is None else type(cause))


def _digest(data):
    # Large members would make assertion diffs unreadable: hash plus a head.
    data = bytes(data)
    return len(data), hashlib.sha256(data).hexdigest()[:24], data[:48]


def _pickled(obj):
    try:
        return pickle.dumps(obj, protocol=4)
    except Exception:  # noqa: BLE001 - unpicklable values compare by repr
        return repr(obj).encode()


def array_key(a):
    """Everything observable about a loaded array that numpy fixes: class,
    dtype (also its repr, so metadata/StringDType na_object count), shape,
    strides (for more than one element; numpy's choice for empty or
    single-element arrays is arbitrary), contiguity, writeable/owndata/
    aligned, whether it has a base, and the values bit for bit."""
    f = a.flags
    key = {
        "type": type(a), "dtype": a.dtype, "dtype_repr": repr(a.dtype),
        "shape": a.shape, "strides": a.strides if a.size > 1 else None,
        "c_contiguous": f.c_contiguous, "f_contiguous": f.f_contiguous,
        "writeable": f.writeable, "owndata": f.owndata, "aligned": f.aligned,
        "base_is_none": a.base is None,
    }
    if isinstance(a, np.memmap):
        key["memmap"] = (a.filename, a.offset, a.mode)
    if a.dtype.hasobject or a.dtype.kind == "T" or isinstance(a, np.ma.MaskedArray):
        key["values"] = _digest(_pickled(a))
    else:
        key["values"] = _digest(_significant_bytes(a))
    return key


def _significant_bytes(a):
    """Field by field for structured arrays: numpy's read_array assigns
    chunks into an uninitialised array, so padding bytes are garbage."""
    if a.dtype.names is None:
        return _memory_bytes(a)
    return b"".join(_significant_bytes(a[name]) for name in a.dtype.names)


def _memory_bytes(a):
    """The bytes in the array's memory (bit-exact, NaN payloads included)."""
    if a.size == 0 or a.dtype.itemsize == 0:
        return b""
    c = a if a.flags.c_contiguous else a.T
    if not c.flags.c_contiguous:
        return a.tobytes()
    return c.reshape(-1).view(np.uint8).tobytes()


def value_key(v):
    if isinstance(v, np.ndarray):
        return ("array", array_key(v))
    if isinstance(v, bytes):
        return ("bytes", _digest(v))
    return ("object", type(v), _digest(_pickled(v)))


def _warning_keys(caught):
    # A ResourceWarning fires whenever the garbage collector finds some
    # earlier test's leaked file, inside whatever call is being recorded:
    # the load tests check those separately.
    return [(w.category, _ADDRESS.sub(" at 0x?", str(w.message))) for w in caught
            if not issubclass(w.category, ResourceWarning)]


def call_key(func, *args, **kwargs):
    """``(result or None, key)``: the key holds the value or the exception,
    and the warnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = func(*args, **kwargs)
        except Exception as e:  # noqa: BLE001
            return None, (exc_key(e), _warning_keys(caught))
    return res, (None, _warning_keys(caught))


def load_events(load, source, *, read=True, **kwargs):
    """Load ``source()`` (a fresh source per call) and read every member of
    an npz. Returns the list of observable events, in order."""
    res, key = call_key(load, source(), **kwargs)
    events = [("load", key)]
    if res is None:
        return events
    if not isinstance(res, np.lib.npyio.NpzFile):
        events.append(("value", value_key(res)))
        return events
    try:
        events.append(("files", list(res.files), len(res)))
        if read:
            for name in res.files:
                v, key = call_key(res.__getitem__, name)
                events.append(("member", name, key, None if v is None else value_key(v)))
    finally:
        res.close()
    return events


def assert_same_events(np_events, fz_events, what=""):
    if fz_events == np_events:
        return
    ctx = f" [{what}]" if what else ""
    for i, (a, b) in enumerate(zip(np_events, fz_events, strict=False)):
        if a != b:
            raise AssertionError(f"load outcome differs from numpy's at event {i}{ctx}:\n"
                                 f" numpy:   {a!r}\n fastnpz: {b!r}")
    raise AssertionError(f"load outcome differs from numpy's{ctx}: numpy gave "
                         f"{len(np_events)} events, fastnpz {len(fz_events)}:\n"
                         f" numpy:   {np_events[len(fz_events):][:3]!r}\n"
                         f" fastnpz: {fz_events[len(np_events):][:3]!r}")


def compare_load(load, source, what="", **kwargs):
    """np.load and ``load`` on fresh sources from ``source()``: the same
    events (values, flags, exceptions, warnings). Returns numpy's events."""
    np_events = load_events(np.load, source, **kwargs)
    fz_events = load_events(load, source, **kwargs)
    assert_same_events(np_events, fz_events, what)
    return np_events
