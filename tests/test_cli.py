"""``python -m fastnpz``: the README's demonstration command."""

import subprocess
import sys

import pytest


def test_help_documents_the_command():
    out = subprocess.run([sys.executable, "-m", "fastnpz", "--help"], capture_output=True, text=True, check=True)
    assert "python -m fastnpz" in out.stdout
    for flag in ("--mib", "--seed", "--level", "--threads"):
        assert flag in out.stdout


def test_demonstration_runs_and_checks_its_archives():
    out = subprocess.run(
        [sys.executable, "-m", "fastnpz", "--mib", "1"], capture_output=True, text=True, check=True, timeout=300
    )
    rows = [line for line in out.stdout.splitlines() if line.endswith(("yes", "NO"))]
    assert len(rows) == 4, out.stdout
    assert all(line.endswith("yes") for line in rows), out.stdout


def test_bad_size_is_a_usage_error():
    out = subprocess.run([sys.executable, "-m", "fastnpz", "--mib", "0"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "--mib must be at least 1" in out.stderr


def test_level_and_threads_are_used():
    out = subprocess.run(
        [sys.executable, "-m", "fastnpz", "--mib", "1", "--level", "1", "--threads", "1"],
        capture_output=True, text=True, check=True, timeout=300,
    )
    assert "threads=1, level=1" in out.stdout.splitlines()[0]
    rows = [line for line in out.stdout.splitlines() if line.endswith(("yes", "NO"))]
    assert len(rows) == 4 and all(line.endswith("yes") for line in rows), out.stdout


@pytest.mark.parametrize("argv, message", [
    (["--level", "10"], "level must be an integer from 0 to 9, got 10"),
    (["--threads", "0"], "threads must be an integer of at least 1, got 0"),
    (["--threads", "x"], "argument --threads: invalid int value: 'x'"),
])
def test_bad_options_are_usage_errors(argv, message):
    out = subprocess.run([sys.executable, "-m", "fastnpz", *argv], capture_output=True, text=True)
    assert out.returncode == 2
    assert message in out.stderr
