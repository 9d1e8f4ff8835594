"""Size classes: one seeded array per kind of data people store.

Each generator takes ``scale`` (1 for the full run, 16 for ``--quick``) and
returns ``(args, kwargs)`` for ``savez_compressed(file, *args, **kwargs)``
with a single member of about ``CLASS_MIB / scale`` MiB. The data comes
from ``numpy.random.default_rng(seed)`` with a fixed seed per class, so it
is the same in every run and in every subprocess.

The kinds that only real data can show (photographs, float images, model
weights, measured signals, many small arrays) are not generated here: the
size-classes table takes those rows from the real-data suite.
"""

from __future__ import annotations

import numpy as np

MiB = 1 << 20

#: Raw size of each class at full scale.
CLASS_MIB = 24


def _n_items(scale, itemsize):
    """Number of elements of ``itemsize`` bytes that fill one class."""
    return CLASS_MIB * MiB // itemsize // scale


def _smooth_2d(rng, ny, nx, dtype, n_modes=5):
    """A sum of a few low-frequency separable sine/cosine modes, offset by 10."""
    y = np.linspace(0.0, 1.0, ny, dtype=dtype)
    x = np.linspace(0.0, 1.0, nx, dtype=dtype)
    out = np.full((ny, nx), 10.0, dtype=dtype)
    for _ in range(n_modes):
        fy, fx = rng.uniform(0.5, 4.0, size=2)
        py, px = rng.uniform(0, 2 * np.pi, size=2)
        amp = rng.uniform(0.5, 2.0)
        sy = (amp * np.sin(2 * np.pi * fy * y + py)).astype(dtype)
        cx = np.cos(2 * np.pi * fx * x + px).astype(dtype)
        out += sy[:, None] * cx[None, :]
    return out


def gen_random_walk_f64(scale):
    """Brownian path: ``np.cumsum`` of standard-normal steps, float64."""
    rng = np.random.default_rng(101)
    return (), {"random_walk_f64": np.cumsum(rng.standard_normal(_n_items(scale, 8)))}


def gen_random_walk_f32(scale):
    """The same walk accumulated in float32, as float32 pipelines do."""
    rng = np.random.default_rng(102)
    steps = rng.standard_normal(_n_items(scale, 4), dtype=np.float32)
    return (), {"random_walk_f32": np.cumsum(steps, dtype=np.float32)}


def gen_signal_noise_f32(scale):
    """A sensor trace: ``sin(t) * 1000 + normal noise``, float32."""
    rng = np.random.default_rng(103)
    n = _n_items(scale, 4)
    t = np.arange(n, dtype=np.float64) * 0.01
    a = (np.sin(t) * 1000.0 + rng.standard_normal(n)).astype(np.float32)
    return (), {"signal_noise_f32": a}


