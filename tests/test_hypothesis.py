"""Property tests: random shapes / dtypes / views / names; fastnpz must
produce the same members as numpy, or raise the same exception type."""
import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from npz_inspect import assert_bytes_identical, assert_full_parity, has_undefined_bytes, record_call

DTYPES = ["?", "i1", "<i2", ">i4", "<i8", "u1", ">u2", "<u8", "<f2", ">f4", "<f8",
          "<c8", ">c16", "S3", "<U2", ">U1", "V3", "<M8[s]", ">m8[ms]", "O",
          "i4,f8", [("a", "u1"), ("b", ">i2", (2,))], "longdouble"]


def _same_outcome(kind, pos, kw):
    """Save with numpy and fastnpz into BytesIO; both must raise the same
    exception type (returns None) or both succeed with the same warnings
    (returns the two archives' bytes)."""
    import fastnpz
    b1, b2 = io.BytesIO(), io.BytesIO()
    _, e1, w1 = record_call(getattr(np, kind), b1, *pos, **kw)
    _, e2, w2 = record_call(getattr(fastnpz, kind), b2, *pos, **kw)
    if e1 is not None:
        assert type(e2) is type(e1), f"numpy raised {e1!r}, fastnpz {e2!r}"
        return None
    assert e2 is None, f"fastnpz raised {e2!r}; numpy succeeded"
    assert w2 == w1
    return b1.getvalue(), b2.getvalue()


@st.composite
def arrays(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=4)))
    dt = np.dtype(draw(st.sampled_from(DTYPES)))
    n = int(np.prod(shape))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    if dt.kind == "O":
        a = np.empty(n, dtype=object)
        pool = [1, "x", None, 2.5, (1, 2), b"b"]
        for i in range(n):
            a[i] = pool[int(rng.integers(0, len(pool)))]
    elif dt.kind == "f" and dt.type is np.longdouble:
        a = (rng.standard_normal(n) * 100).astype(np.longdouble)
    else:
        a = np.frombuffer(rng.bytes(n * dt.itemsize), dtype=dt).copy() if dt.itemsize else \
            np.zeros(n, dt)
        if dt.kind in "fc":
            a = np.nan_to_num(a)        # keep comparisons simple
    a = a.reshape(shape)
    if draw(st.booleans()) and a.ndim:
        a = np.asfortranarray(a)
    if a.ndim:
        steps = draw(st.lists(st.sampled_from([1, 1, 2, -1, -2, 3]),
                              min_size=a.ndim, max_size=a.ndim))
        a = a[tuple(slice(None, None, s) for s in steps)]
        if draw(st.booleans()):
            perm = draw(st.permutations(list(range(a.ndim))))
            a = a.transpose(perm)
    if draw(st.booleans()) and a.ndim and 0 not in a.shape:
        # broadcast a leading axis (stride 0)
        a = np.broadcast_to(a[:1], (2,) + a.shape[1:])
    return a


names = st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                       blacklist_characters="\x00"),
                min_size=0, max_size=12)


@settings(max_examples=80, deadline=None)
@given(pos=st.lists(arrays(), max_size=3),
       kw=st.dictionaries(names, arrays(), max_size=3),
       compressed=st.booleans())
def test_random_arrays_match_numpy(pos, kw, compressed):
    kw = {k: v for k, v in kw.items() if not (k.startswith("arr_") and len(pos))}
    kind = "savez_compressed" if compressed else "savez"
    outcome = _same_outcome(kind, pos, kw)
    if outcome is None:
        return
    b1, b2 = outcome
    nondet = [k for k, v in list(kw.items()) + [(f"arr_{i}", v) for i, v in enumerate(pos)]
              if has_undefined_bytes(v.dtype) or
              (v.dtype.names and not v.flags.c_contiguous)]
    assert_full_parity(b1, b2, nondeterministic=nondet, stored=not compressed)
    if not compressed and not nondet:
        assert_bytes_identical(b1, b2)


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(st.text(max_size=6), max_size=5),
       with_pos=st.integers(0, 2))
def test_random_names_including_clashes(keys, with_pos):
    """Names may clash with arr_N or contain odd characters; the outcome
    (archive or exception type) must match numpy's."""
    kw = {k: np.int16(i) for i, k in enumerate(keys)}
    kw.update({f"arr_{i}": np.int8(i) for i in range(with_pos) if i % 2})
    pos = [np.arange(3)] * with_pos
    outcome = _same_outcome("savez_compressed", pos, kw)
    if outcome is not None:
        assert_full_parity(*outcome)


_FRAGMENTS = ["a", "Z9", "/", "..", ".", "\x00", "\udc80", "\u00e9", "\u0394", "\U0001F600",
              " ", ".npy", "arr_0", "arr_1", "\\", "\n"]
hostile_names = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS), max_size=6).map("".join),
    st.integers(200, 70_000).map(lambda n: "n" * n),
)


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(hostile_names, max_size=4, unique=True), with_pos=st.integers(0, 2),
       compressed=st.booleans())
def test_hostile_names_match_numpy(keys, with_pos, compressed):
    """NUL (truncation, duplicate warnings), lone surrogates (encode errors),
    separators, '..', '', names past the 65535-byte limit: the archive, the
    warnings, or the exception type must be numpy's."""
    kind = "savez_compressed" if compressed else "savez"
    kw = {k: np.arange(i + 1, dtype=np.int16) for i, k in enumerate(keys)}
    pos = [np.arange(3)] * with_pos
    outcome = _same_outcome(kind, pos, kw)
    if outcome is not None:
        assert_full_parity(*outcome, stored=not compressed)
