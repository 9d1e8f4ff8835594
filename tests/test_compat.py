"""fastnpz._compat: each numpy internal is found where the installed numpy
keeps it (numpy 2.0-2.2 split them between ``_npyio_impl`` and ``format``)."""

from __future__ import annotations

import numpy as np
import pytest

from fastnpz import _compat


@pytest.mark.parametrize("name", ["BagObj", "zipfile_factory", "_savez", "NpzFile"])
def test_npyio_names_come_from_the_module_numpy_load_uses(name: str) -> None:
    found = _compat.npyio_internal(name)
    # numpy.load's own globals are where it (and its NpzFile) look them up.
    load = getattr(np.load, "__wrapped__", np.load)
    assert found is load.__globals__[name]


@pytest.mark.parametrize("name", ["read_array", "read_magic", "_check_version", "_read_array_header"])
def test_format_names_are_those_read_array_uses(name: str) -> None:
    found = _compat.format_internal(name)
    assert found is _compat.format_internal("read_array").__globals__[name]


def test_a_name_no_numpy_has_fails_with_its_name() -> None:
    with pytest.raises(ImportError, match="'no_such_helper'"):
        _compat.format_internal("no_such_helper")
