r"""Frequency alignment of spectra (B0 drift between repeats, B0 inhomogeneity between voxels).

Each spectrum's shift against a reference is found by cross-correlating
magnitude spectra (which do not depend on the phase) over a window: the lag
of the largest correlation within ``± max_lag`` points, on the correlation
interpolated to 1/4 point (zero-padding its spectrum) and refined by a
parabola through the peak and its two neighbours. The shift is
undone in the time domain, where a frequency shift of :math:`\Delta f` is the
linear phase :math:`e^{-2\pi i \Delta f\, t}` (exact for any fraction of a point).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["estimate_shifts", "shift_fids", "UPSAMPLE"]

#: The cross-correlation is interpolated on a grid this many times finer than the spectrum's points.
UPSAMPLE = 4


def estimate_shifts(magnitude: np.ndarray, reference: np.ndarray, max_lag: int, chunk: int = 256) -> np.ndarray:
    """Shift of each column of ``magnitude`` against ``reference``, in points (sub-point).

    Parameters
    ----------
    magnitude : real ndarray of shape (K, N)
        Magnitude spectra over the window, one per column.
    reference : real ndarray of shape (K,) or (K, N)
        The reference spectrum (one for all, or one per column).
    max_lag : int
        Largest shift searched, in points.

    chunk : int
        Columns handled at once (bounds the memory of the interpolated correlation).

    Returns
    -------
    ndarray of shape (N,)
        ``d`` such that column n is approximately ``reference`` moved by ``d``
        points towards higher indices; 0 for a column without signal.
    """
    K, N = magnitude.shape
    if N > chunk:
        ref = reference.reshape(K, -1)
        return np.concatenate([
            estimate_shifts(magnitude[:, i:i + chunk], ref if ref.shape[1] == 1 else ref[:, i:i + chunk], max_lag,
                            chunk)
            for i in range(0, N, chunk)])
    max_lag = int(max(1, min(max_lag, K - 2)))
    a = magnitude - magnitude.mean(axis=0, keepdims=True)
    r = reference.reshape(K, -1)
    r = r - r.mean(axis=0, keepdims=True)
    n = scipy.fft.next_fast_len(2 * K)
    product = scipy.fft.rfft(a, n, axis=0) * np.conj(scipy.fft.rfft(r, n, axis=0))
    # Zero-padding the product interpolates the correlation on a grid of 1/UPSAMPLE point (band-limited).
    corr = scipy.fft.irfft(product, n * UPSAMPLE, axis=0)
    lags = np.arange(-max_lag * UPSAMPLE, max_lag * UPSAMPLE + 1)
    window = corr[lags % (n * UPSAMPLE)]  # (2 max_lag UPSAMPLE + 1, N)
    best = np.argmax(window, axis=0)
    last = window.shape[0] - 1
    inner = (best > 0) & (best < last)
    cols = np.arange(N)
    left = window[np.clip(best - 1, 0, last), cols]
    mid = window[best, cols]
    right = window[np.clip(best + 1, 0, last), cols]
    curvature = left - 2.0 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(inner & (curvature < 0), 0.5 * (left - right) / curvature, 0.0)
    shifts = (lags[best] + np.clip(fraction, -0.5, 0.5)) / UPSAMPLE
    flat = ~np.any(a, axis=0) | (mid <= 0)
    shifts[flat] = 0.0
    return shifts.astype(np.float64)


def shift_fids(work: np.ndarray, offsets_hz: np.ndarray, dwell: float) -> None:
    r"""Move each column's lines by ``-offsets_hz`` (in place): multiply by :math:`e^{-2\pi i\, \mathrm{offset}\, t}`.

    Parameters
    ----------
    work : complex ndarray of shape (n_t, N)
        FIDs after conjugation (higher frequency = higher chemical shift).
    offsets_hz : ndarray of shape (N,)
        How far each column's lines lie above where they should be, Hz.
    dwell : float
        Seconds between points.
    """
    nonzero = np.flatnonzero(offsets_hz)
    if nonzero.size == 0:
        return
    t = np.arange(work.shape[0]) * dwell
    for start in range(0, nonzero.size, 512):  # blocks of columns bound the temporary arrays
        cols = nonzero[start:start + 512]
        angle = np.remainder(np.outer(t, -2.0 * np.pi * np.asarray(offsets_hz)[cols]), 2.0 * np.pi)
        angle = angle.astype(np.float32)
        ramp = np.empty(angle.shape, dtype=np.complex64)
        np.cos(angle, out=ramp.real)
        np.sin(angle, out=ramp.imag)
        work[:, cols] *= ramp
