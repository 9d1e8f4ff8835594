"""NpzWriter.stream: a member written block by block is the member
savez_compressed writes from the whole array; a stream of the wrong size
is not added. numpy (savez_compressed, savez, np.load) and zipfile are the
oracles."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import fastnpz
from npz_inspect import Unseekable


def _contents(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        assert z.testzip() is None
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _blocks(a, rows):
    for i in range(0, max(len(a), 1), rows):
        yield a[i : i + rows]


ARRAYS = {
    "big_odd_blocks": (np.arange(5_000_000, dtype="<f8") % 1013, 123_457),
    "rows": (np.arange(60_000, dtype=">i4").reshape(600, 100), 7),
    "structured": (np.zeros(1000, dtype=[("a", "<i4"), ("b", "S3")]), 333),
    "unicode": (np.array(["ab", "cde", "f"] * 100, dtype="<U3"), 50),
    "datetime": (np.arange(500).astype("datetime64[s]"), 64),
    "empty": (np.zeros((0, 4)), 1),
}


@pytest.mark.parametrize("compress", [True, False])
def test_stream_equals_savez_of_the_whole_array(compress):
    ours, theirs = io.BytesIO(), io.BytesIO()
    with fastnpz.NpzWriter(ours, compress=compress) as w:
        for name, (a, rows) in ARRAYS.items():
            with w.stream(name, a.shape, a.dtype) as s:
                for block in _blocks(a, rows):
                    s.write(block)
        with w.stream("scalar", (), np.float32) as s:
            s.write(np.float32(1.5).tobytes())
        w.write("after", np.arange(3))
    whole = {name: a for name, (a, _) in ARRAYS.items()}
    (np.savez_compressed if compress else np.savez)(theirs, **whole, scalar=np.float32(1.5), after=np.arange(3))
    assert _contents(ours.getvalue()) == _contents(theirs.getvalue())
    assert w.names == list(whole) + ["scalar", "after"]
    for load in (np.load, fastnpz.load):
        ours.seek(0)
        with load(ours) as f:
            for name, a in whole.items():
                assert np.array_equal(f[name], a)


def test_fortran_order_stream():
    a = np.asfortranarray(np.arange(4000, dtype="<f4").reshape(40, 100))
    ours, theirs = io.BytesIO(), io.BytesIO()
    with fastnpz.NpzWriter(ours) as w, w.stream("f", a.shape, a.dtype, fortran_order=True) as s:
        for j in range(0, 100, 9):
            s.write(a[:, j : j + 9])  # whole columns continue a Fortran member
    np.savez_compressed(theirs, f=a)
    assert _contents(ours.getvalue()) == _contents(theirs.getvalue())


def test_bytes_like_blocks():
    a = np.arange(10_000, dtype="<u2")
    raw = a.tobytes()
    ours, theirs = io.BytesIO(), io.BytesIO()
    with fastnpz.NpzWriter(ours) as w, w.stream("a", a.shape, "<u2") as s:
        s.write(raw[:3])
        s.write(bytearray(raw[3:5000]))
        s.write(memoryview(raw)[5000:])
    np.savez_compressed(theirs, a=a)
    assert _contents(ours.getvalue()) == _contents(theirs.getvalue())


@pytest.mark.parametrize("target", ["path", "bytesio"])
def test_short_stream_raises_and_is_not_added(tmp_path, target):
    out = tmp_path / "s.npz" if target == "path" else io.BytesIO()
    big = np.arange(3_000_000, dtype="<f8")  # several chunks reach the output first
    with fastnpz.NpzWriter(out) as w:
        w.write("a", np.arange(5))
        with pytest.raises(ValueError, match="not added"):
            with w.stream("short", (4_000_000,), "<f8") as s:
                for block in _blocks(big, 1_000_000):
                    s.write(block)
        with pytest.raises(RuntimeError, match="inside"):
            with w.stream("raised", (10,), "<f8") as s:
                s.write(np.zeros(5))
                raise RuntimeError("inside")
        w.write("b", np.arange(6))
        assert w.names == ["a", "b"]
    raw = out.read_bytes() if target == "path" else out.getvalue()
    ref = io.BytesIO()
    np.savez_compressed(ref, a=np.arange(5), b=np.arange(6))
    assert _contents(raw) == _contents(ref.getvalue())
    assert len(raw) < 2000, "the taken-back member left no bytes behind"


def test_long_stream_rejects_the_overflowing_block():
    with fastnpz.NpzWriter(io.BytesIO()) as w:
        with pytest.raises(ValueError, match="not added"):
            with w.stream("x", (10,), "<i4") as s:
                s.write(np.zeros(8, "<i4"))
                with pytest.raises(ValueError, match="would bring it to 48"):
                    s.write(np.zeros(4, "<i4"))
                assert s.written == 32
        assert w.names == []


def test_stream_errors():
    with fastnpz.NpzWriter(io.BytesIO()) as w:
        w.write("a", np.arange(2))
        with pytest.raises(ValueError, match="already in the archive"):
            w.stream("a", (2,), int)
        with pytest.raises(ValueError, match="pickling"):
            w.stream("o", (2,), object)
        with pytest.raises(ValueError, match="negative"):
            w.stream("n", (-1,), int)
        with w.stream("s", (2,), "<i8") as s:
            with pytest.raises(ValueError, match="stream is open"):
                w.write("b", np.arange(2))
            with pytest.raises(ValueError, match="dtype"):
                s.write(np.zeros(2, "<f8"))
            s.write(np.arange(2, dtype="<i8"))
        assert w.names == ["a", "s"]


def test_short_stream_on_unseekable_output_abandons_the_archive():
    out = Unseekable()
    w = fastnpz.NpzWriter(out)
    # Nothing reached the output yet: the member is simply dropped.
    with pytest.raises(ValueError, match="not added"):
        with w.stream("x", (10,), "<f8") as s:
            s.write(np.zeros(5))
    # Past one batch, chunks are out and cannot be taken back.
    with pytest.raises(OSError, match="cannot take back"):
        with w.stream("y", (8_000_000,), "<f8") as s:
            s.write(np.zeros(6_000_000))
    with pytest.raises(RuntimeError, match="abandoned"):
        w.close()


def test_stream_appends(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, old=np.arange(4))
    old = path.read_bytes()
    a = np.arange(2_000_000, dtype="<i8")
    with fastnpz.NpzWriter(path, "a") as w:
        with pytest.raises(ValueError):
            with w.stream("short", a.shape, a.dtype) as s:
                s.write(a[:10])
        assert path.read_bytes()[: len(old)] == old
        with w.stream("s", a.shape, a.dtype) as s:
            for block in _blocks(a, 300_000):
                s.write(block)
    with np.load(path) as f:
        assert f.files == ["old", "s"]
        assert np.array_equal(f["s"], a)


_RSS_SCRIPT = """
import numpy as np, fastnpz
total, block = {total}, 16 << 20
def peak():
    # VmHWM, not ru_maxrss: a child inherits its parent's ru_maxrss at
    # fork, so a large pytest process would hide the child's own peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")
