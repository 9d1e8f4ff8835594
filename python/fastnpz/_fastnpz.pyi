# Type stubs for the compiled core (internal; use the fastnpz package API).

from collections.abc import Callable
from typing import Any, TypeAlias

__all__ = ["CHUNK_SIZE", "npy_header", "write_file", "write_path"]

CHUNK_SIZE: int

_Member: TypeAlias = tuple[bytes, bool, bytes, Any]

def npy_header(descr_repr: str, fortran_order: bool, shape: list[int] | tuple[int, ...]) -> tuple[bytes, int]: ...
def write_path(
    path: str, members: list[_Member], *, level: int, threads: int, progress: Callable[[int, int], object] | None = ...
) -> int: ...
def write_file(
    file: Any,
    members: list[_Member],
    *,
    start: int | None,
    seekable: bool,
    level: int,
    threads: int,
    progress: Callable[[int, int], object] | None = ...,
) -> int: ...
