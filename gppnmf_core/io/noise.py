r"""Noise variance of spectra made from FIDs, from points that hold no signal.

Neighbour differences underestimate the noise of spectra whose noise is
correlated between points (line broadening, zero filling, filters). Where the
FIDs are known the variance is measured directly instead:

* **spectrum edges**: the real part of the processed spectra at points
  outside every signal of the nucleus (and outside the kept window), within
  the central 60 % of the spectral width (the receiver's anti-aliasing filter
  lowers the noise near the band's edges). Each run of 32 points has its own
  straight line removed (broad wings of water or lipids), and the variance is
  :math:`(1.4826\,\mathrm{MAD})^2` of the residuals of all spectra;
* **FID tail** otherwise: the complex variance :math:`\sigma_t^2` of the last
  eighth of the FIDs; the real part of the transform
  :math:`\sum_n w_n s_n e^{-2\pi i k n / N}` of white noise then has variance
  :math:`\tfrac12 \sigma_t^2 \sum_n w_n^2` (``w``: first-point halving and
  apodization).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BLOCK_POINTS", "noise_from_region", "noise_from_tail", "noise_region"]

_MAD_TO_SIGMA = 1.4826
BLOCK_POINTS = 32


def noise_region(freqs: np.ndarray, ppm: np.ndarray | None, excluded: list[tuple[float, float]],
                 band_fraction: float = 0.6) -> np.ndarray:
    """Boolean mask of the points that hold noise only.

    Parameters
    ----------
    freqs : ndarray of shape (K,)
        Frequency of each point (any unit, 0 at the centre of the band).
    ppm : ndarray of shape (K,) or None
        Chemical shift of each point; None: no region is known (all False).
    excluded : list of (low, high)
        ppm ranges that may hold signal.
    band_fraction : float
        Central fraction of the band used.
    """
    if ppm is None or not excluded:
        return np.zeros(freqs.shape, dtype=bool)
    mask = np.abs(freqs) <= band_fraction * np.abs(freqs).max()
    for lo, hi in excluded:
        mask &= (ppm < lo) | (ppm > hi)
    return mask


def noise_from_region(runs: list[np.ndarray]) -> float | None:
    """Robust variance of real spectra over signal-free points, each run of 32 points detrended.

    Parameters
    ----------
    runs : list of ndarray of shape (P_i, N)
        Contiguous stretches of the region (in the order of the spectral
        axis) of N spectra; a stretch shorter than 32 points is not used.

    Returns
    -------
    float or None
        None when no stretch has 32 points.
    """
    blocks = []
    for run in runs:
        n_blocks = run.shape[0] // BLOCK_POINTS
        if n_blocks:
            usable = np.asarray(run[: n_blocks * BLOCK_POINTS], dtype=np.float64)
            blocks.append(usable.reshape(n_blocks, BLOCK_POINTS, -1))
    if not blocks:
        return None
    block = np.concatenate(blocks, axis=0)
    x = np.arange(BLOCK_POINTS) - (BLOCK_POINTS - 1) / 2.0
    mean = block.mean(axis=1, keepdims=True)
    slope = np.einsum("j,bjn->bn", x, block)[:, None, :] / np.sum(x * x)
    residual = block - mean - slope * x[None, :, None]
    values = residual.ravel()
    mad = float(np.median(np.abs(values - np.median(values))))
    sigma = _MAD_TO_SIGMA * mad * np.sqrt(BLOCK_POINTS / (BLOCK_POINTS - 2.0))  # two parameters fitted per run
    return sigma * sigma if sigma > 0 and np.isfinite(sigma) else None


def noise_from_tail(fids: np.ndarray, weights: np.ndarray, fraction: float = 0.125) -> float | None:
    """Variance of the real part of the spectra predicted from the FID tail.

    Parameters
    ----------
    fids : complex ndarray of shape (n_t, N)
        FIDs before apodization.
    weights : ndarray of shape (n_t,)
        The factors applied before the FFT (first point ½, apodization).

    Returns
    -------
    float or None
    """
    n_t = fids.shape[0]
    n_tail = max(8, int(n_t * fraction))
    if n_t < 2 * n_tail:
        return None
    tail = fids[-n_tail:].astype(np.complex128)
    tail -= tail.mean(axis=0, keepdims=True)
    variance = float(np.mean(tail.real**2 + tail.imag**2))
    result = 0.5 * variance * float(np.sum(np.asarray(weights, dtype=np.float64) ** 2))
    return result if result > 0 and np.isfinite(result) else None
