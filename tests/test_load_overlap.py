"""Members whose data runs into the next member's local header.

CPython's zipfile refuses to open such a member (``BadZipFile: Overlapped
entries: ... (possible zip bomb)``) from 3.12.2 / 3.11.8 on; older releases
read it. The loader under test must do what the running interpreter's
zipfile does, so numpy on the same bytes is the oracle here too; run this
file under both kinds of interpreter to cover both answers.
"""
import io
import struct
import zlib

import numpy as np
import pytest

import fastnpz
import fastnpz._load as load_impl
from npz_inspect import compare_load


def _npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array)
    return buf.getvalue()


def _local(name, data):
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0,
                       zlib.crc32(data), len(data), len(data), len(name), 0) + name


def _central(name, data, offset):
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0,
                       zlib.crc32(data), len(data), len(data), len(name), 0, 0, 0, 0, 0,
                       offset) + name


def _end(count, size, offset):
    return struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, offset, 0)


def nested_archive(inner_first=False):
    """Two stored members, where ``b.npy``'s local record (header and data)
    lies inside the data of ``a.npy``, a uint8 array of those bytes."""
    b = _npy(np.arange(40, dtype="<i8") * 3)
    b_record = _local(b"b.npy", b) + b
    a = _npy(np.frombuffer(b_record, np.uint8))
    a_local = _local(b"a.npy", a)
    b_offset = len(a_local) + len(a) - len(b_record)
    body = a_local + a
    entries = [(b"a.npy", a, 0), (b"b.npy", b, b_offset)]
    if inner_first:
        entries.reverse()
    cd = b"".join(_central(*e) for e in entries)
    return body + cd + _end(2, len(cd), len(body))


def _zipfile_refuses(raw):
    import zipfile

    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        try:
            z.open("a.npy").close()
        except zipfile.BadZipFile as e:
            assert "Overlapped entries" in str(e)
            return True
    return False


@pytest.mark.parametrize("inner_first", [False, True])
@pytest.mark.parametrize("source", ["bytesio", "path"])
def test_overlapping_members_as_the_running_zipfile_reads_them(tmp_path, inner_first, source):
    raw = nested_archive(inner_first)
    assert _zipfile_refuses(raw) == load_impl._ZIPFILE_REFUSES_OVERLAP
    if source == "path":
        path = tmp_path / "nested.npz"
        path.write_bytes(raw)
        events = compare_load(fastnpz.load, lambda: str(path))
    else:
        events = compare_load(fastnpz.load, lambda: io.BytesIO(raw))
    # The archive is the one intended: numpy reads b.npy whatever the zipfile.
    assert any(e[:2] == ("member", "b") and e[2][0] is None for e in events)


@pytest.mark.parametrize("refuses", [False, True])
def test_the_reader_leaves_an_overlapping_member_to_zipfile_when_zipfile_checks(monkeypatch, refuses):
    # Whatever this interpreter's zipfile does: with the check, the member
    # that overlaps goes to zipfile (and its verdict); without it, the Rust
    # reader reads it as older zipfiles do.
    monkeypatch.setattr(load_impl, "_ZIPFILE_REFUSES_OVERLAP", refuses)
    handed = []
    original = load_impl._NumpyNpzFile.__getitem__

    def counted(self, key):
        handed.append(key)
        return original(self, key)

    monkeypatch.setattr(load_impl._NumpyNpzFile, "__getitem__", counted)
    raw = nested_archive()
    with fastnpz.load(io.BytesIO(raw)) as f:
        try:
            f["a"]
        except Exception:  # noqa: BLE001 - zipfile's own verdict, checked above
            pass
        b = f["b"]
    np.testing.assert_array_equal(b, np.arange(40, dtype="<i8") * 3)
    assert handed == (["a"] if refuses else [])


def test_the_probe_agrees_with_zipfile_on_a_plain_archive():
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(3), b=np.arange(4))
    assert not _zipfile_refuses(buf.getvalue())
