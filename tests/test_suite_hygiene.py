"""The suite cleans up after itself: a passing test's ``tmp_path`` is removed
at its teardown (the ``large`` tests write several GiB there), a failing
test's is kept for inspection. Checked by running pytest, with the
configuration this session uses, on two tiny tests."""

import os
import subprocess
import sys
import textwrap


def test_passing_tests_leave_no_tmp_path_behind(request, tmp_path):
    inipath = request.config.inipath
    assert inipath is not None, "the suite runs with a pytest configuration file"
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_two.py").write_text(textwrap.dedent("""
        def test_passes(tmp_path):
            (tmp_path / "big.bin").write_bytes(bytes(1 << 20))

        def test_fails(tmp_path):
            (tmp_path / "kept.bin").write_bytes(b"x")
            assert False
    """))
    basetemp = tmp_path / "basetemp"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(inipath), "--rootdir", str(tmp_path),
         "--basetemp", str(basetemp), "-p", "no:cacheprovider", "-q", str(tests)],
        capture_output=True, text=True, timeout=120,
    )
    assert "1 failed, 1 passed" in out.stdout, out.stdout + out.stderr
    left = sorted(os.listdir(basetemp))
    assert [name for name in left if name.startswith("test_passes")] == [], f"left behind: {left}"
    assert (basetemp / "test_fails0" / "kept.bin").exists(), f"a failure's tmp_path must stay: {left}"
