"""Memory layouts (contiguity, strides, views) and large / multi-chunk data,
including fastnpz.options(threads=..., level=...)."""
import io

import numpy as np
import pytest

from npz_inspect import assert_bytes_identical, assert_full_parity, check_parity, parse_zip, save_bytes

BASE = np.arange(2 * 3 * 4 * 5, dtype="<i4").reshape(2, 3, 4, 5) * 7 - 100
M = np.arange(6 * 8, dtype="<f8").reshape(6, 8) / 3


def _unaligned():
    buf = bytearray(8 * 10 + 1)
    a = np.frombuffer(buf, dtype="<f8", offset=1, count=10)
    a.setflags(write=True) if a.flags.writeable else None
    return np.frombuffer(bytes(b"\x01" + np.arange(10.0).tobytes()), dtype="<f8", offset=1)


LAYOUTS = {
    "C_2d": lambda: M.copy(),
    "F_2d": lambda: np.asfortranarray(M),
    "F_3d": lambda: np.asfortranarray(BASE[0]),
    "F_4d": lambda: np.asfortranarray(BASE),
    "F_1xn": lambda: np.asfortranarray(np.arange(7.0).reshape(1, 7)),
    "F_nx1": lambda: np.asfortranarray(np.arange(7.0).reshape(7, 1)),
    "F_1x1": lambda: np.asfortranarray(np.ones((1, 1))),
    "F_1x1x5": lambda: np.asfortranarray(np.arange(5.0).reshape(1, 1, 5)),
    "transpose_2d": lambda: M.T,
    "transpose_3d_partial": lambda: BASE[0].transpose(1, 0, 2),
    "transpose_4d_reversed": lambda: BASE.transpose(3, 2, 1, 0),
    "steps": lambda: M[::2, 1::3],
    "steps_4d": lambda: BASE[:, ::2, 1:, ::-2],
    "neg_1d": lambda: np.arange(10)[::-1],
    "neg_cols": lambda: M[:, ::-2],
    "neg_rows": lambda: M[::-1],
    "neg_both": lambda: M[::-1, ::-1],
    "column": lambda: M[:, 3],
    "broadcast_row": lambda: np.broadcast_to(np.arange(5.0), (4, 5)),
    "broadcast_col": lambda: np.broadcast_to(np.arange(4.0)[:, None], (4, 6)),
    "broadcast_scalar": lambda: np.broadcast_to(np.float32(2.5), (3, 3, 3)),
    "broadcast_3d": lambda: np.broadcast_to(np.arange(20).reshape(4, 1, 5), (4, 3, 5)),
    "as_strided_overlap": lambda: np.lib.stride_tricks.sliding_window_view(np.arange(10), 4),
    "complex_real_view": lambda: (np.arange(12) + 1j * np.arange(12)).reshape(3, 4).real,
    "complex_imag_T": lambda: (np.arange(12) * (1 - 2j)).reshape(3, 4).imag.T,
    "struct_field_view": lambda: np.zeros(6, "i4,f8,i2")["f1"],
    "unaligned": _unaligned,
    "bytes_sliced": lambda: np.array([b"abc", b"de", b"f"] * 3)[::2],
    "unicode_F": lambda: np.asfortranarray(np.array([["x", "\u00e9\u00e9"], ["\u4e00", ""]])),
    "bool_T": lambda: (M > 5).T,
    "F_with_zero_dim": lambda: np.zeros((3, 0, 2), order="F"),
    "neg_stride_F_like": lambda: np.asfortranarray(M)[::-1],
    "F_subslice_still_F": lambda: np.asfortranarray(M)[:, 2:5],
    "F_1d_view_of_F": lambda: np.asfortranarray(M)[:, 1],
    "C_row_of_C": lambda: M[2],
    "object_T": lambda: np.array([[1, "a"], [None, 2.5]], dtype=object).T,
    "object_neg": lambda: np.array([1, "a", None, 2.5], dtype=object)[::-1],
    "datetime_T": lambda: np.arange(12).astype("M8[s]").reshape(3, 4).T,
    "be_F": lambda: np.asfortranarray(M.astype(">f8")),
    "be_neg": lambda: M.astype(">i2")[::-1, ::3],
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout(kind, name):
    a = LAYOUTS[name]()
    check_parity(kind, a, same=a, what=name)


def test_fortran_order_flag_roundtrip(kind):
    """np.load gives F-contiguous arrays back exactly when numpy's does."""
    arrs = {k: LAYOUTS[k]() for k in ("F_2d", "F_3d", "F_1xn", "transpose_2d", "steps")}
    np_raw, fz_raw = check_parity(kind, **arrs)
    with np.load(io.BytesIO(fz_raw)) as z:
        assert z["F_2d"].flags.f_contiguous and not z["F_2d"].flags.c_contiguous
        assert z["transpose_2d"].flags.f_contiguous


# --------------------------------------------------------------------------
# large inputs: cross internal chunk boundaries, multi-chunk compression
# --------------------------------------------------------------------------

def _big_contiguous():
    rng = np.random.default_rng(1234)
    n = 20 * 2 ** 20 // 8
    a = np.empty(n, dtype="<f8")
    a[: n // 2] = rng.standard_normal(n // 2)       # hard to compress
    a[n // 2:] = np.arange(n - n // 2) % 1031       # easy to compress
    return a


def _big_noncontig_1m():
    # ~1.2 MiB of data, non-contiguous (every other int32 of a 2.4 MiB array)
    a = (np.arange(630_000, dtype="<i8") * 2654435761 % 4099).astype("<i4")
    return a.reshape(1260, 500)[:, ::2].T


def _big_noncontig_5m():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((1280, 2048)).astype("<f4")
    a[::4] = np.arange(2048) % 13                     # partly compressible rows
    return a[::-1, ::-2]                              # ~5 MiB, negative strides


def _big_F_3d():
    a = np.arange(64 * 128 * 130, dtype="<u2").reshape(64, 128, 130) % 977
    return np.asfortranarray(a)                       # ~2 MiB, fortran order


def _big_broadcast():
    return np.broadcast_to(np.arange(700, dtype="<f8") / 7, (2000, 700))   # ~10.7 MiB


BIG = {
    "contig_20MiB": _big_contiguous,
    "noncontig_1MiB": _big_noncontig_1m,
    "noncontig_5MiB": _big_noncontig_5m,
    "F_3d": _big_F_3d,
    "broadcast_10MiB": _big_broadcast,
}


@pytest.fixture(scope="module")
def big_oracle():
    """numpy's archives for each big input (computed once per module)."""
    cache = {}

    def get(name, kind):
        key = (name, kind)
        if key not in cache:
            arr = BIG[name]()
            raw, w, exc = save_bytes(getattr(np, kind), arr, x=arr[:3])
            assert exc is None and w == []
            cache[key] = (arr, raw)
        return cache[key]
    return get


def _fz_save(fnpz, kind, arr, **opts):
    with fnpz.options(**opts):
        raw, w, exc = save_bytes(getattr(fnpz, kind), arr, x=arr[:3])
    assert exc is None, f"fastnpz raised {exc!r} with options {opts}"
    assert w == [], f"unexpected warnings {w}"
    return raw


@pytest.mark.parametrize("name", sorted(BIG))
def test_big_default(fnpz, big_oracle, kind, name):
    arr, np_raw = big_oracle(name, kind)
    fz_raw = _fz_save(fnpz, kind, arr)
    assert_full_parity(np_raw, fz_raw, stored=(kind == "savez"), what=name)
    if kind == "savez":
        assert_bytes_identical(np_raw, fz_raw, what=name)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("level", [0, 1, 9])
@pytest.mark.parametrize("name", ["contig_20MiB", "noncontig_5MiB"])
def test_big_options(fnpz, big_oracle, name, level, threads):
    arr, np_raw = big_oracle(name, "savez_compressed")
    fz_raw = _fz_save(fnpz, "savez_compressed", arr, level=level, threads=threads)
    assert_full_parity(np_raw, fz_raw, what=f"{name} level={level} threads={threads}")
    if level == 0:
        for m in parse_zip(fz_raw).members:
            assert m.central.method == 8, "level 0 still writes deflate (method 8) like zipfile"
            assert m.central.csize >= m.central.usize, (
                f"level 0 should store uncompressed deflate blocks: csize "
                f"{m.central.csize} < usize {m.central.usize}")


@pytest.mark.parametrize("name", ["noncontig_1MiB", "F_3d", "broadcast_10MiB"])
@pytest.mark.parametrize("threads", [1, 2])
def test_big_threads_savez(fnpz, big_oracle, name, threads):
    arr, np_raw = big_oracle(name, "savez")
    fz_raw = _fz_save(fnpz, "savez", arr, threads=threads)
    assert_bytes_identical(np_raw, fz_raw, what=f"savez {name} threads={threads}")


def test_level_changes_output_size(fnpz):
    rng = np.random.default_rng(5)
    arr = rng.integers(0, 40, size=(512, 1024), dtype=np.int32)[:, ::-2]   # 1 MiB
    sizes = {lv: parse_zip(_fz_save(fnpz, "savez_compressed", arr, level=lv)).members[0]
             .central.csize for lv in (0, 1, 9)}
    assert sizes[0] > sizes[1] > sizes[9], f"compressed sizes by level: {sizes}"


def test_threads_do_not_change_bytes(fnpz, big_oracle):
    arr, _ = big_oracle("contig_20MiB", "savez_compressed")
    for level in (None, 1):
        a = _fz_save(fnpz, "savez_compressed", arr, threads=1, level=level)
        b = _fz_save(fnpz, "savez_compressed", arr, threads=2, level=level)
        assert_bytes_identical(a, b, what=f"threads=1 vs threads=2, level={level}")


def test_default_is_deterministic_and_level_6(fnpz, big_oracle):
    arr, _ = big_oracle("contig_20MiB", "savez_compressed")
    a = _fz_save(fnpz, "savez_compressed", arr)
    b = _fz_save(fnpz, "savez_compressed", arr)
    assert_bytes_identical(a, b, what="two default fastnpz saves")
    c = _fz_save(fnpz, "savez_compressed", arr, level=6)
    assert_bytes_identical(a, c, what="default vs options(level=6)")


def test_deterministic_small_many_members(fnpz):
    arrs = {f"k{i}": LAYOUTS[k]() for i, k in enumerate(sorted(LAYOUTS))}
    a, _, _ = save_bytes(fnpz.savez_compressed, **arrs)
    b, _, _ = save_bytes(fnpz.savez_compressed, **arrs)
    assert_bytes_identical(a, b, what="repeat save")


@pytest.mark.parametrize("level", [1, 6])
def test_repeated_multithreaded_saves_identical(fnpz, level):
    """Output must not depend on which worker thread compressed which chunk:
    many threads=2 saves must all equal the threads=1 save."""
    a = np.arange(200_000, dtype="<i8") * 4 % 997          # 1.6 MB, several chunks
    with fnpz.options(level=level, threads=1):
        ref = save_bytes(fnpz.savez_compressed, a, b=a[::-3])[0]
    outs = set()
    for _ in range(25):
        with fnpz.options(level=level, threads=2):
            outs.add(save_bytes(fnpz.savez_compressed, a, b=a[::-3])[0])
    lens = sorted(len(o) for o in outs)
    assert outs == {ref}, (
        f"{len(outs)} distinct archives from 25 identical threads=2 saves "
        f"(lengths {lens}; threads=1 gave {len(ref)} bytes)")
