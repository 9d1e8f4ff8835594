"""NpzWriter mode "a": members are added after the old end record, the
archive's old bytes stay byte for byte, and any failure (an exception in
the block, a failing write, Ctrl-C, a full disk) cuts the file back to
exactly what it was. numpy, zipfile and np.load are the oracles."""

from __future__ import annotations

import _thread
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zipfile

import numpy as np
import pytest

import fastnpz

OLD = {"a": np.arange(1000), "b": np.linspace(0, 1, 300).reshape(10, 30)}
NEW = {"c": np.arange(50_000, dtype="<i2") % 7, "d": np.asfortranarray(np.ones((40, 3)))}


def _contents(source):
    with zipfile.ZipFile(source) as z:
        assert z.testzip() is None
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _make(kind, path):
    if kind == "numpy_compressed":
        np.savez_compressed(path, **OLD)
    elif kind == "numpy_stored":
        np.savez(path, **OLD)
    elif kind == "fastnpz":
        fastnpz.savez_compressed(path, **OLD)
    elif kind == "fastnpz_writer_stored":
        with fastnpz.NpzWriter(path, compress=False) as w:
            for k, v in OLD.items():
                w.write(k, v)
    elif kind == "zipfile_comment_and_text":
        # Anyone's zip: a comment, a member that is not .npy, deflate by zlib.
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for k, v in OLD.items():
                buf = io.BytesIO()
                np.save(buf, v)
                z.writestr(k + ".npy", buf.getvalue())
            z.writestr("README.txt", b"not an array")
            z.comment = b"kept comment"
    elif kind == "empty":
        np.savez_compressed(path)
    else:
        raise AssertionError(kind)


