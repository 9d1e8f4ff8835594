import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeAlias

from _typeshed import SupportsWrite
from numpy.typing import ArrayLike

from . import testing as testing
from ._load import NpzFile as NpzFile
from ._load import load as load
from ._writer import NpzStream as NpzStream
from ._writer import NpzWriter as NpzWriter

__all__ = [
    "NpzFile",
    "NpzStream",
    "NpzWriter",
    "__version__",
    "get_options",
    "is_numpy_patched",
    "load",
    "options",
    "patch_numpy",
    "patched_numpy",
    "savez",
    "savez_compressed",
    "set_options",
    "testing",
    "unpatch_numpy",
]

__version__: str

# What numpy's stubs accept (numpy.lib._npyio_impl's _FNameWriteBytes), so
# that a call numpy's stubs reject is rejected here too.
_FileWrite: TypeAlias = str | os.PathLike[str] | SupportsWrite[bytes]

# numpy's signature (numpy >= 2.1; before, allow_pickle is one more array
# name, which **kwds accepts): the runtime functions carry it in __signature__.
# `-> None` as in numpy's stubs, although an __array_function__ override may
# return something else.
def savez_compressed(file: _FileWrite, *args: ArrayLike, allow_pickle: bool = True, **kwds: ArrayLike) -> None: ...
def savez(file: _FileWrite, *args: ArrayLike, allow_pickle: bool = True, **kwds: ArrayLike) -> None: ...
def options(
    *,
    level: int | None = None,
    threads: int | None = None,
    progress: bool | Callable[[int, int], object] | None = None,
) -> AbstractContextManager[None]: ...
def set_options(
    *,
    level: int | None = ...,
    threads: int | None = ...,
    progress: bool | Callable[[int, int], object] | None = ...,
) -> dict[str, Any]: ...
def get_options() -> dict[str, Any]: ...
def patch_numpy(*, load: bool = True) -> None: ...
def unpatch_numpy() -> None: ...
def is_numpy_patched() -> bool: ...
def patched_numpy(*, load: bool = True) -> AbstractContextManager[None]: ...
