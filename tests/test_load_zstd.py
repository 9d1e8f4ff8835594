"""Zstandard members (zip method 93), which CPython 3.14's zipfile reads and
writes (``zipfile.ZIP_ZSTANDARD``): fastnpz.load gives numpy's result,
values, flags, exceptions and warnings alike, from every kind of source.
Skipped where zipfile has no zstd (before 3.14, or built without it)."""
import io
import zipfile

import numpy as np
import pytest

from npz_inspect import compare_load
from test_load_parity import SOURCE_KINDS, Sources, _mixed


def _zstd_method():
    method = getattr(zipfile, "ZIP_ZSTANDARD", None)
    if method is None:
        return None
    try:  # the constant exists even where compression.zstd is missing
        with zipfile.ZipFile(io.BytesIO(), "w", compression=method) as z:
            z.writestr("probe", b"x")
    except (RuntimeError, NotImplementedError, ImportError):
        return None
    return method


ZSTD = _zstd_method()
pytestmark = pytest.mark.skipif(ZSTD is None, reason="zipfile cannot write Zstandard members here")


def _npy(array):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


def _zip(members, **kwargs):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", **kwargs) as z:
        for name, data, method in members:
            z.writestr(name, data, compress_type=method)
    return buf.getvalue()


def _all_zstd(level=None):
    args, kwargs = _mixed()
    named = {f"arr_{i}": a for i, a in enumerate(args)} | kwargs
    return _zip([(f"{k}.npy", _npy(v), ZSTD) for k, v in named.items()], compresslevel=level)


def _mixed_methods():
    a, f = _npy(np.arange(1000.0)), _npy(np.asfortranarray(np.eye(5, dtype="<i2")))
    return _zip([("s.npy", a, zipfile.ZIP_STORED), ("z.npy", f, ZSTD),
                 ("d.npy", a, zipfile.ZIP_DEFLATED), ("z2.npy", a, ZSTD)])


def _flipped():
    # One byte of the first member's zstd frame, past its header: zstd's
    # own error or the CRC check, as zipfile reports it.
    raw = bytearray(_zip([("a.npy", _npy(np.arange(5000)), ZSTD), ("b.npy", _npy(np.ones(3)), ZSTD)]))
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = z.getinfo("a.npy")
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[data_start + info.compress_size // 2] ^= 0x55
    return bytes(raw)


ARCHIVES = {
    "all_zstd": _all_zstd,
    "all_zstd_level_19": lambda: _all_zstd(19),
    "mixed_methods": _mixed_methods,
    "big_member": lambda: _zip([("big.npy", _npy(np.arange(3_000_000, dtype="<i4") % 251), ZSTD)]),
    "object_member": lambda: _zip([("o.npy", _npy(np.array([1, "two", None], dtype=object)), ZSTD)]),
    "corrupt_frame": _flipped,
}


@pytest.mark.parametrize("allow_pickle", [False, True])
@pytest.mark.parametrize("name", sorted(ARCHIVES))
def test_zstd_archive(fzload, tmp_path, name, allow_pickle):
    src = Sources(ARCHIVES[name](), tmp_path)
    try:
        for kind in ("bytesio", "path_str", "file", "file_after_prefix"):
            compare_load(fzload, src.make(kind), allow_pickle=allow_pickle,
                         what=f"{name} from {kind}, allow_pickle={allow_pickle}")
    finally:
        src.close()


@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_zstd_from_every_source(fzload, tmp_path, kind):
    src = Sources(_mixed_methods(), tmp_path)
    try:
        compare_load(fzload, src.make(kind), what=kind)
    finally:
        src.close()


@pytest.mark.parametrize("mmap_mode", ["r", "c"])
def test_zstd_with_mmap_mode(tmp_path, mmap_mode):
    # numpy ignores mmap_mode for .npz; fastnpz maps stored members (an
    # extension, README "What differs") and reads the zstd and deflated
    # ones as numpy does.
    import fastnpz

    path = tmp_path / "mixed.npz"
    path.write_bytes(_mixed_methods())
    with np.load(path) as theirs, fastnpz.load(path, mmap_mode=mmap_mode) as ours:
        assert ours.files == theirs.files
        for name in theirs.files:
            got, want = ours[name], theirs[name]
            np.testing.assert_array_equal(got, want)
            assert got.dtype == want.dtype and got.shape == want.shape
            assert isinstance(got, np.memmap) == (name == "s"), name
