"""The ``__array_function__`` hand-off, checked against numpy's own dispatch.

When an argument overrides ``__array_function__``, numpy calls the override
with ``(func, types, args, kwargs)`` made from exactly what the caller
passed. fastnpz must give the override the same: each case below is called
on numpy's function and on fastnpz's, and what the override received (and
what the call returned or raised) must agree, value for value and in order.
"""

from __future__ import annotations

import inspect
import io
import os
import pydoc

import numpy as np
import pytest

import fastnpz
from fastnpz._patch import original, patched_numpy

NUMPY_TAKES_ALLOW_PICKLE = "allow_pickle" in inspect.signature(np.savez_compressed).parameters


class Recorder:
    """Records every ``__array_function__`` call into ``log``."""

    def __init__(self, log: list):
        self.log = log

    def __array_function__(self, func, types, args, kwargs):
        self.log.append((func, types, args, kwargs))
        return "handled"


class Declines(Recorder):
    def __array_function__(self, func, types, args, kwargs):
        super().__array_function__(func, types, args, kwargs)
        return NotImplemented


class TakesSubclass(np.ndarray):
    def __array_function__(self, func, types, args, kwargs):
        return ("subclass", func, types, args, kwargs)


def _case(name, log):
    """``(args, kwargs)`` for one call; fresh objects on every call."""
    r = Recorder(log)
    a = np.arange(3)
    return {
        "positional": (("f.npz", r), {}),
        "keyword": (("f.npz",), {"x": r}),
        "keyword_and_positional": (("f.npz", a, r), {"z": a, "y": r}),
        "keywords_in_order": (("f.npz",), {"b": a, "a": r, "c": a}),
        "no_allow_pickle": (("f.npz", r), {"b": 1}),
        "allow_pickle_false": (("f.npz", r), {"allow_pickle": False}),
        "allow_pickle_true": (("f.npz",), {"x": r, "allow_pickle": True}),
        "allow_pickle_first": (("f.npz",), {"allow_pickle": 0, "x": r}),
        "allow_pickle_is_the_override": (("f.npz", a), {"allow_pickle": r}),
        "file_as_keyword": ((), {"file": io.BytesIO(), "x": r}),
        "file_is_the_override": ((r, a), {}),
        "clashing_arr_0": (("f.npz", r), {"arr_0": a}),
        "keywords_named_args_and_kwds": (("f.npz",), {"args": r, "kwds": a}),
        "declined": (("f.npz", Declines(log)), {}),
        "ndarray_subclass": (("f.npz", np.arange(3).view(TakesSubclass)), {}),
    }[name]


CASES = [
    "positional", "keyword", "keyword_and_positional", "keywords_in_order", "no_allow_pickle",
    "allow_pickle_false", "allow_pickle_true", "allow_pickle_first", "allow_pickle_is_the_override",
    "file_as_keyword", "file_is_the_override", "clashing_arr_0", "keywords_named_args_and_kwds",
    "declined", "ndarray_subclass",
]


