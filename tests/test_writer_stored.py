"""NpzWriter(compress=False): members stored as numpy.savez stores them,
except that each member's array data starts on a 64-byte boundary of the
file, the padding being an extra record in the local header (as zipalign
writes it). numpy.savez, zipfile and unzip are the oracles."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zipfile

import numpy as np
import pytest

import fastnpz
from npz_inspect import Unseekable

MEMBERS = {
    "a": np.arange(1001, dtype="<i8"),
    "long_name_" * 7: np.ones((3, 5), dtype="<f4"),
    "\u00e9": np.arange(3, dtype="u1"),
    "empty": np.zeros(0),
    "big": np.arange(3_000_000, dtype="<u4"),  # several 4 MiB chunks
    "rec": np.zeros(5, dtype=[("x", "<i2"), ("y", "<f8")]),
}


def _contents(raw: bytes):
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        assert z.testzip() is None
        return [(i.filename, i.compress_type, z.read(i)) for i in z.infolist()]


def _data_starts(raw: bytes, base: int = 0):
    """Absolute offset of each member's data, from its local header."""
    with zipfile.ZipFile(io.BytesIO(raw[base:])) as z:
        out = []
        for i in z.infolist():
            at = base + i.header_offset
            n, e = struct.unpack_from("<HH", raw, at + 26)
            out.append((i.filename, at + 30 + n + e))
        return out


def _write(file, members):
    with fastnpz.NpzWriter(file, compress=False) as w:
        for k, v in members.items():
            w.write(k, v)


@pytest.mark.parametrize("prefix", [b"", b"x", b"PREFIX" * 11])
def test_stored_members_are_aligned_and_match_savez(prefix):
    ours, theirs = io.BytesIO(prefix), io.BytesIO(prefix)
    ours.seek(0, 2)
    theirs.seek(0, 2)
    _write(ours, MEMBERS)
    np.savez(theirs, **MEMBERS)
    raw = ours.getvalue()
    assert _contents(raw[len(prefix):]) == _contents(theirs.getvalue()[len(prefix):])
    for name, start in _data_starts(raw, len(prefix)):
        assert start % 64 == 0, name
        with zipfile.ZipFile(io.BytesIO(raw[len(prefix):])) as z:
            member = z.read(name)
        # numpy pads its header to 64 bytes: the array data is aligned too.
        header_len = len(member) - np.load(io.BytesIO(member)).nbytes
        assert (start + header_len) % 64 == 0, name
    ours.seek(len(prefix))
    with np.load(ours) as f:
        for k, v in MEMBERS.items():
            assert np.array_equal(f[k], v)


def test_padding_is_an_extra_record_readers_skip(tmp_path):
    path = tmp_path / "s.npz"
    _write(path, MEMBERS)
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as z:
        info = z.infolist()[0]
    n, e = struct.unpack_from("<HH", raw, info.header_offset + 26)
    extra = raw[info.header_offset + 30 + n : info.header_offset + 30 + n + e]
    records = []
    while extra:
        tag, size = struct.unpack_from("<HH", extra)
        records.append(tag)
        extra = extra[4 + size :]
    assert records[0] == 1  # zip64 sizes, as numpy writes them
    assert records[1:] in ([], [0xD935])
    if shutil.which("unzip"):
        r = subprocess.run(["unzip", "-t", "-q", str(path)], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout
        for name, _, data in _contents(raw):
            r = subprocess.run(["unzip", "-p", str(path), name], capture_output=True, timeout=60)
            assert r.stdout == data


def test_unseekable_output_is_aligned_too():
    ours, theirs = Unseekable(), Unseekable()
    _write(ours, MEMBERS)
    np.savez(theirs, **MEMBERS)
    raw = bytes(ours.data)
    assert _contents(raw) == _contents(bytes(theirs.data))
    assert all(start % 64 == 0 for _, start in _data_starts(raw))


def test_savez_itself_stays_byte_identical(tmp_path):
    np.savez(tmp_path / "np.npz", **MEMBERS)
    fastnpz.savez(tmp_path / "fz.npz", **MEMBERS)
    assert (tmp_path / "np.npz").read_bytes() == (tmp_path / "fz.npz").read_bytes()
