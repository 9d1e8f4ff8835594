"""fastnpz.load on every kind of archive the save tests make.

The archives are written by numpy and by fastnpz (savez and
savez_compressed; seekable and unseekable targets, so with and without data
descriptors; fastnpz at several levels and thread counts; members of several
MiB that span many chunks), plus archives written directly with zipfile
(every compression method zipfile reads, non-.npy members, duplicate names).
Each one is loaded with numpy.load and with the loader under test from fresh
sources of the same kind, with allow_pickle both ways, and everything
observable must match: the result's class, ``files`` (order included), and
per member the dtype, shape, strides, contiguity, writeable/owndata/aligned
flags, base, the values bit for bit, or the exception (type, message, cause)
and the warnings.
"""
import functools
import gzip
import io
import tempfile
import warnings
import zipfile

import numpy as np
import pytest

import fastnpz
from npz_inspect import Unseekable, call_key, compare_load, load_events, value_key
from test_parity_dtypes import (
    OBJECT_INPUTS,
    PLAIN_DTYPES,
    PY_VALUES,
    STRUCT_DTYPES,
    ZERO_D,
    ZERO_SIZE,
    _fill,
    _values,
)
from test_parity_layouts import LAYOUTS
from test_parity_levels import INPUTS as BIG_INPUTS

PREFIX = b"#!prefix bytes before the archive\n"
HAS_STRINGDTYPE = hasattr(np, "dtypes") and hasattr(np.dtypes, "StringDType")


# ---------------------------------------------------------------------------
# archive writers
# ---------------------------------------------------------------------------

def _save(func, args, kwargs, target):
    with warnings.catch_warnings():
        # numpy warns for format 2/3 headers and duplicate names; the
        # archive is what matters here.
        warnings.simplefilter("ignore")
        func(target, *args, **kwargs)


def _to_bytesio(func, prefix=b""):
    def write(args, kwargs):
        buf = io.BytesIO()
        buf.write(prefix)
        _save(func, args, kwargs, buf)
        return buf.getvalue()
    return write


def _to_stream(func):
    def write(args, kwargs):
        # unseekable: zipfile (and fastnpz) follow members with data descriptors
        s = Unseekable()
        _save(func, args, kwargs, s)
        return bytes(s.data)
    return write


def _with_options(func, **opts):
    def write(args, kwargs):
        with fastnpz.options(**opts):
            return _to_bytesio(func)(args, kwargs)
    return write


WRITERS = {
    "np_savez": _to_bytesio(np.savez),
    "np_savez_compressed": _to_bytesio(np.savez_compressed),
    "fz_savez": _to_bytesio(fastnpz.savez),
    "fz_savez_compressed": _to_bytesio(fastnpz.savez_compressed),
}
STREAM_WRITERS = {
    "np_savez_stream": _to_stream(np.savez),
    "np_savez_compressed_stream": _to_stream(np.savez_compressed),
    "fz_savez_stream": _to_stream(fastnpz.savez),
    "fz_savez_compressed_stream": _to_stream(fastnpz.savez_compressed),
}
LEVEL_WRITERS = {
    f"fz_level{level}_threads{threads}": _with_options(fastnpz.savez_compressed,
                                                      level=level, threads=threads)
    for level in (0, 1, 6, 9) for threads in (1, 2)
}


# ---------------------------------------------------------------------------
# inputs (the save tests' tables, plus names and shapes of their own)
# ---------------------------------------------------------------------------

