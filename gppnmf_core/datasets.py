r"""Built-in data sets: the paper's toy example, a 31P CSI phantom and two classroom examples.

Every generator returns a :class:`~gppnmf_core.dataset.Dataset` in the one
orientation used throughout the package,

.. math:: X \approx D H, \qquad X \in \mathbb{R}^{K \times L},\ D \in \mathbb{R}_+^{K \times M},\
          H \in \mathbb{R}_+^{M \times L},

with rows = features (spectral points, hours, pixels) and columns =
observations (voxels, days, frames). Grids are flattened in C order (the first
axis varies slowest). Each data set knows its truth (``D``, ``H`` and
``X0 = D @ H``), a suggested noise variance, a rank, a short description for
teachers and students, and named prior presets.

Every generator takes ``random_state`` (None, an int or a
``numpy.random.Generator``), normalises it once and draws everything from that
one generator, so a seed gives the same data set every time. All arrays are
float64.

========================  ===========================================================
``paper_toy``             Schmidt & Laurberg's toy example: GP factors, noise variance 25
``csi_phantom``           1H-decoupled 31P chemical shift imaging of a head, 8x8x8 voxels
``factories``             three factories' discharge profiles, one column per day
``calcium_imaging``       a movie of glowing cells, pixels x frames
========================  ===========================================================
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np
from scipy.signal import lfilter

from ._validation import check_int, check_nonnegative, check_positive, check_random_state
from .dataset import Axis, Dataset, Grid, Truth
from .kernels import RBF, Exponential, White
from .links import ExponentialLink, RectifiedGaussianLink
from .priors import GPPrior, Preset

__all__ = [
    "NAMES",
    "PEAKS_31P",
    "ATP_J_HZ",
    "GAMMA_31P_MHZ_PER_T",
    "Peak31P",
    "FACTORY_PROFILES",
    "paper_toy",
    "csi_phantom",
    "factories",
    "calcium_imaging",
    "load",
]

#: Names accepted by :func:`load`, in the order a picker should list them.
NAMES = ("paper_toy", "csi_phantom", "factories", "calcium_imaging")

#: When a data set is generated without noise, the suggested noise variance for
#: fitting is this fraction of the mean square of the noise-free data (a fit
#: needs sigma^2 > 0).
_NOISE_FLOOR_FRACTION = 1e-3


def _fit_noise_var(noise_var: float, X0: np.ndarray) -> float:
    """The noise variance to suggest for fitting: ``noise_var``, floored above 0."""
    floor = _NOISE_FLOOR_FRACTION * float(np.mean(X0 * X0))
    return float(max(noise_var, floor, np.finfo(np.float64).tiny))


# --------------------------------------------------------------------------------------
# 1. The paper's toy example
# --------------------------------------------------------------------------------------


def paper_toy(
    random_state=None,
    *,
    K: int = 100,
    L: int = 200,
    rank: int = 2,
    beta: float = 10.0,
    noise_var: float = 25.0,
) -> Dataset:
    r"""The toy example of Schmidt & Laurberg (2008): both factors drawn from GP priors.

    The columns of ``D`` are drawn from a GP with the RBF kernel
    ``exp(-r^2 / beta^2)`` through the rectified-Gaussian link (scale 1), the
    rows of ``H`` from the same kernel through the exponential link (rate 1):

    .. math::

        D_{:, m} = f_{RG}^{-1}(C_D \delta_m), \quad H_{m, :} = f_{E}^{-1}(C_H \eta_m), \quad
        X = D H + \sigma \varepsilon, \quad \delta, \eta, \varepsilon \sim N(0, I).

    One generator draws ``D``, then ``H``, then the noise.

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator
        Seed or generator for all draws.
    K : int, default 100
        Number of features (rows of X).
    L : int, default 200
        Number of observations (columns of X).
    rank : int, default 2
        Number of components M, at most ``min(K, L)``.
    beta : float, default 10.0
        RBF length scale of both factors, in index units (the paper's ``beta**2 = 100``).
    noise_var : float, default 25.0
        Variance of the i.i.d. Gaussian noise (>= 0).

    Returns
    -------
    Dataset
        ``X`` of shape (K, L); ``truth.D`` of shape (K, rank), ``truth.H`` of
        shape (rank, L). Presets ``"correct"`` (the generating priors) and
        ``"incorrect"`` (links swapped, ``beta**2`` divided by 10 for D and
        multiplied by 10 for H, as in the paper).

    Examples
    --------
    >>> from gppnmf_core import datasets
    >>> data = datasets.paper_toy(random_state=0)
    >>> data.X.shape, data.rank
    ((100, 200), 2)
    """
    rng = check_random_state(random_state)
    K = check_int(K, "K")
    L = check_int(L, "L")
    rank = check_int(rank, "rank", minimum=1, maximum=min(K, L))
    beta = check_positive(beta, "beta")
    noise_var = check_nonnegative(noise_var, "noise_var")

    prior_D = GPPrior(RBF(beta=beta), RectifiedGaussianLink(s=1.0))
    prior_H = GPPrior(RBF(beta=beta), ExponentialLink(lam=1.0))
    D = prior_D.sample(rank, size=K, random_state=rng).T
    H = prior_H.sample(rank, size=L, random_state=rng)
    X0 = D @ H
    X = X0 + np.sqrt(noise_var) * rng.standard_normal((K, L))
    fit_var = _fit_noise_var(noise_var, X0)

    # The paper's incorrect prior: beta^2 = 10 for D and 1000 for H when beta^2 = 100.
    wrong_D = GPPrior(RBF(beta=float(np.sqrt(beta**2 / 10.0))), ExponentialLink(lam=1.0))
    wrong_H = GPPrior(RBF(beta=float(np.sqrt(beta**2 * 10.0))), RectifiedGaussianLink(s=1.0))
    presets = {
        "correct": Preset(
            prior_D,
            prior_H,
            fit_var,
            "The priors the data were drawn from: RBF with the true length scale, "
            "rectified-Gaussian link for D and exponential link for H.",
        ),
        "incorrect": Preset(
            wrong_D,
            wrong_H,
            fit_var,
            "The paper's incorrect prior: the links are swapped, D is given a ten times "
            "smaller beta^2 and H a ten times larger one.",
        ),
    }
    description = (
        "The toy example of Schmidt & Laurberg (2008): two smooth nonnegative components "
        "drawn from Gaussian-process priors and buried in heavy noise (variance "
        f"{noise_var:g}, so many entries of X are negative). Fit GPP-NMF with the correct "
        "prior, then switch to the incorrect prior and watch the RMSE bars grow; LS-NMF and "
        "CNMF, which know nothing of smoothness, do worse still."
    )
    return Dataset(
        name="paper_toy",
        title="Toy example (Schmidt & Laurberg 2008)",
        X=X,
        rows=Axis(np.arange(K, dtype=np.float64), label="feature index", unit=""),
        cols=Axis(np.arange(L, dtype=np.float64), label="observation index", unit=""),
        truth=Truth(D=D, H=H, X0=X0, names=tuple(f"component {m + 1}" for m in range(rank))),
        noise_var=fit_var,
        rank=rank,
        description=description,
        presets=presets,
    )


# --------------------------------------------------------------------------------------
# 2. 31P chemical shift imaging phantom
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# 3. Factories (classroom example)
# --------------------------------------------------------------------------------------

#: Hourly discharge of each factory over a 12-hour day.
FACTORY_PROFILES = np.array(
    [
        [0, 0, 9, 5, 3, 2, 1, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 3, 2, 1, 1, 0, 0, 0],
        [0, 5, 5, 6, 6, 7, 4, 2, 1, 0.5, 0, 0],
    ],
    dtype=np.float64,
).T
FACTORY_PROFILES.setflags(write=False)


def factories(random_state=None, *, n_days: int = 1000, noise_var: float = 0.0) -> Dataset:
    """Three factories discharging into a river: a classroom example of NMF.

    Each column of ``X`` is one day's hourly measurement downstream, the sum of
    the profiles of the factories that discharged that day; each factory
    discharges on a day with probability 1/2, independently.

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator
        Seed or generator for the schedule (then the noise).
    n_days : int, default 1000
        Number of days (columns of X).
    noise_var : float, default 0.0
        Variance of optional i.i.d. Gaussian noise (>= 0).

    Returns
    -------
    Dataset
        ``X`` of shape (12, n_days); ``truth.D`` of shape (12, 3) holds the
        profiles (:data:`FACTORY_PROFILES`), ``truth.H`` of shape (3, n_days)
        the 0/1 schedule. The suggested noise variance is ``noise_var``, or a
        small positive value (about 0.01) when there is no noise. Preset
        ``"smooth"``: a smooth rectified-Gaussian prior on the profiles and an
        independent exponential prior on the schedule.
    """
    rng = check_random_state(random_state)
    n_days = check_int(n_days, "n_days")
    noise_var = check_nonnegative(noise_var, "noise_var")

    D = np.array(FACTORY_PROFILES)
    H = (rng.random((3, n_days)) < 0.5).astype(np.float64)
    X0 = D @ H
    X = X0 + np.sqrt(noise_var) * rng.standard_normal(X0.shape) if noise_var > 0 else X0.copy()
    fit_var = _fit_noise_var(noise_var, X0)
    hours = np.arange(12, dtype=np.float64)

    presets = {
        "smooth": Preset(
            GPPrior(RBF(beta=1.5), RectifiedGaussianLink(s=5.0), coords=hours),
            GPPrior(White(), ExponentialLink(lam=2.0)),
            fit_var,
            "Profiles vary smoothly over the hours (RBF, beta = 1.5 h) with a half-normal "
            "marginal of scale 5; days are independent with an exponential marginal of mean "
            "0.5, the share of days a factory discharges.",
        )
    }
    description = (
        "Three factories discharge into a river; each day a random subset of them does, and "
        "each column is one day's hourly measurement downstream. Rank-3 NMF recovers the "
        "profiles and the schedule up to order and scale, but factory 3 is not identifiable: "
        "it can come out mixed with factory 2 in another exact factorization. Run several "
        "restarts and compare, then see how a prior chooses among the exact solutions."
    )
    return Dataset(
        name="factories",
        title="Factories (classroom example)",
        X=X,
        rows=Axis(hours, label="time of day", unit="h"),
        cols=Axis(np.arange(n_days, dtype=np.float64), label="day", unit="day"),
        truth=Truth(D=D, H=H, X0=X0, names=("factory 1", "factory 2", "factory 3")),
        noise_var=fit_var,
        rank=3,
        description=description,
        presets=presets,
    )


# --------------------------------------------------------------------------------------
# 4. Calcium imaging (classroom example)
# --------------------------------------------------------------------------------------


def _check_shape(shape, name: str) -> tuple[int, int]:
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise ValueError(f"{name} must be a pair (rows, columns) of positive integers, got {shape!r}")
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"{name} must be a pair (rows, columns) of positive integers, got {shape!r}")
    return int(shape[0]), int(shape[1])


def _cell_centres(rng, shape, n_cells: int, min_distance: float, margin: float) -> np.ndarray:
    """Random centres at least ``min_distance`` apart where possible (relaxed otherwise)."""
    lo = [min(margin, (n - 1) / 2.0) for n in shape]
    hi = [n - 1 - m for n, m in zip(shape, lo, strict=True)]
    centres: list[np.ndarray] = []
    distance = min_distance
    while len(centres) < n_cells:
        for _ in range(200):
            c = np.array([rng.uniform(a, b) for a, b in zip(lo, hi, strict=True)])
            if all(np.hypot(*(c - other)) >= distance for other in centres):
                centres.append(c)
                break
        else:
            distance *= 0.8  # crowded field of view: let cells overlap more
    return np.array(centres)


def calcium_imaging(
    random_state=None,
    *,
    shape=(32, 32),
    n_frames: int = 300,
    n_cells: int = 5,
    noise_var: float = 0.04,
) -> Dataset:
    r"""A movie of glowing cells, reshaped to pixels x frames: a classroom example of NMF.

    Each cell has a footprint (a column of ``D``): an elliptical Gaussian blob
    ``exp(-q)`` with radii of 2-3 pixels (``q`` the squared Mahalanobis
    distance, so the value falls to 1/e at the radius), set to 0 where below
    0.01, with peak 1. Its activity (a row of ``H``) is a sparse spike train
    (about one spike per 30-60 frames, amplitudes 0.5-1.5) convolved with an
    exponential decay of time constant 5-10 frames, on a baseline of 0.

    Parameters
    ----------
    random_state : None, int or numpy.random.Generator
        Seed or generator for all draws.
    shape : (int, int), default (32, 32)
        Image size in pixels.
    n_frames : int, default 300
        Number of frames (columns of X).
    n_cells : int, default 5
        Number of cells (the rank), at most the number of pixels and of frames.
    noise_var : float, default 0.04
        Variance of the i.i.d. Gaussian noise (>= 0); with the default
        (sigma = 0.2) a cell's brightest pixel rises 3-10 standard deviations
        above the noise when it fires, and the rims of its footprint are
        buried in the noise.

    Returns
    -------
    Dataset
        ``X`` of shape (rows * columns, n_frames); ``rows`` is the pixel grid
        (C order, image rows slowest), ``cols`` the frame axis. ``truth.D`` of
        shape (rows * columns, n_cells), ``truth.H`` of shape (n_cells, n_frames).
        Preset ``"smooth"``: smooth footprints (RBF, beta = 2 pixels) and
        rough, exponentially decaying activity (exponential kernel, beta = 8
        frames), both with exponential links whose means match the truth.
    """
    rng = check_random_state(random_state)
    shape = _check_shape(shape, "shape")
    n_frames = check_int(n_frames, "n_frames")
    n_pixels = shape[0] * shape[1]
    n_cells = check_int(n_cells, "n_cells", minimum=1, maximum=min(n_pixels, n_frames))
    noise_var = check_nonnegative(noise_var, "noise_var")

    # Footprints.
    centres = _cell_centres(rng, shape, n_cells, min_distance=6.0, margin=3.0)
    rr, cc = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    pixels = np.stack([rr.reshape(-1), cc.reshape(-1)], axis=1).astype(np.float64)
    D = np.empty((n_pixels, n_cells))
    for j, centre in enumerate(centres):
        radii = rng.uniform(2.0, 3.0, size=2)
        angle = rng.uniform(0.0, np.pi)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        local = (pixels - centre) @ rot / radii
        blob = np.exp(-np.sum(local * local, axis=1))
        blob[blob < 0.01] = 0.0
        if not np.any(blob > 0):  # a centre between pixels of a 1-pixel-wide image
            blob[np.argmin(np.sum((pixels - centre) ** 2, axis=1))] = 1.0
        D[:, j] = blob / blob.max()

    # Activity: spikes, then calcium decay c[t] = g c[t-1] + s[t].
    H = np.empty((n_cells, n_frames))
    for j in range(n_cells):
        rate = rng.uniform(1 / 60, 1 / 30)
        spikes = (rng.random(n_frames) < rate) * rng.uniform(0.5, 1.5, size=n_frames)
        if not np.any(spikes > 0):
            spikes[rng.integers(n_frames)] = rng.uniform(0.5, 1.5)
        tau = rng.uniform(5.0, 10.0)
        H[j] = lfilter([1.0], [1.0, -np.exp(-1.0 / tau)], spikes)

    X0 = D @ H
    X = X0 + np.sqrt(noise_var) * rng.standard_normal(X0.shape)
    fit_var = _fit_noise_var(noise_var, X0)

    presets = {
        "smooth": Preset(
            GPPrior(RBF(beta=2.0), ExponentialLink(lam=_round_rate(D)), grid=shape),
            GPPrior(Exponential(beta=8.0), ExponentialLink(lam=_round_rate(H))),
            fit_var,
            "Footprints are smooth blobs (RBF, beta = 2 pixels on the image grid); activity "
            "rises fast and decays slowly (exponential kernel, beta = 8 frames); both are "
            "sparse (exponential links with the truth's mean).",
        )
    }
    description = (
        f"A movie of {n_cells} glowing cells whose brightness rises when they fire and decays "
        "over a few frames; each frame is flattened into one column of X. NMF returns each "
        "cell's footprint (a column of D, shown as an image) and its activity (a row of H), in "
        "arbitrary order and scale. Try a wrong rank, several restarts, or more noise."
    )
    return Dataset(
        name="calcium_imaging",
        title="Calcium imaging (classroom example)",
        X=X,
        rows=Grid(shape, names=("row", "column"), unit="pixel"),
        cols=Axis(np.arange(n_frames, dtype=np.float64), label="frame", unit="frame"),
        truth=Truth(D=D, H=H, X0=X0, names=tuple(f"cell {j + 1}" for j in range(n_cells))),
        noise_var=fit_var,
        rank=n_cells,
        description=description,
        presets=presets,
    )


def _round_rate(F: np.ndarray) -> float:
    """Rate 1 / mean of a factor, to two significant digits (a readable slider value)."""
    rate = 1.0 / max(float(np.mean(F)), np.finfo(np.float64).tiny)
    return float(f"{rate:.2g}")


# --------------------------------------------------------------------------------------
# Picker
# --------------------------------------------------------------------------------------

_GENERATORS = {
    "paper_toy": paper_toy,
    "csi_phantom": csi_phantom,
    "factories": factories,
    "calcium_imaging": calcium_imaging,
}


def load(name: str, random_state=None, **kwargs) -> Dataset:
    """Build a built-in data set by name.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.
    random_state : None, int or numpy.random.Generator
        Seed or generator, passed to the generator.
    **kwargs
        Keyword arguments of that generator, e.g. ``noise_var``.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`NAMES`.
    """
    if not isinstance(name, str) or name not in _GENERATORS:
        raise ValueError(f"name must be one of {NAMES}, got {name!r}")
    return _GENERATORS[name](random_state, **kwargs)
