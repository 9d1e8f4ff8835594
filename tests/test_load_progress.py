"""Progress while loading: ``fastnpz.options(progress=...)`` reports the
inflating of large members as it reports a save, ``progress(done, total)``
in bytes of the members being read, ending at ``(total, total)``."""

import io
import sys
import zipfile

import numpy as np
import pytest

import fastnpz


def _sizes(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return {i.filename: i.file_size for i in z.infolist()}


@pytest.mark.parametrize("writer", [np.savez_compressed, fastnpz.savez_compressed, np.savez])
@pytest.mark.parametrize("threads", [1, 2])
def test_callback_sees_monotonic_progress_ending_at_the_members_size(writer, threads):
    big = np.random.default_rng(0).integers(0, 50, 3_000_000)
    buf = io.BytesIO()
    writer(buf, big=big)
    raw = buf.getvalue()
    calls = []
    with fastnpz.options(progress=lambda done, total: calls.append((done, total)), threads=threads):
        with fastnpz.load(io.BytesIO(raw)) as f:
            np.testing.assert_array_equal(f["big"], big)
    total = _sizes(raw)["big.npy"]
    assert calls, "progress was never reported"
    assert calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    dones = [d for d, _ in calls]
    assert dones == sorted(dones)


def test_no_progress_by_default_or_when_switched_off():
    buf = io.BytesIO()
    np.savez_compressed(buf, a=np.arange(1_000_000))
    calls = []
    with fastnpz.options(progress=lambda d, t: calls.append(d)), fastnpz.options(progress=False):
        buf.seek(0)
        with fastnpz.load(buf) as f:
            f["a"]
    buf.seek(0)
    with fastnpz.load(buf) as f:
        f["a"]
    assert calls == []


def test_an_exception_in_the_callback_stops_the_load_and_is_raised():
    buf = io.BytesIO()
    np.savez_compressed(buf, a=np.arange(1_000_000))

    def boom(done, total):
        raise RuntimeError("stop here")

    buf.seek(0)
    with fastnpz.load(buf) as f:
        with fastnpz.options(progress=boom), pytest.raises(RuntimeError, match="stop here"):
            f["a"]
        np.testing.assert_array_equal(f["a"], np.arange(1_000_000))


def test_progress_true_without_tqdm_draws_a_load_bar(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    buf = io.BytesIO()
    np.savez_compressed(buf, a=np.random.default_rng(0).standard_normal(2_000_000))
    buf.seek(0)
    with fastnpz.options(progress=True), fastnpz.load(buf) as f:
        f["a"]
    err = capsys.readouterr().err
    assert "load 100%" in err and err.endswith("\n"), err
    assert err.count("100%") == 1, "the bar ends once"
