"""Corrupt and hostile archives: the loader under test must fail exactly as
numpy.load fails on the same bytes.

Small archives (numpy- and fastnpz-written, stored and deflated, seekable and
with data descriptors, with zip64 records, and a fastnpz member of several
chunks) are truncated at every record boundary and a sample of offsets,
have every byte of their zip records flipped and a sample of their
compressed bytes, and have single fields set to lying values. Each variant is
opened and every member read with numpy.load and with the loader under test;
the outcomes (exception type, message and cause at open and per member, or
the arrays with their flags and bits) must be the same. Hand-made cases cover
size lies, bad CRCs, overlapping entries, name mismatches, lying .npy headers,
trailing bytes after the deflate stream, and, in a child process under an
address-space limit, headers and zip fields that declare far more data than
there is (nothing may be allocated for them).
"""
import functools
import io
import os
import random
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib

import numpy as np
import pytest

import fastnpz
from npz_inspect import (
    LOAD_ORACLE_ENV,
    Unseekable,
    assert_same_events,
    load_events,
    parse_zip,
)

ARRS = {
    "a": np.arange(300, dtype="<i4") % 7,
    "f": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "z": np.array(2.5),
}


def _save(func, stream=False, **arrs):
    target = Unseekable() if stream else io.BytesIO()
    func(target, **arrs)
    return bytes(target.data) if stream else target.getvalue()


def _multichunk():
    rng = np.random.default_rng(11)
    big = np.concatenate([rng.standard_normal(150_000), np.arange(200_000) % 97.0])  # 2.7 MiB
    return _save(fastnpz.savez_compressed, big=big, small=np.arange(5))


# ---------------------------------------------------------------------------
# a tiny zip model: re-emit a parsed archive with fields changed
# ---------------------------------------------------------------------------

def _members(raw):
    """Editable copies of each member: local record bytes, data, data
    descriptor and the central directory fields."""
    ar = parse_zip(raw)
    out = []
    for m in ar.members:
        c = m.central
        data_end = m.local.data_offset + c.csize
        out.append({
            "local": bytearray(raw[m.local.offset:m.local.data_offset]),
            "data": raw[m.local.data_offset:data_end],
            "dd": raw[data_end:m.end],
            "made_by": c.version_made_by, "needed": c.version_needed, "flags": c.flags,
            "method": c.method, "time": c.mod_time, "date": c.mod_date, "crc": c.crc,
            "csize": c.csize, "usize": c.usize, "name": c.name, "comment": c.comment,
            "disk": c.disk_start, "iattr": c.internal_attr, "eattr": c.external_attr,
            "offset": None,  # None: where the local record lands
        })
    return out


def build(members, *, zip64_cd=False, zip64_end=False, comment=b"", count=None):
    """Write ``members`` (as from :func:`_members`) as an archive: local
    records in order, then the central directory (with zip64 extras for
    sizes and offsets when ``zip64_cd``), the zip64 end record and locator
    when ``zip64_end``, and the end record."""
    out = bytearray()
    cd = bytearray()
    for m in members:
        offset = len(out) if m["offset"] is None else m["offset"]
        out += m["local"] + m["data"] + m["dd"]
        if zip64_cd:
            extra = struct.pack("<HHQQQ", 1, 24, m["usize"], m["csize"], offset)
            usize32 = csize32 = offset32 = 0xFFFFFFFF
        else:
            extra, usize32, csize32, offset32 = b"", m["usize"], m["csize"], offset
        cd += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", m["made_by"], m["needed"], m["flags"],
                          m["method"], m["time"], m["date"], m["crc"], csize32, usize32,
                          len(m["name"]), len(extra), len(m["comment"]), m["disk"],
                          m["iattr"], m["eattr"], offset32)
        cd += m["name"] + extra + m["comment"]
    cd_offset = len(out)
    out += cd
    n = len(members) if count is None else count
    if zip64_end:
        z64 = len(out)
        out += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(cd),
                           cd_offset)
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, z64, 1)
        out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                           0xFFFFFFFF, len(comment))
    else:
        out += struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, n, n, len(cd), cd_offset,
                           len(comment))
    return bytes(out + comment)