def gen_smooth_field_f64(scale):
    """A smooth 2-D float64 field (simulation output) at full precision."""
    rng = np.random.default_rng(104)
    nx = 2048
    return (), {"smooth_field_f64": _smooth_2d(rng, _n_items(scale, 8) // nx, nx, np.float64)}


def gen_smooth_field_f32(scale):
    """A smooth 2-D float32 field plus small noise (a sensor image)."""
    rng = np.random.default_rng(105)
    nx = 2048
    a = _smooth_2d(rng, _n_items(scale, 4) // nx, nx, np.float32)
    a += rng.standard_normal(a.shape, dtype=np.float32) * np.float32(0.01)
    return (), {"smooth_field_f32": a}


def gen_quantized_f64(scale):
    """Prices: a random walk around 100 rounded to cents, ``np.round(x, 2)``."""
    rng = np.random.default_rng(106)
    x = 100.0 + np.cumsum(rng.standard_normal(_n_items(scale, 8)) * 0.05)
    return (), {"quantized_f64": np.round(x, 2)}


def gen_sparse_f64(scale):
    """A 2-D float64 matrix with 1% non-zero entries (normal values)."""
    rng = np.random.default_rng(107)
    n = _n_items(scale, 8)
    a = np.zeros(n)
    idx = rng.choice(n, size=n // 100, replace=False)
    a[idx] = rng.standard_normal(len(idx))
    return (), {"sparse_f64": a.reshape(-1, 1024)}


def _blob_labels(rng, ny, nx, n_labels):
    """Small integer labels in blobs: thresholded smooth noise, 0 = background.

    A coarse random grid (one value per 48 pixels) is interpolated bilinearly
    to full size and cut into bands at its quantiles; the lower half of the
    values is background.
    """
    cell = 48
    coarse = rng.standard_normal((ny // cell + 2, nx // cell + 2)).astype(np.float32)

    def lerp(a, n, axis):
        pos = np.arange(n, dtype=np.float32) / cell
        i0 = pos.astype(np.intp)
        w = (pos - i0).reshape([-1 if d == axis else 1 for d in range(2)])
        return np.take(a, i0, axis=axis) * (1 - w) + np.take(a, i0 + 1, axis=axis) * w

    field = lerp(lerp(coarse, nx, 1), ny, 0)
    sample = field[:: max(1, ny // 256), :: max(1, nx // 256)]
    edges = np.quantile(sample, np.linspace(0.5, 1.0, n_labels, endpoint=False)[1:])
    return np.searchsorted(edges, field.ravel(), side="right").reshape(field.shape)


def gen_label_mask_u8(scale):
    """A uint8 segmentation mask: labels 0-7 in blobs, half background."""
    rng = np.random.default_rng(108)
    nx = 2048
    labels = _blob_labels(rng, _n_items(scale, 1) // nx, nx, 8).astype(np.uint8)
    return (), {"label_mask_u8": labels}


def gen_labels_i32(scale):
    """An int32 label image (as ``scipy.ndimage.label`` returns): 0-40 in blobs."""
    rng = np.random.default_rng(109)
    nx = 2048
    labels = _blob_labels(rng, _n_items(scale, 4) // nx, nx, 40).astype(np.int32)
    return (), {"labels_i32": labels}


def gen_timestamps_ns(scale):
    """datetime64[ns] sample times: 1 ms period with microsecond jitter."""
    rng = np.random.default_rng(110)
    n = _n_items(scale, 8)
    start = np.datetime64("2024-03-01T00:00:00", "ns").astype(np.int64)
    steps = 1_000_000 + rng.integers(-5_000, 5_000, size=n, dtype=np.int64)
    return (), {"timestamps_ns": (start + np.cumsum(steps)).astype("datetime64[ns]")}


def gen_float16(scale):
    """float16 activations: standard-normal values rounded to half precision."""
    rng = np.random.default_rng(111)
    a = rng.standard_normal(_n_items(scale, 2), dtype=np.float32).astype(np.float16)
    return (), {"float16": a.reshape(-1, 1024)}


def gen_complex64(scale):
    """complex64 spectra: the FFT of rows of a noisy two-tone signal."""
    rng = np.random.default_rng(112)
    n_cols = 1024
    rows = _n_items(scale, 8) // n_cols
    t = np.arange(n_cols) / n_cols
    sig = np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 120 * t)
    x = (sig[None, :] + 0.2 * rng.standard_normal((rows, n_cols))).astype(np.float32)
    return (), {"complex64": np.fft.fft(x, axis=1).astype(np.complex64)}


def gen_complex128(scale):
    """complex128 phasors: unit amplitude, a random-walk phase plus noise."""
    rng = np.random.default_rng(113)
    n = _n_items(scale, 16)
    phase = np.cumsum(rng.normal(0.05, 0.01, size=n))
    amp = 1.0 + 0.01 * rng.standard_normal(n)
    return (), {"complex128": amp * np.exp(1j * phase)}


# name -> (generator, dtype label, what it stands for)
CLASSES = {
    "random_walk_f64": (gen_random_walk_f64, "float64", "random walk (cumsum of normal steps)"),
    "random_walk_f32": (gen_random_walk_f32, "float32", "random walk, float32"),
    "signal_noise_f32": (gen_signal_noise_f32, "float32", "smooth signal + noise (sin(t)*1000 + normal)"),
    "smooth_field_f64": (gen_smooth_field_f64, "float64", "smooth 2-D field"),
    "smooth_field_f32": (gen_smooth_field_f32, "float32", "smooth 2-D field + small noise"),
    "quantized_f64": (gen_quantized_f64, "float64", "quantized floats (np.round(x, 2))"),
    "sparse_f64": (gen_sparse_f64, "float64", "sparse (99% zeros)"),
    "label_mask_u8": (gen_label_mask_u8, "uint8", "label mask (8 labels in blobs)"),
    "labels_i32": (gen_labels_i32, "int32", "label image (40 labels in blobs)"),
    "timestamps_ns": (gen_timestamps_ns, "datetime64[ns]", "timestamps (1 ms + jitter)"),
    "float16": (gen_float16, "float16", "float16 activations (normal)"),
    "complex64": (gen_complex64, "complex64", "spectra (FFT of noisy tones)"),
    "complex128": (gen_complex128, "complex128", "phasors (random-walk phase)"),
}
