r"""From free induction decays to real spectra: the FID → spectrum pipeline.

For a data set of FIDs :math:`s_n` (n = 0 … N-1, dwell time :math:`\Delta t`),
one per observation, possibly several acquisitions (repeats) per observation:

1. conjugate, :math:`s_n \to \bar s_n` (``conjugate``): NIfTI-MRS stores FIDs
   so that, for a nucleus with positive gyromagnetic ratio, a higher chemical
   shift turns clockwise (the Levitt convention of the standard's Appendix A);
   after conjugation NumPy's FFT puts higher chemical shifts at higher
   frequencies;
2. before every FFT: halve the first point (counted once, not twice, by the
   discrete transform of a one-sided signal; removes a baseline offset) and
   apply the optional exponential line broadening
   :math:`\exp(-\pi\,\mathrm{LB}\,n\Delta t)`, which widens each Lorentzian
   line by LB Hz (full width at half maximum);
3. repeats of one observation: frequency alignment to their mean and a
   zero-order phase within ±90° of it (:mod:`.alignment`, :mod:`.phasing`),
   then their mean;
4. observations: frequency alignment to the data set's mean magnitude
   spectrum (``align="auto"``; :mod:`.alignment`);
5. FFT; frequencies :math:`f_k` as ``numpy.fft.fftfreq``, chemical shift
   :math:`\delta_k = f_k / \mathrm{SF} + \delta_\mathrm{ref}` with SF in MHz;
6. a common zero- and first-order phase, then a per-spectrum zero-order
   refinement within ±90° that never inverts a spectrum (``phase="auto"``;
   :mod:`.phasing`);
7. a noise variance from signal-free points (:mod:`.noise`);
8. crop to ``ppm_range``, else (``crop="auto"``) to the nucleus's metabolite
   range, in decreasing chemical shift; real part, float64.

Alignment and phases are estimated over the kept window (the whole spectrum
when nothing is cropped). The FIDs are held once in complex64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft

from ..dataset import Axis
from .alignment import estimate_shifts, shift_fids
from .errors import DataFormatError
from .noise import BLOCK_POINTS, noise_from_region, noise_from_tail, noise_region
from .nuclei import canonical_nucleus, metabolite_range, signal_range
from .phasing import common_phase, principal_spectrum, refine_zero_order
from .water import WATER_BAND_PPM
from .water import remove_water as water_lines_removed

__all__ = ["SpectraResult", "fids_to_spectra", "zero_order_phase"]

#: Largest frequency shift searched by the alignment, ppm (B0 offsets scale with the field, so ppm fit every nucleus).
MAX_SHIFT_PPM = 0.25


@dataclass
class SpectraResult:
    """Spectra made from FIDs.

    Attributes
    ----------
    X : ndarray of shape (K, L)
        Real spectra, float64, one column per observation, rows in decreasing shift.
    rows : Axis
        The spectral axis: ppm (when SF and dwell time are known), Hz (dwell
        time only) or frequency index.
    steps : list of str
        What was done, for the description.
    noise_var : float or None
        Noise variance of X measured on signal-free points (None: not measured).
    noise_note : str
        Where ``noise_var`` came from.
    shifts_hz : ndarray of shape (L,) or None
        Frequency offset removed from each observation by the alignment.
    phases : ndarray of shape (L,) or None
        Total zero-order phase (radians) applied to each observation at 0 Hz.
    """

    X: np.ndarray
    rows: Axis
    steps: list[str] = field(default_factory=list)
    noise_var: float | None = None
    noise_note: str = ""
    shifts_hz: np.ndarray | None = None
    phases: np.ndarray | None = None


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


def _window(values, order, lo, hi):
    return order[(values[order] >= lo) & (values[order] <= hi)]


class _Transform:
    """FFT of the working FIDs with the first point halved and the apodization applied."""

    def __init__(self, n_t: int, dwell: float | None, line_broadening_hz: float):
        weights = np.ones(n_t, dtype=np.float64)
        if line_broadening_hz > 0:
            weights *= np.exp(-np.pi * line_broadening_hz * np.arange(n_t) * dwell)
        weights[0] *= 0.5
        self.weights = weights
        self._w32 = weights.astype(np.float32)[:, None]

    @property
    def power_ratio(self) -> float:
        """Noise power of the apodized transform over that of the plain one (first point halved only)."""
        plain = float(self.weights.size) - 0.75
        return float(np.sum(self.weights**2)) / plain

    def plain(self, work: np.ndarray) -> np.ndarray:
        """FFT with the first point halved and no apodization."""
        halved = work.copy()
        halved[0] *= 0.5
        return scipy.fft.fft(halved, axis=0, overwrite_x=True)

    def __call__(self, work: np.ndarray, rows=None) -> np.ndarray:
        spectra = scipy.fft.fft(work * self._w32, axis=0, overwrite_x=True)
        return spectra if rows is None else spectra[rows]


def _windows(work, transform, values, order, unit, nucleus, ppm_range, crop, metabolites):
    """The kept window, the window the alignment and phases are estimated on, and what the description says.

    The kept window is ``ppm_range``, else (``crop="auto"``) the nucleus's
    metabolite range, else everything. Estimates use the kept window, except
    that without a crop the metabolite range is used when known. When the
    strongest line lies outside the metabolite range, 10 times higher than
    any inside it (0.3 ppm clear of its edges; an unsuppressed water reference), the nucleus's signal range
    is used instead, for both.
    """
    if ppm_range is not None:
        keep = _window(values, order, *ppm_range)
        return keep, keep, [f"cropped to {ppm_range[0]:g} to {ppm_range[1]:g} ppm"]
    if metabolites is None:
        return order, order, []
    inside = _window(values, order, *metabolites)
    signals = signal_range(nucleus)
    if signals is not None:
        strongest = np.argsort(-np.abs(work[0]))[:16]  # a few strong observations are enough to see where lines are
        magnitude = np.abs(transform(work[:, strongest])).mean(axis=1)
        outside = np.setdiff1d(_window(values, order, *signals), inside)
        core = _window(values, order, metabolites[0] + 0.3, metabolites[1] - 0.3)  # clear of outside lines' tails
        core = core if core.size else inside
        if outside.size and magnitude[outside].max() > 10.0 * magnitude[core].max():
            wide = _window(values, order, *signals)
            top = float(values[outside[np.argmax(magnitude[outside])]])
            note = (f"the strongest line ({top:.3g} ppm) lies outside the {nucleus} metabolite range, 10 times "
                    f"higher than any inside (a water reference?), so the {nucleus} signal range {signals[0]:g} to "
                    f"{signals[1]:g} ppm was used")
            if crop == "auto":
                return wide, wide, [note.replace("was used", "was kept")]
            return order, wide, [note]
    if crop == "auto":
        return inside, inside, [f"cropped to the {nucleus} metabolite range {metabolites[0]:g} to "
                                f"{metabolites[1]:g} ppm"]
    return order, inside, []


def _align(work, transform, est, max_lag, step_hz, dwell_or_1, groups: int):
    """Align columns of ``work`` (n_t, N) to the mean magnitude of their group (N = G * groups... see caller)."""
    total = np.zeros(work.shape[1])
    for _ in range(2):
        magnitude = np.abs(transform(work, est))
        if groups > 1:
            reference = np.repeat(magnitude.reshape(magnitude.shape[0], -1, groups).mean(axis=2), groups, axis=1)
        else:
            reference = magnitude.mean(axis=1)
        shifts = estimate_shifts(magnitude, reference, max_lag)
        offsets = -shifts * step_hz  # est is in decreasing frequency: +1 point = 1 step lower
        shift_fids(work, offsets, dwell_or_1)
        total += offsets
    return total


def _describe_shifts(offsets: np.ndarray, unit: str) -> str:
    return (f"shifts {offsets.min():+.3g} to {offsets.max():+.3g} {unit}, median |shift| "
            f"{np.median(np.abs(offsets)):.3g} {unit}")


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
    n_average: int = 1,
    crop: str = "auto",
    align: str = "auto",
    conjugate: bool = True,
    nucleus: str | None = None,
    acquisition_delay: float | None = None,
    remove_water: bool = False,
) -> SpectraResult:
    """Turn stored FIDs into real, phased spectra (see the module docstring for the steps).

    Parameters
    ----------
    stored : complex ndarray of shape (n_t, ...)
        FIDs as stored, time first; the remaining axes are the observations
        (flattened in C order), the last of them ``n_average`` acquisitions
        per observation to be averaged. May be a strided or byte-swapped view
        of a file's buffer: it is read once.
    filename : str
        Name used in messages.
    dwell : float or None
        Dwell time in seconds; None gives a frequency-index axis.
    sf : float or None
        Spectrometer frequency in MHz; None gives a Hz axis.
    reference : float
        Chemical shift of the spectrometer frequency (the centre of the spectrum), ppm.
    ppm_range : (float, float) or None
        Window to keep (needs ``dwell`` and ``sf``).
    line_broadening_hz : float
        Exponential line broadening in Hz (needs ``dwell``).
    phase : {"auto", "zero_order", "none"}
        Common zero- and first-order phase plus per-spectrum refinement, the
        common zero-order phase only, or none.
    scale : float
        Factor applied to the data (a NIfTI ``scl_slope``).
    n_average : int
        Acquisitions per observation (the trailing entries of the flattened
        observations), aligned and averaged.
    crop : {"auto", "none"}
        Without ``ppm_range``: crop to the nucleus's metabolite range or not.
    align : {"auto", "none"}
        Frequency alignment of repeats and observations.
    conjugate : bool
        Conjugate the stored FIDs (the NIfTI-MRS convention).
    nucleus : str or None
        Resonant nucleus, for the default crop, the windows and the noise region.
    acquisition_delay : float or None
        Seconds from the echo (or excitation) to the first point, for the
        first-order phase; None: estimated.
    remove_water : bool
        Subtract the residual water line (HLSVD, :mod:`gppnmf_core.io.water`) before
        anything else; needs a ppm axis.

    Returns
    -------
    SpectraResult
        ``X`` of shape (K, L) with K the kept points.
    """
    n_t = stored.shape[0]
    if dwell is not None and not n_t * dwell > 0:  # e.g. a dwell time so small that it rounds to 0 s
        raise DataFormatError(f"{filename}: the dwell time ({dwell:g} s) is too small to give a spectral axis; "
                              f"check it (give the dwell time in µs under 'How to read the file')")
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
    steps: list[str] = []
    nucleus = canonical_nucleus(nucleus)
    order = np.argsort(-values, kind="stable")
    metabolites = metabolite_range(nucleus) if unit == "ppm" else None
    if metabolites is not None and _window(values, order, *metabolites).size < 16:
        steps.append(f"the {nucleus} metabolite range {metabolites[0]:g} to {metabolites[1]:g} ppm lies outside "
                     f"the spectrum, so it was not used")
        metabolites = None
    if ppm_range is not None:
        keep = _window(values, order, *ppm_range)
        if keep.size < 2:
            lo, hi = ppm_range
            raise DataFormatError(
                f"{filename}: ppm_range ({lo:g}, {hi:g}) keeps {keep.size} point(s) of the spectrum, which spans "
                f"{values.min():.4g} to {values.max():.4g} ppm; choose a wider range inside it"
            )

    work = np.empty(stored.shape, dtype=np.complex64)
    if conjugate:
        np.conjugate(stored, out=work)
        steps.append("conjugated (NIfTI-MRS convention)")
    else:
        np.copyto(work, stored)
        steps.append("not conjugated (as the options ask)")
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
    if remove_water and unit != "ppm":
        raise DataFormatError(f"{filename}: removing the water line needs a ppm axis, which needs the dwell time "
                              f"and the spectrometer frequency; give them or keep the water")
    transform = _Transform(n_t, dwell, line_broadening_hz)
    keep, est, window_steps = _windows(work, transform, values, order, unit, nucleus, ppm_range, crop, metabolites)
    window_note = (f"{values[est].min():.3g} to {values[est].max():.3g} {unit}" if unit else "the whole spectrum")
    steps.append("first point halved")
    if line_broadening_hz > 0:
        steps.append(f"{line_broadening_hz:g} Hz exponential line broadening")

    step_hz = 1.0 / (n_t * dwell) if dwell is not None else 1.0 / n_t
    dwell_or_1 = dwell if dwell is not None else 1.0
    hz_unit = "Hz" if dwell is not None else "cycles/point"
    if unit == "ppm":
        max_lag = int(np.ceil(MAX_SHIFT_PPM * sf / step_hz))
    else:
        max_lag = max(2, int(0.05 * est.size))
    n_average = max(1, int(n_average))
    shifts = None
    if n_average > 1:
        if align == "auto":
            offsets = _align(work, transform, est, max_lag, step_hz, dwell_or_1, n_average)
            spectra = transform(work, est)
            group_mean = spectra.reshape(spectra.shape[0], -1, n_average).mean(axis=2)
            c = np.einsum("kg,kga->ga", np.conj(group_mean), spectra.reshape(spectra.shape[0], -1, n_average))
            with np.errstate(divide="ignore", invalid="ignore"):
                rotation = np.nan_to_num(np.arctan(c.imag / c.real)).ravel()
            work *= np.exp(-1j * rotation).astype(np.complex64)
            steps.append(f"the {n_average} repeats of each observation aligned to their mean in frequency "
                         f"(cross-correlation of magnitude spectra over {window_note}; "
                         f"{_describe_shifts(offsets, hz_unit)}) "
                         f"and in zero-order phase (within ±90°, so none is inverted), then averaged")
        else:
            steps.append(f"the {n_average} repeats of each observation averaged")
        work = work.reshape(n_t, -1, n_average).mean(axis=2)
    L = work.shape[1]
    if align == "auto" and L > 1:
        shifts = _align(work, transform, est, max_lag, step_hz, dwell_or_1, 1)
        steps.append(f"frequency alignment of each spectrum to the data set's mean (cross-correlation of magnitude "
                     f"spectra over {window_note}, sub-point shifts applied in the time domain as a linear phase; "
                     f"{_describe_shifts(shifts, hz_unit)})")
    elif align == "none" and L > 1:
        steps.append("no frequency alignment")

    phase_source = None
    if remove_water:  # after alignment; the phase is still measured with the water line, the acquisition's own
        phase_source = transform(work, est)
        cleaned, removed = water_lines_removed(work, dwell, sf, reference)
        work = cleaned.astype(np.complex64)
        keep, _, window_steps = _windows(work, transform, values, order, unit, nucleus, ppm_range, crop, metabolites)
        steps.append(f"residual water removed by HLSVD (damped exponentials between {WATER_BAND_PPM[0]:g} and "
                     f"{WATER_BAND_PPM[1]:g} ppm subtracted from the FIDs: {100 * removed:.1f} % of their energy)")
    spectra = transform(work)
    steps.append("FFT")
    freqs = np.fft.fftfreq(n_t, d=dwell_or_1)
    total_phase = np.zeros(L)
    row_factor = np.ones(n_t, dtype=np.complex128)
    column_factor = np.ones(L, dtype=np.complex128)
    if phase in ("auto", "zero_order"):
        R = principal_spectrum(spectra[est] if phase_source is None else phase_source)
        common = common_phase(R, freqs[est], dwell, acquisition_delay, first_order=phase == "auto")
        row_factor = common.factor(freqs)
        spectra *= row_factor[:, None].astype(np.complex64)
        total_phase += common.phi0
        steps.append(f"common phase of the data set {np.degrees(common.phi0):.1f}° ({common.how})")
        if phase == "auto" and L > 1:
            refined, flip = refine_zero_order(spectra[est], R * common.factor(freqs[est]))
            if flip:  # most of the signal energy pointed down: the data set's sign was the other one
                refined = refined + np.pi
                steps.append("the data set's sign set so that most of its signal energy is upright")
            column_factor = np.exp(-1j * refined)
            spectra *= column_factor.astype(np.complex64)[None, :]
            total_phase += refined
            steps.append(f"per-spectrum zero-order refinement within ±90° of the common phase, so no spectrum is "
                         f"inverted ({np.degrees(refined.min()):+.1f}° to {np.degrees(refined.max()):+.1f}°)")
    else:
        steps.append("no phase correction")

    noise_var, noise_note = None, ""
    signals = signal_range(nucleus) if unit == "ppm" else None
    if signals is not None:
        excluded = [signals]
        region = noise_region(freqs, values, excluded)
        positions = np.flatnonzero(region[order])
        if positions.size:
            runs = np.split(order[positions], np.flatnonzero(np.diff(positions) != 1) + 1)
            if line_broadening_hz > 0:  # measured where the noise is white, scaled by the apodization's power
                plain = transform.plain(work)
                measured = noise_from_region([(plain[r] * row_factor[r, None] * column_factor).real for r in runs])
                noise_var = None if measured is None else measured * transform.power_ratio
            else:
                noise_var = noise_from_region([spectra[r].real for r in runs])
        if noise_var is not None:
            noise_note = (f"measured on the real part of the spectra at {positions.size} signal-free points each, "
                          f"outside {signals[0]:g} to {signals[1]:g} ppm (where {nucleus} signals lie) in the "
                          f"central part of the band, each run of {BLOCK_POINTS} points detrended"
                          + (", before the line broadening, times its noise power ratio "
                             f"{transform.power_ratio:.3g}" if line_broadening_hz > 0 else ""))
    if noise_var is None:
        noise_var = noise_from_tail(work, transform.weights)
        if noise_var is not None:
            noise_note = "predicted from the variance of the last eighth of the FIDs"

    steps += window_steps
    X = spectra[keep].real.astype(np.float64)
    steps.append("real part")
    rows_axis = Axis(values[keep].astype(np.float64), label=label, unit=unit, reversed=unit in ("ppm", "Hz"))
    return SpectraResult(X=X, rows=rows_axis, steps=steps, noise_var=noise_var, noise_note=noise_note,
                         shifts_hz=shifts, phases=total_phase)
