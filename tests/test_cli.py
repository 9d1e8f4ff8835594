"""``python -m fastnpz``: the README's demonstration command."""

import subprocess
import sys


def test_help_documents_the_command():
    out = subprocess.run([sys.executable, "-m", "fastnpz", "--help"], capture_output=True, text=True, check=True)
    assert "python -m fastnpz" in out.stdout
    assert "--mib" in out.stdout


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
