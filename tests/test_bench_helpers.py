"""The benchmark's pure helpers (benches/): parsers, comparisons, targets.

No timing here: timing thresholds live in ``bench.py --check`` only. Nothing
is downloaded: the real-data suite's parsers run on bytes made here.
"""

import json
import os
import struct
import sys

import numpy as np
import pytest

BENCHES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benches")
if not os.path.isdir(BENCHES):
    # The installed-wheel run copies tests/ alone.
    pytest.skip("benches/ not shipped alongside these tests", allow_module_level=True)
sys.path.insert(0, BENCHES)

import classes  # noqa: E402 - after the benches path
import loadbench  # noqa: E402 - after the benches path
import realdata  # noqa: E402 - after the benches path
import report  # noqa: E402 - after the benches path
import targets  # noqa: E402 - after the benches path


def _safetensors(tensors, metadata=None):
    header, body, offset = {}, b"", 0
    for name, (code, a) in tensors.items():
        raw = a.tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        body += raw
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def test_parse_safetensors_round_trips_dtypes_and_shapes():
    w = np.arange(12, dtype="<f4").reshape(3, 4)
    ids = np.arange(5, dtype="<i8").reshape(1, 5)
    half = np.array([1.5, -2.0], dtype="<f2")
    data = _safetensors({"w": ("F32", w), "ids": ("I64", ids), "h": ("F16", half)}, {"format": "pt"})
    out = realdata.parse_safetensors(data)
    assert list(out) == ["w", "ids", "h"]
    for got, want in ((out["w"], w), (out["ids"], ids), (out["h"], half)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_parse_safetensors_rejects_unknown_dtype_and_bad_offsets():
    with pytest.raises(ValueError, match="BF16"):
        realdata.parse_safetensors(_safetensors({"x": ("BF16", np.zeros(2, "<u2"))}))
    data = bytearray(_safetensors({"x": ("F32", np.zeros(4, "<f4"))}))
    with pytest.raises(ValueError, match="data_offsets"):
        realdata.parse_safetensors(bytes(data[:-4]))  # the tensor runs past the end


def test_crop_tiles_cover_the_image_without_overlap():
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    tiles = realdata.crop_tiles(img, 2)
    assert len(tiles) == 2 * 3  # partial tiles at the edges are dropped
    assert all(t.shape == (2, 2, 3) for t in tiles)
    np.testing.assert_array_equal(tiles[4], img[2:4, 2:4])


def test_no_globals_unpickler_loads_lists_and_refuses_imports():
    import io
    import pickle

    assert realdata._NoGlobals(io.BytesIO(pickle.dumps([[1, 2], [3, 4]]))).load() == [[1, 2], [3, 4]]
    with pytest.raises(pickle.UnpicklingError):
        realdata._NoGlobals(io.BytesIO(pickle.dumps(np.float64(1.0)))).load()


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FASTNPZ_BENCH_CACHE", str(tmp_path))
    assert realdata.cache_dir() == str(tmp_path)
    monkeypatch.delenv("FASTNPZ_BENCH_CACHE")
    assert realdata.cache_dir().endswith(os.path.join(".cache", "fastnpz-bench"))


@pytest.mark.parametrize("name", list(classes.CLASSES))
def test_size_classes_are_seeded_and_sized(name):
    gen, dtype, _ = classes.CLASSES[name]
    (args, kw), (_, again) = gen(16), gen(16)
    assert args == () and list(kw) == [name]
    a = kw[name]
    assert str(a.dtype) == dtype
    assert abs(a.nbytes - classes.CLASS_MIB * classes.MiB / 16) <= 64 * 1024
    np.testing.assert_array_equal(a, again[name])


def test_label_classes_are_small_integers_in_blobs():
    a = classes.gen_label_mask_u8(16)[1]["label_mask_u8"]
    assert set(np.unique(a)) <= set(range(8)) and (a == 0).mean() > 0.3
    # Blobs: neighbouring pixels mostly share a label.
    assert (a[:, 1:] == a[:, :-1]).mean() > 0.9


def test_read_all_styles_and_compare_loaded(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, x=np.arange(3.0), y=np.asfortranarray(np.ones((2, 3), np.int32)))
    ref = loadbench.read_all(np.load, p, "getitem")
    assert list(ref) == ["x", "y"]
    assert loadbench.compare_loaded(ref, loadbench.read_all(np.load, p, "items")) == []
    bad = dict(ref, x=np.arange(3.0) + 1)
    assert "x: contents differ" in loadbench.compare_loaded(ref, bad)
    assert "memory order" in loadbench.compare_loaded(ref, dict(ref, y=np.ascontiguousarray(ref["y"])))[0]
    assert "names differ" in loadbench.compare_loaded(ref, {"y": ref["y"], "x": ref["x"]})[0]
    assert "float32" in loadbench.compare_loaded(ref, dict(ref, x=ref["x"].astype(np.float32)))[0]


def test_same_bytes_handles_empty_and_chunked_arrays():
    a = np.arange(1000, dtype=np.int64)
    assert loadbench._same_bytes(a, a.copy(), chunk=64)
    b = a.copy()
    b[-1] += 1
    assert not loadbench._same_bytes(a, b, chunk=64)
    assert loadbench._same_bytes(np.zeros(0), np.zeros(0))


def _statuses(t):
    """target -> the set of statuses its checks got."""
    out = {}
    for i in t.items:
        out.setdefault(i["target"], set()).add(i["status"])
    return out


def _save_row(name, suite, speedup, size_ratio=1.0, scaling=2.0, peaks=(10.0, 12.0), single=True, one_thread=None):
    return {"dataset": name, "suite": suite, "speedup": speedup, "size_ratio": size_ratio, "thread_scaling": scaling,
            "numpy_peak_mib": peaks[0], "fastnpz_peak_mib": peaks[1], "single_large_member": single,
            "speedup_1t": speedup / scaling if one_thread is None else one_thread}


def test_targets_pass_fail_and_not_measured():
    t = targets.Targets()
    seeded = [_save_row(f"s{i}", "seeded", 10.0) for i in range(5)] + [_save_row("many_small", "seeded", 3.0)]
    classes_rows = [_save_row("c", "classes", 5.0, size_ratio=1.02, scaling=1.5, one_thread=0.9)]
    targets.check_save(t, {"seeded": seeded, "classes": classes_rows}, 2, {"real": "skipped: no network"})
    status = _statuses(t)
    assert status["save seeded: median >= 8.0x"] == {"pass"}
    assert status["save seeded: every dataset >= 4.0x"] == {"pass", "FAIL"}  # many_small
    assert status["save real: median >= 4.0x"] == {"NOT MEASURED"}
    assert status["save threads=1: every dataset >= 1.0x (seeded)"] == {"pass"}
    assert status["save threads=1: every dataset >= 1.0x (classes)"] == {"FAIL"}
    assert status["size ratio <= 1.01 (classes)"] == {"FAIL"}
    assert any(i["status"] == "FAIL" and i["detail"].startswith("c") for i in t.items if "scaling" in i["target"])
    summary = "\n".join(t.summary())
    assert "many_small speedup: 3.00x" in summary and "skipped: no network" in summary


def test_load_targets_and_flatten():
    row = {"dataset": "many_small", "suite": "seeded", "large": False, "raw_mib": 1.0, "n_arrays": 2, "repeats": 3,
           "numpy_getitem": {"speedup": 9.0, "numpy_s": 1.0, "fastnpz_s": 0.1},
           "fastnpz_getitem": {"speedup": 5.0}, "numpy_items": {"speedup": 8.0},
           "archive_bytes": {"numpy": 10, "fastnpz": 9},
           "memory": {"fastnpz@numpy": {"extra_anon_mib": 40.0}, "fastnpz@fastnpz": {"extra_anon_mib": 1.0}}}
    flat = dict(report.flatten_load(row), large=False)
    assert flat["np_speedup"] == 9.0 and flat["fz_archive_bytes"] == 9 and flat["np_extra_anon_mib"] == 40.0
    t = targets.Targets()
    targets.check_load(t, [flat], None)
    status = _statuses(t)
    assert status["load numpy-written: many_small >= 8.0x"] == {"pass"}
    assert status["load peak extra anon memory <= 32 MiB"] == {"pass", "FAIL"}
    assert "many_small numpy-written: 40.0 MiB" in "\n".join(t.summary())
    t = targets.Targets()
    targets.check_load(t, [], "fastnpz 0.1 has no load()")
    assert {i["status"] for i in t.items} == {"NOT MEASURED"}


def test_tables_mark_wrong_rows():
    cols = report.save_columns(2)
    rows = [dict(_save_row("ok", "seeded", 4.0), raw_mib=1.0, n_arrays=1),
            {"dataset": "bad", "raw_mib": 2.0, "n_arrays": 1, "error": "contents differ"}]
    text = report.text_table(rows, cols)
    assert "1T->2T" in text and "4.00x" in text and "WRONG" in text
    md = report.markdown_table(rows, cols)
    assert md.count("\n") == 3 and md.startswith("| dataset |")


def test_load_memory_measure_sees_a_peak_and_subtracts_the_arrays(tmp_path):
    """A loader that holds a 64 MiB temporary before making 16 MiB of arrays:
    the peak is the temporary, 48 MiB above what the result occupies."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs Linux /proc")
    archive, tiny = tmp_path / "a.npz", tmp_path / "tiny.npz"
    np.savez(archive, a=np.ones(2 << 20))  # 16 MiB
    np.savez(tiny, t=np.arange(3))
    benches = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benches")
    child = (
        "import sys, time; sys.path.insert(0, sys.argv[1]); import numpy as np, loadbench\n"
        "def load(path):\n"
        "    if path.endswith('a.npz'):\n"
        "        tmp = np.ones(8 << 20)  # 64 MiB, every page touched\n"
        "        time.sleep(0.2)  # long enough for any scheduler to let the sampler see it\n"
        "        del tmp\n"
        "    return np.load(path)\n"
        "loadbench.mem_worker(load, sys.argv[2], sys.argv[3])\n"
    )
    m = loadbench.measure([sys.executable, "-c", child, benches, str(archive), str(tiny)])
    assert m["loaded_bytes"] == 16 << 20
    assert m["samples"] > 10
    assert 40 < m["extra_anon_mib"] < 60, m
