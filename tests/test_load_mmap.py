"""fastnpz.load(..., mmap_mode=) on .npz archives, an extension (numpy
ignores the mode there): stored members come back as np.memmap views of
the file, compressed ones as the arrays np.load returns. np.load of the same
archive is the oracle for every value."""

from __future__ import annotations

import io

import numpy as np
import pytest

import fastnpz

ARRAYS = {
    "f8": np.linspace(0, 1, 1001),
    "fortran": np.asfortranarray(np.arange(600, dtype=">i4").reshape(20, 30)),
    "rec": np.array([(1, 2.0), (3, 4.0)], dtype=[("a", "<i2"), ("b", "<f8")]),
    "u1": np.arange(7, dtype=np.uint8),
    "scalar": np.float32(3.5),
}


def _archives(tmp_path):
    stored = tmp_path / "numpy_stored.npz"  # numpy's: members not aligned
    np.savez(stored, **ARRAYS, objects=np.array([None, 1], dtype=object), empty=np.zeros((0, 3)))
    aligned = tmp_path / "aligned.npz"
    with fastnpz.NpzWriter(aligned, compress=False) as w:
        for k, v in ARRAYS.items():
            w.write(k, v)
    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, **ARRAYS)
    mixed = tmp_path / "mixed.npz"
    np.savez_compressed(mixed, **{k: v for k, v in ARRAYS.items() if k != "f8"})
    with fastnpz.NpzWriter(mixed, "a", compress=False) as w:
        w.write("f8", ARRAYS["f8"])
    return {"numpy_stored": stored, "aligned": aligned, "compressed": compressed, "mixed": mixed}


@pytest.mark.parametrize("mode", ["r", "c"])
@pytest.mark.parametrize("kind", ["numpy_stored", "aligned", "compressed", "mixed"])
def test_members_match_np_load(tmp_path, kind, mode):
    path = _archives(tmp_path)[kind]
    with np.load(path, allow_pickle=True) as ref, fastnpz.load(path, mmap_mode=mode, allow_pickle=True) as got:
        assert got.files == ref.files
        for name in ref.files:
            a, b = got[name], ref[name]
            assert a.dtype == b.dtype and a.shape == b.shape
            if b.dtype != object:
                assert np.array_equal(a, b)
                assert a.flags.f_contiguous == b.flags.f_contiguous
            with np.load(path, allow_pickle=True) as z:
                info = z.zip.getinfo(z._files[name] if isinstance(z._files, dict) else name + ".npy")
            mappable = info.compress_type == 0 and b.dtype != object and b.size > 0
            assert isinstance(a, np.memmap) == mappable, name
            if mappable:
                assert a.flags.writeable == (mode == "c")
                if kind == "aligned":
                    assert a.ctypes.data % 64 == 0


def test_copy_on_write_leaves_the_file_alone(tmp_path):
    path = _archives(tmp_path)["aligned"]
    before = path.read_bytes()
    with fastnpz.load(path, mmap_mode="c") as f:
        a = f["f8"]
        a[:] = -1
        a.flush()
        assert (a == -1).all()
    assert path.read_bytes() == before
    with np.load(path) as f:
        assert np.array_equal(f["f8"], ARRAYS["f8"])


def test_maps_outlive_the_archive(tmp_path):
    path = _archives(tmp_path)["aligned"]
    with fastnpz.load(path, mmap_mode="r") as f:
        a = f["fortran"]
    assert np.array_equal(a, ARRAYS["fortran"])


@pytest.mark.parametrize("mode", ["r+", "w+", "readwrite", "write", "bogus"])
def test_writing_modes_raise(tmp_path, mode):
    path = _archives(tmp_path)["aligned"]
    with pytest.raises(ValueError):
        fastnpz.load(path, mmap_mode=mode)
    with open(path, "rb") as fh:
        with pytest.raises(ValueError):
            fastnpz.load(fh, mmap_mode=mode)
        assert not fh.closed


def test_in_memory_archives_load_as_arrays(tmp_path):
    raw = _archives(tmp_path)["aligned"].read_bytes()
    with fastnpz.load(io.BytesIO(raw), mmap_mode="r") as f:
        a = f["f8"]
    assert type(a) is np.ndarray and np.array_equal(a, ARRAYS["f8"])


def test_npy_files_keep_numpys_behaviour(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, ARRAYS["f8"])
    a, b = fastnpz.load(path, mmap_mode="r+"), np.load(path, mmap_mode="r+")
    assert type(a) is type(b) is np.memmap and a.mode == b.mode == "r+"
