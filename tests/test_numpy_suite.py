"""Run numpy's own savez/npz/load tests (from the installed wheel) with
fastnpz swapped in for numpy.savez / numpy.savez_compressed / numpy.load."""
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NP_TESTS = os.path.join(os.path.dirname(np.__file__), "lib", "tests")

# Selection: everything in test_io.py / test_format.py that calls savez or
# savez_compressed:  TestSavezLoad (the RoundtripTest suite run through
# np.savez, incl. test_big_arrays: a 2 GiB+ member -> zip64 sizes in the
# central directory), TestPathUsage::test_savez*_load, test_savez_nopickle,
# test_npzfile_dict, test_load_refcount, test_compressed_roundtrip,
# test_load_padded_dtype, test_huge_header_npz, test_empty_npz,
# test_large_archive (2 GiB array through an open file).
SELECT = ("savez or npz or compressed_roundtrip or load_padded_dtype "
          "or load_refcount or large_archive or load or Load or pickle")

# Deselected, with reasons.  Everything else selected must pass.
DESELECT: list[str] = []


def test_numpy_own_savez_tests_pass_with_fastnpz(tmp_path):
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-p", "numpy_suite_plugin", "-W", "ignore::pytest.PytestUnknownMarkWarning",
           "--rootdir", str(tmp_path), "--basetemp", str(tmp_path / "bt"),
           os.path.join(NP_TESTS, "test_io.py"), os.path.join(NP_TESTS, "test_format.py"),
           "-k", SELECT]
    for d in DESELECT:
        cmd += ["--deselect", os.path.join(NP_TESTS, d)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=300)
    out = r.stdout + r.stderr
    tail = out[-6000:]
    assert "numpy_suite_plugin: numpy.savez/savez_compressed/load -> fastnpz" in out, (
        f"plugin not active:\n{tail}")
    m = re.search(r"(\d+) passed", out)
    passed = int(m.group(1)) if m else 0
    assert r.returncode == 0, f"numpy's tests failed with fastnpz (rc={r.returncode}):\n{tail}"
    assert passed >= 30, f"only {passed} numpy tests ran:\n{tail}"
    assert not re.search(r"\d+ (failed|error)", out), tail