# Writing 5 resets the high-water mark (Linux 4.0+).
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
# Measured before the caller's block exists: the growth counts the block
# (and its making) too, so it is an upper bound for the writer's share.
before = peak()
data = np.frombuffer(np.random.default_rng(0).bytes(block), np.uint8) % 64
with fastnpz.options(level=1), fastnpz.NpzWriter({path!r}) as w:
    with w.stream("big", (total,), np.uint8) as s:
        for _ in range(total // block):
            s.write(data)
print(peak() - before)
"""


def _stream_rss(tmp_path, total):
    code = textwrap.dedent(_RSS_SCRIPT.format(total=total, path=str(tmp_path / "big.npz")))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "big.npz") as f:
        assert f["big"].nbytes == total
    return int(r.stdout)


_LINUX = sys.platform.startswith("linux")


@pytest.mark.skipif(not _LINUX, reason="reads /proc/self/status")
def test_streaming_memory_is_bounded(tmp_path):
    # 256 MiB from 16 MiB blocks: memory must not grow with the member.
    grew = _stream_rss(tmp_path, 256 << 20)
    assert grew <= 96 << 20, f"peak RSS grew by {grew >> 20} MiB"


@pytest.mark.large
@pytest.mark.skipif(not _LINUX, reason="reads /proc/self/status")
def test_streaming_one_gib_raises_peak_rss_by_at_most_96_mib(tmp_path):
    grew = _stream_rss(tmp_path, 1 << 30)
    assert grew <= 96 << 20, f"peak RSS grew by {grew >> 20} MiB"


@pytest.mark.large
def test_streaming_an_8_gib_member_makes_a_zip64_archive_np_load_reads(tmp_path):
    """8 GiB from 64 MiB blocks (a ramp, so the member is not all zeros):
    sizes past 4 GiB go into zip64 extras, and np.load reads the member."""
    import shutil

    if shutil.disk_usage(tmp_path).free < 4 << 30:
        pytest.skip("needs ~4 GiB of free disk")
    n = (8 << 30) // 8
    block = np.arange(8 << 20, dtype=np.int64)
    path = tmp_path / "big.npz"
    with fastnpz.options(level=1), fastnpz.NpzWriter(path) as w:
        with w.stream("big", (n,), np.int64) as s:
            for k in range(n // block.size):
                s.write(block + k * block.size)
        w.write("after", np.arange(3))
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("big.npy")
        assert info.file_size == n * 8 + 128 and info.file_size > 4 << 30
    with np.load(path) as f:
        assert np.array_equal(f["after"], np.arange(3))
        big = f["big"]
        assert big.shape == (n,) and big[0] == 0 and big[-1] == n - 1
        assert (np.diff(big[:: 1 << 20]) == 1 << 20).all()


def test_dask_array_block_row_by_block_row(tmp_path):
    """The README's recipe: a Dask array written one block row at a time
    (dask is optional: pip install 'dask[array]')."""
    da = pytest.importorskip("dask.array")
    x = da.arange(3_000_000, dtype=np.float64, chunks=250_000).reshape(3000, 1000).rechunk((128, 1000))
    path = tmp_path / "x.npz"
    with fastnpz.NpzWriter(path) as w, w.stream("x", x.shape, x.dtype) as s:
        for i in range(x.numblocks[0]):
            s.write(x.blocks[i].compute())
    ref = io.BytesIO()
    np.savez_compressed(ref, x=x.compute())
    assert _contents(path.read_bytes()) == _contents(ref.getvalue())
