import os
from typing import TypeAlias

from _typeshed import SupportsRead

__all__ = ["assert_npz_equal", "npz_members"]

_Source: TypeAlias = str | os.PathLike[str] | os.PathLike[bytes] | bytes | bytearray | memoryview | SupportsRead[bytes]

def assert_npz_equal(actual: _Source, desired: _Source, *, check_order: bool = ..., err_msg: str = ...) -> None: ...
def npz_members(source: _Source) -> dict[str, bytes]: ...