KINDS = ["numpy_compressed", "numpy_stored", "fastnpz", "fastnpz_writer_stored", "zipfile_comment_and_text", "empty"]


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("kind", KINDS)
def test_append_keeps_old_bytes_and_reads_back(tmp_path, kind, compress):
    path = tmp_path / "a.npz"
    _make(kind, path)
    old = path.read_bytes()
    old_contents = _contents(path)
    with fastnpz.NpzWriter(path, "a", compress=compress) as w:
        for k, v in NEW.items():
            w.write(k, v)
    new = path.read_bytes()
    assert new[: len(old)] == old, "old members, directory and end record stay in place"
    # The oracle for the new members: numpy writing them.
    ref = tmp_path / "ref.npz"
    (np.savez_compressed if compress else np.savez)(ref, **NEW)
    assert _contents(path) == old_contents + _contents(ref)
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(path if kind != "empty" else ref) as _:
        if kind == "zipfile_comment_and_text":
            assert z.comment == b"kept comment"
    with np.load(path) as f:
        with zipfile.ZipFile(path) as z:
            expect = [n[:-4] if n.endswith(".npy") else n for n in z.namelist()]
        assert f.files == expect == w.names
        for k, v in {**(OLD if kind != "empty" else {}), **NEW}.items():
            assert np.array_equal(f[k], v)
    if shutil.which("unzip"):
        r = subprocess.run(["unzip", "-t", "-q", str(path)], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout


def test_append_twice_and_to_a_missing_path(tmp_path):
    path = tmp_path / "m.npz"
    with fastnpz.NpzWriter(path, "a") as w:
        w.write("a", OLD["a"])
    with fastnpz.NpzWriter(path, "a") as w:
        w.write("b", OLD["b"])
    with fastnpz.NpzWriter(path, "a") as w:
        w.write("c", NEW["c"])
    assert np.load(path).files == ["a", "b", "c"]
    np.savez_compressed(tmp_path / "ref.npz", a=OLD["a"], b=OLD["b"], c=NEW["c"])
    assert _contents(path) == _contents(tmp_path / "ref.npz")


def test_appending_nothing_changes_nothing(tmp_path):
    path = tmp_path / "n.npz"
    np.savez_compressed(path, **OLD)
    old = path.read_bytes()
    with fastnpz.NpzWriter(path, "a") as w:
        assert w.names == ["a", "b"]
    assert path.read_bytes() == old


def test_archive_changed_after_its_directory_was_read_is_left_alone(tmp_path, monkeypatch):
    import fastnpz._writer as writer

    path = tmp_path / "r.npz"
    np.savez_compressed(path, **OLD)
    old = path.read_bytes()
    real = writer._prior

    def racing(f):
        prior, names, size = real(f)
        with open(path, "ab") as g:  # another process appends meanwhile
            g.write(b"more")
        return prior, names, size

    monkeypatch.setattr(writer, "_prior", racing)
    with pytest.raises(ValueError, match="changed"):
        fastnpz.NpzWriter(path, "a")
    assert path.read_bytes() == old + b"more"


def test_a_writer_never_closed_leaves_the_archive_as_it_was(tmp_path):
    import gc

    path = tmp_path / "u.npz"
    np.savez_compressed(path, **OLD)
    old = path.read_bytes()
    w = fastnpz.NpzWriter(path, "a")
    w.write("noise", np.random.default_rng(6).random(500_000))  # 4 MB: past the write buffer
    assert len(path.read_bytes()) > len(old)
    del w
    gc.collect()
    assert path.read_bytes() == old


def test_existing_name_raises(tmp_path):
    path = tmp_path / "e.npz"
    np.savez_compressed(path, **OLD)
    old = path.read_bytes()
    with pytest.raises(ValueError, match="already in the archive"):
        with fastnpz.NpzWriter(path, "a") as w:
            assert w.names == ["a", "b"]
            w.write("a", np.arange(3))
    assert path.read_bytes() == old


def test_exception_inside_block_leaves_archive_identical(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, **OLD)
    old = path.read_bytes()
    with pytest.raises(RuntimeError):
        with fastnpz.NpzWriter(path, "a") as w:
            w.write("c", NEW["c"])
            raise RuntimeError("boom")
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["x.npz"]


@pytest.mark.parametrize("prefix", [b"", b"SOME PREFIX BYTES"])
def test_file_object_with_prefix(prefix):
    buf = io.BytesIO()
    buf.write(prefix)
    np.savez_compressed(buf, **OLD)
    old = buf.getvalue()
    buf.seek(3)  # the writer finds the archive itself
    with fastnpz.NpzWriter(buf, "a") as w:
        w.write("c", NEW["c"])
    assert buf.getvalue()[: len(old)] == old
    ref = io.BytesIO()
    np.savez_compressed(ref, **OLD, c=NEW["c"])
    assert _contents(io.BytesIO(buf.getvalue())) == _contents(ref)
    buf.seek(len(prefix))
    with np.load(buf) as f:
        assert np.array_equal(f["c"], NEW["c"])


class _FailingFile(io.BytesIO):
    """A file whose writes start failing after `budget` bytes."""

    def __init__(self, data, budget):
        super().__init__(data)
        self.budget = budget

    def write(self, b):
        self.budget -= len(b)
        if self.budget < 0:
            raise OSError(28, "No space left on device")
        return super().write(b)


@pytest.mark.parametrize("budget", [0, 100, 5_000_000])
def test_raising_file_object_mid_append_leaves_it_identical(budget):
    src = io.BytesIO()
    np.savez_compressed(src, **OLD)
    old = src.getvalue()
    f = _FailingFile(old, budget)
    big = np.random.default_rng(1).random(3_000_000)  # incompressible: 24 MB out
    with pytest.raises(OSError, match="No space"):
        with fastnpz.NpzWriter(f, "a") as w:
            w.write("c", NEW["c"])
            w.write("big", big)
    assert f.getvalue() == old
    assert _contents(io.BytesIO(f.getvalue())) == _contents(io.BytesIO(old))


def test_failing_progress_callback_stops_and_restores(tmp_path):
    path = tmp_path / "p.npz"
    np.savez_compressed(path, **OLD)
    old = path.read_bytes()

    def stop(done, total):
        raise KeyboardInterrupt

    big = np.random.default_rng(2).integers(0, 9, 4_000_000)
    with pytest.raises(KeyboardInterrupt):
        with fastnpz.options(progress=stop), fastnpz.NpzWriter(path, "a") as w:
            w.write("big", big)
    assert path.read_bytes() == old


@pytest.fixture
def python_handles_sigint():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_mid_append_leaves_archive_identical(tmp_path, python_handles_sigint):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, **OLD)
    old = path.read_bytes()
    big = np.random.default_rng(0).integers(0, 4, size=25_000_000, dtype=np.int64)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt), fastnpz.options(level=9, threads=2):
            with fastnpz.NpzWriter(path, "a") as w:
                w.write("big", big)
                time.sleep(5)  # only reached if the write finished first
    finally:
        timer.cancel()
    assert path.read_bytes() == old


