"""zip64 at real scale: a member over 4 GiB and an archive over 4 GiB, checked
against numpy (whole-file identity for savez, which stores members) and read
back by np.load and unzip. Data is zeros, so it is fast to make and
compress; the tests still take tens of seconds and several GiB of disk.

Skip with ``-m "not large"``; CI runs them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import zipfile

import numpy as np
import pytest

import fastnpz

pytestmark = pytest.mark.large

BIG = (4 << 30) + (3 << 20) + 5  # just over 4 GiB, not a round number


def _digest(path) -> str:
    h = hashlib.blake2b()
    with open(path, "rb") as f:
        while block := f.read(16 << 20):
            h.update(block)
    return h.hexdigest()


def _free_gib(path) -> float:
    return shutil.disk_usage(path).free / 2**30


def test_savez_over_4gib_is_byte_identical_to_numpy(tmp_path):
    if _free_gib(tmp_path) < 12:
        pytest.skip("needs ~12 GiB of free disk")
    big = np.zeros(BIG, dtype=np.uint8)
    small = np.arange(10)
    ref, ours = tmp_path / "numpy.npz", tmp_path / "fastnpz.npz"
    np.savez(ref, big=big, small=small)
    fastnpz.savez(ours, big=big, small=small)
    del big
    assert ours.stat().st_size == ref.stat().st_size > 4 << 30
    assert _digest(ours) == _digest(ref)
    with zipfile.ZipFile(ours) as z:
        info = z.getinfo("small.npy")
        assert info.header_offset > 4 << 30
    with np.load(ours) as f:
        assert np.array_equal(f["small"], small)
    ref.unlink()
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(ours)], check=True, capture_output=True)


def test_compressed_member_over_4gib_reads_back(tmp_path):
    if _free_gib(tmp_path) < 2:
        pytest.skip("needs free disk")
    big = np.zeros(BIG, dtype=np.uint8)
    path = tmp_path / "big.npz"
    fastnpz.savez_compressed(path, big=big, after=np.arange(3))
    del big
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("big.npy")
        assert info.file_size > 4 << 30
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(path)], check=True, capture_output=True)
    with np.load(path) as f:
        assert np.array_equal(f["after"], np.arange(3))
        loaded = f["big"]
        assert loaded.shape == (BIG,) and not loaded.any()
