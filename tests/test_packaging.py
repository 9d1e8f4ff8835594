"""The installed distribution's metadata: the license travels with it, and
the classifiers say what the package is (typed, which Pythons, which license)."""

import os
import re
import sys
from importlib.metadata import distribution

import fastnpz

DIST = distribution("fastnpz")
META = DIST.metadata


def test_license_file_is_shipped_and_is_the_mit_license():
    assert META.get_all("License-File") == ["LICENSE"]
    text = DIST.read_text("licenses/LICENSE")
    assert text is not None and text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text


def test_license_is_declared_once_consistently():
    classifiers = META.get_all("Classifier") or []
    assert META["License"] == "MIT" or META["License-Expression"] == "MIT"
    license_classifiers = [c for c in classifiers if c.startswith("License ::")]
    if META["License-Expression"]:
        # PyPI refuses an upload with both.
        assert license_classifiers == []
    else:
        assert license_classifiers == ["License :: OSI Approved :: MIT License"]


def test_classifiers_say_typed_and_cover_the_supported_pythons():
    classifiers = set(META.get_all("Classifier") or [])
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3 :: Only" in classifiers
    minimum = re.fullmatch(r">=3\.(\d+)", META["Requires-Python"])
    assert minimum, META["Requires-Python"]
    versions = (re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c) for c in classifiers)
    minors = sorted(int(m.group(1)) for m in versions if m)
    assert minors[0] == int(minimum.group(1)), "the oldest classifier is requires-python's minimum"
    assert minors == list(range(minors[0], minors[-1] + 1)), f"no gaps: {minors}"
    if sys.version_info[:2] <= (3, minors[-1]):
        assert sys.version_info.minor in minors, "the Python running this suite is listed"


def test_keywords_and_typed_marker():
    keywords = (META["Keywords"] or "").split(",")
    assert {"numpy", "npz", "savez_compressed"} <= set(keywords)
    package = os.path.dirname(fastnpz.__file__)
    assert os.path.isfile(os.path.join(package, "py.typed"))
