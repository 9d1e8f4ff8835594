"""Where the installed numpy keeps the internals fastnpz calls.

numpy moved its private ``.npy``/``.npz`` helpers between releases, and not
all at once (the module names are not a version test):

=========  =======================================  ==========================
numpy      BagObj, zipfile_factory, _savez           _read_array_header,
                                                     _check_version
=========  =======================================  ==========================
1.26       ``numpy.lib.npyio``                       ``numpy.lib.format``
2.0-2.2    ``numpy.lib._npyio_impl``                 ``numpy.lib.format``
2.3 on     ``numpy.lib._npyio_impl``                 ``numpy.lib._format_impl``
=========  =======================================  ==========================

So each name is looked up where it is used: the first of the candidate
modules that defines it wins. This is the one place that knows the
candidates; a numpy that has none of them fails on import with the name
that is missing, not later with an ``AttributeError`` from a guess.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["FORMAT_MODULES", "NPYIO_MODULES", "format_internal", "npyio_internal", "owner"]

#: Modules that hold ``NpzFile``'s helpers and ``_savez``, newest first.
NPYIO_MODULES: tuple[str, ...] = ("numpy.lib._npyio_impl", "numpy.lib.npyio")
#: Modules that hold the ``.npy`` format's helpers, newest first.
FORMAT_MODULES: tuple[str, ...] = ("numpy.lib._format_impl", "numpy.lib.format")


def _modules(names: tuple[str, ...]) -> list[ModuleType]:
    found = []
    for name in names:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return found


def owner(name: str, modules: tuple[str, ...]) -> ModuleType:
    """The first of ``modules`` (importable) that defines ``name``.

    Raises
    ------
    ImportError
        None of them does: this numpy keeps ``name`` somewhere fastnpz does
        not know.
    """
    for module in _modules(modules):
        if hasattr(module, name):
            return module
    raise ImportError(f"fastnpz: none of {', '.join(modules)} defines {name!r} in this numpy")


def npyio_internal(name: str) -> Any:
    """``name`` from the module that implements ``numpy.load``'s ``.npz`` side."""
    return getattr(owner(name, NPYIO_MODULES), name)


def format_internal(name: str) -> Any:
    """``name`` from the module that implements the ``.npy`` format."""
    return getattr(owner(name, FORMAT_MODULES), name)
