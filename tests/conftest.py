"""Shared fixtures for the fastnpz parity suite.

numpy is the oracle: every test saves the same input with numpy and with
fastnpz and compares the results (see npz_inspect.py for the comparison
helpers and the raw ZIP parser).
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "fastnpz", max_examples=60, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture])
    settings.load_profile("fastnpz")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(params=["savez_compressed", "savez"])
def kind(request):
    """Name of the function pair under test."""
    return request.param


@pytest.fixture
def fnpz():
    import fastnpz  # a missing extension is a failure, not a skip
    return fastnpz


def write_marker(path, data=b"KEEP-ME: pre-existing contents\n"):
    path.write_bytes(data)
    return data


@pytest.fixture
def fzload():
    """The loader under test: ``fastnpz.load``, or numpy's own ``np.load``
    with FASTNPZ_TEST_LOAD_ORACLE=1 (to validate the load tests). A missing
    fastnpz.load is replaced by a stand-in that fails every test using it."""
    from npz_inspect import loader_under_test
    return loader_under_test()[0]


@pytest.fixture
def fz_npzfile():
    """The NpzFile class under test (fastnpz.NpzFile, or numpy's with the
    oracle variable)."""
    from npz_inspect import loader_under_test
    return loader_under_test()[1]
