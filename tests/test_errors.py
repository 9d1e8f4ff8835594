"""Bad inputs: same exception type (and message where stable) as numpy, and
fastnpz must not create or modify a path target when it raises."""
import inspect
import io
import os
import re

import numpy as np
import pytest

from npz_inspect import record_call

# numpy.savez/savez_compressed take allow_pickle only from numpy 2.1; before
# that it is just another array keyword, so numpy (the oracle) never raises.
requires_savez_allow_pickle = pytest.mark.skipif(
    "allow_pickle" not in inspect.signature(np.savez).parameters,
    reason="numpy.savez has no allow_pickle parameter before numpy 2.1")
requires_stringdtype = pytest.mark.skipif(
    not hasattr(np, "dtypes") or not hasattr(np.dtypes, "StringDType"),
    reason="StringDType needs numpy >= 2.0")

GOOD = np.arange(10)
OBJ = np.array([1, "x", None], dtype=object)
MARK = b"KEEP-ME: pre-existing contents\n" * 10


def _norm(msg):
    return re.sub(r" at 0x[0-9a-f]+", " at 0x?", msg)


def _same_exception(np_exc, fz_exc, check_message=True):
    assert np_exc is not None, "oracle (numpy) did not raise; test input is wrong"
    assert fz_exc is not None, f"fastnpz did not raise; numpy raised {np_exc!r}"
    assert type(fz_exc) is type(np_exc), (
        f"exception type differs: numpy {type(np_exc).__name__}: {np_exc}, "
        f"fastnpz {type(fz_exc).__name__}: {fz_exc}")
    if check_message:
        assert _norm(str(fz_exc)) == _norm(str(np_exc)), (
            f"exception message differs:\n numpy:   {np_exc}\n fastnpz: {fz_exc}")


def _check_path_case(fnpz, kind, tmp_path, args, kwargs, check_message=True):
    """Run numpy and fastnpz on path targets; fastnpz must leave a
    pre-existing target intact and must not create a missing one."""
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    _, np_exc, np_w = record_call(npf, str(tmp_path / "np_target.npz"), *args, **kwargs)
    # existing target
    existing = tmp_path / "existing.npz"
    existing.write_bytes(MARK)
    _, fz_exc, fz_w = record_call(fzf, str(existing), *args, **kwargs)
    _same_exception(np_exc, fz_exc, check_message)
    assert fz_w == np_w, f"warnings differ: numpy {np_w}, fastnpz {fz_w}"
    assert existing.read_bytes() == MARK, "fastnpz modified the existing target before raising"
    # missing target (with and without the .npz suffix being appended)
    for name in ("missing.npz", "missing2"):
        _, fz_exc2, _ = record_call(fzf, str(tmp_path / name), *args, **kwargs)
        _same_exception(np_exc, fz_exc2, check_message)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(set(left) & {"np_target.npz", "existing.npz"}), (
        f"fastnpz left files behind: {left}")
    # pathlib target too
    _, fz_exc3, _ = record_call(fzf, existing, *args, **kwargs)
    _same_exception(np_exc, fz_exc3, check_message)
    assert existing.read_bytes() == MARK
    return np_exc, fz_exc


@requires_savez_allow_pickle
@pytest.mark.parametrize("allow_pickle", [False, 0, None, 0.0, ""])
@pytest.mark.parametrize("position", ["first", "second", "keyword_second"])
def test_allow_pickle_false_with_object_array(fnpz, kind, tmp_path, allow_pickle, position):
    if position == "first":
        args, kw = (OBJ, GOOD), {}
    elif position == "second":
        args, kw = (GOOD, OBJ), {}
    else:
        args, kw = (GOOD,), {"good": GOOD, "bad": OBJ}
    np_exc, _ = _check_path_case(fnpz, kind, tmp_path, args,
                                 dict(kw, allow_pickle=allow_pickle))
    assert isinstance(np_exc, ValueError)


@requires_stringdtype
@requires_savez_allow_pickle
def test_allow_pickle_false_stringdtype(fnpz, kind, tmp_path):
    sd = np.array(["a", "b"], dtype=np.dtypes.StringDType())
    np_exc, _ = _check_path_case(fnpz, kind, tmp_path, (GOOD, sd), {"allow_pickle": False})
    assert "Object arrays cannot be saved when allow_pickle=False" in str(np_exc)


@requires_savez_allow_pickle
def test_allow_pickle_false_structured_with_object_field(fnpz, kind, tmp_path):
    a = np.zeros(2, dtype=[("o", object), ("i", "i4")])
    _check_path_case(fnpz, kind, tmp_path, (GOOD, a), {"allow_pickle": False})


def test_allow_pickle_false_ok_without_objects(fnpz, kind):
    from npz_inspect import check_parity
    check_parity(kind, GOOD, b=GOOD.T, allow_pickle=False)


