"""The ``file`` argument: paths, file objects, prefixes, unseekable streams,
pipes."""
import io
import os
import pathlib
import threading

import numpy as np
import pytest

from npz_inspect import RecordingStream, Unseekable, assert_bytes_identical, assert_full_parity, parse_zip, record_call

A = np.arange(3000, dtype="<i8").reshape(30, 100) % 17
B = np.asfortranarray(np.linspace(0, 1, 64).reshape(8, 8))
ARGS = (A,)
KW = {"b": B, "obj": np.array([1, None], dtype=object)}


def _compare(kind, np_raw, fz_raw, what=""):
    assert_full_parity(np_raw, fz_raw, stored=(kind == "savez"), what=what)
    if kind == "savez":
        assert_bytes_identical(np_raw, fz_raw, what=what)


def _call(func, target):
    res, exc, w = record_call(func, target, *ARGS, **KW)
    assert exc is None, f"{func.__module__}.{func.__name__} raised {exc!r}"
    assert w == []
    return res


# --------------------------------------------------------------------------
# path targets
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("plain", "plain.npz"),
    ("with.npz", "with.npz"),
    ("upper.NPZ", "upper.NPZ.npz"),
    ("dotted.npz.bak", "dotted.npz.bak.npz"),
    ("trailing.", "trailing..npz"),
])
@pytest.mark.parametrize("pathtype", ["str", "pathlib", "pathlike"])
def test_path_suffix(fnpz, kind, tmp_path, name, expected, pathtype):
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    (tmp_path / "np").mkdir()
    (tmp_path / "fz").mkdir()

    class PL:
        def __init__(self, p):
            self.p = p

        def __fspath__(self):
            return self.p

    wrap = {"str": str, "pathlib": pathlib.Path, "pathlike": lambda p: PL(str(p))}[pathtype]
    r1 = _call(npf, wrap(tmp_path / "np" / name))
    r2 = _call(fzf, wrap(tmp_path / "fz" / name))
    assert r1 is None and r2 is None, f"return value: numpy {r1!r}, fastnpz {r2!r}"
    np_files = sorted(os.listdir(tmp_path / "np"))
    fz_files = sorted(os.listdir(tmp_path / "fz"))
    assert np_files == [expected], f"oracle wrote {np_files}"
    assert fz_files == np_files, f"fastnpz created {fz_files}, numpy created {np_files}"
    _compare(kind, (tmp_path / "np" / expected).read_bytes(),
             (tmp_path / "fz" / expected).read_bytes(), what=f"{pathtype} {name}")


def test_path_overwrites_existing_file(fnpz, kind, tmp_path):
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    pn, pf = tmp_path / "n.npz", tmp_path / "f.npz"
    junk = b"J" * 100_000   # longer than the archive: must be truncated
    pn.write_bytes(junk)
    pf.write_bytes(junk)
    _call(npf, pn)
    _call(fzf, pf)
    _compare(kind, pn.read_bytes(), pf.read_bytes(), what="overwrite existing path")


def test_path_is_symlink(fnpz, tmp_path):
    real = tmp_path / "real.npz"
    real.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    _call(fnpz.savez_compressed, link)
    assert link.is_symlink(), "numpy writes through the symlink (opens the path 'w+b')"
    refn = tmp_path / "ref.npz"
    _call(np.savez_compressed, refn)
    _compare("savez_compressed", refn.read_bytes(), real.read_bytes(), what="symlink")


# --------------------------------------------------------------------------
# open file objects
# --------------------------------------------------------------------------

