import zipfile
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import IO, Any, Literal, Protocol, TypeVar, type_check_only

from _typeshed import StrOrBytesPath, SupportsRead
from numpy.lib.npyio import NpzFile as _NumpyNpzFile
from numpy.typing import NDArray

__all__ = ["NpzFile", "load"]

_T_co = TypeVar("_T_co", covariant=True)

# numpy's own protocol for load's file objects (numpy.lib._npyio_impl).
@type_check_only
class _SupportsReadSeek(SupportsRead[_T_co], Protocol[_T_co]):
    def seek(self, offset: int, whence: int, /) -> object: ...

READ_AHEAD_BYTES: int
READ_AHEAD_MEMBERS: int

# Not generic, unlike numpy >= 2.3's NpzFile: numpy 1.26-2.2's stubs take no
# type argument, and these stubs must hold with every numpy fastnpz supports.
class NpzFile(_NumpyNpzFile):
    def __init__(
        self,
        fid: IO[Any],
        own_fid: bool = False,
        allow_pickle: bool = False,
        pickle_kwargs: Mapping[str, object] | None = None,
        *,
        max_header_size: int = ...,
    ) -> None: ...
    @property
    def zip(self) -> zipfile.ZipFile | None: ...
    @zip.setter
    def zip(self, value: zipfile.ZipFile | None) -> None: ...
    def close(self) -> None: ...
    def __getitem__(self, key: str) -> NDArray[Any]: ...
    def __iter__(self) -> Iterator[str]: ...
    def keys(self) -> KeysView[str]: ...
    def items(self) -> ItemsView[str, NDArray[Any]]: ...
    def values(self) -> ValuesView[NDArray[Any]]: ...

# numpy's signature, carried at runtime in __signature__. `-> Any` as in
# numpy's stubs: an NpzFile for an archive, an ndarray (or memmap) for a
# .npy file, or any object for a pickle.
def load(
    file: StrOrBytesPath | _SupportsReadSeek[bytes],
    mmap_mode: Literal["r+", "r", "w+", "c"] | None = None,
    allow_pickle: bool = False,
    fix_imports: bool = True,
    encoding: Literal["ASCII", "latin1", "bytes"] = "ASCII",
    *,
    max_header_size: int = ...,
) -> Any: ...