def test_key_clash(fnpz, kind, tmp_path):
    np_exc, _ = _check_path_case(fnpz, kind, tmp_path, (GOOD, GOOD), {"arr_1": GOOD})
    assert str(np_exc) == "Cannot use un-named variables and keyword arr_1"
    _, e1, _ = record_call(getattr(np, kind), io.BytesIO(), GOOD, arr_0=GOOD)
    buf = io.BytesIO(b"abc")
    buf.seek(3)
    _, e2, _ = record_call(getattr(fnpz, kind), buf, GOOD, arr_0=GOOD)
    _same_exception(e1, e2)
    assert buf.getvalue() == b"abc", "nothing may be written to a file object on a name clash"


@pytest.mark.parametrize("ragged_pos", [0, 1])
def test_ragged_list(fnpz, kind, tmp_path, ragged_pos):
    ragged = [[1, 2], [3]]
    args = (ragged, GOOD) if ragged_pos == 0 else (GOOD, ragged)
    np_exc, _ = _check_path_case(fnpz, kind, tmp_path, args, {})
    assert isinstance(np_exc, ValueError)


def test_unpicklable_object(fnpz, kind, tmp_path):
    bad = np.array([GOOD, (lambda: 1)], dtype=object)
    _check_path_case(fnpz, kind, tmp_path, (GOOD, bad), {})


def test_object_whose_reduce_raises(fnpz, kind, tmp_path):
    class Boom:
        def __reduce__(self):
            raise RuntimeError("no pickling for you")

    bad = np.array([Boom()], dtype=object)
    _check_path_case(fnpz, kind, tmp_path, (GOOD,), {"b": bad})


def test_asanyarray_raising_custom_error(fnpz, kind, tmp_path):
    class BadArray:
        def __array__(self, dtype=None, copy=None):
            raise KeyError("conversion failed")

    _check_path_case(fnpz, kind, tmp_path, (GOOD, BadArray()), {})


def test_lone_surrogate_key(fnpz, kind, tmp_path):
    np_exc, _ = _check_path_case(fnpz, kind, tmp_path, (GOOD,), {"bad\udc80": GOOD})
    assert isinstance(np_exc, UnicodeEncodeError)


@pytest.mark.parametrize("target", [123, 1.5, b"x.npz", None, ["a"], object()],
                         ids=["int", "float", "bytes", "None", "list", "object"])
def test_bad_file_argument(fnpz, kind, tmp_path, monkeypatch, target):
    monkeypatch.chdir(tmp_path)  # restored: tmp_path is removed when the test passes
    _, e1, _ = record_call(getattr(np, kind), target, GOOD)
    _, e2, _ = record_call(getattr(fnpz, kind), target, GOOD)
    _same_exception(e1, e2)
    assert isinstance(e1, TypeError)


def test_bad_file_argument_before_name_clash(fnpz, kind):
    _, e1, _ = record_call(getattr(np, kind), 123, GOOD, arr_0=GOOD)
    _, e2, _ = record_call(getattr(fnpz, kind), 123, GOOD, arr_0=GOOD)
    _same_exception(e1, e2)
    assert isinstance(e2, TypeError), "path normalisation comes before the clash check"


def test_write_without_read(fnpz, kind):
    class W:
        def __init__(self):
            self.data = b""

        def write(self, b):
            self.data += b

    w1, w2 = W(), W()
    _, e1, _ = record_call(getattr(np, kind), w1, GOOD)
    _, e2, _ = record_call(getattr(fnpz, kind), w2, GOOD)
    _same_exception(e1, e2)
    assert isinstance(e2, TypeError)
    assert w2.data == b""


def test_text_mode_file(fnpz, kind, tmp_path):
    for tag, func in (("np", getattr(np, kind)), ("fz", getattr(fnpz, kind))):
        with open(tmp_path / f"{tag}.txt", "w") as f:
            _, exc, _ = record_call(func, f, GOOD)
        if tag == "np":
            e1 = exc
        else:
            _same_exception(e1, exc)
    assert isinstance(e1, TypeError)


def test_text_mode_file_empty_archive(fnpz, kind, tmp_path):
    with open(tmp_path / "a.txt", "w") as f:
        _, e1, _ = record_call(getattr(np, kind), f)
    with open(tmp_path / "b.txt", "w") as f:
        _, e2, _ = record_call(getattr(fnpz, kind), f)
    _same_exception(e1, e2)


def test_closed_file(fnpz, kind, tmp_path):
    excs = []
    for tag, func in (("np", getattr(np, kind)), ("fz", getattr(fnpz, kind))):
        f = open(tmp_path / f"{tag}.npz", "wb")
        f.close()
        excs.append(record_call(func, f, GOOD)[1])
    _same_exception(*excs)
    assert isinstance(excs[0], ValueError)
    b1, b2 = io.BytesIO(), io.BytesIO()
    b1.close()
    b2.close()
    _, e1, _ = record_call(getattr(np, kind), b1, GOOD)
    _, e2, _ = record_call(getattr(fnpz, kind), b2, GOOD)
    _same_exception(e1, e2)


def test_read_only_file_object(fnpz, kind, tmp_path):
    p = tmp_path / "ro.bin"
    p.write_bytes(MARK)
    excs = []
    for func in (getattr(np, kind), getattr(fnpz, kind)):
        with open(p, "rb") as f:
            excs.append(record_call(func, f, GOOD)[1])
    _same_exception(*excs)
    assert p.read_bytes() == MARK


