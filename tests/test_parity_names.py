"""Member naming: order, unicode, odd keys, duplicates, many members, big
headers."""
import io

import numpy as np
import pytest

from npz_inspect import check_parity, parse_zip

X = np.arange(6, dtype="<i2")


def test_keyword_then_positional_order(kind):
    np_raw, fz_raw = check_parity(kind, X, X * 2, X * 3, zeta=X, alpha=X + 1, mid=X - 1)
    names = parse_zip(np_raw).names
    assert names == [b"zeta.npy", b"alpha.npy", b"mid.npy", b"arr_0.npy", b"arr_1.npy",
                     b"arr_2.npy"], f"oracle order changed: {names}"


def test_keyword_named_like_positional(kind):
    check_parity(kind, X, arr_1=X * 5)        # no clash: arr_1 + positional arr_0


@pytest.mark.parametrize("key", [
    "\u00e9t\u00e9",              # latin-1 range, non-ASCII
    "\u6570\u636e",               # CJK
    "emoji_\U0001f600",           # astral plane
    "mixed/\u00fc/path",
    "dir/sub/name",
    "/leading",
    "..",
    "../escape",
    "",
    " spaces ",
    "trailing/",
    "back\\slash",
    "x" * 300,
    "\u00e9" * 200,
    "dot.npy",
    "with\nnewline",
    "tab\tand\x7f",
    "A" * 65000,
], ids=lambda k: repr(k)[:40])
def test_odd_keys(kind, key):
    np_raw, fz_raw = check_parity(kind, **{key: X}, other=X)
    ar = parse_zip(fz_raw)
    nonascii = not key.isascii()
    assert bool(ar.members[0].central.flags & 0x0800) == nonascii


def test_key_with_nul_truncated_and_duplicate_warning(kind):
    np_raw, fz_raw = check_parity(kind, **{"q\x00x": X, "q\x00y": X + 1, "r\x00": X})
    assert parse_zip(np_raw).names == [b"q", b"q", b"r"]


def test_duplicate_via_nul_with_real_name(kind):
    check_parity(kind, **{"arr_0.npy\x00": X}, extra=X)   # 'arr_0.npy' then positional?
    check_parity(kind, X, **{"arr_0.npy\x00tail": X + 1})   # duplicates 'arr_0.npy'


def test_no_arrays(kind):
    np_raw, fz_raw = check_parity(kind)
    assert len(fz_raw) == len(np_raw) == 22
    assert fz_raw == np_raw, f"empty archive differs: numpy {np_raw!r}, fastnpz {fz_raw!r}"


def test_many_members(kind):
    arrs = {f"m{i}": np.full(i % 5, i, dtype="<i4") for i in range(3000)}
    check_parity(kind, *[X] * 5, **arrs)


def test_more_than_65535_members_zip64_end_records(kind):
    arrs = {str(i): np.uint8(i % 256) for i in range(65537)}
    np_raw, fz_raw = check_parity(kind, **arrs, check_load=False)
    a = parse_zip(np_raw)
    assert a.eocd64 is not None, "oracle should use zip64 end records"
    with np.load(io.BytesIO(fz_raw)) as z:
        assert len(z.files) == 65537
        assert z["65536"] == 0 and z["300"] == 44


def test_exactly_65535_members_no_zip64_end():
    arrs = {str(i): np.bool_(i % 2) for i in range(65535)}
    np_raw, fz_raw = check_parity("savez", **arrs, check_load=False)
    assert parse_zip(np_raw).eocd64 is None


def test_huge_structured_header_format_2(kind):
    arr = np.array(1, dtype="i," * 10000 + "i")
    np_raw, fz_raw = check_parity(kind, arr=arr)
    z = parse_zip(np_raw)
    assert z.members  # oracle wrote it


def test_format_2_0_array(kind):
    dt = [(("%d" % i) * 100, float) for i in range(500)]
    a = np.ones(10, dtype=dt)
    check_parity(kind, a, b=a[::2])


def test_header_growth_padding_boundaries(kind):
    # Header lengths near the 64-byte alignment boundary (struct names of
    # increasing length) and shapes with many digits.
    for n in range(20, 30):
        dt = np.dtype([(" " * n, "<i8")])
        for shape in [(10 ** 9 + 1, 0), (0, 10 ** 12), (3,), ()]:
            a = np.zeros(shape, dtype=dt)
            check_parity(kind, a, f=np.asfortranarray(np.zeros((2, 0), dt)),
                         what=f"n={n} shape={shape}")


def test_kwargs_dict_not_mutated(fnpz, kind):
    kw = {"a": X, "b": X}
    getattr(fnpz, kind)(io.BytesIO(), X, **kw)
    assert list(kw) == ["a", "b"]


def test_return_value_is_none(fnpz, kind):
    assert getattr(np, kind)(io.BytesIO(), X) is None
    assert getattr(fnpz, kind)(io.BytesIO(), X) is None
