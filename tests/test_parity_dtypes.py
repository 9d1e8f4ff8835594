"""dtype coverage: numpy.savez[_compressed] vs fastnpz on the same input."""
import warnings

import numpy as np
import pytest

from npz_inspect import check_parity, has_undefined_bytes, member_payloads, parse_zip


def _values(dt, shape=(3, 4), seed=0):
    dt = np.dtype(dt)
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dt.kind == "b":
        v = rng.integers(0, 2, n).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        v = rng.integers(info.min, info.max, n, dtype=dt.newbyteorder("="), endpoint=True)
    elif dt.kind == "f":
        v = rng.standard_normal(n) * 1e3
        if n >= 4:
            v[:4] = [np.nan, -0.0, np.inf, -np.inf]
    elif dt.kind == "c":
        v = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    elif dt.kind == "S":
        v = np.array([bytes([65 + i % 26]) * (i % 6) for i in range(n)])
    elif dt.kind == "U":
        v = np.array(["\u00e9\u4e00x"[: i % 4] + str(i) for i in range(n)])
    elif dt.kind == "V":
        v = np.frombuffer(rng.bytes(n * dt.itemsize), dtype=dt)
    elif dt.kind == "M":
        v = (np.arange(n) * 86_400_123 - 10**9).astype("i8").view("M8[ns]")
        if n > 2:
            v[1] = np.datetime64("NaT")
    elif dt.kind == "m":
        v = (np.arange(n) * 37 - 100).astype("i8").view("m8[ns]")
        if n > 2:
            v[2] = np.timedelta64("NaT")
    else:
        raise AssertionError(dt)
    return np.asarray(v).astype(dt).reshape(shape)


PLAIN_DTYPES = [
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8",
    "c8", "c16", ">i2", ">i4", ">i8", ">u2", ">u8", "<i4", ">f2", ">f4", ">f8",
    "<f8", ">c8", ">c16", "S5", "S1", "U7", ">U7", "U1", "V8", "V1",
    "M8[ns]", "M8[D]", ">M8[s]", "M8[Y]", "m8[ns]", "m8[D]", ">m8[us]",
]


@pytest.mark.parametrize("dt", PLAIN_DTYPES)
def test_plain_dtypes(kind, dt):
    a = _values(dt)
    check_parity(kind, a, named=a[::-1, ::2], what=dt)


@pytest.mark.parametrize("dt", [np.longdouble, np.clongdouble,
                                np.dtype(np.longdouble).newbyteorder(">")])
def test_longdouble(kind, dt):
    a = (np.arange(24, dtype=np.longdouble) / 7).astype(dt).reshape(4, 6)
    nd = ("arr_0", "t") if has_undefined_bytes(np.dtype(dt)) else ()
    check_parity(kind, a, t=a.T, nondeterministic=nd, what=str(dt))


def _fill(dt, n=6):
    a = np.zeros(n, dtype=dt)
    raw = a.view(np.uint8) if dt.itemsize else None
    if raw is not None:
        # deterministic, non-zero field values (padding bytes too: the array
        # is contiguous so its padding is well defined memory)
        raw[...] = (np.arange(raw.size) * 7 + 3) % 251
    return a


STRUCT_DTYPES = {
    "simple": np.dtype([("x", "<i4"), ("y", ">f8")]),
    "aligned_padding": np.dtype([("a", "i1"), ("b", "i8"), ("c", "i2")], align=True),
    "titles": np.dtype({"names": ["a", "b"], "formats": ["i4", "f8"],
                        "titles": ["Alpha", "Beta"]}),
    "offsets_gaps": np.dtype({"names": ["a", "b"], "formats": ["i4", "i4"],
                              "offsets": [1, 6], "itemsize": 12}),
    "nested": np.dtype([("p", [("x", "i2"), ("y", "f4")]), ("q", "u1", (2, 3))]),
    "nested_aligned": np.dtype([("p", np.dtype([("x", "i1"), ("y", "f8")], align=True)),
                                ("z", "i2")], align=True),
    "subarray_fields": np.dtype([("m", "f8", (2, 2)), ("s", "S3"), ("u", "U2", (3,))]),
    "empty_fields": np.dtype({"names": [], "formats": [], "itemsize": 8}),
    "blank_field_name": np.dtype({"names": ["a", "", "b"], "formats": ["i4"] * 3}),
    "latin1_names": np.dtype([("\u00e9t\u00e9", "i4"), ("\u00ff", "f4")]),
    "datetime_field": np.dtype([("t", "M8[ms]"), ("d", ">m8[s]")]),
}


