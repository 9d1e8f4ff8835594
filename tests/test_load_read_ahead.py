"""Read-ahead is bounded by bytes: members are read ahead of the one asked
for only while they fit in ``READ_AHEAD_BYTES`` (16 MiB) together with what
is already held, so reading one member of a large archive reads that member
and small neighbours, never a large one nobody asked for."""
import io

import numpy as np
import pytest

import fastnpz
import fastnpz._load as load_impl

BIG = 64 << 20


@pytest.fixture
def reads(monkeypatch):
    """The member indices of every batch the Rust reader is asked for."""
    seen = []
    original = load_impl.NpzFile._read

    def spy(self, reader, indices):
        seen.append(list(indices))
        return original(self, reader, indices)

    monkeypatch.setattr(load_impl.NpzFile, "_read", spy)
    return seen


@pytest.fixture(scope="module")
def archive():
    buf = io.BytesIO()
    fastnpz.savez_compressed(buf, a=np.arange(10), b=np.arange(20), c=np.zeros(BIG, np.uint8))
    return buf.getvalue()


def _held(f):
    return sum(f._sizes[i] for i in f._ready)


def test_two_small_members_do_not_inflate_the_large_third(reads, archive):
    with fastnpz.load(io.BytesIO(archive)) as f:
        np.testing.assert_array_equal(f["a"], np.arange(10))
        np.testing.assert_array_equal(f["b"], np.arange(20))
        assert _held(f) <= load_impl.READ_AHEAD_BYTES
    assert all(2 not in batch for batch in reads), reads


def test_reading_one_member_reads_only_that_member(reads, archive):
    with fastnpz.load(io.BytesIO(archive)) as f:
        assert f["c"].shape == (BIG,)
    assert reads == [[2]]


def test_in_order_reading_reads_small_neighbours_ahead_and_large_ones_alone(reads, archive):
    with fastnpz.load(io.BytesIO(archive)) as f:
        got = {k: f[k] for k in f}
    assert got["c"].shape == (BIG,)
    assert reads == [[0, 1], [2]]


def test_what_is_held_stays_within_the_budget_and_passed_members_are_dropped(reads):
    # Thirty 1 MiB members: each batch reads ahead at most 16 MiB, and
    # members read ahead but passed over are let go.
    arrays = {f"m{i:02d}": np.full(1 << 17, i, np.float64) for i in range(30)}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    buf.seek(0)
    with fastnpz.load(buf) as f:
        for name in ["m00", "m01", "m20", "m21", "m22"]:
            np.testing.assert_array_equal(f[name], arrays[name])
            assert _held(f) <= load_impl.READ_AHEAD_BYTES
        assert all(i > 22 for i in f._ready), sorted(f._ready)
    for batch in reads:
        assert sum(arrays[f"m{i:02d}"].nbytes for i in batch[1:]) <= load_impl.READ_AHEAD_BYTES
