r"""Phase correction of a data set of spectra: one common zero- and first-order phase, then a
per-spectrum zero-order refinement that never inverts a spectrum.

1. **Principal spectrum.** The spectra of the data set (columns of S over the
   estimation window) share a line shape up to a complex factor each (an
   amplitude, a sign and a receiver phase). The first left singular vector R
   of S, found by power iteration (:math:`c = S^H R`, :math:`R \leftarrow S c`),
   adds them coherently whatever their phases and signs.
2. **Common phase.** At the top of a Lorentzian line the spectrum is pure
   absorption, so the phase there is the zero-order phase plus the
   first-order phase :math:`2\pi f \tau` of an acquisition delay τ. The tops
   are the local maxima of :math:`|R|` (which does not depend on the phase).
   For each delay τ of a grid (−1 to 3 ms, steps of 1/32 dwell time),
   :math:`\varphi_0(\tau) = \arg \sum_p R_p e^{-2\pi i f_p \tau}` makes the
   tops upright; τ is the delay whose phased real part, less its median (the
   offset that the points lost to the delay leave), has the least negative
   energy :math:`\sum \min(\mathrm{Re}, 0)^2 / \sum \mathrm{Re}^2` (within
   0.001 of the least counts as a tie; ties go to the smallest
   :math:`|\tau|`; a delay that does not halve the negative energy of τ = 0
   is not believed: spectra dominated by one line say nothing about τ), or
   ``AcquisitionStartTime`` when the header gives it.
   :math:`\varphi_0` is then refined within ±10° to the least negative energy
   (the tops' phase is biased by the tails of overlapping lines).
3. **Refinement.** Each spectrum's own zero-order phase relative to the
   phased principal spectrum, :math:`\arg \sum_k \bar R_k S_k`, taken modulo
   π into (−90°, 90°): a spectrum whose lines point the other way (an
   inversion-recovery series, a negated voxel) keeps its sign. A spectrum
   whose receiver phase differs from the data set's by more than 90° cannot be
   told from an inverted one and is kept inverted. The data set's sign (the
   principal spectrum's is arbitrary) is the one that leaves most of the
   signal energy upright.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CommonPhase", "principal_spectrum", "common_phase", "refine_zero_order"]

_MAX_TOPS = 24
#: Delays whose negative energy is within this of the least are ties (the smallest |delay| wins).
_NEGATIVE_TOLERANCE = 1e-3


@dataclass
class CommonPhase:
    """The data set's phase: :math:`\\varphi(f) = \\varphi_0 + 2\\pi f \\tau`.

    Attributes
    ----------
    phi0 : float
        Zero-order phase, radians.
    tau : float
        Delay of the first point, seconds (or dwell units when the dwell time
        is unknown); 0 for no first-order phase.
    how : str
        How they were found, for the description.
    """

    phi0: float
    tau: float
    how: str

    def factor(self, freqs: np.ndarray) -> np.ndarray:
        """:math:`e^{-i\\varphi(f)}` for the given frequencies (complex128)."""
        return np.exp(-1j * (self.phi0 + 2.0 * np.pi * freqs * self.tau))


def principal_spectrum(spectra: np.ndarray, iterations: int = 6) -> np.ndarray:
    """First left singular vector of the spectra (power iteration from the strongest column).

    Parameters
    ----------
    spectra : complex ndarray of shape (K, N)

    Returns
    -------
    complex128 ndarray of shape (K,)
        Unit norm; its global phase is the weighted mean of the spectra's
        phases taken modulo π (half the argument of the sum of c_n squared), so the
        refinement relative to it is centred on the data set, inverted
        spectra included.
    """
    energy = np.einsum("kn,kn->n", spectra.real, spectra.real) + np.einsum("kn,kn->n", spectra.imag, spectra.imag)
    R = spectra[:, int(np.argmax(energy))].astype(np.complex128)
    for _ in range(iterations):
        norm = np.linalg.norm(R)
        if norm == 0:
            break
        c = np.conj(np.conj(R / norm).astype(spectra.dtype) @ spectra)  # (N,): S^H R without a transposed copy
        R = (spectra @ c).astype(np.complex128)
    norm = np.linalg.norm(R)
    if norm == 0:
        return R
    R = R / norm
    c = (np.conj(R).astype(spectra.dtype) @ spectra).astype(np.complex128)  # c_n = R^H S_n
    axial = np.sum(c.astype(np.complex128) ** 2)  # phases modulo pi, so inverted spectra count with the others
    return R * np.exp(0.5j * np.angle(axial)) if axial != 0 else R


def _tops(magnitude: np.ndarray) -> np.ndarray:
    """Indices of the strongest local maxima (at most _MAX_TOPS, each >= 5 % of the highest)."""
    inner = (magnitude[1:-1] > magnitude[:-2]) & (magnitude[1:-1] >= magnitude[2:])
    tops = np.flatnonzero(inner) + 1
    if tops.size == 0:
        return tops
    heights = magnitude[tops]
    tops = tops[heights >= 0.05 * heights.max()]
    return tops[np.argsort(-magnitude[tops])[:_MAX_TOPS]]


def common_phase(R: np.ndarray, freqs: np.ndarray, dwell: float | None, delay: float | None = None,
                 first_order: bool = True) -> CommonPhase:
    """Zero- and first-order phase of the principal spectrum (see the module docstring).

    Parameters
    ----------
    R : complex ndarray of shape (K,)
        Principal spectrum over the estimation window.
    freqs : ndarray of shape (K,)
        Frequency of each point, Hz (cycles per point when ``dwell`` is None).
    dwell : float or None
        Seconds between FID points; sets the range of delays searched.
    delay : float or None
        Known delay (``AcquisitionStartTime``), used instead of a search.
    first_order : bool
        False: zero-order only.

    Returns
    -------
    CommonPhase
    """
    tops = _tops(np.abs(R))
    if tops.size == 0:
        total = R.sum()
        return CommonPhase(float(np.angle(total)) if total != 0 else 0.0, 0.0,
                           "zero-order from the integral (no peak found)")
    values, f = R[tops], freqs[tops]
    if not first_order:
        return CommonPhase(float(np.angle(values.sum())), 0.0,
                           f"zero-order from the phase at the tops of {tops.size} peak(s)")
    if delay is not None:
        tau, how = float(delay), f"first order from AcquisitionStartTime {delay * 1e3:.4g} ms"
    elif tops.size < 2:
        tau, how = 0.0, "no first-order phase (a single peak)"
    else:
        step = dwell if dwell is not None else 1.0
        lo, hi = (-1e-3, 3e-3) if dwell is not None else (-2.0, 6.0)
        lo, hi = min(lo, -2 * step), max(hi, 4 * step)
        grid = np.append(0.0, np.arange(lo, hi + step / 32, step / 32))
        grid = grid[np.argsort(np.abs(grid), kind="stable")]  # ties go to the smallest delay; grid[0] = 0
        rotations = np.exp(-2j * np.pi * np.outer(grid, f))  # (G, P)
        phi0s = np.angle(rotations @ values)  # (G,): the tops upright for each delay
        negative = np.empty(grid.size)
        for start in range(0, grid.size, 64):
            part = slice(start, start + 64)
            real = (R[None, :] * np.exp(-1j * (phi0s[part, None] + 2.0 * np.pi * np.outer(grid[part], freqs)))).real
            negative[part] = _negative_energy(real - np.median(real, axis=1, keepdims=True))
        best = negative.min()
        if best < 0.5 * negative[0]:  # a delay must halve the negative energy of none to be believed
            tau = float(grid[int(np.argmax(negative <= best + _NEGATIVE_TOLERANCE))])
        else:
            tau = 0.0
        unit = "ms" if dwell is not None else "points"
        shown = tau * 1e3 if dwell is not None else tau
        how = (f"first order estimated as a delay of {shown:.3g} {unit} (least negative area of the real part, "
               f"the tops of {tops.size} peaks of the principal spectrum upright)")
    phi0 = float(np.angle(np.sum(values * np.exp(-2j * np.pi * f * tau))))
    phi0 = _refine_phi0(R * np.exp(-2j * np.pi * freqs * tau), phi0)
    return CommonPhase(phi0, tau, how + "; zero order refined to the least negative area within ±10°")


def _negative_energy(real: np.ndarray) -> np.ndarray:
    """sum(min(Re, 0)^2) / sum(Re^2) along the last axis."""
    total = np.sum(real**2, axis=-1)
    return np.sum(np.minimum(real, 0.0) ** 2, axis=-1) / np.where(total > 0, total, 1.0)


def _refine_phi0(R: np.ndarray, phi0: float) -> float:
    """The zero-order phase within ±10° of ``phi0`` (0.25° steps) with the least negative energy of Re(R e^{-i phi}).

    A spectrum that stays positive over a range of phases (lines on a positive
    offset) ties over that range; the middle of the tied range is taken.
    """
    candidates = phi0 + np.radians(np.arange(-10.0, 10.001, 0.25))
    energy = _negative_energy((R[None, :] * np.exp(-1j * candidates)[:, None]).real)
    tied = np.flatnonzero(energy <= energy.min() * (1.0 + 1e-9))
    return float(np.angle(np.exp(1j * candidates[tied[tied.size // 2]])))


def refine_zero_order(spectra: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, bool]:
    """Each column's zero-order phase relative to ``reference``, within (−π/2, π/2], and the data set's sign.

    Parameters
    ----------
    spectra : complex ndarray of shape (K, N)
        Spectra after the common phase.
    reference : complex ndarray of shape (K,)
        The phased principal spectrum (upright; its sign is that of an
        arbitrary singular vector).

    Returns
    -------
    phase : ndarray of shape (N,)
        Radians; multiply column n by ``exp(-1j * phase[n])``. A column with
        no overlap with the reference gets 0.
    flip : bool
        True when most of the signal energy (columns weighted by
        :math:`|c_n|^2`; a tie goes to the strongest column) then points
        down: add π to every phase, so that the majority is upright and the
        signs of the spectra relative to each other are kept.
    """
    c = np.conj(reference) @ spectra
    with np.errstate(divide="ignore", invalid="ignore"):
        phase = np.arctan(c.imag / c.real)
    phase = np.where(np.isfinite(phase), phase, np.where(c.imag != 0, np.pi / 2, 0.0)).astype(np.float64)
    weight = np.abs(c) ** 2
    vote = float(np.sum(weight * np.sign(c.real)))
    if vote == 0.0 and c.size:
        vote = float(np.sign(c.real[int(np.argmax(weight))]))
    return phase, vote < 0
