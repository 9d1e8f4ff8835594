"""fastnpz._patch: making numpy's own savez/savez_compressed use fastnpz.

Every test leaves numpy unpatched (the autouse fixture checks and repairs),
so a failure here cannot leak a patched numpy into the rest of the suite.
"""
import importlib
import io

import numpy as np
import pytest

import fastnpz
from fastnpz import _patch
from fastnpz._patch import is_numpy_patched, original, patch_numpy, patched_numpy, unpatch_numpy

NAMES = ("savez_compressed", "savez")
#: The numpy modules defining the functions in this numpy version.
MODULES = []
for _name in ("numpy", "numpy.lib.npyio", "numpy.lib._npyio_impl"):
    try:
        _module = importlib.import_module(_name)
    except ImportError:
        continue
    if all(hasattr(_module, n) for n in NAMES):
        MODULES.append(_module)

# numpy's functions, captured before any test patches anything.
NUMPY_FUNCS = {(m.__name__, n): getattr(m, n) for m in MODULES for n in NAMES}


def _assert_unpatched():
    for (module_name, name), func in NUMPY_FUNCS.items():
        assert getattr(importlib.import_module(module_name), name) is func, (module_name, name)
    assert not is_numpy_patched()


@pytest.fixture(autouse=True)
def _numpy_restored():
    _assert_unpatched()
    try:
        yield
    finally:
        unpatch_numpy()
        for (module_name, name), func in NUMPY_FUNCS.items():
            setattr(importlib.import_module(module_name), name, func)


@pytest.fixture
def writer_calls(monkeypatch):
    """Count calls into fastnpz's writer. fastnpz/__init__.py imported
    ``save_archive`` by name, so the name it calls is ``fastnpz.save_archive``;
    ``fastnpz._savez.save_archive`` is wrapped too, for callers that use it."""
    import fastnpz._savez

    calls = []
    real = fastnpz._savez.save_archive

    def counting(file, args, kwds, compress, allow_pickle):
        calls.append((tuple(kwds), compress))
        return real(file, args, kwds, compress, allow_pickle)

    monkeypatch.setattr(fastnpz._savez, "save_archive", counting)
    monkeypatch.setattr(fastnpz, "save_archive", counting, raising=False)
    return calls


def test_public_names():
    assert set(_patch.__all__) == {"patch_numpy", "unpatch_numpy", "patched_numpy", "is_numpy_patched", "original"}


def test_at_least_one_numpy_module_defines_the_functions():
    assert MODULES[0] is np
    # numpy 2.x: numpy.lib._npyio_impl; numpy 1.x: numpy.lib.npyio.
    assert len(MODULES) >= 2


def test_patch_replaces_numpy_functions():
    patch_numpy()
    assert is_numpy_patched()
    assert np.savez_compressed is fastnpz.savez_compressed
    assert np.savez is fastnpz.savez
    for module in MODULES:
        assert module.savez_compressed is fastnpz.savez_compressed, module.__name__
        assert module.savez is fastnpz.savez, module.__name__


def test_original_is_numpys_function_patched_or_not():
    for name in NAMES:
        assert original(name) is NUMPY_FUNCS[("numpy", name)]
    with patched_numpy():
        for name in NAMES:
            assert original(name) is NUMPY_FUNCS[("numpy", name)]
            assert original(name) is not getattr(fastnpz, name)
    with pytest.raises(KeyError, match="savez_compressed"):
        original("loadtxt")


def test_patch_routes_load_unless_asked_not_to(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, a=np.arange(3))
    with patched_numpy():
        assert np.load is fastnpz.load
        with np.load(path) as f:
            assert isinstance(f, fastnpz.NpzFile)
            assert f["a"].tolist() == [0, 1, 2]
    assert np.load is original("load")
    with patched_numpy(load=False):
        assert np.savez is fastnpz.savez
        assert np.load is original("load")
    assert not is_numpy_patched()


def _third_party_save(target):
    """Code written against numpy, unaware of fastnpz: it looks the function
    up on numpy at call time."""
    np.savez_compressed(target, a=np.arange(10), b=np.eye(3))


def test_third_party_code_goes_through_fastnpz(writer_calls):
    _third_party_save(io.BytesIO())
    assert writer_calls == []  # unpatched: numpy's own writer
    reference = io.BytesIO()
    _third_party_save(reference)

    with patched_numpy():
        buf = io.BytesIO()
        _third_party_save(buf)
        assert writer_calls == [(("a", "b"), True)]
        np.savez(io.BytesIO(), c=np.arange(2))
        assert writer_calls[-1] == (("c",), False)
        for module in MODULES[1:]:
            module.savez_compressed(io.BytesIO(), d=np.arange(2))
            assert writer_calls[-1] == (("d",), True)

    # Same decompressed archive as numpy's own.
    from fastnpz.testing import assert_npz_equal

    assert_npz_equal(buf.getvalue(), reference.getvalue())
    count = len(writer_calls)
    _third_party_save(io.BytesIO())
    assert len(writer_calls) == count  # unpatched again


def test_patched_call_to_a_path_loads_back(tmp_path):
    with patched_numpy():
        np.savez_compressed(tmp_path / "out", x=np.arange(4))  # .npz appended, as numpy
    with np.load(tmp_path / "out.npz") as f:
        np.testing.assert_array_equal(f["x"], np.arange(4))


def test_unpatch_restores_identity():
    patch_numpy()
    unpatch_numpy()
    _assert_unpatched()
    unpatch_numpy()  # no-op when not patched
    _assert_unpatched()


def test_patch_is_idempotent():
    patch_numpy()
    patch_numpy()
    assert np.savez_compressed is fastnpz.savez_compressed
    unpatch_numpy()  # one unpatch restores numpy, not fastnpz
    _assert_unpatched()


def test_context_manager_restores_on_exception():
    with pytest.raises(RuntimeError, match="boom"):
        with patched_numpy():
            assert np.savez_compressed is fastnpz.savez_compressed
            raise RuntimeError("boom")
    _assert_unpatched()


def test_context_manager_nests_and_respects_an_outer_patch():
    with patched_numpy():
        with patched_numpy():
            assert is_numpy_patched()
        assert np.savez_compressed is fastnpz.savez_compressed  # inner exit keeps it
    _assert_unpatched()

    patch_numpy()
    with patched_numpy():
        pass
    assert is_numpy_patched() and np.savez is fastnpz.savez
    unpatch_numpy()
    _assert_unpatched()


class _Override:
    """An array-like whose ``__array_function__`` takes every call."""

    def __init__(self):
        self.seen = []

    def __array_function__(self, func, types, args, kwargs):
        self.seen.append(func)
        return "handled"


def test_array_function_override_unpatched():
    obj = _Override()
    assert fastnpz.savez_compressed(io.BytesIO(), obj) == "handled"
    assert obj.seen == [original("savez_compressed")]


@pytest.mark.parametrize("name", NAMES)
def test_array_function_override_while_patched(name):
    obj = _Override()
    with patched_numpy():
        assert getattr(np, name)(io.BytesIO(), obj) == "handled"
    # numpy's dispatch ran and handed the override numpy's own function.
    assert obj.seen == [original(name)]
