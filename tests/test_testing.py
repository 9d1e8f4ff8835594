"""fastnpz.testing: assert_npz_equal and npz_members, with numpy as the oracle.

Archives written by numpy and by fastnpz from the same arrays must compare
equal whatever the input kind (path, bytes, file object); deliberately
different archives must fail with a message that locates the difference.
"""
import io
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastnpz
from fastnpz import testing
from fastnpz.testing import assert_npz_equal, npz_members


def _save(func, *args, **kwds):
    buf = io.BytesIO()
    func(buf, *args, **kwds)
    return buf.getvalue()


def _arrays():
    rng = np.random.default_rng(1234)
    return {
        "w": rng.standard_normal((40, 30)),
        "labels": np.array(["a", "bb", "ccc"]),
        "f": np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)),
        "rec": np.zeros(3, dtype=[("x", "<i4"), ("y", "<f8")]),
        "empty": np.empty((0, 5)),
    }


def _failure(actual, desired, **kwds):
    with pytest.raises(AssertionError) as info:
        assert_npz_equal(actual, desired, **kwds)
    return str(info.value)


def test_all_exported():
    assert testing.__all__ == ["assert_npz_equal", "npz_members"]


@pytest.mark.parametrize("kind", ["savez_compressed", "savez"])
@pytest.mark.parametrize("source", ["path", "pathlike", "bytes", "bytearray", "file"])
def test_numpy_and_fastnpz_archives_compare_equal(tmp_path, kind, source):
    arrays = _arrays()
    positional = (np.arange(5), np.eye(2, dtype=np.float32))
    np_path, fz_path = tmp_path / "numpy.npz", tmp_path / "fastnpz.npz"
    getattr(np, kind)(np_path, *positional, **arrays)
    getattr(fastnpz, kind)(fz_path, *positional, **arrays)
    if kind == "savez_compressed":
        # The claim under test: compressed bytes may differ, members do not.
        assert np_path.read_bytes() != fz_path.read_bytes()

    def as_source(path):
        if source == "path":
            return str(path)
        if source == "pathlike":
            return path
        if source == "bytes":
            return path.read_bytes()
        if source == "bytearray":
            return bytearray(path.read_bytes())
        return open(path, "rb")

    actual, desired = as_source(fz_path), as_source(np_path)
    try:
        assert_npz_equal(actual, desired)
        assert_npz_equal(desired, actual, check_order=False)
    finally:
        for f in (actual, desired):
            if hasattr(f, "close"):
                f.close()


def test_file_object_read_from_current_position_and_restored():
    arrays = {"a": np.arange(10), "b": np.ones((2, 2))}
    prefix = b"some leading bytes"
    f_np, f_fz = io.BytesIO(prefix), io.BytesIO(prefix)
    f_np.seek(0, io.SEEK_END)
    f_fz.seek(0, io.SEEK_END)
    np.savez_compressed(f_np, **arrays)
    fastnpz.savez_compressed(f_fz, **arrays)
    f_np.seek(len(prefix))
    f_fz.seek(len(prefix))
    assert_npz_equal(f_fz, f_np)
    assert f_fz.tell() == len(prefix)
    assert f_np.tell() == len(prefix)
    # Restored after a failure too.
    f_other = io.BytesIO(_save(np.savez_compressed, a=np.arange(10)))
    f_other.seek(0)
    with pytest.raises(AssertionError):
        assert_npz_equal(f_other, f_np)
    assert f_other.tell() == 0
    assert f_np.tell() == len(prefix)


def test_unseekable_file_object():
    class Stream:
        def __init__(self, data):
            self._buf = io.BytesIO(data)

        def read(self, *args):
            return self._buf.read(*args)

        def seekable(self):
            return False

    data = _save(np.savez_compressed, a=np.arange(3))
    assert_npz_equal(Stream(_save(fastnpz.savez_compressed, a=np.arange(3))), Stream(data))


def test_npz_members_match_numpy_load():
    arrays = _arrays()
    data = _save(fastnpz.savez_compressed, np.arange(3), **arrays)
    members = npz_members(data)
    with np.load(io.BytesIO(data)) as loaded:
        assert list(members) == [name + ".npy" for name in loaded.files]
        for name in loaded.files:
            restored = np.load(io.BytesIO(members[name + ".npy"]))
            np.testing.assert_array_equal(restored, loaded[name])
    # Same decompressed members as numpy's archive, and decompressed.
    assert members == npz_members(_save(np.savez_compressed, np.arange(3), **arrays))
    assert all(m.startswith(b"\x93NUMPY") for m in members.values())


def test_rejects_unsupported_source_type():
    with pytest.raises(TypeError, match="path"):
        npz_members(12345)
    with pytest.raises(TypeError, match="binary"):
        npz_members(io.StringIO("text"))


def test_unreadable_archive_is_an_assertion_error():
    good = _save(np.savez_compressed, a=np.arange(3))
    msg = _failure(b"not a zip file", good, err_msg="context!")
    assert "cannot read the actual archive" in msg
    assert "context!" in msg


def test_missing_member():
    desired = _save(np.savez_compressed, a=np.arange(3), b=np.arange(4))
    actual = _save(fastnpz.savez_compressed, a=np.arange(3))
    msg = _failure(actual, desired)
    assert "missing members" in msg
    assert "'b.npy'" in msg
    assert "extra" not in msg


def test_extra_member():
    desired = _save(np.savez_compressed, a=np.arange(3))
    actual = _save(fastnpz.savez_compressed, a=np.arange(3), zz=np.arange(4))
    msg = _failure(actual, desired)
    assert "extra members" in msg
    assert "'zz.npy'" in msg
    assert "missing" not in msg