# ('ab' is not tested: zipfile's seek-back header rewrite is silently
#  redirected to the end of file by O_APPEND, so numpy itself writes garbage.)
@pytest.mark.parametrize("mode", ["wb", "w+b", "r+b"])
@pytest.mark.parametrize("prefix", [b"", b"PREFIX-bytes\n" * 3])
def test_open_file(fnpz, kind, tmp_path, mode, prefix):
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    results = {}
    for tag, func in (("np", npf), ("fz", fzf)):
        p = tmp_path / f"{tag}.bin"
        p.write_bytes(prefix)
        with open(p, mode) as f:
            if mode == "r+b":
                f.seek(len(prefix))
            else:
                f.write(prefix)       # 'w' modes truncated the file
            pos0 = f.tell()
            ret = _call(func, f)
            assert not f.closed, f"{tag}: file object was closed"
            pos1 = f.tell()
            # flushed: the data is visible through another handle while open
            on_disk = p.read_bytes()
        results[tag] = (ret, pos0, pos1, on_disk, p.read_bytes())
    (r0, a0, a1, adisk, afinal), (r1, b0, b1, bdisk, bfinal) = results["np"], results["fz"]
    assert r1 is None and r0 is None
    assert bdisk == bfinal, "fastnpz did not flush the file object before returning"
    assert adisk == afinal
    assert bfinal[:len(prefix)] == prefix, "prefix bytes were not preserved"
    assert b1 - b0 == len(bfinal) - len(prefix), (
        f"file position after call: fastnpz at {b1}, file has {len(bfinal)} bytes")
    assert (a1 - a0) == len(afinal) - len(prefix)
    assert_full_parity(afinal, bfinal, np_base=len(prefix), fz_base=len(prefix),
                       stored=(kind == "savez"), what=f"mode {mode}", check_load=not prefix)
    if kind == "savez":
        assert_bytes_identical(afinal, bfinal, what=f"open({mode}) prefix={len(prefix)}")
    if prefix:
        # offsets are absolute: zipfile can still read it (it finds the prefix)
        import zipfile
        with zipfile.ZipFile(io.BytesIO(bfinal)) as zf:
            assert zf.testzip() is None
            assert zf.namelist() == ["b.npy", "obj.npy", "arr_0.npy"]
            with zf.open("arr_0.npy") as m:
                assert np.array_equal(np.lib.format.read_array(m), A)


def test_file_object_over_existing_longer_content(fnpz, kind, tmp_path):
    """A file object positioned inside old content: numpy (mode 'w') does not
    truncate, so old bytes after the archive are kept."""
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    old = bytes(range(256)) * 400
    finals = []
    for tag, func in (("np", npf), ("fz", fzf)):
        p = tmp_path / f"{tag}.bin"
        p.write_bytes(old)
        with open(p, "r+b") as f:
            f.seek(10)
            _call(func, f)
            end = f.tell()
        finals.append((p.read_bytes(), end))
    (a, ea), (b, eb) = finals
    assert b[:10] == old[:10]
    assert len(b) == len(old), f"file length changed: {len(b)} != {len(old)}"
    assert b[eb:] == old[eb:], "bytes after the archive were modified"
    assert_full_parity(a[:ea], b[:eb], np_base=10, fz_base=10, stored=(kind == "savez"),
                       check_load=False, what="over old content")
    if kind == "savez":
        assert_bytes_identical(a, b, what="over old content")


@pytest.mark.parametrize("prefix", [b"", b"\x00" * 7 + b"prefix"])
def test_bytesio(fnpz, kind, prefix):
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    outs = []
    for func in (npf, fzf):
        buf = io.BytesIO()
        buf.write(prefix)
        _call(func, buf)
        assert not buf.closed
        assert buf.tell() == len(buf.getvalue()), "position should be at the end of the archive"
        outs.append(buf.getvalue())
    assert outs[1][:len(prefix)] == prefix
    assert_full_parity(outs[0], outs[1], np_base=len(prefix), fz_base=len(prefix),
                       stored=(kind == "savez"), what="BytesIO", check_load=not prefix)
    if kind == "savez":
        assert_bytes_identical(outs[0], outs[1], what="BytesIO")


@pytest.mark.parametrize("tell_ok, prefix", [(False, b""), (True, b""),
                                              (True, b"0123456789abc"),
                                              (False, b"HEAD")])