def _cases():
    c = {}
    for dt in PLAIN_DTYPES:
        c[f"dtype_{dt}"] = lambda dt=dt: ((_values(dt),), {"named": _values(dt)[::-1, ::2]})
    for dt in (np.longdouble, np.clongdouble):
        c[f"dtype_{np.dtype(dt).name}"] = lambda dt=dt: (
            ((np.arange(24) / 7).astype(dt).reshape(4, 6),),
            {"t": (np.arange(24) / 7).astype(dt).reshape(4, 6).T})
    for name, dt in STRUCT_DTYPES.items():
        c[f"struct_{name}"] = lambda dt=dt: (
            (_fill(dt).reshape(2, 3),),
            {"zero": np.zeros(0, dt), "scalar": _fill(dt)[1],
             "F": np.asfortranarray(_fill(dt, 24).reshape(4, 6))[:, 1:]})
    c["struct_format3_names"] = lambda: (
        (np.array([(1, 3), (1, 2)], dtype=[("int", "<i8"), ("\u6574\u5f62", "<i8")]),), {})
    c["struct_object_field"] = lambda: (
        (np.array([({"k": 1}, 1), ([1, 2], 2)], dtype=[("o", object), ("i", "i4")]),), {})
    for name, make in OBJECT_INPUTS.items():
        c[f"object_{name}"] = lambda make=make: ((make(),), {"plain": np.arange(3)})
    if HAS_STRINGDTYPE:
        c["stringdtype"] = lambda: (
            (np.array(["a", "\u00fc\u4e00", "", "long " * 30], dtype=np.dtypes.StringDType()),),
            {"na": np.array(["x", None], dtype=np.dtypes.StringDType(na_object=None))})
    for name, make in ZERO_SIZE.items():
        c[f"zero_size_{name}"] = lambda make=make: ((make(),), {})
    for name, make in ZERO_D.items():
        c[f"zero_d_{name}"] = lambda make=make: ((make(),), {})
    for name, v in PY_VALUES.items():
        c[f"python_{name}"] = lambda v=v: ((v,), {"named": v})
    for name, make in LAYOUTS.items():
        c[f"layout_{name}"] = lambda make=make: ((make(),), {"same": make()})
    c["matrix"] = lambda: ((np.matrix([[1, 2], [3, 4]]),), {})
    c["masked"] = lambda: ((np.ma.array([1.0, 2.0], mask=[0, 1]),), {})
    c["recarray"] = lambda: ((np.rec.array([(1, 2.0)], dtype="i4,f8"),), {})
    c["metadata_dtype"] = lambda: ((np.ones(3, np.dtype(int, metadata={"k": "v"})),), {})
    c["no_arrays"] = lambda: ((), {})
    c["many_members"] = lambda: (
        (np.arange(3),) * 3, {f"m{i}": np.full(i % 4, i, "<i2") for i in range(1500)})
    c["huge_header_format2"] = lambda: ((), {"arr": np.array(1, dtype="i," * 9000 + "i")})
    c["header_over_10000"] = lambda: ((), {"wide": np.zeros(2, dtype=[(f"f{i:04d}", "u1")
                                                                    for i in range(700)])})
    c["odd_names"] = lambda: ((), {k: np.arange(i + 1) for i, k in enumerate(ODD_NAMES)})
    c["nul_duplicates"] = lambda: ((np.arange(2),), {"q\x00x": np.arange(3), "q\x00y": np.arange(4),
                                                     "arr_0.npy\x00": np.ones(2), "r\x00": 5})
    return c


ODD_NAMES = ["\u00e9t\u00e9", "\u6570\u636e", "emoji_\U0001f600", "dir/sub/name", "/leading",
             "..", "", " spaces ", "trailing/", "back\\slash", "x" * 300, "dot.npy",
             "with\nnewline", "tab\tand\x7f", "files", "f", "zip", "keys", "close"]
CASES = _cases()

# Members larger than 1 MiB: several chunks for fastnpz's writer and reader.
BIG_CASES = {f"big_{name}": make for name, make in BIG_INPUTS.items()}


@functools.lru_cache(maxsize=8)
def archive(case, writer):
    make = CASES.get(case) or BIG_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix
        args, kwargs = make()
    w = {**WRITERS, **STREAM_WRITERS, **LEVEL_WRITERS}[writer]
    return w(args, kwargs)


def _bytesio(raw):
    return lambda: io.BytesIO(raw)