def _call(func, args, kwargs):
    try:
        return func(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - compared with numpy's
        return None, exc


def _same_call(seen_np, seen_fz):
    """Two ``(func, types, args, kwargs)``: the same function and types, the
    very same argument objects, the same keywords in the same order."""
    f_np, t_np, a_np, k_np = seen_np
    f_fz, t_fz, a_fz, k_fz = seen_fz
    assert f_fz is f_np, "the override must receive numpy's own function"
    assert t_fz == t_np
    assert len(a_fz) == len(a_np) and all(x is y for x, y in zip(a_fz, a_np, strict=True)), (a_fz, a_np)
    assert list(k_fz) == list(k_np), f"keywords {list(k_fz)}, numpy's {list(k_np)}"
    assert all(k_fz[key] is k_np[key] for key in k_np)


@pytest.mark.parametrize("name", CASES)
def test_override_receives_what_numpy_passes(kind, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a call numpy does not dispatch writes f.npz
    log: list = []
    args, kwargs = _case(name, log)  # one set of objects for both calls

    r_np, e_np = _call(original(kind), args, dict(kwargs))
    seen_np = log[:]
    log.clear()
    r_fz, e_fz = _call(getattr(fastnpz, kind), args, dict(kwargs))
    seen_fz = log[:]

    assert len(seen_fz) == len(seen_np), f"override called {len(seen_fz)} times, with numpy {len(seen_np)}"
    for call_np, call_fz in zip(seen_np, seen_fz, strict=True):
        _same_call(call_np, call_fz)
    assert type(e_fz) is type(e_np), (e_np, e_fz)
    if isinstance(r_np, tuple):
        assert r_fz[0] == r_np[0]
        _same_call(r_np[1:], r_fz[1:])
    else:
        assert r_fz == r_np


def test_the_callers_keywords_only_reach_the_override(kind):
    """The case a review found: numpy passes no ``allow_pickle`` the caller
    did not give; fastnpz once added ``allow_pickle=True``."""
    numpy_func, ours = original(kind), getattr(fastnpz, kind)
    for kwargs in ({}, {"b": 1}, {"allow_pickle": False}):
        seen = []
        for func in (numpy_func, ours):
            log: list = []
            func(io.BytesIO(), Recorder(log), **kwargs)
            seen.append(sorted(log[0][3]))
        assert seen[1] == seen[0] == sorted(kwargs)


def test_patched_numpy_hands_off_to_numpys_function(kind):
    """While numpy is patched, ``np.savez*`` is fastnpz's, and the override
    still receives numpy's own function (no recursion)."""
    log_np: list = []
    getattr(np, kind)(io.BytesIO(), Recorder(log_np), y=1)
    log_fz: list = []
    with patched_numpy():
        assert getattr(np, kind) is getattr(fastnpz, kind)
        getattr(np, kind)(io.BytesIO(), Recorder(log_fz), y=1)
    assert log_fz[0][0] is log_np[0][0] is original(kind)
    assert list(log_fz[0][3]) == list(log_np[0][3]) == ["y"]


@pytest.mark.skipif(not NUMPY_TAKES_ALLOW_PICKLE, reason="numpy < 2.1: allow_pickle is an array name")
def test_allow_pickle_value_is_not_dispatched_on(kind, tmp_path):
    """numpy >= 2.1's dispatcher takes ``allow_pickle`` out of the relevant
    arguments, so an override there is no reason to hand off."""
    log: list = []
    outs = []
    for func in (original(kind), getattr(fastnpz, kind)):
        buf = io.BytesIO()
        assert func(buf, np.arange(3), allow_pickle=Recorder(log)) is None
        outs.append(buf.getvalue())
    assert log == []
    with np.load(io.BytesIO(outs[1])) as f:
        assert f.files == ["arr_0"]


@pytest.mark.skipif(NUMPY_TAKES_ALLOW_PICKLE, reason="numpy >= 2.1 takes allow_pickle")
def test_before_numpy_2_1_allow_pickle_is_an_array_name(kind):
    bufs = []
    for func in (original(kind), getattr(fastnpz, kind)):
        buf = io.BytesIO()
        func(buf, allow_pickle=np.arange(2))
        bufs.append(buf.getvalue())
    for raw in bufs:
        with np.load(io.BytesIO(raw)) as f:
            assert f.files == ["allow_pickle"]


@pytest.mark.parametrize("name", ["savez_compressed", "savez"])
def test_help_and_signature_show_numpys_signature(name):
    theirs = inspect.signature(original(name))
    ours = getattr(fastnpz, name)
    assert inspect.signature(ours) == theirs
    text = pydoc.render_doc(ours, renderer=pydoc.plaintext)
    assert f"{name}{theirs}" in text, text[:300]


@pytest.mark.parametrize("call", [
    ((), {}), ((), {"a": 1}), (("F",), {"file": "F"}), (("F", 1), {"file": "G"}),
], ids=["nothing", "no_file", "file_twice", "file_twice_with_array"])
def test_missing_or_doubled_file_raises_numpys_type_error(kind, call, tmp_path, monkeypatch):
    """``file`` is bound by fastnpz itself (the functions take ``*args``):
    the same TypeError as numpy's, with the same message."""
    monkeypatch.chdir(tmp_path)
    args, kwargs = call
    errors = [_call(func, args, dict(kwargs))[1] for func in (original(kind), getattr(fastnpz, kind))]
    assert type(errors[0]) is type(errors[1]) is TypeError
    assert str(errors[1]) == str(errors[0])
    assert os.listdir(tmp_path) == []