def test_unseekable_stream(fnpz, kind, tell_ok, prefix):
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    s_np, s_fz = Unseekable(tell_ok, prefix), Unseekable(tell_ok, prefix)
    _call(npf, s_np)
    _call(fzf, s_fz)
    a, b = bytes(s_np.data), bytes(s_fz.data)
    assert not s_fz.closed_called, "fastnpz closed the caller's stream"
    assert s_fz.flushed_upto == len(b), (
        f"stream not flushed after the last write (flushed at {s_fz.flushed_upto}, "
        f"{len(b)} bytes written)")
    ar = parse_zip(a, len(prefix)) if tell_ok else parse_zip(a[len(prefix):])
    assert all(m.descriptor is not None for m in ar.members), "oracle uses data descriptors"
    if tell_ok:
        assert_full_parity(a, b, np_base=len(prefix), fz_base=len(prefix),
                           stored=(kind == "savez"), check_load=not prefix,
                           what="tell ok, seek raises")
    else:
        # offsets count from the first byte written by zipfile
        assert b[:len(prefix)] == prefix
        assert_full_parity(a[len(prefix):], b[len(prefix):], stored=(kind == "savez"),
                           what="tell raises")
    if kind == "savez":
        assert_bytes_identical(a, b, what=f"unseekable tell_ok={tell_ok}")


def test_unseekable_stream_empty_archive(fnpz, kind):
    npf, fzf = getattr(np, kind), getattr(fnpz, kind)
    s_np, s_fz = Unseekable(), Unseekable()
    npf(s_np)
    fzf(s_fz)
    assert bytes(s_fz.data) == bytes(s_np.data), "empty archive to an unseekable stream"
    assert len(s_np.data) == 22


def _pipe_save(func):
    r, w = os.pipe()
    chunks = []

    def reader():
        with open(r, "rb") as rf:
            while True:
                c = rf.read(65536)
                if not c:
                    break
                chunks.append(c)

    t = threading.Thread(target=reader)
    t.start()
    try:
        with open(w, "wb") as wf:
            res, exc, warns = record_call(func, wf, *ARGS, big=BIG, **KW)
            closed_after = wf.closed
    finally:
        t.join(timeout=60)
    assert not t.is_alive()
    return b"".join(chunks), res, exc, warns, closed_after


BIG = np.arange(400_000, dtype="<i4") % 251   # larger than the pipe buffer


def test_real_pipe(fnpz, kind):
    a, ra, ea, wa, _ = _pipe_save(getattr(np, kind))
    b, rb, eb, wb, closed = _pipe_save(getattr(fnpz, kind))
    assert ea is None, ea
    assert eb is None, f"fastnpz raised {eb!r} writing to a pipe"
    assert not closed, "fastnpz closed the pipe"
    assert wb == wa
    _compare(kind, a, b, what="pipe")


def test_file_object_with_write_and_read_but_no_tell_attr(fnpz, kind):
    """No tell attribute at all (AttributeError) -> zipfile's _Tellable path."""
    x, y = RecordingStream(), RecordingStream()
    _call(getattr(np, kind), x)
    _call(getattr(fnpz, kind), y)
    _compare(kind, bytes(x.data), bytes(y.data), what="no tell")


def test_short_writes_are_handled(fnpz, kind):
    """A raw stream may return a short count; zipfile ignores write() return
    values, so the result must be whatever was actually passed to write()."""
    class Recording(RecordingStream, io.RawIOBase):
        def writable(self):
            return True

        def tell(self):
            return len(self.data)

        def seek(self, *a):
            raise OSError("no seek")

    x, y = Recording(), Recording()
    _call(getattr(np, kind), x)
    _call(getattr(fnpz, kind), y)
    _compare(kind, bytes(x.data), bytes(y.data), what="RawIOBase")


def test_file_object_with_array_function_is_not_dispatched(fnpz, kind):
    """``file`` is not a dispatch argument: a file object that defines
    __array_function__ is just written to."""
    class Weird(io.BytesIO):
        def __array_function__(self, func, types, args, kwargs):
            raise AssertionError("file must not be dispatched on")

    x, y = Weird(), Weird()
    _call(getattr(np, kind), x)
    _call(getattr(fnpz, kind), y)
    assert_full_parity(x.getvalue(), y.getvalue(), stored=(kind == "savez"))