def test_directory_target(fnpz, kind, tmp_path):
    (tmp_path / "d.npz").mkdir()
    _, e1, _ = record_call(getattr(np, kind), str(tmp_path / "d"), GOOD)
    _, e2, _ = record_call(getattr(fnpz, kind), str(tmp_path / "d"), GOOD)
    _same_exception(e1, e2)
    assert isinstance(e2, IsADirectoryError)
    assert os.listdir(tmp_path / "d.npz") == []


def test_missing_directory(fnpz, kind, tmp_path):
    _, e1, _ = record_call(getattr(np, kind), tmp_path / "nope" / "x.npz", GOOD)
    _, e2, _ = record_call(getattr(fnpz, kind), tmp_path / "nope" / "x.npz", GOOD)
    _same_exception(e1, e2)
    assert isinstance(e2, FileNotFoundError)
    assert not (tmp_path / "nope").exists()


def test_permission_denied(fnpz, kind, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root ignores file permissions")
    p = tmp_path / "ro.npz"
    p.write_bytes(MARK)
    p.chmod(0o400)
    _, e1, _ = record_call(getattr(np, kind), p, GOOD)
    _, e2, _ = record_call(getattr(fnpz, kind), p, GOOD)
    _same_exception(e1, e2)


def test_writer_raising_oserror_propagates(fnpz, kind):
    class Failing(io.BytesIO):
        def __init__(self, limit):
            super().__init__()
            self.limit = limit

        def write(self, b):
            if self.tell() + len(b) > self.limit:
                raise OSError(28, "No space left on device")
            return super().write(b)

    big = np.arange(200_000)
    _, e1, _ = record_call(getattr(np, kind), Failing(5000), big)
    _, e2, _ = record_call(getattr(fnpz, kind), Failing(5000), big)
    _same_exception(e1, e2)


def test_unknown_keyword_only_arguments_are_arrays(fnpz, kind):
    """Any unknown keyword is an array name (e.g. ``compress=``)."""
    from npz_inspect import check_parity
    check_parity(kind, GOOD, compress=GOOD, level=3, threads=2, file_=1)


def test_file_as_keyword(fnpz, kind, tmp_path):
    p1, p2 = tmp_path / "a.npz", tmp_path / "b.npz"
    getattr(np, kind)(file=p1, x=GOOD)
    getattr(fnpz, kind)(file=p2, x=GOOD)
    assert p1.exists() and p2.exists()
    with np.load(p2) as z:
        assert z.files == ["x"]


def test_missing_file_argument(fnpz, kind):
    _, e1, _ = record_call(getattr(np, kind))
    _, e2, _ = record_call(getattr(fnpz, kind))
    _same_exception(e1, e2, check_message=False)


# --------------------------------------------------------------------------
# __array_function__ dispatch
# --------------------------------------------------------------------------

class Override:
    def __init__(self):
        self.calls = []

    def __array_function__(self, func, types, args, kwargs):
        self.calls.append((func, types, args, dict(kwargs)))
        return ("sentinel", len(self.calls))


@pytest.mark.parametrize("where", ["positional", "keyword"])
def test_array_function_override(fnpz, kind, tmp_path, where):
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    o_np, o_fz = Override(), Override()
    pn, pf = tmp_path / "n.npz", tmp_path / "f.npz"
    if where == "positional":
        r1 = npf(pn, GOOD, o_np)
        r2 = fzf(pf, GOOD, o_fz)
    else:
        r1 = npf(pn, GOOD, other=o_np)
        r2 = fzf(pf, GOOD, other=o_fz)
    assert r1 == ("sentinel", 1)
    assert r2 == r1, f"fastnpz returned {r2!r}, numpy's override result was {r1!r}"
    assert len(o_fz.calls) == len(o_np.calls) == 1
    f1, t1, a1, k1 = o_np.calls[0]
    f2, t2, a2, k2 = o_fz.calls[0]
    assert f1 is npf
    assert f2 in (npf, fzf), f"override saw func={f2!r}"
    assert tuple(t2) == tuple(t1)
    assert [type(x) for x in a2][1:] == [type(x) for x in a1][1:]
    # array keywords are passed through (allow_pickle may be made explicit)
    assert sorted(set(k2) - {"allow_pickle"}) == sorted(set(k1) - {"allow_pickle"})
    assert not pn.exists() and not pf.exists(), "the override took the call: nothing written"


def test_array_function_override_not_implemented(fnpz, kind, tmp_path):
    class NI:
        def __array_function__(self, func, types, args, kwargs):
            return NotImplemented

    _, e1, _ = record_call(getattr(np, kind), tmp_path / "n.npz", NI())
    _, e2, _ = record_call(getattr(fnpz, kind), tmp_path / "f.npz", NI())
    _same_exception(e1, e2, check_message=False)
    assert isinstance(e2, TypeError)
    assert not (tmp_path / "f.npz").exists()
