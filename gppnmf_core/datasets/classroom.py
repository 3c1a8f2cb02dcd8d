"""Two classroom examples of NMF: factories discharging into a river, and calcium imaging."""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_int, check_nonnegative, check_random_state
from ..dataset import Axis, Dataset, Grid, Truth
from ..kernels import RBF, Exponential, White
from ..links import ExponentialLink, RectifiedGaussianLink
from ..priors import GPPrior, Preset
from ._common import _fit_noise_var

__all__ = ["FACTORY_PROFILES", "factories", "calcium_imaging"]

# --------------------------------------------------------------------------------------
# Factories (classroom example)
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
            GPPrior(RBF(beta=1.0), RectifiedGaussianLink(s=5.0), coords=hours),
            GPPrior(White(), ExponentialLink(lam=2.0)),
            fit_var,
            "Profiles vary smoothly from hour to hour (RBF, beta = 1 h: a factory can start "
            "within an hour) with a half-normal marginal of scale 5; days are independent with "
            "an exponential marginal of mean 0.5, the share of days a factory discharges. With "
            "1000 iterations every method recovers factories 1 and 2 (correlation > 0.99); "
            "factory 3 is not identifiable.",
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
# Calcium imaging (classroom example)
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
        H[j] = _calcium_decay(spikes, np.exp(-1.0 / tau))

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


def _calcium_decay(spikes: np.ndarray, g: float) -> np.ndarray:
    """The first-order recursion ``c[t] = g c[t-1] + s[t]``, ``c[-1] = 0``, of shape (n_frames,).

    The same numbers as ``scipy.signal.lfilter([1], [1, -g], spikes)``, without importing
    ``scipy.signal`` (about a second) for one short filter.
    """
    c = np.empty_like(spikes)
    previous = 0.0
    for t, s in enumerate(spikes.tolist()):
        previous = s + g * previous
        c[t] = previous
    return c


def _round_rate(F: np.ndarray) -> float:
    """Rate 1 / mean of a factor, to two significant digits (a readable slider value)."""
    rate = 1.0 / max(float(np.mean(F)), np.finfo(np.float64).tiny)
    return float(f"{rate:.2g}")
