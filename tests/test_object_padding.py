"""A structured array with an object field and a long double field (issue
17: on CPython 3.14 it "loaded back with different object contents",
intermittently).

It is not fastnpz: the member fastnpz writes is numpy's, byte for byte, for
every target. An object array is pickled from ``tolist()`` and unpickled by
assigning each value into a fresh, uninitialised array, and a ``<c32`` value
is two 80-bit x87 numbers in 16 bytes each: the 6 padding bytes of each are
whatever that memory held. Two ``np.load`` calls of numpy's own archive then
give arrays whose pickles differ in those bytes only, on 3.13 as on 3.14. A
comparison by pickle (or raw bytes) of the loaded array sees noise; the
values agree."""
import io
import os
import zipfile

import numpy as np
import pytest

import fastnpz
from npz_inspect import Unseekable

DTYPE = np.dtype([("a", "O"), ("", "V8"), ("名前", "<c32"), ("b", "<i2")])


def _array():
    a = np.zeros(5, DTYPE)
    a["a"] = [1, "x", None, [1, 2], {"k": 2.5}]
    a["f1"] = [bytes([i]) * 8 for i in range(5)]
    a["名前"] = [1 + 2j, 3, -1j, 0, 1e300]
    a["b"] = range(5)
    return a


def _save(func, target, tmp_path, array):
    if target == "path":
        path = os.fspath(tmp_path / f"{func.__module__}.npz")
        func(path, a=array)
        with open(path, "rb") as f:
            return f.read()
    if target == "file":
        buf = io.BytesIO()
        func(buf, a=array)
        return buf.getvalue()
    stream = Unseekable()
    func(stream, a=array)
    return bytes(stream.data)


def _member(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return z.read("a.npy")


def _values(a):
    """The fields' values: the long doubles compare by value, not padding."""
    return [(obj, bytes(void), c.real, c.imag, int(b)) for obj, void, c, b in a.tolist()]


@pytest.mark.parametrize("target", ["path", "file", "unseekable"])
@pytest.mark.parametrize("kind", ["savez_compressed", "savez"])
def test_member_is_numpys_and_loads_to_the_same_values(kind, target, tmp_path):
    array = _array()
    with pytest.warns(UserWarning, match="format 3.0"):
        np_raw = _save(getattr(np, kind), target, tmp_path, array)
    with pytest.warns(UserWarning, match="format 3.0"):
        fz_raw = _save(getattr(fastnpz, kind), target, tmp_path, array)
    assert _member(fz_raw) == _member(np_raw)
    expected = _values(array)
    for load in (np.load, fastnpz.load):
        for raw in (np_raw, fz_raw):
            with load(io.BytesIO(raw), allow_pickle=True) as f:
                loaded = f["a"]
            assert loaded.dtype == DTYPE
            assert _values(loaded) == expected

