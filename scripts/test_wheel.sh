#!/usr/bin/env bash
# Build the abi3 wheel with maturin, install it with `pip install --no-index`
# into a fresh venv, and run the Python suite against the installed wheel
# (from a copy of tests/, so the source tree's python/ is never imported).
#
#   scripts/test_wheel.sh              # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1

bash scripts/build_wheel.sh "$work/dist" >/dev/null

# Everything the test venv needs, as files: the install itself is offline.
python3 -m venv "$work/tools"
"$work/tools/bin/pip" download -q --only-binary=:all: -d "$work/dist" \
    numpy pytest hypothesis mypy tqdm

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --no-index --find-links "$work/dist" \
    fastnpz pytest hypothesis mypy tqdm

cp -r "$repo/tests" "$work/tests"
cat > "$work/pytest.ini" <<'INI'
[pytest]
testpaths = tests
addopts = -ra
tmp_path_retention_policy = failed
markers =
    large: multi-GiB zip64 tests
INI
cd "$work"
"$work/venv/bin/python" -c 'import fastnpz, sys; assert "site-packages" in fastnpz.__file__, fastnpz.__file__; print("testing", fastnpz.__file__, file=sys.stderr)'
"$work/venv/bin/python" -m pytest -p no:cacheprovider "$@"