# ---------------------------------------------------------------------------
# every input x every basic writer, from BytesIO
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_archive(fzload, case, writer):
    raw = archive(case, writer)
    for allow_pickle in (False, True):
        compare_load(fzload, _bytesio(raw), allow_pickle=allow_pickle,
                     what=f"{case} by {writer}, allow_pickle={allow_pickle}")


@pytest.mark.parametrize("writer", sorted(STREAM_WRITERS))
@pytest.mark.parametrize("case", ["object_mixed_1d", "layout_F_3d", "struct_nested",
                                  "zero_size_F_0x0", "no_arrays", "odd_names", "nul_duplicates",
                                  "dtype_f2", "dtype_>c16"])
def test_archive_with_data_descriptors(fzload, case, writer):
    raw = archive(case, writer)
    for allow_pickle in (False, True):
        compare_load(fzload, _bytesio(raw), allow_pickle=allow_pickle,
                     what=f"{case} by {writer}, allow_pickle={allow_pickle}")


def test_stringdtype_exists_where_numpy_has_it():
    # StringDType is numpy 2 only; on numpy 2 its case must be in the table.
    assert HAS_STRINGDTYPE == ("stringdtype" in CASES)
    if np.__version__.startswith("2."):
        assert HAS_STRINGDTYPE


# ---------------------------------------------------------------------------
# multi-chunk members, fastnpz at every level and thread count
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("writer", ["np_savez_compressed", "fz_savez_compressed", "np_savez"])
@pytest.mark.parametrize("case", sorted(BIG_CASES))
def test_big_archive(fzload, case, writer):
    raw = archive(case, writer)
    compare_load(fzload, _bytesio(raw), allow_pickle=True, what=f"{case} by {writer}")


@pytest.mark.parametrize("writer", sorted(LEVEL_WRITERS))
@pytest.mark.parametrize("case", ["big_random_then_repetitive", "big_fortran_order",
                                  "big_structured"])
def test_big_archive_levels_and_threads(fzload, case, writer):
    raw = archive(case, writer)
    compare_load(fzload, _bytesio(raw), what=f"{case} by {writer}")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", ["big_random_f64", "big_strided_views", "big_uint8_image"])
def test_big_archive_loaded_with_thread_options(fzload, case, threads, tmp_path):
    raw = archive(case, "fz_savez_compressed")
    path = tmp_path / "big.npz"
    path.write_bytes(raw)
    np_events = load_events(np.load, lambda: str(path))
    with fastnpz.options(threads=threads):
        fz_events = load_events(fzload, lambda: str(path))
    assert fz_events == np_events, f"{case} with options(threads={threads})"
    path.unlink()


# ---------------------------------------------------------------------------
# every kind of source
# ---------------------------------------------------------------------------

class Sources:
    """Fresh sources of one archive; closes the file objects it opened."""

    def __init__(self, raw, tmp_path):
        self.raw = raw
        self.path = tmp_path / "archive.npz"
        self.path.write_bytes(raw)
        self.prefixed = tmp_path / "prefixed.npz"
        self.prefixed.write_bytes(PREFIX + raw)
        self.gz = tmp_path / "archive.npz.gz"
        self.gz.write_bytes(gzip.compress(raw))
        self.opened = []

    def _keep(self, f):
        self.opened.append(f)
        return f

    def _at(self, f, pos):
        f.seek(pos)
        return f

    def make(self, kind):
        return {
            "bytesio": lambda: io.BytesIO(self.raw),
            "bytesio_after_prefix": lambda: self._at(io.BytesIO(PREFIX + self.raw), len(PREFIX)),
            "bytesio_prefix_at_start": lambda: io.BytesIO(PREFIX + self.raw),
            "bytesio_trailing_bytes": lambda: io.BytesIO(self.raw + b"trailing junk " * 7),
            "path_str": lambda: str(self.path),
            "pathlib": lambda: self.path,
            "path_bytes": lambda: bytes(self.path),
            "path_after_prefix": lambda: str(self.prefixed),
            "file": lambda: self._keep(open(self.path, "rb")),
            "file_after_prefix": lambda: self._at(
                self._keep(open(self.prefixed, "rb")), len(PREFIX)),
            "file_unbuffered": lambda: self._keep(open(self.path, "rb", buffering=0)),
            "gzip_file": lambda: self._keep(gzip.open(self.gz)),
            "spooled_tempfile": lambda: self._spooled(),
        }[kind]

    def _spooled(self):
        f = self._keep(tempfile.SpooledTemporaryFile(max_size=1 << 30))
        f.write(self.raw)
        f.seek(0)
        return f

    def close(self):
        for f in self.opened:
            f.close()