@pytest.mark.parametrize("name", sorted(STRUCT_DTYPES))
def test_structured_contiguous(kind, name):
    dt = STRUCT_DTYPES[name]
    a = _fill(dt).reshape(2, 3)
    check_parity(kind, a, zero=np.zeros(0, dt), scalar=a[1, 2], what=name)


@pytest.mark.parametrize("name", sorted(STRUCT_DTYPES))
def test_structured_noncontiguous(kind, name):
    # padding bytes of non-contiguous structured input are not deterministic
    # in numpy: compare headers + np.load values.
    dt = STRUCT_DTYPES[name]
    a = _fill(dt, 24).reshape(4, 6)
    check_parity(kind, a[::2, ::-3], f=np.asfortranarray(a)[:, 1:],
                 nondeterministic="all", what=name)


def test_structured_unicode_field_names_format3(kind):
    dt = np.dtype([("int", "<i8"), ("\u6574\u5f62", "<i8")])
    a = np.array([(1, 3), (1, 2)], dtype=dt)
    np_raw, _ = check_parity(kind, a, b=a, what="non-latin1 field names")
    versions = [p[6:8] for p in member_payloads(parse_zip(np_raw))]
    assert versions == [b"\x03\x00"] * 2, f"oracle should be npy format 3.0, got {versions}"


def test_structured_with_object_field_is_pickled(kind):
    dt = np.dtype([("o", object), ("i", "i4")])
    a = np.array([({"k": 1}, 1), ([1, 2], 2)], dtype=dt)
    check_parity(kind, a, what="object field")


OBJECT_INPUTS = {
    "mixed_1d": lambda: np.array([1, "a", None, {"k": [1, 2]}, 2.5, b"x"], dtype=object),
    "2d_F": lambda: np.asfortranarray(np.array([[1, "x"], [None, (1, 2)]], dtype=object)),
    "0d": lambda: np.array(None, dtype=object),
    "empty": lambda: np.zeros((0, 3), dtype=object),
    "bigint": lambda: np.array([2 ** 70, -(2 ** 80)], dtype=object),
    "nested_arrays": lambda: np.array([np.arange(3), np.ones((2, 2))] + [None], dtype=object),
}


@pytest.mark.parametrize("name", sorted(OBJECT_INPUTS))
def test_object_arrays_pickled(kind, name):
    check_parity(kind, OBJECT_INPUTS[name](), what=name)


def test_object_arrays_with_allow_pickle_true_explicit(kind):
    a = OBJECT_INPUTS["mixed_1d"]()
    check_parity(kind, a, allow_pickle=True)


@pytest.mark.skipif(not hasattr(np, "dtypes") or not hasattr(np.dtypes, "StringDType"),
                    reason="StringDType needs numpy >= 2.0")
@pytest.mark.parametrize("na", [False, True])
def test_stringdtype(kind, na):
    sd = np.dtypes.StringDType(na_object=None) if na else np.dtypes.StringDType()
    vals = ["a", "bcd", "\u00fc\u4e00", "", "long string " * 20]
    if na:
        vals.append(None)
    a = np.array(vals, dtype=sd)
    check_parity(kind, a, two_d=np.array([["x", "yy"], ["zzz", ""]], dtype=sd),
                 what=f"StringDType na={na}")


@pytest.mark.parametrize("dt", [
    np.dtype(int, metadata={"some": "stuff"}),
    np.dtype([("subarray", (int, (2,)))], metadata={"some": "stuff"}),
    np.dtype({"names": ["a", "b"], "formats": [float, np.dtype("S3", metadata={"x": 1})]}),
], ids=["int", "subarray", "field"])
def test_dtype_with_metadata_warns_like_numpy(kind, dt):
    a = np.ones(5, dtype=dt)
    # Some numpy versions (1.26) keep a *field's* metadata in the header descr
    # and then cannot load their own archive: compare the archives, and only
    # np.load them where the oracle can read its own header back.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            np.lib.format.descr_to_dtype(np.lib.format.dtype_to_descr(dt))
            check_load = True
        except ValueError:
            check_load = False
    check_parity(kind, a, b=a, what="metadata dtype", check_load=check_load)


