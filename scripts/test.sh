#!/usr/bin/env bash
# The whole test suite on a fresh machine: Rust core (cargo test) and the
# Python parity suite (pytest, numpy as the oracle), in a local venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# The parity suite checks archives with unzip, 7z and bsdtar.
missing=()
command -v unzip >/dev/null || missing+=(unzip)
command -v 7z >/dev/null || missing+=(p7zip-full)
command -v bsdtar >/dev/null || missing+=(libarchive-tools)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "note: ${missing[*]} not installed; their archive checks will be skipped" >&2
    fi
fi

python3 -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --disable-pip-version-check -e '.[test]'

cargo test --no-default-features
python -m pytest "$@"
