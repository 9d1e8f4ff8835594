"""Typed use of fastnpz's public API; ``mypy --strict`` must accept it.

Not collected by pytest (no ``test_`` prefix): tests/test_typing.py type-checks
it, and running it as a script also exercises it.
"""
from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

import fastnpz
from fastnpz import get_options, options, savez, savez_compressed, set_options
from fastnpz.testing import assert_npz_equal, npz_members


def save_checkpoint(path: str | os.PathLike[str], weights: npt.NDArray[np.float64]) -> None:
    with options(level=1, threads=2):
        savez_compressed(path, weights, weights=weights)


def roundtrip(directory: Path) -> dict[str, bytes]:
    weights: npt.NDArray[np.float64] = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    target = directory / "ckpt.npz"
    save_checkpoint(target, weights)
    save_checkpoint(str(directory / "again.npz"), weights)

    reference = io.BytesIO()
    np.savez_compressed(reference, weights, weights=weights)
    assert_npz_equal(target, reference.getvalue())
    assert_npz_equal(str(target), reference.getvalue(), check_order=False, err_msg="checkpoint")
    reference.seek(0)
    with open(target, "rb") as fh:
        assert_npz_equal(fh, reference)

    plain = io.BytesIO()
    savez(plain, labels=np.array(["a", "b"]))
    members: dict[str, bytes] = npz_members(plain.getvalue())
    return members


def settings() -> tuple[int, int, str]:
    opts: dict[str, int] = get_options()
    version: str = fastnpz.__version__
    fast = fastnpz.options(level=9)
    with fast:
        level = fastnpz.get_options()["level"]
    with fast:  # reusable
        pass
    old = set_options(threads=1, progress=False)
    set_options(level=None)
    set_options(**old)
    return opts["threads"], level, version


def compare_in_memory() -> None:
    a, b = io.BytesIO(), io.BytesIO()
    savez_compressed(a, x=np.arange(3))
    np.savez_compressed(b, x=np.arange(3))
    fastnpz.testing.assert_npz_equal(a.getvalue(), b.getvalue())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        members = roundtrip(Path(tmp))
    assert list(members) == ["labels.npy"]
    compare_in_memory()
    threads, level, version = settings()
    assert threads >= 1 and level == 9 and version


if __name__ == "__main__":
    main()
