"""Calls that numpy's stubs reject and so must fastnpz's: ``mypy --strict``
must report, on each line with an ``E:`` comment, an error containing the
comment's text, and no error anywhere else (tests/test_typing_stubs.py).

Type-checked only, never run.
"""

from __future__ import annotations

import io

import numpy as np

import fastnpz

a = np.arange(3)
buf = io.BytesIO()

fastnpz.savez_compressed(123, a)  # E: Argument 1 to "savez_compressed" has incompatible type "int"
fastnpz.savez(b"x.npz", a)  # E: Argument 1 to "savez" has incompatible type "bytes"
fastnpz.savez(io.StringIO(), a)  # E: Argument 1 to "savez" has incompatible type "StringIO"
fastnpz.savez(buf, a, allow_pickle="yes")  # E: Argument "allow_pickle" to "savez" has incompatible type "str"
fastnpz.savez_compressed(buf, b=object())  # E: Argument "b" to "savez_compressed" has incompatible type "object"
fastnpz.savez(buf, object())  # E: Argument 2 to "savez" has incompatible type "object"
returned: int = fastnpz.savez_compressed(buf, a)  # E: "savez_compressed" does not return a value

fastnpz.load(123)  # E: Argument 1 to "load" has incompatible type "int"
fastnpz.load("x.npz", mmap_mode="rw")  # E: Argument "mmap_mode" to "load" has incompatible type "Literal['rw']"
fastnpz.load("x.npz", encoding="utf-8")  # E: Argument "encoding" to "load" has incompatible type "Literal['utf-8']"
fastnpz.load("x.npz", max_header_size="big")  # E: Argument "max_header_size" to "load" has incompatible type "str"

npz = fastnpz.NpzFile(buf)
npz[0]  # E: Invalid index type "int" for "NpzFile"; expected type "str"
text: str = npz["a"]  # E: Incompatible types in assignment (expression has type "ndarray[
fastnpz.NpzFile("x.npz")  # E: Argument 1 to "NpzFile" has incompatible type "str"
npz.keys().append("b")  # E: "KeysView[str]" has no attribute "append"

fastnpz.testing.npz_members(123)  # E: Argument 1 to "npz_members" has incompatible type "int"
fastnpz.options(level="fast")  # E: Argument "level" to "options" has incompatible type "str"
