"""The public API's type stubs: tests/typing_usage.py must pass ``mypy --strict``
(and also run)."""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USAGE = os.path.join("tests", "typing_usage.py")


def test_typing_usage_runs():
    subprocess.run([sys.executable, USAGE], cwd=ROOT, check=True, timeout=60)


@pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (pip install mypy) -- the stubs are not type-checked",
)
def test_typing_usage_passes_mypy_strict():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, USAGE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mypy --strict {USAGE} failed:\n{result.stdout}{result.stderr}"
