#!/usr/bin/env bash
# The numpy matrix on this interpreter: for each numpy minor between the
# floor (1.26, whole suite in scripts/test_numpy126.sh) and the newest (2.4,
# whole suite in scripts/test.sh), install the abi3 wheel offline beside that
# numpy in a fresh venv, then check the import, a round trip against numpy,
# and the fast part of the parity suite (saving, loading, errors).
#
#   scripts/test_numpy_matrix.sh                  # numpy 2.0 2.1 2.2 2.3
#   NUMPYS="2.2" scripts/test_numpy_matrix.sh -x  # extra arguments go to pytest
#
# Environment:
#   NUMPYS   the numpy minors to test (default "2.0 2.1 2.2 2.3")
#   WHEEL    an abi3 wheel to test instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ -z "${WHEEL:-}" ]; then
    python3 -m venv "$work/tools"
    "$work/tools/bin/pip" install -q maturin
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/matrix}" \
        "$work/tools/bin/maturin" build --release --out "$work/dist" >/dev/null
    WHEEL=$(ls "$work"/dist/fastnpz-*-abi3-*.whl)
fi

# The fast part: every save and load parity module that runs in seconds.
fast_tests=(
    tests/test_parity_dtypes.py tests/test_parity_names.py tests/test_parity_layouts.py
    tests/test_parity_files.py tests/test_errors.py tests/test_load_parity.py
    tests/test_load_npzfile.py tests/test_load_corrupt.py tests/test_patch.py
)
cp -r "$repo/tests" "$work/tests"
cat > "$work/pytest.ini" <<'INI'
[pytest]
testpaths = tests
addopts = -ra
tmp_path_retention_policy = failed
markers =
    large: multi-GiB zip64 tests
INI

status=0
for minor in ${NUMPYS:-2.0 2.1 2.2 2.3}; do
    venv="$work/venv-$minor"
    python3 -m venv "$venv"
    # One resolver run, so the wheel's "numpy>=1.26" cannot pull a newer numpy.
    "$venv/bin/pip" install -q "numpy==$minor.*" pytest hypothesis "$WHEEL"
    echo "== numpy $("$venv/bin/python" -c 'import numpy; print(numpy.__version__)')"
    if ! (cd "$work" && "$venv/bin/python" - <<'EOF'
import io, sys
import numpy as np
import fastnpz
assert "site-packages" in fastnpz.__file__, fastnpz.__file__
arrays = {"a": np.arange(1000.0).reshape(10, 100), "b": np.array(["x", "yz"]), "c": np.eye(3, dtype=np.int16).T}
ours, theirs = io.BytesIO(), io.BytesIO()
fastnpz.savez_compressed(ours, **arrays)
np.savez_compressed(theirs, **arrays)
for buf in (ours, theirs):
    buf.seek(0)
    with fastnpz.load(buf) as f, np.load(io.BytesIO(buf.getvalue())) as g:
        assert f.files == g.files == list(arrays), (f.files, g.files)
        for name in arrays:
            np.testing.assert_array_equal(f[name], g[name])
            assert f[name].dtype == g[name].dtype and f[name].flags.f_contiguous == g[name].flags.f_contiguous
print(f"import and round trip: python {sys.version.split()[0]}, numpy {np.__version__}")
EOF
    ) || ! (cd "$work" && "$venv/bin/python" -m pytest -p no:cacheprovider -q -m "not large" "${fast_tests[@]}" "$@"); then
        echo "numpy $minor: FAILED" >&2
        status=1
    fi
    rm -rf "$venv"
done
exit $status
