"""Crafted members that look like fastnpz's chunked streams but are not:
the loader under test must read them as numpy does (numpy.load on the same
bytes is the oracle), and do no more work than the member's declared sizes
justify."""
import io
import struct
import zlib

import numpy as np
import pytest

import fastnpz
from fastnpz._fastnpz import CHUNK_SIZE
from npz_inspect import compare_load

MARKER = b"\x00\x00\xff\xff"


def _npy_header(n):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": (n,)})
    return buf.getvalue()


def one_member_archive(name, compressed, crc, usize, method=8):
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0,
                        crc, len(compressed), usize, len(name), 0) + name
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0,
                          crc, len(compressed), usize, len(name), 0, 0, 0, 0, 0, 0) + name
    body = local + compressed
    return body + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(body), 0)


def _stored_blocks(data, last_len=None):
    """Non-final stored blocks holding ``data``; the last one declares
    ``last_len`` bytes (more than it holds, when given)."""
    out = bytearray()
    pieces = [data[i:i + 65535] for i in range(0, len(data), 65535)]
    for k, piece in enumerate(pieces):
        n = len(piece) if last_len is None or k + 1 < len(pieces) else last_len
        out += b"\x00" + struct.pack("<HH", n, n ^ 0xFFFF) + piece
    return bytes(out)


def marker_inside_a_stored_block():
    """A two-chunk member whose first "chunk" ends at a ``00 00 ff ff``
    inside a stored block's data: read as chunks, it gives the data the CRC
    was computed on; read as one stream (as zipfile reads it), the stored
    block swallows the second chunk's bytes."""
    tail = bytes([0x22]) * 5000
    header = _npy_header(CHUNK_SIZE - 0 + len(tail) - len(_npy_header(1)))
    first = header + bytes([0x11]) * (CHUNK_SIZE - len(header) - 4) + MARKER
    assert len(first) == CHUNK_SIZE
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    second = squeeze.compress(tail) + squeeze.flush()
    last_piece = CHUNK_SIZE % 65535 or 65535
    chunk0 = _stored_blocks(first, last_len=last_piece + len(second))
    compressed = chunk0 + second
    assert compressed.count(MARKER) == 1 and compressed.endswith(second)
    data = first + tail
    assert _npy_header(len(data) - len(header)) == header
    return one_member_archive(b"a.npy", compressed, zlib.crc32(data), len(data))


@pytest.mark.parametrize("source", ["bytesio", "path"])
def test_a_marker_inside_a_stored_block_does_not_split_the_member(tmp_path, source):
    raw = marker_inside_a_stored_block()
    if source == "path":
        path = tmp_path / "crafted.npz"
        path.write_bytes(raw)
        compare_load(fastnpz.load, lambda: str(path))
    else:
        compare_load(fastnpz.load, lambda: io.BytesIO(raw))


def test_a_stream_full_of_markers_reads_as_numpy_reads_it():
    # Three chunks declared, so two markers justified, and a stream that
    # is all markers after a valid start.
    usize = 2 * CHUNK_SIZE + 100
    header = _npy_header(usize - len(_npy_header(1)))
    compressed = _stored_blocks(header + bytes(3000)) + MARKER * ((9 << 20) // 4)
    raw = one_member_archive(b"a.npy", compressed, 0, usize)
    compare_load(fastnpz.load, lambda: io.BytesIO(raw))


def test_a_small_member_padded_with_empty_blocks_reads_as_numpy_reads_it(tmp_path):
    data = _npy(np.arange(20_000, dtype=np.uint8))
    compressed = (_stored_blocks(data[:5000]) + b"\x00\x00\x00\xff\xff" * 400_000
                  + _stored_blocks(data[5000:]) + b"\x03\x00")
    raw = one_member_archive(b"a.npy", compressed, zlib.crc32(data), len(data))
    path = tmp_path / "padded.npz"
    path.write_bytes(raw)
    events = compare_load(fastnpz.load, lambda: str(path))
    assert events[-1][2][0] is None, events


def _npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array)
    return buf.getvalue()
