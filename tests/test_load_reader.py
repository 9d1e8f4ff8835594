"""The extension's ``Reader`` checks what it is handed by itself: Python code
can call it directly, with arrays ``_load.py`` would never pass."""

import io
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from fastnpz._fastnpz import Reader


def _archive(array, save=np.savez_compressed):
    buf = io.BytesIO()
    save(buf, a=array)
    return buf.getvalue()


def _prepared(data):
    """A reader over ``data`` held in an owned array, its batch for member
    0, and that member's body length."""
    buffer = np.frombuffer(data, np.uint8).copy()
    reader = Reader.open_buffer(buffer, False)
    assert reader is not None
    batch = reader.prepare([0], 1, buffer)
    body_len = batch.describe()[0][5]
    return reader, batch, buffer, body_len


def test_fill_refuses_an_object_array_without_crashing():
    # Run in a child: before the check, this wrote archive bytes over the
    # object pointers and the interpreter died with SIGSEGV.
    code = textwrap.dedent(
        """
        import io
        import numpy as np
        from fastnpz._fastnpz import Reader
        buf = io.BytesIO()
        np.savez_compressed(buf, a=np.arange(100, dtype=np.int64) * 977 + 12345)
        buffer = np.frombuffer(buf.getvalue(), np.uint8).copy()
        reader = Reader.open_buffer(buffer, False)
        batch = reader.prepare([0], 1, buffer)
        try:
            reader.fill(batch, [np.empty(100, object)], 1, buffer)
        except TypeError as e:
            print("TypeError", e)
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("TypeError"), run.stdout


def test_fill_refuses_an_array_holding_objects_in_a_field():
    reader, batch, buffer, body_len = _prepared(_archive(np.arange(10, dtype=np.int64)))
    dtype = np.dtype([("x", "<i8"), ("o", object)])
    target = np.empty(body_len // dtype.itemsize, dtype)
    with pytest.raises(TypeError, match="object"):
        reader.fill(batch, [target], 1, buffer)


def test_fill_refuses_a_read_only_array():
    reader, batch, buffer, body_len = _prepared(_archive(np.arange(100, dtype=np.int64)))
    target = np.empty(body_len, np.uint8)
    target.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        reader.fill(batch, [target], 1, buffer)


@pytest.mark.parametrize("size", [100_000, 3_000_000])
def test_fill_refuses_an_array_over_the_buffer_it_reads(size):
    # A member whose body is larger than the whole archive: an owned array
    # of that size can hold the archive's bytes at its start, and be both
    # the buffer read from (a view of it) and the array written to.
    data = _archive(np.zeros(size, np.uint8))
    reader0, batch0, _, body_len = _prepared(data)
    assert body_len > len(data)
    owner = np.zeros(body_len, np.uint8)
    owner[: len(data)] = np.frombuffer(data, np.uint8)
    buffer = owner[: len(data)]
    reader = Reader.open_buffer(buffer, False)
    batch = reader.prepare([0], 1, buffer)
    with pytest.raises(ValueError, match="overlaps the archive"):
        reader.fill(batch, [owner], 1, buffer)
    # The same call into an array of its own reads the member.
    fresh = np.empty(body_len, np.uint8)
    assert reader.fill(batch, [fresh], 1, buffer) == [True]
    assert not fresh.any()
