"""Independent readers (Info-ZIP unzip, 7-Zip, libarchive bsdtar) accept
fastnpz's archives exactly where they accept numpy's, and extract the same
member bytes: those savez/savez_compressed write, and those NpzWriter
writes member by member, streamed, stored with aligned data, or appended
to a numpy archive (numpy's archive of the same members is the oracle)."""
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
    "writer": ("writer", {}),
    "writer_stored_aligned": ("writer", {"compress": False}),
    "writer_append": ("append", {}),
    "writer_append_stored": ("append", {"compress": False}),
}


def _writer_members():
    return {"grid": ARR, "big": _big(), "\u00e9t\u00e9": ARR[:3], "t": ARR.T}


def _writer_pair(d, name, kind, kw):
    """numpy's archive of the members, and NpzWriter's: each member written
    whole, except one streamed in uneven blocks ("writer"), or the first
    two in numpy's own archive and the rest appended ("append")."""
    import fastnpz
    members = _writer_members()
    compress = kw.get("compress", True)
    np_path, fz_path = d / f"{name}_np.npz", d / f"{name}_fz.npz"
    (np.savez_compressed if compress else np.savez)(np_path, **members)
    items = list(members.items())
    if kind == "append":
        (np.savez_compressed if compress else np.savez)(fz_path, **dict(items[:2]))
        with fastnpz.NpzWriter(fz_path, mode="a", **kw) as w:
            for key, value in items[2:]:
                w.write(key, value)
        return np_path, fz_path
    with fastnpz.NpzWriter(fz_path, **kw) as w:
        for key, value in items:
            if key == "big":
                with w.stream(key, value.shape, value.dtype) as s:
                    for at in range(0, value.size, 375_001):
                        s.write(value[at:at + 375_001])
            else:
                w.write(key, value)
    return np_path, fz_path


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    import fastnpz
    d = tmp_path_factory.mktemp("ext")
    out = {}
    for name, (kind, make) in CASES.items():
        if kind in ("writer", "append"):
            out[name] = _writer_pair(d, name, kind, make)
            continue
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
                                  "stored", "writer", "writer_stored_aligned",
                                  "writer_append", "writer_append_stored"])
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


@pytest.mark.parametrize("case", ["big_multichunk", "writer", "writer_append"])
def test_7z_extract_matches(archives, tmp_path, case):
    if shutil.which("7z") is None:
        pytest.skip("7z not installed")
    np_path, fz_path = archives[case]
    r = _run(["7z", "x", "-y", f"-o{tmp_path}", str(fz_path)])
    assert r.returncode == 0, r.stdout[-800:]
    oracle = parse_zip(np_path.read_bytes())
    for name, exp in zip(oracle.names, member_payloads(oracle), strict=True):
        assert (tmp_path / name.decode()).read_bytes() == exp, name
