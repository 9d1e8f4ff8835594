"""Opt-in progress reporting: ``fastnpz.options(progress=...)``."""

import importlib.util
import io
import os
import sys

import numpy as np
import pytest

import fastnpz

HAS_TQDM = importlib.util.find_spec("tqdm") is not None


def _total(**arrays):
    """Uncompressed bytes of the archive's members, from numpy's own archive."""
    import zipfile

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with zipfile.ZipFile(buf) as z:
        return sum(i.file_size for i in z.infolist())


@pytest.mark.parametrize("target", ["path", "bytesio"])
def test_callback_sees_monotonic_progress_ending_at_the_total(tmp_path, target):
    arrays = {"a": np.random.default_rng(0).standard_normal(3_000_000), "b": np.arange(10)}
    calls = []
    out = tmp_path / "p.npz" if target == "path" else io.BytesIO()
    with fastnpz.options(progress=lambda done, total: calls.append((done, total)), threads=1):
        fastnpz.savez_compressed(out, **arrays)
    total = _total(**arrays)
    assert calls, "progress was never reported"
    assert calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    dones = [d for d, _ in calls]
    assert dones == sorted(dones)


def test_no_progress_by_default_or_when_switched_off(tmp_path):
    calls = []
    with fastnpz.options(progress=lambda d, t: calls.append(d)):
        with fastnpz.options(progress=False):
            fastnpz.savez_compressed(tmp_path / "x.npz", a=np.arange(100))
    fastnpz.savez_compressed(tmp_path / "y.npz", a=np.arange(100))
    assert calls == []


def test_an_exception_in_the_callback_stops_the_save_and_keeps_the_target(tmp_path):
    target = tmp_path / "keep.npz"
    target.write_bytes(b"old")

    def boom(done, total):
        raise RuntimeError("stop here")

    with fastnpz.options(progress=boom), pytest.raises(RuntimeError, match="stop here"):
        fastnpz.savez_compressed(target, a=np.arange(1000))
    assert target.read_bytes() == b"old"
    assert [n for n in os.listdir(tmp_path) if n.endswith(".fastnpz-tmp")] == []


@pytest.mark.parametrize("bad", [5, "yes", 1.0])
def test_invalid_progress_is_a_type_error(bad):
    with pytest.raises(TypeError):
        fastnpz.options(progress=bad)


def test_progress_true_without_tqdm_draws_a_text_bar(monkeypatch, capsys):
    """tqdm is optional: without it, progress=True still shows a bar."""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm.auto now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with fastnpz.options(progress=True, threads=1):
        fastnpz.savez_compressed(io.BytesIO(), a=np.random.default_rng(0).standard_normal(2_000_000))
    err = capsys.readouterr().err
    assert "savez 100%" in err and err.endswith("\n"), err
    assert err.count("100%") == 1, "the bar ends once"


@pytest.mark.skipif(not HAS_TQDM, reason="needs tqdm")
def test_progress_true_draws_a_tqdm_bar(capsys):
    with fastnpz.options(progress=True):
        fastnpz.savez_compressed(io.BytesIO(), a=np.arange(200_000))
    err = capsys.readouterr().err
    assert "savez" in err and "100%" in err
