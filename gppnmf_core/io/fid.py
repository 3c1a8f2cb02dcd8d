r"""From free induction decays to real spectra: the FID → spectrum pipeline.

For each voxel, with :math:`s_n` the stored FID (n = 0 … N-1, dwell time
:math:`\Delta t`):

1. conjugate, :math:`s_n \to \bar s_n`: NIfTI-MRS stores FIDs so that, for a
   nucleus with positive gyromagnetic ratio, a higher chemical shift turns
   clockwise (the Levitt convention of the standard's Appendix A); after
   conjugation NumPy's FFT puts higher chemical shifts at higher frequencies;
2. halve the first point (it is counted once, not twice, by the discrete
   transform of a one-sided signal; this removes a baseline offset);
3. optional exponential line broadening :math:`\exp(-\pi\,\mathrm{LB}\,n\Delta t)`,
   which widens each Lorentzian line by LB Hz (full width at half maximum);
4. FFT; frequencies :math:`f_k` as ``numpy.fft.fftfreq`` (the ``fftshift``
   reordering is folded into step 6), chemical shift
   :math:`\delta_k = f_k / \mathrm{SF} + \delta_\mathrm{ref}` with SF in MHz;
5. crop to ``ppm_range``;
6. order by decreasing chemical shift (the order spectra are drawn in);
7. zero-order phase per voxel, :math:`\varphi = \arg \sum_k S_k` over the kept
   window, which maximises :math:`\sum_k \mathrm{Re}(e^{-i\varphi} S_k)`,
   the integral of the real part (closed form, one reduction over the data);
8. real part, in float64.

The heavy steps run in complex64 in one working buffer (conjugation writes it,
steps 2-4 work in place), so the peak memory is about the size of the FIDs in
complex64 plus the cropped spectra.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft

from ..dataset import Axis
from .errors import DataFormatError

__all__ = ["SpectraResult", "fids_to_spectra", "zero_order_phase"]


@dataclass
class SpectraResult:
    """Spectra made from FIDs.

    Attributes
    ----------
    X : ndarray of shape (K, L)
        Real spectra, float64, one column per voxel, rows in decreasing shift.
    rows : Axis
        The spectral axis: ppm (when SF and dwell time are known), Hz (dwell
        time only) or frequency index.
    steps : list of str
        What was done, for the description.
    """

    X: np.ndarray
    rows: Axis
    steps: list[str] = field(default_factory=list)


def zero_order_phase(spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-column zero-order phase that maximises the integral of the real part.

    :math:`\max_\varphi \sum_k \mathrm{Re}(e^{-i\varphi} S_k) = |\sum_k S_k|`
    at :math:`\varphi = \arg \sum_k S_k`.

    Parameters
    ----------
    spectra : complex ndarray of shape (K, L)

    Returns
    -------
    cos, sin : ndarray of shape (L,)
        Real and imaginary parts of :math:`e^{-i\varphi}` per column (1, 0 for
        a column that sums to zero).
    """
    total = spectra.sum(axis=0, dtype=np.complex128)
    magnitude = np.abs(total)
    safe = np.where(magnitude > 0, magnitude, 1.0)
    cos = np.where(magnitude > 0, total.real / safe, 1.0)
    sin = np.where(magnitude > 0, -total.imag / safe, 0.0)
    return cos, sin


def _frequency_axis(n_t: int, dwell: float | None, sf: float | None, reference: float):
    """Values of each FFT output point (unshifted order) and the Axis metadata for them."""
    if dwell is None:
        return np.fft.fftfreq(n_t) * n_t, ("frequency index", "")
    freq = np.fft.fftfreq(n_t, d=dwell)
    if sf is None:
        return freq, ("frequency", "Hz")
    return freq / sf + reference, ("chemical shift", "ppm")