def test_reordered_members_fail_only_with_check_order():
    desired = _save(np.savez_compressed, a=np.arange(3), b=np.eye(2))
    actual = _save(fastnpz.savez_compressed, b=np.eye(2), a=np.arange(3))
    msg = _failure(actual, desired)
    assert "different order" in msg
    assert "['b.npy', 'a.npy']" in msg and "['a.npy', 'b.npy']" in msg
    assert "check_order=False" in msg
    assert_npz_equal(actual, desired, check_order=False)


def test_header_difference_shows_both_headers():
    desired = _save(np.savez_compressed, x=np.arange(6, dtype=np.int64))
    actual = _save(fastnpz.savez_compressed, x=np.arange(6, dtype=np.int32))
    msg = _failure(actual, desired)
    assert "member 'x.npy' differs" in msg
    assert "in the .npy header" in msg
    # Both decoded header dicts, as numpy writes them.
    assert "'descr': '<i4'" in msg and "'descr': '<i8'" in msg
    # Both sizes and the first differing byte offset.
    n_act, n_des = len(npz_members(actual)["x.npy"]), len(npz_members(desired)["x.npy"])
    assert f"actual {n_act} bytes, desired {n_des} bytes" in msg
    assert re.search(r"first difference at byte \d+", msg)


def test_data_difference_names_element_and_values():
    base = np.arange(20, dtype=np.float64).reshape(4, 5)
    changed = base.copy()
    changed[2, 3] = -7.5
    desired = _save(np.savez_compressed, x=base)
    actual = _save(fastnpz.savez_compressed, x=changed)
    msg = _failure(actual, desired, err_msg="my context")
    assert "my context" in msg
    assert "element 13" in msg and "index (2, 3)" in msg
    assert "actual[13]  = -7.5" in msg
    assert "desired[13] = 13.0" in msg
    assert "1 of 20 elements differ" in msg
    # The first differing byte offset is the start of that element's data
    # (or within it), and the hex context shows it bracketed.
    header_len = len(npz_members(desired)["x.npy"]) - base.nbytes
    offset = int(re.search(r"first difference at byte (\d+)", msg).group(1))
    assert header_len + 13 * 8 <= offset < header_len + 14 * 8
    assert re.search(r"actual  @0x[0-9a-f]+: .*\[[0-9a-f]{2}\]", msg)
    assert re.search(r"desired @0x[0-9a-f]+: .*\[[0-9a-f]{2}\]", msg)


def test_data_difference_in_fortran_order_array():
    base = np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3))
    changed = base.copy(order="F")
    changed[1, 1] = 99
    msg = _failure(_save(fastnpz.savez, a=changed), _save(np.savez, a=base))
    # Stored in Fortran order, (1, 1) is the 4th element (flat index 3).
    assert "element 3" in msg and "index (1, 1)" in msg and "Fortran" in msg
    assert "actual[3]  = 99" in msg and "desired[3] = 4" in msg


def test_object_member_difference():
    desired = _save(np.savez_compressed, o=np.array([1, "x"], dtype=object))
    actual = _save(fastnpz.savez_compressed, o=np.array([1, "y"], dtype=object))
    msg = _failure(actual, desired)
    assert "member 'o.npy' differs" in msg and "pickled object data" in msg


def test_duplicate_member_names_are_paired_by_occurrence():
    def archive(second):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("a.npy", npz_members(_save(np.savez, a=np.arange(2)))["a.npy"])
            with pytest.warns(UserWarning, match="Duplicate"):
                zf.writestr("a.npy", npz_members(_save(np.savez, a=second))["a.npy"])
        return buf.getvalue()

    assert_npz_equal(archive(np.arange(3)), archive(np.arange(3)))
    msg = _failure(archive(np.arange(3)), archive(np.arange(4)))
    assert "occurrence 2" in msg


def test_many_differing_members_are_summarised():
    n = 15
    desired = _save(np.savez, **{f"m{i}": np.zeros(2) for i in range(n)})
    actual = _save(fastnpz.savez, **{f"m{i}": np.ones(2) for i in range(n)})
    msg = _failure(actual, desired)
    assert f"{n} member(s) differ" in msg
    assert "and 5 more differing member(s)" in msg


def test_testing_is_reachable_from_the_package():
    """``import fastnpz`` alone makes ``fastnpz.testing`` available, as with
    ``numpy.testing`` (in a fresh interpreter: here it is already imported)."""
    code = "import fastnpz; print(fastnpz.testing.assert_npz_equal.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "fastnpz.testing"


def test_a_file_object_not_rewound_says_to_seek():
    """The mistake: comparing BytesIO objects right after writing them."""
    written, expected = io.BytesIO(), io.BytesIO()
    fastnpz.savez_compressed(written, a=np.arange(3))
    np.savez_compressed(expected, a=np.arange(3))
    with pytest.raises(AssertionError) as info:
        assert_npz_equal(written, expected)
    message = str(info.value)
    assert "cannot read the actual archive: BadZipFile" in message
    assert f"read from its current position, {len(written.getvalue())}, where 0 bytes remain" in message
    assert ".seek(0)" in message
    with pytest.raises(zipfile.BadZipFile, match=r"call \.seek\(0\)"):
        npz_members(written)
    written.seek(0)
    expected.seek(0)
    assert_npz_equal(written, expected)


def test_no_seek_hint_for_an_archive_that_is_simply_not_one(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(AssertionError) as info:
        assert_npz_equal(path, path)
    assert "seek" not in str(info.value)
    with pytest.raises(AssertionError) as info:
        assert_npz_equal(io.BytesIO(b"not a zip"), b"")
    assert "seek" not in str(info.value)
