"""The public surface: what help() and introspection show matches numpy."""

import inspect
from importlib.metadata import version

import numpy as np
import pytest

import fastnpz


@pytest.mark.parametrize("name", ["savez_compressed", "savez"])
def test_signature_matches_the_installed_numpy(name):
    ours = inspect.signature(getattr(fastnpz, name)).parameters
    theirs = inspect.signature(getattr(np, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]


def test_all_names_exist_and_version_is_the_installed_one():
    for name in fastnpz.__all__:
        assert hasattr(fastnpz, name), name
    assert fastnpz.__version__ == version("fastnpz")


@pytest.mark.parametrize("name", ["savez_compressed", "savez", "options", "get_options", "patch_numpy"])
def test_public_functions_have_numpy_style_docstrings(name):
    doc = inspect.getdoc(getattr(fastnpz, name)) or ""
    assert doc and ("Returns" in doc or "Parameters" in doc or name in {"patch_numpy"}), name