SOURCE_KINDS = ["bytesio", "bytesio_after_prefix", "bytesio_prefix_at_start",
                "bytesio_trailing_bytes", "path_str", "pathlib", "path_bytes",
                "path_after_prefix", "file", "file_after_prefix", "file_unbuffered",
                "gzip_file", "spooled_tempfile"]


def _mixed():
    return ((np.arange(7), np.array(2.5)), {
        "f": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "obj": np.array([1, "two", None], dtype=object),
        "empty": np.zeros((0, 3), "<u2"),
        "s": np.array(["a", "bc"]),
        "rec": np.zeros(2, "i4,f8"),
        "dt": np.arange(3).astype("M8[D]"),
        "be": np.arange(4, dtype=">i8"),
        "b": np.array([True, False]),
        "h": np.arange(5, dtype=np.float16),
    })


CASES["mixed"] = _mixed


@pytest.fixture
def sources(request, tmp_path):
    made = []

    def make(raw):
        s = Sources(raw, tmp_path)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


@pytest.mark.parametrize("allow_pickle", [False, True])
@pytest.mark.parametrize("writer", sorted(WRITERS) + sorted(STREAM_WRITERS))
@pytest.mark.parametrize("kind", SOURCE_KINDS)
def test_sources(fzload, sources, kind, writer, allow_pickle):
    src = sources(archive("mixed", writer))
    compare_load(fzload, src.make(kind), allow_pickle=allow_pickle,
                 what=f"{kind} of {writer}, allow_pickle={allow_pickle}")


@pytest.mark.parametrize("writer", ["np_savez", "np_savez_compressed", "fz_savez",
                                    "fz_savez_compressed"])
@pytest.mark.parametrize("kind", ["bytesio_after_prefix", "file_after_prefix", "path_str"])
def test_archive_written_after_a_prefix(fzload, sources, writer, kind):
    """Written at an offset, so the zip offsets count the prefix (numpy
    writes absolute offsets into a positioned file object)."""
    func = {"np_savez": np.savez, "np_savez_compressed": np.savez_compressed,
            "fz_savez": fastnpz.savez, "fz_savez_compressed": fastnpz.savez_compressed}[writer]
    args, kwargs = _mixed()
    with_prefix = _to_bytesio(func, PREFIX)(args, kwargs)
    src = sources(with_prefix[len(PREFIX):])
    # the prefixed files hold PREFIX + archive; the archive's offsets count it
    src.path.write_bytes(with_prefix)
    src.prefixed.write_bytes(with_prefix)
    for allow_pickle in (False, True):
        compare_load(fzload, src.make(kind), allow_pickle=allow_pickle, what=f"{kind} {writer}")


# ---------------------------------------------------------------------------
# archives numpy does not write but loads: zipfile's own members
# ---------------------------------------------------------------------------

def _npy(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(a), allow_pickle=True)
    return buf.getvalue()


def _zip(members, compression=zipfile.ZIP_DEFLATED, comment=b"", **kw):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buf, "w", compression, **kw) as zf:
            for name, data in members:
                zf.writestr(name, data)
            zf.comment = comment
    return buf.getvalue()


