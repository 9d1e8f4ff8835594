"""NpzWriter in modes "w" and "x": an archive written member by member is
the archive savez_compressed writes from the same dict, and a failure
inside the block never loses the file that was there. numpy (savez,
savez_compressed, np.load) and zipfile are the oracles."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import warnings
import zipfile

import numpy as np
import pytest

import fastnpz
from fastnpz._savez import NUMPY_TAKES_ALLOW_PICKLE
from npz_inspect import Unseekable, fifo_drained


def _members():
    rng = np.random.default_rng(5)
    big = np.empty(1_300_000, "<f8")  # 10 MiB: several 4 MiB chunks
    big[::2] = rng.standard_normal(650_000)
    big[1::2] = np.arange(650_000) % 97
    grid = np.arange(600 * 500, dtype="<i4").reshape(600, 500) % 1013
    return {
        "big": big,
        "grid": grid,
        "fortran": np.asfortranarray(grid[:100]),
        "strided": grid[::3, ::-2],
        "empty": np.zeros((3, 0)),
        "scalar": np.float32(2.5),
        "\u00e9t\u00e9": np.arange(7, dtype=">u2"),
        "dir/sub": np.array(["a", "bc"]),
        "objects": np.array([None, {"k": 1}, [2]], dtype=object),
        "rec": np.zeros(4, dtype=[("a", "<i4"), ("b", "<f8")]),
    }


def _contents(source):
    """(name, decompressed bytes) in archive order, as zipfile reads them."""
    with zipfile.ZipFile(source) as z:
        assert z.testzip() is None
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _write_all(file, members, **kw):
    with fastnpz.NpzWriter(file, **kw) as w:
        for k, v in members.items():
            w.write(k, v)
    return w


def test_member_by_member_equals_savez_compressed(tmp_path):
    members = _members()
    ours, theirs = tmp_path / "w.npz", tmp_path / "np.npz"
    w = _write_all(ours, members)
    np.savez_compressed(theirs, **members)
    assert _contents(ours) == _contents(theirs)
    assert w.names == list(np.load(theirs).files) == list(members)
    with np.load(ours, allow_pickle=True) as a, np.load(theirs, allow_pickle=True) as b:
        assert a.files == b.files
        for k in b.files:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
            if b[k].dtype != object:
                assert np.array_equal(a[k], b[k])
    # The same pipeline as fastnpz.savez_compressed, member for member.
    fastnpz.savez_compressed(tmp_path / "fz.npz", **members)
    assert ours.read_bytes() == (tmp_path / "fz.npz").read_bytes()


def test_path_without_npz_suffix_gets_one(tmp_path):
    with fastnpz.NpzWriter(os.fspath(tmp_path / "a")) as w:
        w.write("x", np.arange(3))
    np.savez_compressed(tmp_path / "b", x=np.arange(3))
    assert (tmp_path / "a.npz").exists() and (tmp_path / "b.npz").exists()
    assert _contents(tmp_path / "a.npz") == _contents(tmp_path / "b.npz")


@pytest.mark.parametrize("prefix", [b"", b"PREFIX-BYTES"])
def test_file_objects_match_numpy(prefix):
    members = _members()
    ours, theirs = io.BytesIO(), io.BytesIO()
    ours.write(prefix)
    theirs.write(prefix)
    _write_all(ours, members)
    np.savez_compressed(theirs, **members)
    assert not ours.closed
    assert ours.getvalue()[: len(prefix)] == prefix
    assert _contents(io.BytesIO(ours.getvalue())) == _contents(io.BytesIO(theirs.getvalue()))


def test_unseekable_output_uses_data_descriptors():
    members = {"a": np.arange(1000), "b": np.ones((20, 30))}
    ours, theirs = Unseekable(), Unseekable()
    _write_all(ours, members)
    np.savez_compressed(theirs, **members)
    assert _contents(io.BytesIO(bytes(ours.data))) == _contents(io.BytesIO(bytes(theirs.data)))
    with zipfile.ZipFile(io.BytesIO(bytes(ours.data))) as z:
        assert all(i.flag_bits & 0x08 for i in z.infolist())


def test_names_follow_savez_keywords(tmp_path):
    keys = ["", "q\x00x", "a/b", "\u6570", "x.npy"]
    with fastnpz.NpzWriter(tmp_path / "n.npz") as w:
        for k in keys:
            w.write(k, np.arange(2))
    np.savez_compressed(tmp_path / "np.npz", **{k: np.arange(2) for k in keys})
    assert _contents(tmp_path / "n.npz") == _contents(tmp_path / "np.npz")
    assert w.names == np.load(tmp_path / "np.npz").files


def test_duplicate_names_raise_and_add_nothing(tmp_path):
    target = tmp_path / "d.npz"
    with fastnpz.NpzWriter(target) as w:
        w.write("a", np.arange(3))
        with pytest.raises(ValueError, match="already in the archive"):
            w.write("a", np.arange(5))
        # zipfile cuts names at NUL: both are stored as "q".
        w.write("q\x00x", np.arange(1))
        with pytest.raises(ValueError, match="already in the archive"):
            w.write("q\x00y", np.arange(1))
        assert w.names == ["a", "q"]
    assert zipfile.ZipFile(target).namelist() == ["a.npy", "q"]
    assert np.array_equal(np.load(target)["a"], np.arange(3))


def test_pickling_rules_match_savez_compressed(tmp_path):
    obj = np.array([1, None], dtype=object)
    with fastnpz.NpzWriter(tmp_path / "p.npz") as w:
        with pytest.raises(ValueError) as ours:
            w.write("o", obj, allow_pickle=False)
        w.write("ok", np.arange(2), allow_pickle=False)
        assert w.names == ["ok"]
        w.write("o", obj)
    if NUMPY_TAKES_ALLOW_PICKLE:
        with pytest.raises(ValueError) as theirs:
            np.savez_compressed(io.BytesIO(), o=obj, allow_pickle=False)
        assert str(ours.value) == str(theirs.value)
    np.savez_compressed(tmp_path / "np.npz", ok=np.arange(2), o=obj)
    assert _contents(tmp_path / "p.npz") == _contents(tmp_path / "np.npz")


def test_exception_inside_block_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "keep.npz"
    target.write_bytes(b"precious")
    with pytest.raises(RuntimeError, match="boom"):
        with fastnpz.NpzWriter(target) as w:
            w.write("a", np.arange(100_000))
            raise RuntimeError("boom")
    assert target.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["keep.npz"]
    assert w.closed
    with pytest.raises(ValueError, match="closed"):
        w.write("b", np.arange(1))


def test_old_file_stays_until_close(tmp_path):
    target = tmp_path / "t.npz"
    np.savez_compressed(target, old=np.arange(3))
    before = target.read_bytes()
    w = fastnpz.NpzWriter(target)
    w.write("new", np.arange(4))
    assert target.read_bytes() == before
    w.close()
    assert np.load(target).files == ["new"]


def test_mode_x_refuses_an_existing_file(tmp_path):
    target = tmp_path / "x.npz"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        fastnpz.NpzWriter(target, "x")
    assert target.read_bytes() == b"old"
    fresh = tmp_path / "fresh.npz"
    with fastnpz.NpzWriter(fresh, "x") as w:
        w.write("a", np.arange(3))
    assert np.array_equal(np.load(fresh)["a"], np.arange(3))
    # A file that appears while the writer is open is kept, not replaced.
    late = tmp_path / "late.npz"
    w = fastnpz.NpzWriter(late, "x")
    w.write("a", np.arange(3))
    late.write_bytes(b"someone else")
    with pytest.raises(FileExistsError):
        w.close()
    assert late.read_bytes() == b"someone else"
    assert sorted(os.listdir(tmp_path)) == ["fresh.npz", "late.npz", "x.npz"]


def test_mode_x_exception_leaves_no_file(tmp_path):
    with pytest.raises(KeyError):
        with fastnpz.NpzWriter(tmp_path / "x.npz", "x") as w:
            w.write("a", np.arange(3))
            raise KeyError("stop")
    assert os.listdir(tmp_path) == []


def test_bad_mode_and_name():
    with pytest.raises(ValueError, match="mode"):
        fastnpz.NpzWriter(io.BytesIO(), "r")  # type: ignore[arg-type]
    with fastnpz.NpzWriter(io.BytesIO()) as w, pytest.raises(TypeError):
        w.write(3, np.arange(1))  # type: ignore[arg-type]


def test_format_2_header_warns_as_numpy(tmp_path):
    dt = np.dtype([(f"f{i:05d}", "<i1") for i in range(7000)])
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        with fastnpz.NpzWriter(tmp_path / "h.npz") as w:
            w.write("a", np.zeros(1, dt))
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        np.savez_compressed(tmp_path / "np.npz", a=np.zeros(1, dt))
    assert [str(x.message) for x in ours] == [str(x.message) for x in theirs]
    assert _contents(tmp_path / "h.npz") == _contents(tmp_path / "np.npz")


@pytest.mark.skipif(shutil.which("unzip") is None, reason="unzip not installed")
def test_unzip_extracts_the_members(tmp_path):
    members = {k: v for k, v in _members().items() if k not in ("objects",)}
    target = tmp_path / "u.npz"
    _write_all(target, members)
    r = subprocess.run(["unzip", "-t", "-q", str(target)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stdout
    for name, data in _contents(target):
        r = subprocess.run(["unzip", "-p", str(target), name], capture_output=True, timeout=120)
        assert r.returncode == 0 and r.stdout == data


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_path_is_written_in_place_with_data_descriptors(tmp_path):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    # A reader holds the pipe open (without blocking); the small archive
    # fits in the pipe's buffer.
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with fastnpz.NpzWriter(fifo) as w:
            w.write("a", np.arange(1000))
        got = os.read(fd, 1 << 16)
    finally:
        os.close(fd)
    ref = io.BytesIO()
    np.savez_compressed(ref, a=np.arange(1000))
    assert _contents(io.BytesIO(got)) == _contents(io.BytesIO(ref.getvalue()))
    with zipfile.ZipFile(io.BytesIO(got)) as z:
        assert all(i.flag_bits & 0x08 for i in z.infolist())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_larger_than_the_pipe_with_a_python_reader(tmp_path):
    """The directory and the buffered bytes are written at close with the GIL
    released: a reader that is a Python thread keeps draining the pipe (it
    hung there before, once savez_compressed wrote through the same close)."""
    members = {f"m{i}": np.arange(50_000) * i for i in range(8)}  # 3.2 MB raw
    with fifo_drained(tmp_path / "pipe.npz") as chunks:
        with fastnpz.NpzWriter(tmp_path / "pipe.npz") as w:
            for key, value in members.items():
                w.write(key, value)
    ref = io.BytesIO()
    np.savez_compressed(ref, **members)
    assert _contents(io.BytesIO(b"".join(chunks))) == _contents(io.BytesIO(ref.getvalue()))
