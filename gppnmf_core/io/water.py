r"""Removing a residual water line from FIDs with HLSVD (Hankel singular value decomposition).

The FID is modelled as a sum of damped complex exponentials
:math:`x_n = \sum_k a_k z_k^n`, :math:`z_k = e^{(-d_k + 2\pi i f_k)\Delta t}`
(Barkhuijsen et al., J. Magn. Reson. 1987; the state-space form of Pijnappel et
al. 1992). The first ``n`` points fill a Hankel matrix; its leading ``rank``
left singular vectors span the signal space, whose shift invariance gives the
poles :math:`z_k` (eigenvalues of the least-squares map from the space without
its last row to the space without its first); the amplitudes follow by least
squares. The components whose frequency lies in the water band are
subtracted from the whole FID, so the metabolite lines are left as they were.
Many FIDs (a CSI grid) share the poles of their mean and get their own
amplitudes: one SVD instead of one per voxel.

The field's library for this (``hlsvdpro``) is built against NumPy 1 and does
not import with NumPy 2, hence this short implementation with SciPy's SVD.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

__all__ = ["WATER_BAND_PPM", "remove_water"]

#: Frequencies (ppm) taken as water: 4.68 ± 0.5 ppm covers temperature and B0 shifts of the line.
WATER_BAND_PPM = (4.2, 5.2)


def _poles(x: np.ndarray, rank: int) -> np.ndarray:
    """The ``rank`` signal poles of one FID segment ``x`` (state-space HLSVD)."""
    n = x.size
    rows = n // 2
    hankel = linalg.hankel(x[:rows], x[rows - 1:])
    U, _, _ = linalg.svd(hankel, full_matrices=False, check_finite=False)
    U = U[:, :rank]
    shift, *_ = linalg.lstsq(U[:-1], U[1:], check_finite=False)
    return linalg.eigvals(shift, check_finite=False)


def remove_water(fids: np.ndarray, dwell: float, sf: float, reference: float, *, rank: int = 20,
                 n_points: int = 512, band_ppm: tuple[float, float] = WATER_BAND_PPM,
                 shared_above: int = 16) -> tuple[np.ndarray, float]:
    """Subtract the water components of each FID.

    Parameters
    ----------
    fids : complex ndarray of shape (n_t, L)
        FIDs in the convention where NumPy's FFT puts higher chemical shifts at
        higher frequencies (NIfTI-MRS FIDs after conjugation).
    dwell : float
        Seconds between points.
    sf : float
        Spectrometer frequency, MHz.
    reference : float
        Chemical shift of 0 Hz, ppm.
    rank : int
        Damped exponentials in the model.
    n_points : int
        Leading points used for the model (the water line is strong there).
    band_ppm : (float, float)
        Components with a frequency in this band are removed.
    shared_above : int
        With more FIDs than this (a CSI grid), the poles come from their mean and each FID gets its own
        amplitudes (one least-squares solve for all); with fewer, each FID gets its own poles.

    Returns
    -------
    cleaned : complex ndarray of shape (n_t, L)
    removed_fraction : float
        Share of the FIDs' energy taken out, over all observations.
    """
    n_t, n_obs = fids.shape
    n = min(n_points, n_t)
    rank = min(rank, n // 2 - 1)
    cleaned = np.array(fids, dtype=np.complex128, copy=True)
    groups = [np.arange(n_obs)] if n_obs > shared_above else [np.array([k]) for k in range(n_obs)]
    for columns in groups:
        segment = cleaned[:n, columns]
        if not np.any(segment):
            continue
        z = _poles(segment.mean(axis=1), rank)
        z = z[np.abs(z) <= 1.0]  # growing exponentials are not lines (and would overflow over the FID)
        ppm = np.angle(z) / (2 * np.pi * dwell) / sf + reference
        water = (ppm >= band_ppm[0]) & (ppm <= band_ppm[1])
        if not water.any():
            continue
        amplitudes, *_ = linalg.lstsq(z[None, :] ** np.arange(n)[:, None], segment, check_finite=False)
        cleaned[:, columns] -= (z[water][None, :] ** np.arange(n_t)[:, None]) @ amplitudes[water]
    before = float(np.sum(np.abs(fids) ** 2))
    after = float(np.sum(np.abs(cleaned) ** 2))
    return cleaned, (max(before - after, 0.0) / before if before > 0 else 0.0)
