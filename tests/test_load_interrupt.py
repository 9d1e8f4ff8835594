"""Ctrl-C while loading: the Rust reader checks for signals every 50 ms
from the calling thread, stops its workers within a few milliseconds,
leaves no thread running, and the load raises KeyboardInterrupt."""

from __future__ import annotations

import _thread
import io
import os
import signal
import struct
import threading
import time
import zlib

import numpy as np
import pytest

import fastnpz
from fastnpz._fastnpz import CHUNK_SIZE


@pytest.fixture
def python_handles_sigint():
    # A process started in the background by a shell without job control
    # inherits SIGINT ignored; Python then keeps it ignored, and
    # _thread.interrupt_main() does nothing. Ctrl-C is what is tested, so
    # give SIGINT Python's own handler for the test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _os_threads():
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return None


def _repeated_archive(chunked, copies):
    """A one-member archive, quick to make and slow to inflate: the same
    compressed block (4 bits of entropy a byte, so it inflates at about
    zlib's usual speed) repeated. ``chunked``: laid out as fastnpz's chunks
    (every chunk CHUNK_SIZE bytes, ending with a sync flush), so the member
    is split between threads; otherwise a sync flush every 1 MiB, more
    markers than chunk boundaries, so it is inflated as one stream, as a
    numpy-written member is."""
    block_len = CHUNK_SIZE if chunked else 1 << 20
    block = np.random.default_rng(0).integers(0, 16, block_len, dtype=np.uint8).tobytes()
    body_len = block_len * copies
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (body_len,)})
    header = header.getvalue()

    def deflate(data):
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    # The header takes the first bytes of the first chunk; the last chunk
    # holds the rest of the data.
    first = header + block[: block_len - len(header)]
    middle = deflate(block)
    last = block[block_len - len(header):]
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    compressed = b"".join([deflate(first), middle * (copies - 1), c.compress(last) + c.flush()])
    crc = zlib.crc32(first)
    for _ in range(copies - 1):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(last, crc)
    usize = len(header) + body_len
    name = b"a.npy"
    zip64 = struct.pack("<HHQQ", 1, 16, usize, len(compressed))
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, 8, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                        len(name), len(zip64)) + name + zip64
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 8, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                          len(name), len(zip64), 0, 0, 0, 0, 0) + name + zip64
    data = local + compressed
    return data + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(data), 0)


@pytest.mark.parametrize(("chunked", "copies", "threads"), [(False, 384, 1), (True, 96, 1), (True, 96, 2)])
def test_ctrl_c_stops_a_load(python_handles_sigint, chunked, copies, threads):
    raw = _repeated_archive(chunked, copies)
    threads_before = _os_threads()
    signalled = []

    def interrupt():
        signalled.append(time.perf_counter())
        _thread.interrupt_main()

    timer = threading.Timer(0.1, interrupt)
    finished = None
    with fastnpz.options(threads=threads), fastnpz.load(io.BytesIO(raw)) as f:
        try:
            with pytest.raises(KeyboardInterrupt):
                # Inside the block: on a loaded machine the main thread can
                # still be waiting in Thread.start() when the timer fires.
                timer.start()
                f["a"]
                finished = time.perf_counter()
                time.sleep(5)  # only reached if the load finished before the timer
        finally:
            timer.cancel()
    raised = time.perf_counter()
    timer.join()  # the timer's own thread is not the reader's
    assert finished is None, "the load finished before the interrupt: make it longer"
    assert signalled
    # The guarantee is 100 ms after the next check (every 50 ms); CI is noisy.
    assert raised - signalled[0] < 0.5, f"interrupt took {raised - signalled[0]:.2f}s to be honoured"
    assert _os_threads() == threads_before


def test_a_load_after_an_interrupt_reads_the_member(python_handles_sigint):
    raw = _repeated_archive(True, 8)
    timer = threading.Timer(0.01, _thread.interrupt_main)
    with fastnpz.load(io.BytesIO(raw)) as f:
        try:
            timer.start()
            f["a"]
            time.sleep(5)
        except KeyboardInterrupt:
            pass
        finally:
            timer.cancel()
        with np.load(io.BytesIO(raw)) as g:
            np.testing.assert_array_equal(f["a"], g["a"])
