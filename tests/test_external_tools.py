"""Independent readers (Info-ZIP unzip, 7-Zip, libarchive bsdtar) accept
fastnpz's archives exactly where they accept numpy's, and extract the same
member bytes."""
import shutil
import subprocess

import numpy as np
import pytest

from npz_inspect import Unseekable, member_payloads, parse_zip

ARR = np.arange(300_000, dtype="<i4").reshape(600, 500) % 1013


def _unseekable_save(func, *args, **kw):
    s = Unseekable()
    func(s, *args, **kw)
    return bytes(s.data)


def _big():
    rng = np.random.default_rng(11)
    a = np.empty(2_600_000, "<f8")            # ~20 MiB, multi-chunk
    a[::2] = rng.standard_normal(1_300_000)
    a[1::2] = np.arange(1_300_000) % 97
    return a


CASES = {
    "compressed": ("savez_compressed", lambda: ((ARR,), {"t": ARR.T, "o": np.array([None])})),
    "stored": ("savez", lambda: ((ARR,), {"t": ARR[::-1]})),
    "unicode_names": ("savez_compressed", lambda: ((), {"\u00e9t\u00e9": ARR[:3],
                                                        "dir/\u6570": ARR[:2]})),
    "big_multichunk": ("savez_compressed", lambda: ((_big(),), {})),
    "data_descriptor": ("savez_compressed", "unseekable"),
    "data_descriptor_stored": ("savez", "unseekable"),
    "zero_size": ("savez_compressed", lambda: ((np.zeros(0), np.zeros((3, 0))), {})),
}


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    import fastnpz
    d = tmp_path_factory.mktemp("ext")
    out = {}
    for name, (kind, make) in CASES.items():
        paths = []
        for tag, mod in (("np", np), ("fz", fastnpz)):
            func = getattr(mod, kind)
            p = d / f"{name}_{tag}.npz"
            if make == "unseekable":
                p.write_bytes(_unseekable_save(func, ARR, x=ARR[:5]))
            else:
                args, kw = make()
                func(p, *args, **kw)
            paths.append(p)
        out[name] = tuple(paths)
    return out


def _run(cmd):
    return subprocess.run(cmd, capture_output=True, timeout=120)


TOOLS = {
    "unzip": lambda p: ["unzip", "-t", "-q", str(p)],
    "7z": lambda p: ["7z", "t", str(p)],
    "bsdtar": lambda p: ["bsdtar", "-tf", str(p)],
}


@pytest.mark.parametrize("tool", sorted(TOOLS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_tool_accepts_archive(archives, tool, case):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")
    np_path, fz_path = archives[case]
    r_np = _run(TOOLS[tool](np_path))
    assert r_np.returncode == 0, f"oracle rejected by {tool}: {r_np.stdout[-500:]!r}"
    r_fz = _run(TOOLS[tool](fz_path))
    assert r_fz.returncode == 0, (
        f"{tool} rejects fastnpz archive ({case}), rc={r_fz.returncode}:\n"
        f"{r_fz.stdout.decode(errors='replace')[-1500:]}\n{r_fz.stderr.decode(errors='replace')[-800:]}")
    if tool == "bsdtar":
        assert r_fz.stdout == r_np.stdout, "bsdtar lists different members"


@pytest.mark.parametrize("case", ["compressed", "big_multichunk", "data_descriptor",
                                  "stored"])
def test_extracted_bytes_match(archives, case):
    """Extract every member with unzip -p / bsdtar -xOf and compare with
    numpy's members (independent inflate implementations)."""
    np_path, fz_path = archives[case]
    expected = member_payloads(parse_zip(np_path.read_bytes()))
    names = [n.decode() for n in parse_zip(np_path.read_bytes()).names]
    checked = 0
    for tool in ("unzip", "bsdtar"):
        if shutil.which(tool) is None:
            continue
        for name, exp in zip(names, expected, strict=True):
            if tool == "unzip":
                cmd = ["unzip", "-p", str(fz_path), name]
            else:
                cmd = ["bsdtar", "-xOf", str(fz_path), name]
            r = _run(cmd)
            assert r.returncode == 0, f"{tool} failed to extract {name}: {r.stderr!r}"
            assert r.stdout == exp, f"{tool} extracted different bytes for {name}"
            checked += 1
    if not checked:
        pytest.skip("no extraction tool")


def test_7z_extract_matches(archives, tmp_path):
    if shutil.which("7z") is None:
        pytest.skip("7z not installed")
    np_path, fz_path = archives["big_multichunk"]
    r = _run(["7z", "x", "-y", f"-o{tmp_path}", str(fz_path)])
    assert r.returncode == 0, r.stdout[-800:]
    exp = member_payloads(parse_zip(np_path.read_bytes()))
    assert (tmp_path / "arr_0.npy").read_bytes() == exp[0]