def fids_to_spectra(
    stored: np.ndarray,
    filename: str,
    *,
    dwell: float | None,
    sf: float | None,
    reference: float,
    ppm_range: tuple[float, float] | None = None,
    line_broadening_hz: float = 0.0,
    phase: str = "auto",
    scale: float = 1.0,
) -> SpectraResult:
    """Turn stored FIDs into real, phased spectra (see the module docstring for the steps).

    Parameters
    ----------
    stored : complex ndarray of shape (n_t, ...)
        FIDs as stored (NIfTI-MRS convention), time first; the remaining axes
        are the observations, flattened in C order. May be a strided or
        byte-swapped view of a file's buffer: it is read once.
    filename : str
        Name used in messages.
    dwell : float or None
        Dwell time in seconds; None gives a frequency-index axis.
    sf : float or None
        Spectrometer frequency in MHz; None gives a Hz axis.
    reference : float
        Chemical shift of the receiver frequency (the centre of the spectrum), ppm.
    ppm_range : (float, float) or None
        Window to keep (needs ``dwell`` and ``sf``).
    line_broadening_hz : float
        Exponential line broadening in Hz (needs ``dwell``).
    phase : {"auto", "none"}
        Zero-order phase correction per observation.
    scale : float
        Factor applied to the data (a NIfTI ``scl_slope``).

    Returns
    -------
    SpectraResult
        ``X`` of shape (K, L) with K the kept points.
    """
    n_t = stored.shape[0]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        (values, (label, unit)) = _frequency_axis(n_t, dwell, sf, reference)
    if not np.all(np.isfinite(values)):
        raise DataFormatError(
            f"{filename}: the dwell time ({dwell:g} s), spectrometer frequency ({sf} MHz) and reference "
            f"({reference:g} ppm) give a spectral axis beyond the range of numbers; check these values"
        )
    if ppm_range is not None and unit != "ppm":
        raise DataFormatError(f"{filename}: ppm_range needs a ppm axis, which needs the spectrometer frequency and "
                              f"the dwell time; give them or leave ppm_range empty")
    if line_broadening_hz > 0 and dwell is None:
        raise DataFormatError(f"{filename}: line broadening needs the dwell time of the FIDs; give it or set 0 Hz")
    order = np.argsort(-values, kind="stable")
    if ppm_range is not None:
        lo, hi = ppm_range
        keep = order[(values[order] >= lo) & (values[order] <= hi)]
        if keep.size < 2:
            raise DataFormatError(
                f"{filename}: ppm_range ({lo:g}, {hi:g}) keeps {keep.size} point(s) of the spectrum, which spans "
                f"{values.min():.4g} to {values.max():.4g} ppm; choose a wider range inside it"
            )
    else:
        keep = order

    work = np.empty(stored.shape, dtype=np.complex64)
    np.conjugate(stored, out=work)
    work = work.reshape(n_t, -1)
    finite = np.isfinite(work)
    if not finite.all():
        n_bad = int(finite.size - np.count_nonzero(finite))
        raise DataFormatError(f"{filename} contains {n_bad} NaN or Inf value(s) in its FIDs")
    del finite
    if not work.any():
        raise DataFormatError(f"{filename}: all FID values are zero")
    if scale != 1.0:
        work *= np.float32(scale)
    work[0] *= np.float32(0.5)
    steps = ["conjugated (NIfTI-MRS convention)", "first point halved"]
    if line_broadening_hz > 0:
        t = np.arange(n_t) * dwell
        work *= np.exp(-np.pi * line_broadening_hz * t).astype(np.float32)[:, None]
        steps.append(f"{line_broadening_hz:g} Hz exponential line broadening")
    spectra = scipy.fft.fft(work, axis=0, overwrite_x=True)
    del work
    steps.append("FFT")
    if ppm_range is not None:
        steps.append(f"cropped to {ppm_range[0]:g} to {ppm_range[1]:g} ppm")
    kept = spectra[keep]
    del spectra
    if phase == "auto":
        cos, sin = zero_order_phase(kept)
        X = np.multiply(kept.real, cos, dtype=np.float64)
        X -= np.multiply(kept.imag, sin, dtype=np.float64)
        steps.append("zero-order phase per voxel (largest integral of the real part)")
    else:
        X = kept.real.astype(np.float64)
        steps.append("no phase correction")
    steps.append("real part")
    rows = Axis(values[keep].astype(np.float64), label=label, unit=unit, reversed=unit in ("ppm", "Hz"))
    return SpectraResult(X=X, rows=rows, steps=steps)
