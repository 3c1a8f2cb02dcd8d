"""A phantom of 1H-decoupled 31P chemical shift imaging of a head: peak table, geometry and generator."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validation import check_int, check_nonnegative, check_positive, check_random_state
from ..dataset import Axis, Dataset, Grid, Truth
from ..kernels import RBF
from ..links import ExponentialLink
from ..priors import GPPrior, Preset
from ._common import _fit_noise_var

__all__ = ["PEAKS_31P", "ATP_J_HZ", "GAMMA_31P_MHZ_PER_T", "Peak31P", "csi_phantom"]

#: Gyromagnetic ratio of 31P over 2 pi: 17.235 MHz per tesla (25.85 MHz at 1.5 T).
GAMMA_31P_MHZ_PER_T = 17.235

#: Scalar coupling of the ATP phosphates (alpha-beta and beta-gamma), in Hz.
ATP_J_HZ = 16.0


class Peak31P(NamedTuple):
    """One metabolite resonance of the 31P phantom.

    Attributes
    ----------
    name : str
        Metabolite, e.g. ``"PCr"``.
    ppm : float
        Chemical shift of the multiplet's centre, PCr = 0.
    multiplicity : int
        1 (singlet), 2 (doublet, lines at +-J/2, 1:1) or 3 (triplet, lines at
        -J, 0, +J, 1:2:1), with ``J = ATP_J_HZ``. Spectra are 1H-decoupled, so
        only the 31P-31P couplings of ATP split lines.
    linewidth_hz : float
        Full width at half maximum of each Lorentzian line, in Hz.
    brain : float
        Area of the whole multiplet in brain tissue, relative to PCr.
    muscle : float
        Area of the whole multiplet in muscle tissue, relative to PCr.
    """

    name: str
    ppm: float
    multiplicity: int
    linewidth_hz: float
    brain: float
    muscle: float


#: The 31P peak table of the CSI phantom (areas relative to PCr in each tissue).
#:
#: Areas are proportional to the number of phosphorus nuclei, so the ratios are
#: the usual in vivo concentration ratios: brain PCr/gamma-ATP = 1.4 with clear
#: phosphomonoester (PE, PC) and phosphodiester (GPE, GPC) peaks; muscle
#: PCr/gamma-ATP = 4 and Pi/ATP = 0.55 with little PME/PDE. Because PCr is a
#: narrow singlet and gamma-ATP a broader doublet, the *height* ratios are
#: larger than the area ratios.
PEAKS_31P = (
    Peak31P("PE", 6.76, 1, 12.0, 0.35, 0.02),
    Peak31P("PC", 6.24, 1, 12.0, 0.15, 0.01),
    Peak31P("Pi", 4.82, 1, 12.0, 0.30, 0.1375),
    Peak31P("GPE", 3.50, 1, 10.0, 0.20, 0.01),
    Peak31P("GPC", 2.95, 1, 10.0, 0.30, 0.02),
    Peak31P("PCr", 0.00, 1, 10.0, 1.00, 1.00),
    Peak31P("gamma-ATP", -2.46, 2, 14.0, 1 / 1.4, 0.25),
    Peak31P("alpha-ATP", -7.49, 2, 14.0, 1 / 1.4, 0.25),
    Peak31P("NAD", -8.25, 1, 14.0, 0.15, 0.02),
    Peak31P("beta-ATP", -16.15, 3, 18.0, 1 / 1.4, 0.25),
)

_TISSUES = ("brain", "muscle")

#: Height of the PCr peak of each true spectrum (columns of D). With the
#: paper's exponential prior of rate 1 on D (mean 1), a spectrum that is ~0
#: away from its peaks and reaches a few units at them is typical.
_PCR_HEIGHT = {"brain": 4.5, "muscle": 9.0}

#: Value of H in a voxel filled with the tissue. With sigma = 1e4 (the paper's
#: sigma^2 = 1e8) a full brain voxel's PCr peak is 4.5e4 = 4.5 sigma; a voxel
#: filled with muscle would be 9 sigma, but the muscle shell is at most about
#: one voxel thick, so muscle voxels are partial volumes. The paper's
#: lambda_H = 2e-4 (mean 5000) matches this magnitude.
_MAP_SCALE = {"brain": 1.0e4, "muscle": 1.0e4}

#: Geometry of the head, in voxels relative to the centre of the 8x8x8 grid
#: (axes: left-right, anterior-posterior, inferior-superior). The left-right
#: centre is 0, so every region is symmetric about the mid-sagittal plane.
_HEAD_CENTRE = (0.0, -0.1, -0.2)
_HEAD_SEMI_AXES = (3.3, 3.7, 3.9)
_BRAIN_CENTRE = (0.0, 0.2, 0.7)
_BRAIN_SEMI_AXES = (2.2, 2.9, 2.4)
#: Thickness of the skull (no 31P signal) between brain and muscle, in voxels.
_SKULL_THICKNESS = 0.3
_CSI_GRID = (8, 8, 8)
_CSI_GRID_NAMES = ("left-right", "anterior-posterior", "inferior-superior")
#: Sub-points per voxel and axis for partial volumes (4 x 4 x 4 = 64 per voxel).
_SUPERSAMPLE = 4


def _lorentzian_spectrum(freq_hz: np.ndarray, tissue: str, sf_mhz: float, spectral_width_hz: float) -> np.ndarray:
    """Absorption-mode spectrum of one tissue (area-normalised lines, arbitrary overall scale).

    Lines outside the spectral window fold back in, as they do in an FFT of a
    sampled FID: each line is summed over its aliases at multiples of the
    spectral width.
    """
    out = np.zeros_like(freq_hz)
    multiplets = {1: ((0.0, 1.0),), 2: ((-0.5, 0.5), (0.5, 0.5)), 3: ((-1.0, 0.25), (0.0, 0.5), (1.0, 0.25))}
    for peak in PEAKS_31P:
        area = getattr(peak, tissue)
        half = 0.5 * peak.linewidth_hz
        for offset, weight in multiplets[peak.multiplicity]:
            centre = peak.ppm * sf_mhz + offset * ATP_J_HZ
            for alias in (-2, -1, 0, 1, 2):
                d = freq_hz - (centre + alias * spectral_width_hz)
                out += area * weight * (half / np.pi) / (d * d + half * half)
    return out


def _ppm_axis(sf_mhz: float, spectral_width_hz: float, n_points: int, ppm_range) -> np.ndarray:
    """Descending ppm values of the FFT grid (PCr at the carrier) inside ``ppm_range``."""
    freq = (np.arange(n_points) - n_points // 2) * (spectral_width_hz / n_points)
    ppm = freq / sf_mhz
    keep = (ppm >= ppm_range[0]) & (ppm <= ppm_range[1])
    return ppm[keep][::-1]


def _ellipsoid_inside(points, centre, semi_axes) -> np.ndarray:
    r2 = sum(((p - c) / a) ** 2 for p, c, a in zip(points, centre, semi_axes, strict=True))
    return r2 <= 1.0


def _head_maps() -> tuple[np.ndarray, np.ndarray]:
    """Brain and muscle volume fractions on the 8x8x8 grid, exactly symmetric along axis 0.

    Each voxel is sampled at ``_SUPERSAMPLE**3`` sub-points; a fraction is the
    share of its sub-points inside the tissue.

    Returns
    -------
    brain, muscle : ndarray of shape (8, 8, 8)
        Fractions in [0, 1].
    """
    s = _SUPERSAMPLE
    sub = (np.arange(s) + 0.5) / s - 0.5
    axes = [(np.arange(n)[:, None] + sub[None, :] - (n - 1) / 2.0).reshape(-1) for n in _CSI_GRID]
    points = np.meshgrid(*axes, indexing="ij")
    head = _ellipsoid_inside(points, _HEAD_CENTRE, _HEAD_SEMI_AXES)
    brain = _ellipsoid_inside(points, _BRAIN_CENTRE, _BRAIN_SEMI_AXES)
    skull = _ellipsoid_inside(points, _BRAIN_CENTRE, tuple(a + _SKULL_THICKNESS for a in _BRAIN_SEMI_AXES))
    muscle = head & ~skull

    def voxel_fraction(mask):
        blocks = mask.reshape(_CSI_GRID[0], s, _CSI_GRID[1], s, _CSI_GRID[2], s)
        # Counts of sub-points, so the fractions are exact; the sub-point coordinates
        # are dyadic and mirror to exactly -x, so a geometry centred at x = 0 gives
        # bit-for-bit symmetric maps.
        return blocks.sum(axis=(1, 3, 5)) / float(s**3)

    return voxel_fraction(brain & head), voxel_fraction(muscle)


def csi_phantom(
    random_state=None,
    *,
    noise_var: float = 1e8,
    field_strength_tesla: float = 1.5,
    spectral_width_hz: float = 2000.0,
    n_points: int = 1024,
    ppm_range: tuple[float, float] = (-20.0, 10.0),
) -> Dataset:
    r"""A realistic phantom of 1H-decoupled 31P chemical shift imaging of a human head.

    Two sources, brain and muscle. Their spectra (columns of ``D``) are sums of
    Lorentzian absorption lines from :data:`PEAKS_31P` on the FFT grid of the
    acquisition, cropped to ``ppm_range``; their maps (rows of ``H``) are the
    volume fractions of an ellipsoidal head on an 8x8x8 grid, brain in the core
    and muscle in a shell that is thicker laterally and inferiorly, exactly
    left-right symmetric, with partial volumes from supersampling each voxel
    and noise-only voxels outside the head. The data are

    .. math:: X = D H + \sigma \varepsilon, \qquad \varepsilon \sim N(0, I), \quad \sigma^2 = \text{noise\_var}.

    Scale: the brain spectrum's PCr peak is 4.5 and the muscle's 9 (suiting
    the paper's prior lambda_D = 1); a voxel full of either tissue has
    ``H = 1e4`` (suiting lambda_H = 2e-4), so with the default noise a full
    brain voxel's PCr peak is 4.5 sigma above the noise and about half of the
    entries of X are negative.

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator
        Seed or generator for the noise.
    noise_var : float, default 1e8
        Noise variance sigma^2 (>= 0); the paper's value is 1e8.
    field_strength_tesla : float, default 1.5
        B0; the 31P frequency is 17.235 MHz/T times this (25.85 MHz at 1.5 T).
        Linewidths and J couplings are kept in Hz.
    spectral_width_hz : float, default 2000.0
        Spectral width (1 / dwell time) of the acquisition.
    n_points : int, default 1024
        Number of acquired points, i.e. of points of the full spectrum.
    ppm_range : (float, float), default (-20.0, 10.0)
        Chemical-shift window kept, PCr = 0 at the carrier frequency.

    Returns
    -------
    Dataset
        ``X`` of shape (K, 512) with K spectral points (397 with the defaults);
        ``rows`` is the ppm axis in descending order, drawn reversed;
        ``cols`` the (8, 8, 8) grid flattened in C order (left-right slowest).
        ``truth.D`` of shape (K, 2), ``truth.H`` of shape (2, 512), names
        ``("brain", "muscle")``. Preset ``"paper"`` holds the paper's settings,
        ``"no_symmetry"`` the same without the left-right symmetry.

    Examples
    --------
    >>> from gppnmf_core import datasets
    >>> data = datasets.csi_phantom(random_state=0)
    >>> data.X.shape
    (397, 512)
    """
    rng = check_random_state(random_state)
    noise_var = check_nonnegative(noise_var, "noise_var")
    field_strength_tesla = check_positive(field_strength_tesla, "field_strength_tesla")
    spectral_width_hz = check_positive(spectral_width_hz, "spectral_width_hz")
    n_points = check_int(n_points, "n_points", minimum=8)
    ppm_range = _check_range(ppm_range, "ppm_range")

    sf_mhz = GAMMA_31P_MHZ_PER_T * field_strength_tesla
    ppm = _ppm_axis(sf_mhz, spectral_width_hz, n_points, ppm_range)
    if ppm.size < 2:
        raise ValueError(
            f"ppm_range {ppm_range} keeps {ppm.size} point(s) of the spectral window "
            f"+-{spectral_width_hz / 2 / sf_mhz:.3g} ppm; widen ppm_range or spectral_width_hz"
        )

    freq = ppm * sf_mhz
    pcr = np.zeros(1)
    columns = []
    for tissue in _TISSUES:
        spectrum = _lorentzian_spectrum(freq, tissue, sf_mhz, spectral_width_hz)
        # Normalise by the height at exactly 0 ppm, so the scale does not depend on the grid.
        height = _lorentzian_spectrum(pcr, tissue, sf_mhz, spectral_width_hz)[0]
        columns.append(spectrum * (_PCR_HEIGHT[tissue] / height))
    D = np.stack(columns, axis=1)

    brain, muscle = _head_maps()
    H = np.stack([brain.reshape(-1) * _MAP_SCALE["brain"], muscle.reshape(-1) * _MAP_SCALE["muscle"]])
    X0 = D @ H
    X = X0 + np.sqrt(noise_var) * rng.standard_normal(X0.shape)
    fit_var = _fit_noise_var(noise_var, X0)

    prior_D = GPPrior(RBF(beta=0.3), ExponentialLink(lam=1.0), coords=ppm)
    presets = {
        "paper": Preset(
            prior_D,
            GPPrior(RBF(beta=2.0), ExponentialLink(lam=2e-4), grid=_CSI_GRID, mirror_axis=0),
            1e8,
            "The paper's settings: RBF beta = 0.3 ppm and exponential link (lambda = 1) on "
            "the spectra; RBF beta = 2 voxels, exponential link (lambda = 2e-4) and "
            "left-right symmetry on the maps; noise variance 1e8.",
        ),
        "no_symmetry": Preset(
            prior_D,
            GPPrior(RBF(beta=2.0), ExponentialLink(lam=2e-4), grid=_CSI_GRID),
            1e8,
            "The paper's settings without the left-right symmetry of the maps.",
        ),
    }
    description = (
        "A phantom of 1H-decoupled 31P chemical shift imaging of a head: 512 spectra on an "
        "8x8x8 grid mixing a brain spectrum (PCr/ATP about 1.4, clear PME and PDE peaks) and a "
        "muscle spectrum (PCr/ATP about 4) in a shell around it. The noise is so strong that "
        "about half of the data are negative: LS-NMF has to clip them and CNMF struggles, while "
        "GPP-NMF with the paper's smooth, symmetric prior recovers both spectra and maps. Try "
        "dropping the symmetry or raising the noise variance."
    )
    return Dataset(
        name="csi_phantom",
        title="31P CSI phantom (brain and muscle)",
        X=X,
        rows=Axis(ppm, label="chemical shift", unit="ppm", reversed=True),
        cols=Grid(_CSI_GRID, names=_CSI_GRID_NAMES, unit="voxel"),
        truth=Truth(D=D, H=H, X0=X0, names=_TISSUES),
        noise_var=fit_var,
        rank=2,
        description=description,
        presets=presets,
    )


def _check_range(value, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of numbers, got {value!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise ValueError(f"{name} must be a finite pair with low < high, got {value!r}")
    return lo, hi