@functools.cache
def base(name):
    np_c, np_s = np.savez_compressed, np.savez
    fz_c, fz_s = fastnpz.savez_compressed, fastnpz.savez
    makers = {
        "np_deflated": lambda: _save(np_c, **ARRS),
        "np_stored": lambda: _save(np_s, **ARRS),
        "np_deflated_descriptors": lambda: _save(np_c, stream=True, **ARRS),
        "np_stored_descriptors": lambda: _save(np_s, stream=True, **ARRS),
        "fz_deflated": lambda: _save(fz_c, **ARRS),
        "fz_stored": lambda: _save(fz_s, **ARRS),
        "fz_deflated_descriptors": lambda: _save(fz_c, stream=True, **ARRS),
        "np_zip64_records": lambda: build(_members(_save(np_c, **ARRS)), zip64_cd=True,
                                          zip64_end=True),
        "fz_multichunk": _multichunk,
    }
    return makers[name]()


SMALL_BASES = ["np_deflated", "np_stored", "np_deflated_descriptors", "np_stored_descriptors",
               "fz_deflated", "fz_stored", "fz_deflated_descriptors", "np_zip64_records"]


def test_bases_are_what_they_claim():
    """The base archives load cleanly, and have the records named."""
    for name in [*SMALL_BASES, "fz_multichunk"]:
        raw = base(name)
        ar = parse_zip(raw)
        with np.load(io.BytesIO(raw)) as f:
            for k in f.files:
                f[k]
        has_dd = [m.descriptor is not None for m in ar.members]
        assert all(has_dd) == ("descriptors" in name), name
        assert {m.central.method for m in ar.members} == ({0} if "stored" in name else {8}), name
        assert (ar.eocd64 is not None) == ("zip64" in name), name
    assert parse_zip(base("np_zip64_records")).members[0].central.extra[:2] == b"\x01\x00"
    assert parse_zip(base("fz_multichunk")).members[0].central.usize > 2 * 2**20


# ---------------------------------------------------------------------------
# running variants
# ---------------------------------------------------------------------------

class Mismatches:
    """Collects every variant whose outcome differs, to report them all."""

    def __init__(self, fzload, source="bytesio", tmp_path=None, **kwargs):
        self.fzload, self.source, self.kwargs = fzload, source, kwargs
        self.path = None if tmp_path is None else tmp_path / "variant.npz"
        self.found = []
        self.count = 0

    def _src(self, raw):
        if self.source == "bytesio":
            return lambda: io.BytesIO(raw)
        self.path.write_bytes(raw)
        return lambda: str(self.path)

    def check(self, raw, what):
        self.count += 1
        src = self._src(raw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            np_events = load_events(np.load, src, **self.kwargs)
            fz_events = load_events(self.fzload, src, **self.kwargs)
        try:
            assert_same_events(np_events, fz_events, what)
        except AssertionError as e:
            self.found.append(str(e))
        return np_events

    def assert_none(self):
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        assert self.count > 0
        if self.found:
            shown = "\n\n".join(self.found[:8])
            raise AssertionError(f"{len(self.found)} of {self.count} corrupt variants load "
                                 f"differently from numpy:\n\n{shown}")


def _regions(raw):
    """(name, start, end) of every zip record in the archive."""
    ar = parse_zip(raw)
    out = []
    for i, m in enumerate(ar.members):
        data = m.local.data_offset
        out.append((f"local_header_{i}", m.local.offset, data))
        out.append((f"data_{i}", data, data + m.central.csize))
        if m.descriptor is not None:
            out.append((f"descriptor_{i}", m.descriptor.offset, m.end))
    nxt = [m.central.offset for m in ar.members[1:]] + [ar.cd_offset + ar.cd_size]
    for i, m in enumerate(ar.members):
        out.append((f"central_{i}", m.central.offset, nxt[i]))
    if ar.eocd64 is not None:
        loc = ar.eocd_offset - 20
        out.append(("zip64_end", ar.eocd64_locator["offset"], loc))
        out.append(("zip64_locator", loc, ar.eocd_offset))
    out.append(("end", ar.eocd_offset, ar.archive_end))
    return out


def _boundaries(raw):
    cuts = set()
    for _, start, end in _regions(raw):
        for p in (start, end):
            cuts.update({p - 1, p, p + 1})
    rng = random.Random(len(raw))
    cuts.update(rng.randrange(len(raw)) for _ in range(24))
    cuts.update(range(8))
    return sorted(c for c in cuts if 0 <= c < len(raw))


# ---------------------------------------------------------------------------
# systematic: truncations, flips
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["bytesio", "path"])
@pytest.mark.parametrize("name", [*SMALL_BASES, "fz_multichunk"])
def test_truncations(fzload, tmp_path, name, source):
    raw = base(name)
    m = Mismatches(fzload, source, tmp_path)
    for n in _boundaries(raw):
        m.check(raw[:n], f"{name} truncated to {n} of {len(raw)} bytes")
    m.assert_none()


