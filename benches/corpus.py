"""The policy's corpus: real members, one `.npy` stream per file, split into a
part to calibrate the policy on and a held-out part to validate it on.

Every array comes from a public package fetched at run time with
``pip download`` (benches/realdata.py; never committed): scikit-image's
photographs and scans (uint8, and as floats the way ``img_as_float`` makes
them), its float images, matplotlib's and scipy's sample data, scikit-learn's
tables, a sentence-transformer's weights, every array of 64 KiB or more in
those wheels' ``.npz``/``.npy`` files, nibabel's MRI volumes and PyWavelets'
test signals and images.

The split is by *source* (a photograph and its float version, a model layer,
a file's arrays), by a hash of the source's name, so that no member is
judged on a rule fitted to its sibling:
``crc32(source) % 3 == 0`` validates, the rest calibrates.

    python benches/corpus.py [--out DIR] [--min-kib 64]

writes ``DIR/calibrate/*.npy`` and ``DIR/validate/*.npy`` (default
``~/.cache/fastnpz-bench/corpus``) and prints one line per member.
``examples/oracle.rs`` then measures them.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import re
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import realdata

__all__ = ["check", "members", "slices", "split_of", "main"]

# NIfTI-1 datatype codes -> numpy dtype characters.
_NIFTI_DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4"}


def nifti(data: bytes) -> np.ndarray:
    """A NIfTI-1 volume's voxels (Fortran order, as nibabel returns them)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    end = "<" if int.from_bytes(data[:4], "little") == 348 else ">"
    hdr = np.frombuffer(data[:348], np.uint8)
    dim = hdr[40:56].view(end + "i2")
    code = int(hdr[70:72].view(end + "i2")[0])
    offset = int(hdr[108:112].view(end + "f4")[0])
    shape = tuple(int(d) for d in dim[1 : 1 + int(dim[0])])
    dtype = np.dtype(end + _NIFTI_DTYPES[code])
    count = int(np.prod(shape))
    return np.frombuffer(data, dtype, count, offset).reshape(shape, order="F")


def _wheel_arrays(key: str, min_bytes: int):
    for path in sorted(realdata._wheel(key).namelist()):
        if not path.endswith((".npz", ".npy")) or path.endswith("propack_test_data.npz"):
            continue
        try:
            arrays = realdata._npz_members(realdata.read(key, path))
        except (ValueError, OSError):
            continue  # pickles only
        source = f"{key}/{path.rsplit('/', 1)[-1]}"
        for name, a in arrays:
            if a.nbytes >= min_bytes and a.dtype != object:
                yield source, f"{source}__{name}" if name else source, a


def members(min_bytes: int = 64 << 10):
    """Yield ``(source, name, array)`` for every corpus member."""
    for name, a in realdata.photos().items():
        yield f"photo/{name}", f"photo/{name}", a
        if a.dtype == np.uint8:
            yield f"photo/{name}", f"photo/{name}_float", realdata._float_photo(a)
    for name, a in realdata.float_sources().items():
        yield f"float/{name}", f"float/{name}", a
    _, meas = realdata.gen_measurements(1)
    for name, a in meas.items():
        if a.nbytes >= min_bytes:
            yield f"measure/{name}", f"measure/{name}", a
    for name, a in realdata.minilm_tensors().items():
        layer = re.search(r"layer\.(\d+)\.", name)
        source = f"minilm/layer{layer.group(1)}" if layer else "minilm/other"
        if a.nbytes >= min_bytes:
            yield source, f"minilm/{name}", a
    for key in ("scipy", "skimage", "matplotlib", "pywt"):
        yield from _wheel_arrays(key, min_bytes)
    for path in sorted(realdata._wheel("nibabel").namelist()):
        if path.endswith((".nii", ".nii.gz")):
            try:
                a = nifti(realdata.read("nibabel", path))
            except (KeyError, ValueError, IndexError):
                continue
            if a.nbytes >= min_bytes:
                stem = path.rsplit("/", 1)[-1].split(".")[0]
                yield f"nibabel/{stem}", f"nibabel/{stem}", a


def split_of(source: str) -> str:
    """``"validate"`` for about a third of the sources, ``"calibrate"`` for the rest."""
    return "validate" if zlib.crc32(source.encode()) % 3 == 0 else "calibrate"


#: Slice sizes for ``--check --slices`` (KiB): members too small to sample.
SLICE_KIB = (4, 16, 64, 128, 200, 250)


def slices(a):
    """Contiguous pieces of ``a`` (flattened in memory order) of each of
    ``SLICE_KIB``, from its start, a third and the middle: new arrays of the
    sizes the policy does not sample, cut from real data."""
    flat = a.reshape(-1, order="F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C")
    for kib in SLICE_KIB:
        n = (kib << 10) // max(a.itemsize, 1)
        if len(flat) < 2 * n:
            continue
        for at in (0, len(flat) // 3, len(flat) // 2):
            yield f"{kib}K@{at}", np.ascontiguousarray(flat[at : at + n])


def check(min_bytes: int, with_slices: bool = False) -> int:
    """Each member saved alone by fastnpz and by numpy: size ratios, worst
    first; with ``with_slices``, also each of its ``slices``."""
    import fastnpz

    rows = []
    for source, name, a in members(min_bytes):
        if a.nbytes < min_bytes:
            continue
        pieces = [("", a)] + (list(slices(a)) if with_slices else [])
        for tag, piece in pieces:
            ours, theirs = io.BytesIO(), io.BytesIO()
            fastnpz.savez_compressed(ours, a=piece)
            np.savez_compressed(theirs, a=piece)
            label = f"{name} [{tag}]" if tag else name
            rows.append((ours.tell() / theirs.tell(), split_of(source), piece.nbytes, label))
    rows.sort(reverse=True)
    for part in ("calibrate", "validate"):
        mine = [r for r in rows if r[1] == part]
        print(f"{part}: {len(mine)} members, worst size ratio {mine[0][0]:.4f}" if mine else f"{part}: none")
    for r in rows[:10]:
        print(f"{r[0]:.4f}\t{r[1]}\t{r[2]}\t{r[3]}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(realdata.cache_dir(), "corpus"))
    p.add_argument("--min-kib", type=int, default=64, help="smallest member kept (KiB of array data)")
    p.add_argument(
        "--check",
        action="store_true",
        help="save each member with fastnpz and with numpy instead, and print the size ratios, worst first",
    )
    p.add_argument(
        "--slices",
        action="store_true",
        help="with --check, also pieces of 4-250 KiB cut from each member (the sizes saved unsampled)",
    )
    opts = p.parse_args(argv)
    if opts.check:
        return check(opts.min_kib << 10, opts.slices)
    seen = set()
    for part in ("calibrate", "validate"):
        os.makedirs(os.path.join(opts.out, part), exist_ok=True)
    for source, name, a in members(opts.min_kib << 10):
        if a.nbytes < opts.min_kib << 10 or name in seen:
            continue
        seen.add(name)
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asanyarray(a), allow_pickle=False)
        part = split_of(source)
        fname = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".npy"
        with open(os.path.join(opts.out, part, fname), "wb") as f:
            f.write(buf.getvalue())
        print(f"{part}\t{buf.tell()}\t{a.dtype.str}\t{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