def test_ctrl_c_mid_stream_append_leaves_archive_identical(tmp_path, python_handles_sigint):
    path = tmp_path / "s.npz"
    np.savez(path, **OLD)
    old = path.read_bytes()
    block = np.random.default_rng(4).integers(0, 4, 2_000_000, dtype=np.int64)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt), fastnpz.options(level=9, threads=2):
            with fastnpz.NpzWriter(path, "a") as w, w.stream("s", (200_000_000,), np.int64) as s:
                for _ in range(100):
                    s.write(block)
    finally:
        timer.cancel()
    assert path.read_bytes() == old


def test_full_disk_mid_append_leaves_archive_identical(tmp_path):
    # RLIMIT_FSIZE makes writes past the limit fail (EFBIG) as a full disk
    # would fail them (ENOSPC), in a child process.
    path = tmp_path / "f.npz"
    np.savez_compressed(path, **OLD)
    old = path.read_bytes()
    code = textwrap.dedent(f"""
        import resource, signal, sys
        import numpy as np, fastnpz
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({len(old) + 3_000_000}, resource.RLIM_INFINITY))
        big = np.random.default_rng(3).integers(0, 1 << 40, 2_000_000)
        try:
            with fastnpz.NpzWriter({str(path)!r}, "a", compress=False) as w:
                w.write("big", big)
        except OSError as e:
            print("OSError", e.errno)
            sys.exit(0)
        sys.exit(1)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"OSError")
    assert path.read_bytes() == old


def _sha(path, start, end):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(start)
        h.update(f.read(end - start))
    return h.hexdigest()


def test_zip64_archive(tmp_path):
    """Offsets past 4 GiB (a sparse prefix) make numpy write zip64 end
    records and directory extras; appending keeps them and adds its own."""
    path = tmp_path / "z64.npz"
    gap = 5 << 30
    with open(path, "wb") as f:
        f.seek(gap)
        np.savez_compressed(f, **OLD)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(size - 22 - 20 - 56)
        assert f.read(4) == b"PK\x06\x06"
    digest = _sha(path, gap, size)
    with fastnpz.NpzWriter(path, "a") as w:
        w.write("c", NEW["c"])
    assert _sha(path, gap, size) == digest
    with open(path, "rb") as fh:
        fh.seek(gap)
        f = np.load(fh)
        assert f.files == ["a", "b", "c"]
        assert np.array_equal(f["c"], NEW["c"]) and np.array_equal(f["a"], OLD["a"])
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert z.getinfo("c.npy").header_offset > 1 << 32


def test_recover_after_a_hard_kill_mid_append(tmp_path):
    """SIGKILL while appending: the old archive is a prefix of the file,
    unreadable until NpzWriter.recover cuts the partial member off."""
    path = tmp_path / "k.npz"
    np.savez_compressed(path, **OLD)
    old = path.read_bytes()
    assert fastnpz.NpzWriter.recover(path) == 0
    code = textwrap.dedent(f"""
        import numpy as np, fastnpz
        big = np.random.default_rng(0).random(40_000_000)
        with fastnpz.options(threads=1), fastnpz.NpzWriter({str(path)!r}, "a") as w:
            w.write("big", big)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 120
        while os.path.getsize(path) < len(old) + (4 << 20) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    torn = path.read_bytes()
    assert torn[: len(old)] == old and len(torn) > len(old) + (1 << 20)
    with pytest.raises(zipfile.BadZipFile):
        np.load(path)
    assert fastnpz.NpzWriter.recover(path) == len(torn) - len(old)
    assert path.read_bytes() == old
    with np.load(path) as f:
        assert f.files == ["a", "b"]


def test_recover_refuses_a_file_with_no_archive(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"PK\x05\x06" + b"x" * 5000)
    with pytest.raises(zipfile.BadZipFile):
        fastnpz.NpzWriter.recover(path)
    assert path.read_bytes() == b"PK\x05\x06" + b"x" * 5000
