"""Headers past format 1.0, against the running numpy: the header bytes, and
the warnings numpy raises for format 2.0 and 3.0 (text, category and the
line they point at), are those of ``np.savez``/``np.savez_compressed``.
numpy 2.5 reworded the format 2.0 warning, so any copy of numpy's text would
be wrong on one side of it."""
import io
import warnings
import zipfile

import numpy as np
import pytest

import fastnpz

CASES = {
    # More than 65535 bytes of header text: the 16-bit length of 1.0 overflows.
    "many_fields": lambda: np.zeros(3, [(f"field_{i}", "<i4") for i in range(5000)]),
    "long_name_2d": lambda: np.ones((2, 2), [("x" * 70_000, "<f8")]),
    # A field name outside latin-1: format 3.0 (UTF-8 header).
    "utf8_name": lambda: np.ones(4, [("名前", "<i8")]),
    # Both at once: still 3.0, with one warning.
    "utf8_and_long": lambda: np.zeros(1, [(f"名{i}", "<u2") for i in range(9000)]),
    # An object field: the header comes first, then the pickle.
    "object_field_many": lambda: np.array([(None,) * 4000], [(f"o{i}", "O") for i in range(4000)]),
}


def _save(func, array):
    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        func(buf, array, b=array)
    warned = [(w.category, str(w.message), w.filename, w.lineno) for w in caught]
    with zipfile.ZipFile(buf) as z:
        members = {name: z.read(name) for name in z.namelist()}
    return members, warned


def _headers(members):
    out = {}
    for name, data in members.items():
        major = data[6]
        size = int.from_bytes(data[8:10], "little") if major == 1 else int.from_bytes(data[8:12], "little")
        out[name] = data[: (10 if major == 1 else 12) + size]
    return out


@pytest.mark.parametrize("kind", ["savez_compressed", "savez"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_header_and_warnings_match_numpy(kind, case):
    array = CASES[case]()
    np_members, np_warned = _save(getattr(np, kind), array)
    fz_members, fz_warned = _save(getattr(fastnpz, kind), array)
    assert np_warned, "the case needs a header past format 1.0"
    assert fz_warned == np_warned
    np_headers, fz_headers = _headers(np_members), _headers(fz_members)
    assert {h[6] for h in np_headers.values()} <= {2, 3}
    assert fz_headers == np_headers
    assert fz_members == np_members


def test_the_warning_is_numpys_own_text():
    # Whatever this numpy says (numpy 2.5 fixed "beread"), fastnpz says too.
    buf = io.BytesIO()
    np_buf = io.BytesIO()
    array = CASES["many_fields"]()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.save(np_buf, array)
        fastnpz.savez_compressed(buf, array)
    texts = [str(w.message) for w in caught]
    assert len(texts) == 2 and texts[0] == texts[1], texts
    assert texts[0].startswith("Stored array in format 2.0.")
