#!/usr/bin/env bash
# Run the Python parity suite against numpy 1.26 (the oldest numpy that
# pyproject.toml accepts) in its own venv, .venv-np126 in the repo root.
#
#   scripts/test_numpy126.sh                 # whole suite
#   scripts/test_numpy126.sh -x -k pickle    # extra arguments go to pytest
#
# Environment:
#   PYTHON             interpreter for the venv (default: python3.11, else python3);
#                      numpy 1.26 has wheels for CPython 3.9-3.12, fastnpz needs >= 3.10
#   CARGO_TARGET_DIR   cargo target dir for the extension build (default:
#                      target/np126, so it does not share the build lock of target/)
#   NP126_RECREATE=1   delete and recreate the venv first
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

venv="$repo/.venv-np126"

if [ -z "${PYTHON:-}" ]; then
    if command -v python3.11 >/dev/null 2>&1; then
        PYTHON=python3.11
    else
        PYTHON=python3
    fi
fi
if ! "$PYTHON" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))'; then
    echo "error: $PYTHON is Python $("$PYTHON" -c 'import sys; print(*sys.version_info[:3], sep=".")');" \
         "numpy 1.26 + fastnpz need CPython 3.10-3.12 (set PYTHON=...)" >&2
    exit 2
fi

if [ "${NP126_RECREATE:-0}" = 1 ]; then
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    "$PYTHON" -m venv "$venv"
fi
py="$venv/bin/python"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/np126}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# An editable maturin build needs a PEP 660 capable pip.
"$py" -m pip install -q --upgrade pip
# One resolver run, so the package's "numpy>=1.26" cannot pull in numpy 2.
"$py" -m pip install -q 'numpy==1.26.*' pytest hypothesis mypy -e .

"$py" - <<'EOF'
import sys
import numpy
import fastnpz
if not numpy.__version__.startswith("1.26."):
    sys.exit(f"error: expected numpy 1.26.x in the venv, got {numpy.__version__}")
print(f"python {sys.version.split()[0]}, numpy {numpy.__version__}, "
      f"fastnpz {fastnpz.__version__} ({fastnpz.__file__})")
EOF

exec "$py" -m pytest -q "$@"
