#!/usr/bin/env bash
# The Python suite on CPython 3.13 and 3.14 with the newest numpy: Debian sid
# ships both interpreters, so they come from a sid chroot made here with
# debootstrap (needs root). The abi3 wheel from scripts/build_wheel.sh goes
# into a fresh venv per interpreter, and the suite runs from a copy of tests/.
#
#   scripts/test_py313_314.sh                         # whole suite on each
#   scripts/test_py313_314.sh -q -m "not large" -x    # extra arguments go to pytest
#
# Environment:
#   PYTHONS    interpreters to test (default "3.13 3.14")
#   NUMPY      pip requirement for numpy (default "numpy": the newest)
#   WHEEL      an abi3 wheel to test instead of building one
#   CHROOT     where the chroot lives (default target/sid-chroot); kept and
#              reused, as it takes a minute to make. SID_RECREATE=1 remakes it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
root=$(realpath -m "${CHROOT:-$repo/target/sid-chroot}")
stamp="$root/.fastnpz-chroot-ready"
# The interpreters, the readers tests/test_external_tools.py compares against
# (unzip, 7z, bsdtar), and nothing else.
packages=python3.13,python3.13-venv,python3.14,python3.14-venv,unzip,7zip,libarchive-tools

if [ "$(id -u)" != 0 ]; then
    echo "error: debootstrap and chroot need root" >&2
    exit 2
fi

mounts_under() { findmnt -rn -o TARGET | grep -E "^$1(/|$)" || true; }
unmount_all() {
    # Deepest first; lazily, so that a process still holding /proc cannot
    # leave the mount behind.
    local m
    for m in $(mounts_under "$root" | sort -r); do
        umount -l "$m" || true
    done
}
cleanup() {
    unmount_all
    rm -rf "$root/work"
}
trap cleanup EXIT
unmount_all  # left by a run that was killed before its trap ran

if [ "${SID_RECREATE:-0}" = 1 ] || [ ! -e "$stamp" ]; then
    # Never rm -rf through a bind mount of the host's /proc.
    if [ -n "$(mounts_under "$root")" ]; then
        echo "error: still mounted under $root:" "$(mounts_under "$root")" >&2
        exit 1
    fi
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    if ! command -v debootstrap >/dev/null; then
        apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
    fi
    t0=$SECONDS
    debootstrap --variant=minbase --include="$packages" sid "$root" http://deb.debian.org/debian \
        > "$(dirname "$root")/debootstrap.log" 2>&1 \
        || { tail -20 "$(dirname "$root")/debootstrap.log" >&2; exit 1; }
    echo "chroot: Debian sid made in $((SECONDS - t0)) s ($root)"
    touch "$stamp"
else
    echo "chroot: reusing $root"
fi

# The host's resolver and CA bundle, so that pip in the chroot reaches PyPI.
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
mount --bind /proc "$root/proc"
# debootstrap makes /dev's nodes itself unless it runs in a container; there
# the host's /dev stands in.
if [ ! -c "$root/dev/null" ] || [ ! -c "$root/dev/urandom" ]; then
    mount --bind /dev "$root/dev"
fi

rm -rf "$root/work"
mkdir -p "$root/work/dist"
if [ -n "${WHEEL:-}" ]; then
    cp "$WHEEL" "$root/work/dist/"
else
    bash scripts/build_wheel.sh "$root/work/dist" >/dev/null
fi
wheel=$(basename "$(ls "$root"/work/dist/fastnpz-*-abi3-*.whl)")
cp -r "$repo/tests" "$root/work/tests"
cat > "$root/work/pytest.ini" <<'INI'
[pytest]
testpaths = tests
addopts = -ra
tmp_path_retention_policy = failed
markers =
    large: multi-GiB zip64 tests
INI

# A clean environment: the host's PIP_FIND_LINKS and the like name host paths.
in_chroot() {
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
        PIP_CERT=/etc/ssl/certs/ca-certificates.crt "$@"
}

status=0
for v in ${PYTHONS:-3.13 3.14}; do
    venv=/work/venv-$v
    t0=$SECONDS
    in_chroot "python$v" -m venv "$venv"
    # One resolver run: the newest numpy that the wheel and this Python accept.
    in_chroot "$venv/bin/pip" install -q "${NUMPY:-numpy}" pytest hypothesis mypy tqdm "/work/dist/$wheel"
    in_chroot /bin/sh -c "cd /work && $venv/bin/python -c '
import sys, numpy, fastnpz
assert \"site-packages\" in fastnpz.__file__, fastnpz.__file__
print(f\"== python {sys.version.split()[0]}, numpy {numpy.__version__}, {fastnpz.__file__}\")'"
    t1=$SECONDS
    if ! in_chroot /bin/sh -c 'cd /work && exec "$0" -m pytest -p no:cacheprovider "$@"' \
            "$venv/bin/python" "$@"; then
        echo "python $v: FAILED" >&2
        status=1
    fi
    echo "python $v: venv $((t1 - t0)) s, suite $((SECONDS - t1)) s"
done
exit $status
