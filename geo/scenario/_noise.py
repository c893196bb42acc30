"""Random fields for the scenario: fractal (1/f) noise and sub-pixel shifts.

Examples
--------
>>> import numpy as np
>>> f = fractal_noise((64, 48), np.random.default_rng(0), beta=2.0)
>>> f.shape, round(float(f.std()), 3)
((64, 48), 1.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["fractal_noise", "subpixel_shift", "block_mean", "smoothstep"]


def fractal_noise(
    shape: tuple[int, int], rng: np.random.Generator, *, beta: float = 2.2,
    cutoff: float = 0.0,
) -> np.ndarray:
    """Zero-mean, unit-variance noise with a power spectrum falling as ``k**-beta``.

    Made by filtering white noise in the Fourier domain, so its cost is one FFT pair.
    ``cutoff`` (cycles per pixel) removes frequencies above it (smoother fields).
    """
    h, w = shape
    white = rng.standard_normal((h, w)).astype(np.float32)
    spec = np.fft.rfft2(white)
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.rfftfreq(w)[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    filt = k ** (-beta / 2.0)
    filt[0, 0] = 0.0
    if cutoff > 0:
        filt *= np.exp(-((k / cutoff) ** 2))
    field = np.fft.irfft2(spec * filt, s=(h, w)).astype(np.float32)
    field -= field.mean()
    std = float(field.std())
    return field / std if std > 0 else field


def subpixel_shift(arr: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Shift the last two axes by (dx, dy) pixels with bilinear interpolation.

    Positive ``dx`` moves content to the right (east), positive ``dy`` down (south).
    Edges are extended.
    """
    ix, fx = int(np.floor(dx)), float(dx - np.floor(dx))
    iy, fy = int(np.floor(dy)), float(dy - np.floor(dy))
    pad = max(abs(ix), abs(iy)) + 2
    width = [(0, 0)] * (arr.ndim - 2) + [(pad, pad), (pad, pad)]
    padded = np.pad(arr, width, mode="edge")
    h, w = arr.shape[-2:]

    def view(sx: int, sy: int) -> np.ndarray:
        return padded[..., pad - sy:pad - sy + h, pad - sx:pad - sx + w]

    out = view(ix, iy) * np.float32((1 - fx) * (1 - fy))
    if fx:
        out += view(ix + 1, iy) * np.float32(fx * (1 - fy))
    if fy:
        out += view(ix, iy + 1) * np.float32((1 - fx) * fy)
    if fx and fy:
        out += view(ix + 1, iy + 1) * np.float32(fx * fy)
    return out


def block_mean(arr: np.ndarray, k: int) -> np.ndarray:
    """Mean over non-overlapping ``k`` x ``k`` blocks of the last two axes."""
    h, w = arr.shape[-2:]
    lead = arr.shape[:-2]
    if k == 2:
        out = arr[..., 0::2, 0::2] + arr[..., 1::2, 0::2]
        out += arr[..., 0::2, 1::2]
        out += arr[..., 1::2, 1::2]
        return out * np.asarray(0.25, out.dtype)
    summed = arr.reshape(*lead, h // k, k, w // k, k).sum(axis=-1).sum(axis=-2)
    return summed * np.asarray(1.0 / (k * k), summed.dtype)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S-curve between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)
