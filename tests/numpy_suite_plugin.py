"""pytest plugin (loaded with ``-p numpy_suite_plugin``) that swaps fastnpz's
savez, savez_compressed and load into numpy before numpy's own test modules
are imported."""
import numpy as np

try:  # numpy >= 2.0
    import numpy.lib._npyio_impl as _impl
except ImportError:  # numpy 1.x: the implementation lives in numpy.lib.npyio
    import numpy.lib.npyio as _impl

import fastnpz

_targets = [np, _impl]
try:  # numpy.lib.npyio only re-exports some names in numpy 2.x
    import numpy.lib.npyio as _npyio
    _targets.append(_npyio)
except ImportError:  # pragma: no cover
    pass

for _mod in _targets:
    for _name in ("savez", "savez_compressed", "load"):
        if _mod is np or hasattr(_mod, _name):
            setattr(_mod, _name, getattr(fastnpz, _name))

assert np.savez_compressed is fastnpz.savez_compressed
assert np.savez is fastnpz.savez
assert np.load is fastnpz.load

import sys as _sys  # noqa: E402

_sys.stdout.write(f"numpy_suite_plugin: numpy.savez/savez_compressed/load -> fastnpz "
                  f"({fastnpz.__file__})\n")


def pytest_report_header(config):
    return [f"numpy_suite_plugin: numpy.savez/savez_compressed/load -> fastnpz "
            f"({fastnpz.__file__})"]


def pytest_configure(config):
    for m in ("slow", "slow_pypy", "thread_unsafe", "leaks_references", "xslow"):
        config.addinivalue_line("markers", f"{m}: numpy marker")
