#!/usr/bin/env bash
# Build the wheel Linux users get from PyPI, the abi3 manylinux2014 one
# (glibc 2.17: `maturin --zig` links against that glibc's symbols, where a
# plain build is tagged with this machine's newer glibc and would not install
# on older distributions), check its tag with `auditwheel show`, install it
# with `pip install --no-index` into a fresh venv, and run the Python suite
# against the installed wheel (from a copy of tests/, so the source tree's
# python/ is never imported).
#
#   scripts/test_wheel.sh              # extra arguments go to pytest
#
# Environment:
#   CARGO_TARGET_DIR   cargo target dir for the wheel build (default: target/,
#                      where the zig build gets a directory of its own target
#                      triple, apart from the editable install's target/release)
#   WHEEL_OUT          a directory to copy the tested wheel into, for the steps
#                      that install it elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
arch=$(uname -m)

python3 -m venv "$work/tools"
"$work/tools/bin/pip" install -q maturin ziglang auditwheel
# maturin runs zig through the `ziglang` package of the python on PATH.
started=$SECONDS
PATH="$work/tools/bin:$PATH" "$work/tools/bin/maturin" build --release --zig \
    --compatibility manylinux2014 --out "$work/dist" >/dev/null
echo "manylinux2014 wheel built in $((SECONDS - started)) s" >&2
wheel=$(ls "$work"/dist/fastnpz-*-cp310-abi3-manylinux*_"$arch".whl)  # or fail here

# auditwheel reads the symbol versions the extension needs; the wheel must
# need nothing newer than glibc 2.17 and bundle no other library.
"$work/tools/bin/auditwheel" show "$wheel" | tee "$work/auditwheel.txt" >&2
if ! tr '\n' ' ' < "$work/auditwheel.txt" | grep -q "platform tag: \"manylinux_2_17_$arch\""; then
    echo "error: auditwheel does not accept $(basename "$wheel") as manylinux_2_17_$arch" >&2
    exit 1
fi
if [ -n "${WHEEL_OUT:-}" ]; then
    mkdir -p "$WHEEL_OUT"
    cp "$wheel" "$WHEEL_OUT/"
fi

# Everything the test venv needs, as files: the install itself is offline.
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
