"""Uses of fastnpz's API that ``mypy --strict`` must accept, each pinned with
``assert_type`` to the type numpy's own stubs give (tests/test_typing_stubs.py).

Type-checked only, never run (not collected by pytest: no ``test_`` prefix).
"""

from __future__ import annotations

import io
import pathlib
from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from contextlib import AbstractContextManager
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import fastnpz


def saving(path: pathlib.Path, fh: IO[bytes]) -> None:
    a = np.arange(3)
    buf = io.BytesIO()
    assert_type(fastnpz.savez_compressed(buf, a, b=a), None)
    assert_type(fastnpz.savez_compressed(str(path), a, allow_pickle=False), None)
    assert_type(fastnpz.savez_compressed(path, [1, 2], b=3.0), None)
    assert_type(fastnpz.savez(fh, a, labels=np.array(["x"])), None)
    assert_type(fastnpz.savez(file=buf, weights=a), None)


def loading(path: pathlib.Path) -> None:
    buf = io.BytesIO()
    assert_type(fastnpz.load(buf), Any)
    assert_type(fastnpz.load(path), Any)
    assert_type(fastnpz.load(b"x.npz", mmap_mode="r", allow_pickle=True, encoding="latin1"), Any)
    npz = fastnpz.NpzFile(buf)
    assert_type(npz["a"], npt.NDArray[Any])
    assert_type(npz.get("a"), npt.NDArray[Any] | None)
    assert_type(npz.files, list[str])
    assert_type(iter(npz), Iterator[str])
    assert_type(npz.keys(), KeysView[str])
    assert_type(npz.items(), ItemsView[str, npt.NDArray[Any]])
    assert_type(npz.values(), ValuesView[npt.NDArray[Any]])
    assert_type(len(npz), int)
    with npz as opened:
        assert_type(opened, fastnpz.NpzFile)
    assert_type(npz.close(), None)


def the_rest() -> None:
    assert_type(fastnpz.options(level=1, threads=2), AbstractContextManager[None])
    assert_type(fastnpz.patched_numpy(load=False), AbstractContextManager[None])
    assert_type(fastnpz.is_numpy_patched(), bool)
    assert_type(fastnpz.patch_numpy(), None)
    assert_type(fastnpz.testing.npz_members(b""), dict[str, bytes])
    assert_type(fastnpz.testing.assert_npz_equal(io.BytesIO(), pathlib.Path("x.npz")), None)
    assert_type(np.asarray(fastnpz.NpzFile(io.BytesIO())["a"]), npt.NDArray[Any])
