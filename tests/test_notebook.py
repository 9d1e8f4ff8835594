"""The example notebook runs top to bottom without errors (headless, nbclient),
with tqdm or without it, and removes the files it wrote."""

import copy
import os
import re

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "quickstart.ipynb")

pytestmark = pytest.mark.skipif(not os.path.exists(NOTEBOOK), reason="examples/ not shipped alongside these tests")

#: Run first in the kernel to stand for an environment with only what
#: `pip install .` brings: no tqdm, no ipywidgets.
WITHOUT_EXTRAS = (
    "import sys\n"
    "for name in ('tqdm', 'tqdm.auto', 'tqdm.std', 'ipywidgets'):\n"
    "    sys.modules[name] = None"
)


def _execute(prelude=None):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    if prelude is not None:
        nb = copy.deepcopy(nb)
        nb.cells.insert(0, nbformat.v4.new_code_cell(prelude))
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, errors
    stdout = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    stderr = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stderr")
    return stdout, stderr


def _assert_ran_and_cleaned_up(stdout):
    assert "identical members" in stdout
    assert "faster" in stdout
    workdir = re.search(r"writing to (\S+)", stdout)
    assert workdir, stdout
    assert not os.path.exists(workdir.group(1)), "the notebook must remove its temporary folder"
    assert "still there: False" in stdout


def test_quickstart_notebook_executes_cleanly():
    stdout, _ = _execute()
    _assert_ran_and_cleaned_up(stdout)


def test_quickstart_notebook_runs_without_tqdm_or_ipywidgets():
    stdout, stderr = _execute(WITHOUT_EXTRAS)
    _assert_ran_and_cleaned_up(stdout)
    assert "savez 100%" in stderr, "the text progress bar stands in for tqdm's"
