r"""Combining the FIDs of several receiver coils into one (NIfTI-MRS ``DIM_COIL``).

The method is the signal-to-noise-squared weighting of the field (Hall et al.,
NeuroImage 2014, "Comparison of methods for combining multichannel data";
Roemer's rule for spectroscopy): coil c sees the signal :math:`a_c s(t)` with a
complex sensitivity :math:`a_c` and noise of variance :math:`\sigma_c^2`. With
the first FID point :math:`p_c` of each coil (averaged over repeats) as the
estimate of :math:`a_c` (up to the signal's own first point) and the variance
of each coil's FID tail as :math:`\sigma_c^2`,

.. math::
    s(t) = \frac{\sum_c \bar p_c\, s_c(t) / \sigma_c^2}{\sum_c |p_c| / \sigma_c^2},

which turns every coil to the phase of its first point (the coils add in
phase, and the result's first point is real and positive) and weights each by
its signal over its noise variance — the weights that maximise the S/N of the
sum. The result is a weighted mean of the phase-aligned coils: a signal seen
equally by every coil keeps its amplitude.
"""

from __future__ import annotations

import numpy as np

__all__ = ["combine_coils", "COIL_METHOD"]

#: How the description names the method.
COIL_METHOD = ("weighted by each coil's signal over its noise variance after phase alignment on the first FID "
               "point (S/N² weighting)")


def tail_noise_variance(fids: np.ndarray, axis: int = 0, fraction: float = 0.125) -> np.ndarray:
    """Complex noise variance of the last ``fraction`` of the points along ``axis``, pooled over nothing else.

    Parameters
    ----------
    fids : complex ndarray
        Time along ``axis``.

    Returns
    -------
    ndarray
        ``mean |x - mean x|^2`` over the tail, with ``axis`` removed.
    """
    n_t = fids.shape[axis]
    n_tail = max(4, int(n_t * fraction))
    tail = np.take(fids, np.arange(n_t - min(n_tail, n_t), n_t), axis=axis).astype(np.complex128)
    tail = tail - tail.mean(axis=axis, keepdims=True)
    return np.mean(tail.real**2 + tail.imag**2, axis=axis)


def combine_coils(fids: np.ndarray) -> np.ndarray:
    """Combine coils by S/N² weighting (see the module docstring).

    Parameters
    ----------
    fids : complex ndarray of shape (n_t, V, M, C)
        FIDs of V voxels, M repeats (or other acquisitions; they share the
        coil weights of their voxel) and C coils.

    Returns
    -------
    complex64 ndarray of shape (n_t, V, M)
    """
    first = fids[0].astype(np.complex128).mean(axis=1)  # (V, C): a_c per voxel
    noise = tail_noise_variance(fids.reshape(fids.shape[0], -1, fids.shape[-1]), axis=0).mean(axis=0)  # (C,)
    noise = np.where(noise > 0, noise, max(float(noise.max()), np.finfo(np.float64).tiny))
    weights = np.conj(first) / noise  # (V, C)
    norm = np.sum(np.abs(first) / noise, axis=1)  # (V,)
    flat = norm <= 0
    if np.any(flat):  # no signal at the first point: plain mean of the coils
        weights[flat] = 1.0 / fids.shape[-1]
        norm[flat] = 1.0
    weights = (weights / norm[:, None]).astype(np.complex64)
    return np.einsum("tvmc,vc->tvm", fids, weights, dtype=np.complex64, optimize=False)
