#!/usr/bin/env bash
# Static checks, as CI runs them: rustfmt and clippy on the Rust code; ruff,
# mypy --strict and mypy.stubtest on the Python package. The Python tools come
# from the project's `lint` extra, installed into .venv (made if missing).
# Every check runs; the script fails if any of them did.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,lint]'
py=.venv/bin/python

failed=()
check() {
    echo "+ $*"
    "$@" || failed+=("$*")
}

check cargo fmt --check
check cargo clippy --all-targets -- -D warnings
check "$py" -m ruff check .
# The implementation: its .py files by name, since mypy reads a module's
# .pyi instead of its .py when it is given the directory.
check "$py" -m mypy --strict --no-incremental python/fastnpz/*.py
# The stubs (and the modules that have none), as users' type checkers see them.
check "$py" -m mypy --strict --no-incremental python/fastnpz
# The stubs against the runtime: names, signatures (numpy's, carried in
# __signature__), defaults.
check "$py" -m mypy.stubtest fastnpz

if [ ${#failed[@]} -gt 0 ]; then
    printf 'lint failed: %s\n' "${failed[@]}" >&2
    exit 1
fi
echo "lint: all checks passed"
