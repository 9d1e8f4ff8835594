"""Every ```python block of README.md runs as printed: in order, in one
namespace, pasted into one fresh interpreter, in an empty directory."""

import json
import os
import re
import subprocess
import sys

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")

pytestmark = pytest.mark.skipif(not os.path.exists(README), reason="README.md not shipped alongside these tests")

_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# Runs the blocks given as JSON [[first line, source], ...] on stdin, each
# compiled under README.md's name and line numbers, so that a traceback
# points into the README.
_DRIVER = """
import json, sys
namespace = {"__name__": "__main__"}
for line, source in json.load(sys.stdin):
    print(f"--- README.md:{line}", flush=True)
    exec(compile("\\n" * (line - 1) + source, "README.md", "exec"), namespace)
"""


def python_blocks(text):
    """``(first line, source)`` of every ```python block, in order."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in _FENCE.finditer(text)]


def test_the_extraction_finds_every_block():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    blocks = python_blocks(text)
    assert len(blocks) == text.count("```python"), "an unterminated or oddly fenced python block"
    assert len(blocks) >= 4
    lines = text.splitlines()
    for line, source in blocks:
        assert lines[line - 2].startswith("```python")
        assert source.splitlines()[0] == lines[line - 1]


def test_readme_python_blocks_run_in_order_in_one_session(tmp_path):
    # The README shows a Dask recipe; dask is in the test extra, but not in
    # the bare venvs CI makes for other numpy and Python versions.
    pytest.importorskip("dask.array", reason="the README's Dask recipe needs dask")
    with open(README, encoding="utf-8") as f:
        blocks = python_blocks(f.read())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTNPZ_")}
    out = subprocess.run(
        [sys.executable, "-c", _DRIVER], input=json.dumps(blocks), cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, f"a README snippet failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert out.stdout.count("--- README.md:") == len(blocks)
