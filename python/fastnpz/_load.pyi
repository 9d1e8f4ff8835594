import zipfile
from typing import Any

from numpy.lib.npyio import NpzFile as _NumpyNpzFile

__all__ = ["NpzFile", "load"]

READ_AHEAD_BYTES: int
READ_AHEAD_MEMBERS: int

class NpzFile(_NumpyNpzFile):
    def __init__(
        self,
        fid: Any,
        own_fid: bool = False,
        allow_pickle: bool = False,
        pickle_kwargs: dict[str, Any] | None = None,
        *,
        max_header_size: int = ...,
    ) -> None: ...
    @property
    def zip(self) -> zipfile.ZipFile | None: ...
    @zip.setter
    def zip(self, value: zipfile.ZipFile | None) -> None: ...
    def close(self) -> None: ...
    def __getitem__(self, key: Any) -> Any: ...
    def __iter__(self) -> Any: ...
    def keys(self) -> Any: ...
    def items(self) -> Any: ...
    def values(self) -> Any: ...

# numpy's signature, carried at runtime in __signature__.
def load(
    file: Any,
    mmap_mode: Any = None,
    allow_pickle: bool = False,
    fix_imports: bool = True,
    encoding: str = "ASCII",
    *,
    max_header_size: int = ...,
) -> Any: ...
