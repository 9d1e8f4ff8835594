# Type stubs for the compiled core (internal; use the fastnpz package API).

from collections.abc import Callable
from typing import Any, TypeAlias, final

__all__ = ["CHUNK_SIZE", "ArchiveWriter", "Batch", "Reader"]

CHUNK_SIZE: int

_Member: TypeAlias = tuple[bytes, bool, bytes, Any]

_Prior: TypeAlias = tuple[bytes, int, int, bytes]

@final
class ArchiveWriter:
    @staticmethod
    def to_path(
        path: str,
        mode: str,
        *,
        level: int,
        align: bool,
        threads: int,
        prior: _Prior | None = None,
        size: int | None = None,
    ) -> ArchiveWriter: ...
    @staticmethod
    def to_file(
        file: Any,
        *,
        start: int | None,
        seekable: bool,
        level: int,
        align: bool,
        threads: int,
        prior: _Prior | None = None,
    ) -> ArchiveWriter: ...
    def add(self, members: list[_Member], *, progress: Callable[[int, int], object] | None = None) -> None: ...
    def stream_begin(self, name: bytes, utf8: bool, header: bytes) -> None: ...
    def stream_write(self, data: Any) -> None: ...
    def stream_end(self) -> None: ...
    def stream_abort(self) -> None: ...
    def close(self) -> int: ...
    def abort(self) -> None: ...
    @property
    def closed(self) -> bool: ...

@final
class Batch:
    def describe(self) -> list[tuple[bytes, str | None, bool, tuple[int, ...], int, int, int] | None]: ...

@final
class Reader:
    @staticmethod
    def open_fd(fd: int, overlap_check: bool, zip64_check: bool = False) -> Reader | None: ...
    @staticmethod
    def open_buffer(buffer: Any, overlap_check: bool, zip64_check: bool = False) -> Reader | None: ...
    def snapshot(self) -> tuple[int, int, bytes]: ...
    def names(self) -> list[str]: ...
    def sizes(self) -> list[int]: ...
    def directory_end(self) -> int: ...
    def data_end(self, index: int, buffer: Any = None) -> int | None: ...
    def prepare(self, indices: list[int], threads: int, buffer: Any = None) -> Batch: ...
    def fill(
        self,
        batch: Batch,
        arrays: list[Any],
        threads: int,
        buffer: Any = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> list[bool]: ...