@pytest.mark.parametrize("name", SMALL_BASES)
def test_truncated_member_data_with_intact_directory(fzload, name):
    """A member's data cut short, the rest of the archive intact and its
    offsets corrected: the central directory still claims the old sizes."""
    raw = base(name)
    m = Mismatches(fzload)
    for i, mem in enumerate(_members(raw)):
        n = len(mem["data"])
        for keep in sorted({0, 1, 2, n // 3, n // 2, n - 2, n - 1} & set(range(n))):
            ms = _members(raw)
            ms[i]["data"] = ms[i]["data"][:keep]
            m.check(build(ms), f"{name} member {i} data cut to {keep} of {n} bytes")
    m.assert_none()


def _flip_regions(raw, data_samples):
    rng = random.Random(7)
    for region, start, end in _regions(raw):
        if region.startswith("data_"):
            span = range(start, end)
            picks = set(span[:4]) | set(span[-4:]) | set(
                rng.sample(span, min(len(span), data_samples)))
            yield region, sorted(picks)
        else:
            yield region, range(start, end)


@pytest.mark.parametrize("name", SMALL_BASES)
def test_byte_flips(fzload, name):
    raw = base(name)
    m = Mismatches(fzload)
    for region, offsets in _flip_regions(raw, 12):
        for i in offsets:
            for mask in (0xFF, 0x01):
                v = bytearray(raw)
                v[i] ^= mask
                m.check(bytes(v), f"{name}: byte {i} ({region}) ^ {mask:#x}")
    m.assert_none()


def test_byte_flips_from_a_path(fzload, tmp_path):
    # a path may take another read path in the loader than a file object
    raw = base("np_deflated")
    m = Mismatches(fzload, "path", tmp_path)
    for region, offsets in _flip_regions(raw, 6):
        for i in offsets:
            v = bytearray(raw)
            v[i] ^= 0xFF
            m.check(bytes(v), f"byte {i} ({region}) ^ 0xff")
    m.assert_none()


def test_byte_flips_multichunk(fzload):
    raw = base("fz_multichunk")
    m = Mismatches(fzload)
    big = _regions(raw)
    rng = random.Random(3)
    # each variant inflates 2.7 MiB twice: a sample of the record bytes
    for region, start, end in big:
        if region in ("local_header_0", "central_0", "end"):
            for i in sorted(rng.sample(range(start, end), min(16, end - start))):
                v = bytearray(raw)
                v[i] ^= 0xFF
                m.check(bytes(v), f"multichunk: byte {i} ({region}) ^ 0xff")
    _, start, end = next(r for r in big if r[0] == "data_0")
    # every 64 KiB of compressed data, and a few bytes near the end
    for i in [*range(start, end, 65536), *rng.sample(range(end - 4096, end), 6), end - 1]:
        v = bytearray(raw)
        v[i] ^= 0x10
        m.check(bytes(v), f"multichunk: compressed byte {i - start} of {end - start} ^ 0x10")
    m.assert_none()


# ---------------------------------------------------------------------------
# fields set to lying values
# ---------------------------------------------------------------------------

def _field_variants(raw):
    """(description, archive) with one central/local/end field changed."""
    ms0 = _members(raw)
    for i, mem in enumerate(ms0):
        n_c, n_u = mem["csize"], mem["usize"]
        changes = {
            "usize": [0, 1, n_u - 1, n_u + 1, n_u * 2, n_u + 4096, 0xFFFFFFFE],
            "csize": [0, 1, n_c - 1, n_c + 1, n_c + 30, n_c * 2],
            "crc": [mem["crc"] ^ 1, 0],
            "method": [0, 8, 9, 12, 14, 93, 99, 1],
            "flags": [mem["flags"] | 1, mem["flags"] | 0x08, mem["flags"] ^ 0x08,
                      mem["flags"] | 0x20, mem["flags"] | 0x40, mem["flags"] | 0x800],
            "needed": [20, 63, 64, 0xFFFF],
            "offset": [1, 5],
            "name": [mem["name"] + b"x", mem["name"][:-1], b"other.npy", b""],
            "comment": [b"a comment"],
            "disk": [1],
        }
        for fld, values in changes.items():
            for value in values:
                ms = _members(raw)
                ms[i][fld] = value
                yield f"member {i} central {fld}={value!r}", build(ms)
        # the local header: zipfile reads its name, flags, lengths; not its sizes
        for off, fmt, values in ((6, "<H", [mem["flags"] | 1, mem["flags"] ^ 0x08, 0x20]),
                                 (8, "<H", [0, 8, 12, 99]),
                                 (14, "<I", [0, mem["crc"] ^ 1]),
                                 (18, "<I", [0, 1, 0xFFFFFFFF - 1]),
                                 (22, "<I", [0, 1, 12345]),
                                 (26, "<H", [len(mem["name"]) + 1, len(mem["name"]) - 1, 0]),
                                 (28, "<H", [0, 4, 40, 0xFFFF])):
            for value in values:
                ms = _members(raw)
                struct.pack_into(fmt, ms[i]["local"], off, value)
                yield f"member {i} local header @{off}={value}", build(ms)
        ms = _members(raw)
        extra_at = 30 + len(mem["name"])
        if len(ms[i]["local"]) >= extra_at + 20:
            for value in (0, 1, 2**40):
                ms = _members(raw)
                struct.pack_into("<Q", ms[i]["local"], extra_at + 4, value)
                yield f"member {i} local zip64 usize={value}", build(ms)
    # directory-level lies
    yield "count one more", build(_members(raw), count=len(ms0) + 1)
    yield "count one less", build(_members(raw), count=len(ms0) - 1)
    yield "count zero", build(_members(raw), count=0)
    yield "archive comment", build(_members(raw), comment=b"comment" * 3)
    yield "zip64 cd", build(_members(raw), zip64_cd=True)
    yield "zip64 end", build(_members(raw), zip64_end=True)


@pytest.mark.parametrize("name", ["np_deflated", "np_stored", "np_deflated_descriptors",
                                  "fz_deflated", "fz_stored"])
def test_lying_fields(fzload, name):
    m = Mismatches(fzload)
    for what, raw in _field_variants(base(name)):
        m.check(raw, f"{name}: {what}")
    m.assert_none()


def test_lying_fields_multichunk(fzload):
    raw = base("fz_multichunk")
    m = Mismatches(fzload)
    for what, v in _field_variants(raw):
        if what.startswith("member 0 central"):
            m.check(v, f"multichunk: {what}")
    m.assert_none()


# ---------------------------------------------------------------------------
# hand-made cases
# ---------------------------------------------------------------------------

def _npy(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(a))
    return buf.getvalue()


def _npy_header(d, version=(1, 0)):
    header = (d if isinstance(d, bytes) else repr(d).encode("latin1"))
    lensize = 2 if version == (1, 0) else 4
    header += b" " * (-(len(header) + 7 + lensize) % 64) + b"\n"
    return b"\x93NUMPY" + bytes(version) + len(header).to_bytes(lensize, "little") + header


def _deflate(data, level=6, trailing=b""):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush() + trailing


def _archive(entries, method=8):
    """Members (name, payload, overrides): honest zip records unless the
    overrides say otherwise (keys of :func:`_members`, plus 'compressed')."""
    ms = []
    for name, payload, over in entries:
        name = name.encode()
        data = over.get("compressed", _deflate(payload) if method == 8 else payload)
        local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0x21,
                            zlib.crc32(payload), len(data), len(payload), len(name), 0) + name
        m = {"local": bytearray(local), "data": data, "dd": b"", "made_by": 20, "needed": 20,
             "flags": 0, "method": method, "time": 0, "date": 0x21,
             "crc": zlib.crc32(payload), "csize": len(data), "usize": len(payload),
             "name": name, "comment": b"", "disk": 0, "iattr": 0, "eattr": 0, "offset": None}
        m.update({k: v for k, v in over.items() if k != "compressed"})
        ms.append(m)
    return ms


A_NPY = _npy(np.arange(1000, dtype="<i8"))
F_NPY = _npy(np.asfortranarray(np.arange(6.0).reshape(2, 3)))


def _handmade():
    c = {}
    a_def = _deflate(A_NPY)
    for delta in (-1000, -100, -1, 1, 100, 10**6):
        c[f"usize {delta:+d}"] = build(_archive([("a.npy", A_NPY, {"usize": len(A_NPY) + delta}),
                                                 ("f.npy", F_NPY, {})]))
        c[f"stored usize {delta:+d}"] = build(_archive(
            [("a.npy", A_NPY, {"usize": max(0, len(A_NPY) + delta)}), ("f.npy", F_NPY, {})],
            method=0))
    c["bad crc"] = build(_archive([("a.npy", A_NPY, {"crc": 12345}), ("f.npy", F_NPY, {})]))
    c["bad crc stored"] = build(_archive([("a.npy", A_NPY, {"crc": 1})], method=0))
    c["bad crc header-only read"] = build(_archive([("f.npy", F_NPY + b"x" * 5000, {"crc": 7})]))
    # duplicated central entries: two names, one local record
    ms = _archive([("a.npy", A_NPY, {}), ("f.npy", F_NPY, {})])
    dup = dict(ms[0], local=bytearray(), data=b"", offset=0)
    c["two entries share one record"] = build([*ms, dict(dup, name=b"a.npy")])
    c["overlap with another name"] = build([*ms, dict(dup, name=b"b.npy")])
    c["entry covering the next record"] = build(_archive(
        [("a.npy", A_NPY, {"csize": len(a_def) + 40}), ("f.npy", F_NPY, {})]))
    c["local name differs"] = build(_archive([("a.npy", A_NPY, {"name": b"b.npy"})]))
    c["local name differs in case"] = build(_archive([("a.npy", A_NPY, {"name": b"A.npy"})]))
    c["trailing bytes after deflate end"] = build(_archive(
        [("a.npy", A_NPY, {"compressed": _deflate(A_NPY, trailing=b"\x00junk" * 9)})]))
    c["trailing bytes after deflate end, sizes counting them"] = build(_archive(
        [("a.npy", A_NPY, {"compressed": _deflate(A_NPY, trailing=b"garbage"),
                           "usize": len(A_NPY) + 7})]))
    c["deflate without final block"] = build(_archive(
        [("a.npy", A_NPY, {"compressed": a_def[:-3]})]))
    c["zlib-wrapped member"] = build(_archive([("a.npy", A_NPY,
                                                {"compressed": zlib.compress(A_NPY)})]))
    c["deflate level 0"] = build(_archive([("a.npy", A_NPY, {"compressed": _deflate(A_NPY, 0)})]))
    c["empty data, usize > 0"] = build(_archive([("a.npy", A_NPY, {"compressed": b""})]))
    c["stored, csize != usize"] = build(_archive([("a.npy", A_NPY, {"csize": len(A_NPY) - 8})],
                                                 method=0))
    c["stored member cut short"] = build(_archive([("a.npy", A_NPY, {"compressed": A_NPY[:500]})],
                                                  method=0))
    return c


def _npy_lies():
    """.npy members whose header lies about the data (zip records honest)."""
    data = np.arange(100, dtype="<i8").tobytes()
    heads = {
        "shape larger than data": {"descr": "<i8", "fortran_order": False, "shape": (101,)},
        "shape much larger": {"descr": "<i8", "fortran_order": False, "shape": (40000,)},
        "2d larger, fortran": {"descr": "<i8", "fortran_order": True, "shape": (20, 7)},
        "shape smaller than data": {"descr": "<i8", "fortran_order": False, "shape": (3,)},
        "itemsize larger": {"descr": "<c16", "fortran_order": False, "shape": (100,)},
        "zero size": {"descr": "<i8", "fortran_order": False, "shape": (0, 5)},
        "negative dim": {"descr": "<i8", "fortran_order": False, "shape": (-1,)},
        "negative product": {"descr": "<i8", "fortran_order": False, "shape": (-2, -50)},
        "product overflows to zero": {"descr": "<u1", "fortran_order": False,
                                      "shape": (2**32, 2**32)},
        "product overflows negative": {"descr": "<u1", "fortran_order": False,
                                       "shape": (2**62, 3)},
        "dim over int64": {"descr": "<u1", "fortran_order": False, "shape": (2**64,)},
        "size over intp": {"descr": "<i8", "fortran_order": False, "shape": (2**61,)},
        "bool shape": {"descr": "<i8", "fortran_order": False, "shape": (True,)},
        "float shape": {"descr": "<i8", "fortran_order": False, "shape": (2.0,)},
        "list shape": {"descr": "<i8", "fortran_order": False, "shape": [100]},
        "int fortran_order": {"descr": "<i8", "fortran_order": 0, "shape": (100,)},
        "bad descr": {"descr": "<q9", "fortran_order": False, "shape": (100,)},
        "descr not a dtype": {"descr": 5, "fortran_order": False, "shape": (100,)},
        "object descr": {"descr": "|O", "fortran_order": False, "shape": (2,)},
        "missing key": {"descr": "<i8", "shape": (100,)},
        "extra key": {"descr": "<i8", "fortran_order": False, "shape": (100,), "x": 1},
        "void descr": {"descr": "|V0", "fortran_order": False, "shape": (100,)},
        "struct descr": {"descr": [("a", "<i4"), ("", "|V4")], "fortran_order": False,
                         "shape": (100,)},
    }
    out = {k: _npy_header(v) + data for k, v in heads.items()}
    out["header not a dict"] = _npy_header(b"[1, 2, 3]") + data
    out["header syntax error"] = _npy_header(b"{'descr': '<i8', 'shape': (100,") + data
    out["header python2 long"] = _npy_header(
        b"{'descr': '<i8', 'fortran_order': False, 'shape': (100L,), }") + data
    out["header unicode"] = _npy_header("{'descr': '<i8', 'fortran_order': False, "
                                        "'shape': (100,), '\u00e9': 1}".encode("latin1")) + data
    out["header length past the end"] = b"\x93NUMPY\x01\x00\xff\xff{'descr'"
    out["version 2 header"] = _npy_header({"descr": "<i8", "fortran_order": False,
                                           "shape": (100,)}, (2, 0)) + data
    out["version 4"] = _npy_header({"descr": "<i8", "fortran_order": False,
                                    "shape": (100,)}, (4, 0)) + data
    out["version 1.1"] = b"\x93NUMPY\x01\x01" + _npy_header(
        {"descr": "<i8", "fortran_order": False, "shape": (100,)})[8:] + data
    out["magic only"] = b"\x93NUMPY"
    out["magic and version"] = b"\x93NUMPY\x01\x00"
    return out


HANDMADE = _handmade()
NPY_LIES = _npy_lies()


@pytest.mark.parametrize("source", ["bytesio", "path"])
@pytest.mark.parametrize("case", sorted(HANDMADE))
def test_handmade_zip_lies(fzload, tmp_path, case, source):
    m = Mismatches(fzload, source, tmp_path)
    m.check(HANDMADE[case], case)
    m.assert_none()


@pytest.mark.parametrize("method", [0, 8])
@pytest.mark.parametrize("case", sorted(NPY_LIES))
def test_lying_npy_headers(fzload, case, method):
    npy = NPY_LIES[case]
    raw = build(_archive([("m.npy", npy, {}), ("ok.npy", F_NPY, {})], method=method))
    for allow_pickle in (False, True):
        m = Mismatches(fzload, allow_pickle=allow_pickle)
        m.check(raw, f"{case}, method {method}, allow_pickle={allow_pickle}")
        m.assert_none()


@pytest.mark.parametrize("case", sorted(NPY_LIES))
def test_lying_npy_files(fzload, tmp_path, case):
    """The same lies in a bare .npy, from a real file (numpy.fromfile) and
    from a BytesIO (chunked reads)."""
    for source in ("bytesio", "path"):
        m = Mismatches(fzload, source, tmp_path)
        m.check(NPY_LIES[case], f"{case} from {source}")
        m.assert_none()


@pytest.mark.parametrize("method", [0, 8])
@pytest.mark.parametrize("n", [10, 3000, 2**18 - 200, 2**18 + 300])
def test_crc_checked_only_where_zipfile_reaches_the_end(fzload, method, n):
    """zipfile checks the CRC only when a read reaches the member's end,
    and reads at least 4096 bytes (numpy's data reads are up to 256 KiB):
    whether bytes after the array's data hide a bad CRC or a short declared
    size depends on those windows."""
    npy = _npy(np.arange(n, dtype="u1"))
    m = Mismatches(fzload)
    for extra in (0, 1, 2, 100, 1000, 3000, 3900, 3950, 3968, 3990, 4000, 4090, 4096, 4200,
                  5000, 9000, 70000, 2**18):
        payload = npy + bytes(range(256)) * (extra // 256) + bytes(extra % 256)
        good = zlib.crc32(payload)
        for what, over in (("bad crc", {"crc": good ^ 1}),
                           ("usize one short", {"usize": len(payload) - 1}),
                           ("usize 4096 short", {"usize": max(len(npy), len(payload) - 4096)})):
            raw = build(_archive([("m.npy", payload, over)], method=method))
            m.check(raw, f"{n} items + {extra} bytes after, {what}, method {method}")
    m.assert_none()


def test_mid_size_claim_reads_like_numpy(fzload):
    """A header claiming 64 MiB over 800 bytes of data: numpy's EOF message
    names the first 256 KiB chunk it could not fill."""
    npy = _npy_header({"descr": "<f8", "fortran_order": False, "shape": (2**23,)}) + bytes(800)
    for method in (0, 8):
        m = Mismatches(fzload)
        m.check(build(_archive([("m.npy", npy, {})], method=method)), f"method {method}")
        m.assert_none()


# ---------------------------------------------------------------------------
# resource limits: declared sizes must not be allocated
# ---------------------------------------------------------------------------

def _zero_bomb(header, mib):
    """A deflate stream of ``header`` followed by ``mib`` MiB of zeros,
    repeating one flushed 1 MiB block instead of compressing it all."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(header) + c.flush(zlib.Z_SYNC_FLUSH)
    # the block starts with a literal zero and copies it at distance 1, so
    # it decodes to zeros after any window; 03 00 is an empty final block
    return head + _deflate_zero_block() * mib + b"\x03\x00"


@functools.cache
def _deflate_zero_block():
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(bytes(2**20)) + c.flush(zlib.Z_SYNC_FLUSH)


@functools.cache
def _crc_of_zeros(header, mib):
    crc = zlib.crc32(header)
    block = bytes(2**20)
    for _ in range(mib):
        crc = zlib.crc32(block, crc)
    return crc


BOMB_MIB = 1024


def _memory_cases():
    small = {"descr": "<f8", "fortran_order": False, "shape": (10,)}
    header = _npy_header(small)
    bomb = _zero_bomb(header, BOMB_MIB)
    bomb_entry = {"compressed": bomb, "usize": len(header) + BOMB_MIB * 2**20,
                  "crc": _crc_of_zeros(header, BOMB_MIB)}
    cases = {"1 GiB of zeros after a 10-element header": build(
        _archive([("m.npy", header, bomb_entry)]))}
    a = _archive([("a.npy", A_NPY, {})])
    for fld in ("usize", "csize"):
        for value in (2**40, 2**62):
            ms = [dict(a[0], **{fld: value})]
            cases[f"central {fld}={value:#x}"] = build(ms, zip64_cd=True)
    for shape, descr in (((2**60,), "<u1"), ((2**60,), "<f8"), ((2**40, 2**20), "<u1"),
                         ((2**50,), "<c16"), ((2**62,), "|V8")):
        npy = _npy_header({"descr": descr, "fortran_order": False, "shape": shape}) + bytes(64)
        for method in (0, 8):
            cases[f"npy shape {shape} {descr} method {method}"] = build(
                _archive([("m.npy", npy, {})], method=method))
    return cases


_LIMITED_SCRIPT = textwrap.dedent("""
    import io, resource, sys
    sys.path.insert(0, {tests!r})
    import numpy as np
    import fastnpz
    from npz_inspect import load_events, loader_under_test
    load = loader_under_test()[0]
    with open("/proc/self/status") as fh:
        vm = next(int(x.split()[1]) * 1024 for x in fh if x.startswith("VmSize:"))
    limit = vm + {headroom}
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for path in sys.argv[1:]:
        raw = open(path, "rb").read()
        for threads in (1, 2):
            with fastnpz.options(threads=threads):
                print(path, "bytesio", threads, repr(load_events(load, lambda: io.BytesIO(raw))))
                print(path, "path", threads, repr(load_events(load, lambda: path)))
        sys.stdout.flush()
""")
MEMORY_CASES = sorted(_memory_cases())


@pytest.fixture(scope="module")
def limited_outcomes(tmp_path_factory):
    """Run every memory case through the loader under test in one child
    under the address-space limit: {(case, source, threads): events repr}."""
    d = tmp_path_factory.mktemp("limited")
    paths = {}
    for i, case in enumerate(MEMORY_CASES):
        paths[case] = d / f"case{i}.npz"
        paths[case].write_bytes(_memory_cases()[case])
    script = _LIMITED_SCRIPT.format(tests=os.path.dirname(__file__), headroom=384 * 2**20)
    r = subprocess.run([sys.executable, "-c", script, *map(str, paths.values())],
                       capture_output=True, text=True, timeout=600, check=False,
                       env={**os.environ, LOAD_ORACLE_ENV: os.environ.get(LOAD_ORACLE_ENV, "")})
    by_path = {str(p): c for c, p in paths.items()}
    out = {}
    for line in r.stdout.splitlines():
        path, source, threads, events = line.split(" ", 3)
        out[(by_path[path], source, int(threads))] = events
    for p in paths.values():
        p.unlink()
    return out, r.returncode, r.stderr[-3000:], paths


@pytest.mark.parametrize("case", MEMORY_CASES)
def test_declared_sizes_are_not_allocated(fzload, limited_outcomes, case):
    """Under an address-space limit of what is mapped after import plus
    384 MiB, the loader under test must give numpy's outcome (numpy,
    unlimited, never allocates these sizes either: it fails on the
    impossible ones and stops reading after the header's 80 bytes)."""
    out, returncode, stderr, paths = limited_outcomes
    raw = _memory_cases()[case]
    p = paths[case]
    p.write_bytes(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = {"bytesio": repr(load_events(np.load, lambda: io.BytesIO(raw))),
                    "path": repr(load_events(np.load, lambda: str(p)))}
    p.unlink()
    for source in ("bytesio", "path"):
        for threads in (1, 2):
            got = out.get((case, source, threads))
            assert got is not None, (f"the limited child did not get to {case} from {source} "
                                     f"with threads={threads} (exit {returncode}): {stderr}")
            assert got == expected[source], (f"{source}, threads={threads}:\n"
                                             f" numpy:   {expected[source]}\n fastnpz: {got}")