NPY_A = _npy(np.arange(10))
NPY_F = _npy(np.asfortranarray(np.arange(6.0).reshape(2, 3)))
HANDMADE = {
    "stored": lambda: _zip([("a.npy", NPY_A), ("f.npy", NPY_F)], zipfile.ZIP_STORED),
    "deflated_level1": lambda: _zip([("a.npy", NPY_A)], compresslevel=1),
    "deflated_level9": lambda: _zip([("a.npy", NPY_A), ("f.npy", NPY_F)], compresslevel=9),
    "bzip2": lambda: _zip([("a.npy", NPY_A), ("f.npy", NPY_F)], zipfile.ZIP_BZIP2),
    "lzma": lambda: _zip([("a.npy", NPY_A), ("f.npy", NPY_F)], zipfile.ZIP_LZMA),
    "not_npy_members": lambda: _zip([("readme.txt", b"hello"), ("a.npy", NPY_A),
                                     ("empty", b""), ("short", b"\x93NUM"),
                                     ("x.npy", b"not an npy file at all")]),
    "npy_without_suffix": lambda: _zip([("a", NPY_A), ("b.bin", NPY_F)]),
    "both_a_and_a_npy": lambda: _zip([("a", b"raw a"), ("a.npy", NPY_A)]),
    "both_a_npy_and_a": lambda: _zip([("a.npy", NPY_A), ("a", b"raw a")]),
    "duplicate_names": lambda: _zip([("a.npy", NPY_A), ("a.npy", NPY_F)]),
    "directory_entry": lambda: _zip([("d/", b""), ("d/a.npy", NPY_A)]),
    "dot_npy_name": lambda: _zip([(".npy", NPY_A), ("npy", NPY_F)]),
    "comment": lambda: _zip([("a.npy", NPY_A)], comment=b"an archive comment"),
    "empty_archive": lambda: _zip([]),
    "empty_archive_with_comment": lambda: _zip([], comment=b"c" * 100),
    "unicode_names": lambda: _zip([("\u00e9.npy", NPY_A), ("\u6570.npy", NPY_F)]),
    "mixed_methods": lambda: _mixed_methods(),
    "object_member": lambda: _zip([("o.npy", _npy(np.array([1, None], dtype=object)))]),
    "pickled_non_array": lambda: _zip([("p.npy", _npy_with_payload(b"\x80\x04\x95\x06\x00"
                                                                   b"\x00\x00\x00\x00\x00\x00"
                                                                   b"\x8c\x02hi\x94."))]),
}


def _mixed_methods():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("s.npy", NPY_A, zipfile.ZIP_STORED)
        zf.writestr("d.npy", NPY_F, zipfile.ZIP_DEFLATED)
        zf.writestr("b.npy", NPY_A, zipfile.ZIP_BZIP2)
        zf.writestr("l.npy", NPY_F, zipfile.ZIP_LZMA)
    return buf.getvalue()


def _npy_with_payload(payload, descr="|O", shape=(2,)):
    """An object-dtype .npy whose pickle payload is ``payload`` (numpy
    returns whatever the pickle holds)."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


@pytest.mark.parametrize("name", sorted(HANDMADE))
def test_zipfile_written_archive(fzload, sources, name):
    raw = HANDMADE[name]()
    src = sources(raw)
    for kind in ("bytesio", "path_str", "file_after_prefix"):
        for allow_pickle in (False, True):
            compare_load(fzload, src.make(kind), allow_pickle=allow_pickle,
                         what=f"{name} from {kind}, allow_pickle={allow_pickle}")


@pytest.mark.parametrize("name", ["both_a_and_a_npy", "both_a_npy_and_a", "duplicate_names",
                                  "npy_without_suffix", "dot_npy_name"])
def test_members_by_both_name_forms(fzload, name):
    """f[name] and f[name + '.npy'] resolve like numpy's (full name wins)."""
    raw = HANDMADE[name]()
    with np.load(io.BytesIO(raw)) as a:
        keys = sorted(set(a.files) | {n + ".npy" for n in a.files} | set(a.zip.namelist()))
    def read_all(load):
        out = []
        with load(io.BytesIO(raw)) as f:
            for k in keys + ["nope", "nope.npy"]:
                v, key = call_key(f.__getitem__, k)
                out.append((k, k in f, key, None if v is None else value_key(v)))
        return out
    assert read_all(fzload) == read_all(np.load)
