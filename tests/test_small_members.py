"""Small members (under 256 KiB, never sampled): each array's compressed
size against numpy's own, on twenty kinds of data at sizes around where
zlib also runs (libdeflate output under 512 bytes). numpy's archive of the
same array is the oracle; the one array known to exceed the 1% bound is
marked, so that a fix shows up as an unexpected pass."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import fastnpz


def _kinds(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    sparse = np.zeros(n)
    picks = max(1, n // 20)
    sparse[rng.integers(0, n, picks)] = rng.standard_normal(picks)
    return [
        np.arange(n, dtype=np.int64),
        np.arange(n, dtype=np.int32),
        np.arange(n, dtype=np.float64),
        rng.integers(0, 100, n),
        rng.integers(0, 10, n).astype(np.int32),
        rng.integers(0, 2, n).astype(bool),
        np.round(rng.standard_normal(n), 1),
        np.round(rng.standard_normal(n), 2).astype(np.float32),
        np.linspace(0, 1, n),
        np.sin(np.linspace(0, 20, n)).astype(np.float32),
        sparse,
        np.repeat(rng.integers(0, 1000, max(1, n // 16)), 16)[:n],
        np.cumsum(rng.integers(-3, 4, n)).astype(np.int16),
        (np.arange(n) % 7).astype(np.uint8),
        rng.integers(0, 256, n).astype(np.uint8),
        np.datetime64("2020-01-01") + np.arange(n).astype("m8[s]") * 60,
        np.array([f"s{i % 13}" for i in range(n)]),
        np.eye(max(2, int(n**0.5))),
        rng.standard_normal(n).astype(np.float16),
        (rng.random(n) < 0.1).astype(np.int8),
    ]


def _cases() -> list[tuple[str, np.ndarray]]:
    out = []
    for seed, sizes in ((7, (32, 64, 128, 256, 512, 1024, 2048)), (8, (48, 96, 200, 384, 768, 1536, 3000, 5000))):
        rng = np.random.default_rng(seed)
        for n in sizes:
            for kind, a in enumerate(_kinds(rng, n)):
                out.append((f"seed{seed}-n{n}-kind{kind}", a))
    return out


CASES = _cases()
# libdeflate's level 7 with 3-byte matches, 1.0145 of zlib's size here (no
# libdeflate level stays within 1% on all of these arrays; see
# src/encode/policy.rs).
KNOWN_OVER = {"seed8-n768-kind7"}


def _compressed_size(save, array: np.ndarray) -> int:
    buf = io.BytesIO()
    save(buf, a=array)
    with zipfile.ZipFile(buf) as z:
        return z.getinfo("a.npy").compress_size


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="known over 1%")) if c[0] in KNOWN_OVER else c
     for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_small_member_within_one_percent_of_numpy(case):
    _, array = case
    ours = _compressed_size(fastnpz.savez_compressed, array)
    theirs = _compressed_size(np.savez_compressed, array)
    assert ours <= theirs * 1.01, (ours, theirs)
    with np.load(io.BytesIO(_saved(array))) as f:
        np.testing.assert_array_equal(f["a"], array)


def _saved(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    fastnpz.savez_compressed(buf, a=array)
    return buf.getvalue()
