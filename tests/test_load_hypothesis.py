"""Differential property tests for load: random arrays saved by numpy or
fastnpz, then random byte mutations (truncate, flip, insert, delete); numpy.load
and the loader under test must agree on every outcome (see npz_inspect's
load_events: values, flags and exceptions with their messages)."""
import io
import warnings
import zipfile

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnpz
from npz_inspect import Unseekable, assert_same_events, load_events

DTYPES = ["?", "i1", "<i4", ">i8", "<u2", "<f2", "<f4", ">f8", "<c8", "S3", "<U2", "<M8[s]",
          "<m8[ms]", "<i2,>f4", [("a", "u1"), ("b", "<f8", (2,))]]
NAMES = st.text(alphabet="ab_\u00e9\u4e00./", min_size=1, max_size=6)


@st.composite
def array_dicts(draw):
    n = draw(st.integers(1, 4))
    names = draw(st.lists(NAMES, min_size=n, max_size=n, unique=True))
    out = {}
    for name in names:
        dt = np.dtype(draw(st.sampled_from(DTYPES)))
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
        a = draw(hnp.arrays(dt, shape))
        if draw(st.booleans()):
            a = np.asfortranarray(a)
        out[name] = a
    if draw(st.booleans()):
        out["obj"] = np.array([1, "x", None], dtype=object)
    return out


WRITERS = {
    "np_savez": np.savez, "np_savez_compressed": np.savez_compressed,
    "fz_savez": fastnpz.savez, "fz_savez_compressed": fastnpz.savez_compressed,
}


@st.composite
def archives(draw):
    arrs = draw(array_dicts())
    writer = draw(st.sampled_from(sorted(WRITERS)))
    target = Unseekable() if draw(st.booleans()) else io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        WRITERS[writer](target, **arrs)
    raw = bytes(target.data) if isinstance(target, Unseekable) else target.getvalue()
    return raw


def _mutation(raw_len):
    pos = st.integers(0, max(raw_len - 1, 0))
    return st.one_of(
        st.tuples(st.just("truncate"), pos),
        st.tuples(st.just("flip"), pos, st.integers(1, 255)),
        st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("delete"), pos, st.integers(1, 64)),
    )


def _apply(raw, mutations):
    b = bytearray(raw)
    for m in mutations:
        if not b:
            break
        p = m[1] % len(b)
        if m[0] == "truncate":
            del b[p:]
        elif m[0] == "flip":
            b[p] ^= m[2]
        elif m[0] == "insert":
            b[p:p] = m[2]
        else:
            del b[p:p + m[2]]
    return bytes(b)


def _compare(fzload, raw, what, **kwargs):
    def src():
        return io.BytesIO(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np_events = load_events(np.load, src, **kwargs)
        fz_events = load_events(fzload, src, **kwargs)
    assert_same_events(np_events, fz_events, what)


@given(raw=archives(), allow_pickle=st.booleans())
def test_clean_archives(fzload, raw, allow_pickle):
    _compare(fzload, raw, "unmodified", allow_pickle=allow_pickle)


@given(data=st.data(), raw=archives())
def test_mutated_archives(fzload, data, raw):
    mutations = data.draw(st.lists(_mutation(len(raw)), min_size=1, max_size=3))
    _compare(fzload, _apply(raw, mutations), f"mutations {mutations}")


def _npy(a):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.save(buf, a)
    return buf.getvalue()


@given(data=st.data(), arrs=array_dicts(), compress=st.booleans())
def test_mutated_npy_in_honest_zip(fzload, data, arrs, compress):
    """.npy payloads mutated, then zipped with correct sizes and CRCs: the
    errors come from the .npy reader, not from zip checks."""
    members = {}
    for name, a in arrs.items():
        npy = _npy(a)
        mutations = data.draw(st.lists(_mutation(len(npy)), max_size=2))
        members[name + ".npy"] = _apply(npy, mutations)
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w", method) as zf:
            for name, payload in members.items():
                zf.writestr(name, payload)
    allow_pickle = data.draw(st.booleans())
    _compare(fzload, buf.getvalue(), "mutated .npy members", allow_pickle=allow_pickle)


@given(data=st.data(), a=hnp.arrays(st.sampled_from(DTYPES[:12]),
                                    hnp.array_shapes(min_dims=0, max_dims=2, max_side=5)))
def test_mutated_npy_files(fzload, data, a):
    npy = _npy(a)
    mutations = data.draw(st.lists(_mutation(len(npy)), max_size=2))
    _compare(fzload, _apply(npy, mutations), f"npy mutations {mutations}",
             allow_pickle=data.draw(st.booleans()))
