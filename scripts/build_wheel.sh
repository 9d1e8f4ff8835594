#!/usr/bin/env bash
# Build the abi3 wheel with maturin (from a throwaway venv) into OUTDIR and
# print its path. The one build step of scripts/test_wheel.sh and
# scripts/test_py313_314.sh.
#
#   scripts/build_wheel.sh OUTDIR
#
# Environment:
#   CARGO_TARGET_DIR   cargo target dir (default: cargo's, target/)
set -euo pipefail
out=$(realpath -m "${1:?usage: build_wheel.sh OUTDIR}")
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1

python3 -m venv "$tools"
"$tools/bin/pip" install -q maturin
"$tools/bin/maturin" build --release --out "$out" >/dev/null
# An abi3 wheel, or fail here.
ls "$out"/fastnpz-*-abi3-*.whl
