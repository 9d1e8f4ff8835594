"""The Examples sections of fastnpz's docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["fastnpz", "fastnpz._options", "fastnpz._patch", "fastnpz.testing"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=True)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name} (see stdout)"
