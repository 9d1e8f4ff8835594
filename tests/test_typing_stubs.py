"""fastnpz's stubs are as strict as numpy's own: ``mypy --strict`` accepts
tests/typing/pass_api.py, whose ``assert_type`` calls pin the types numpy's
stubs give, and rejects each line of tests/typing/fail_api.py marked
``# E: <text>`` with an error containing that text, and nothing else."""

from __future__ import annotations

import os
import re

import pytest

mypy_api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install mypy)")

__all__: list[str] = []

TYPING = os.path.join(os.path.dirname(os.path.abspath(__file__)), "typing")
PASS = os.path.join(TYPING, "pass_api.py")
FAIL = os.path.join(TYPING, "fail_api.py")
ERROR = re.compile(r"^(?P<path>.+?):(?P<line>\d+): error: (?P<message>.*)$")


@pytest.fixture(scope="module")
def errors() -> dict[str, dict[int, list[str]]]:
    """mypy's errors, by file and line: one run for both files, since most of
    its time goes on reading numpy's stubs."""
    stdout, stderr, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", os.devnull, "--no-error-summary", PASS, FAIL]
    )
    assert status in (0, 1) and not stderr, f"mypy did not run:\n{stdout}{stderr}"
    found: dict[str, dict[int, list[str]]] = {PASS: {}, FAIL: {}}
    for line in stdout.splitlines():
        m = ERROR.match(line)
        if m:
            path = os.path.abspath(m["path"])
            found.setdefault(path, {}).setdefault(int(m["line"]), []).append(m["message"])
    return found


def test_numpy_typed_uses_type_check(errors: dict[str, dict[int, list[str]]]) -> None:
    assert errors[PASS] == {}


def test_wrong_calls_are_rejected_where_marked(errors: dict[str, dict[int, list[str]]]) -> None:
    with open(FAIL, encoding="utf-8") as f:
        expected = {
            n: line.split("# E: ", 1)[1].strip() for n, line in enumerate(f, start=1) if "# E: " in line
        }
    assert len(expected) >= 10
    got = errors[FAIL]
    missing = {n: text for n, text in expected.items() if not any(text in m for m in got.get(n, []))}
    unexpected = {n: messages for n, messages in got.items() if n not in expected}
    assert not missing and not unexpected, f"missing: {missing}\nunexpected: {unexpected}"