ZERO_SIZE = {
    "f8_0": lambda: np.zeros((0,), "f8"),
    "i4_3x0": lambda: np.zeros((3, 0), "i4"),
    "i2_0x4_F": lambda: np.zeros((0, 4), "i2", order="F"),
    "U3_0": lambda: np.zeros((0,), "U3"),
    "S0_len": lambda: np.zeros((2, 0, 5), "S2"),
    "struct_0": lambda: np.zeros((0, 2), "i4,f8"),
    "obj_0": lambda: np.zeros((0,), object),
    "F_0x0": lambda: np.zeros((0, 0), "f4", order="F"),
}


@pytest.mark.parametrize("name", sorted(ZERO_SIZE))
def test_zero_size(kind, name):
    a = ZERO_SIZE[name]()
    check_parity(kind, a, what=name)


ZERO_D = {
    "f8": lambda: np.array(3.25),
    "np_scalar_f8": lambda: np.float64(-1.5),
    "np_scalar_i1": lambda: np.int8(-5),
    "str": lambda: np.array("x\u00e9"),
    "bytes": lambda: np.array(b"yz"),
    "struct": lambda: np.array((1, 2.0), dtype="i4,f8"),
    "datetime": lambda: np.datetime64("2020-01-02T03:04"),
    "void_scalar": lambda: np.void(b"\x00\x01\x02"),
    "str_scalar": lambda: np.str_("abc"),
    "be_0d": lambda: np.array(7, dtype=">u4"),
}


@pytest.mark.parametrize("name", sorted(ZERO_D))
def test_zero_d(kind, name):
    check_parity(kind, ZERO_D[name](), what=name)


PY_VALUES = {
    "int": 5, "neg_int": -7, "float": 3.5, "complex": 2 + 1j, "bool": True,
    "str": "hello \u00fc", "bytes": b"bytes\x00", "list": [1, 2, 3],
    "nested_list": [[1.0, 2], [3, 4]], "none": None, "tuple": (1, 2),
    "empty_list": [], "empty_nested": [[]], "dict": {"a": 1},
    "bigint": 2 ** 70, "range": range(5), "str_list": ["a", "bcd"],
    "mixed_list": [1, 2.5], "bool_list": [True, False],
}


@pytest.mark.parametrize("name", sorted(PY_VALUES))
def test_python_values(kind, name):
    check_parity(kind, PY_VALUES[name], named=PY_VALUES[name], what=name)


def test_matrix(kind):
    m = np.matrix([[1, 2], [3, 4]])
    check_parity(kind, m, t=m.T, what="np.matrix")


def test_masked_array(kind):
    ma = np.ma.array([[1.0, 2.0], [3.0, 4.0]], mask=[[0, 1], [1, 0]])
    check_parity(kind, ma, m2=np.ma.masked_invalid([1.0, np.nan]), what="MaskedArray")


def test_masked_object_array(kind):
    ma = np.ma.array(np.array([1, None, "x"], dtype=object), mask=[0, 1, 0])
    check_parity(kind, ma, what="masked object array (pickled)")


def test_recarray(kind):
    r = np.rec.array([(1, 2.0, b"a"), (3, 4.0, b"b")], dtype="i4,f8,S1")
    check_parity(kind, r, what="recarray")


def test_memmap(kind, tmp_path):
    mm = np.memmap(tmp_path / "mm.bin", dtype="<f4", mode="w+", shape=(64, 32))
    mm[...] = np.arange(mm.size, dtype="f4").reshape(mm.shape)
    mm.flush()
    ro = np.memmap(tmp_path / "mm.bin", dtype="<f4", mode="r", shape=(64, 32))
    fo = np.memmap(tmp_path / "mm.bin", dtype="<f4", mode="r", shape=(32, 64), order="F")
    check_parity(kind, mm, ro=ro, fo=fo, sl=ro[::3, 1::2], what="memmap")
    del mm, ro, fo


def test_subclass_with_extra_attribute(kind):
    class Tagged(np.ndarray):
        pass

    a = np.arange(10).view(Tagged)
    check_parity(kind, a, what="ndarray subclass")


def test_bool_and_byte_patterns_large(kind):
    rng = np.random.default_rng(3)
    check_parity(kind, rng.integers(0, 2, 300_001).astype(bool),
                 u=rng.integers(0, 256, 200_003).astype(np.uint8), what="odd sizes")
