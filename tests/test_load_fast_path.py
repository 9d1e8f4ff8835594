"""fastnpz.load reads clean archives with its Rust core, not through numpy's
zipfile path: otherwise every parity test would pass without testing the
reader. Members numpy must read (object arrays, damage) fall back."""

import io

import numpy as np
import pytest

import fastnpz
import fastnpz._load as load_impl
from fastnpz._fastnpz import CHUNK_SIZE


@pytest.fixture
def numpy_reads(monkeypatch):
    """Count the members handed to numpy's own NpzFile.__getitem__."""
    seen = []
    original = load_impl._NumpyNpzFile.__getitem__

    def counted(self, key):
        seen.append(key)
        return original(self, key)

    monkeypatch.setattr(load_impl._NumpyNpzFile, "__getitem__", counted)
    return seen


ARRAYS = {
    "f64": np.random.default_rng(0).standard_normal(300_000),
    "big": np.arange(CHUNK_SIZE * 5 // 2, dtype=np.uint8),  # three chunks
    "F": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "empty": np.zeros((0, 3)),
    "scalar": np.array(3.5),
    "text": np.array(["ab", "cde"]),
    "dates": np.arange("2024-01-01", "2024-02-01", dtype="datetime64[D]"),
    "records": np.zeros(4, dtype=[("x", "<f4"), ("y", "<i8")]),
}


@pytest.mark.parametrize("writer", ["numpy", "fastnpz", "numpy-stored", "fastnpz-stored"])
@pytest.mark.parametrize("source", ["bytesio", "path"])
def test_clean_archives_are_read_by_the_rust_core(numpy_reads, tmp_path, writer, source):
    save = {
        "numpy": np.savez_compressed,
        "fastnpz": fastnpz.savez_compressed,
        "numpy-stored": np.savez,
        "fastnpz-stored": fastnpz.savez,
    }[writer]
    buf = io.BytesIO()
    save(buf, **ARRAYS)
    if source == "path":
        target = tmp_path / "a.npz"
        target.write_bytes(buf.getvalue())
        opened = fastnpz.load(target)
    else:
        buf.seek(0)
        opened = fastnpz.load(buf)
    with opened as f:
        got = {k: f[k] for k in f}
    assert numpy_reads == []
    for k, v in ARRAYS.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        assert np.array_equal(got[k], v)


def test_object_members_fall_back_to_numpy(numpy_reads):
    buf = io.BytesIO()
    np.savez(buf, obj=np.array([1, "a"], dtype=object), x=np.arange(3))
    buf.seek(0)
    with fastnpz.load(buf, allow_pickle=True) as f:
        assert list(f["obj"]) == [1, "a"]
        assert f["x"].tolist() == [0, 1, 2]
    assert numpy_reads == ["obj"]
