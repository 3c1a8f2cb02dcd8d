"""The last steps common to every format: checks on X, a noise estimate, and the Dataset record."""

from __future__ import annotations

import numpy as np

from ..dataset import Axis, Dataset, Grid
from .errors import DataFormatError
from .limits import format_shape

__all__ = ["noise_var_from_differences", "check_values", "crop_rows", "make_dataset", "suggested_rank", "DEFAULT_RANK"]

#: Suggested number of components of an uploaded data set.
DEFAULT_RANK = 2
#: MAD of a Gaussian is 0.6745 sigma.
_MAD_TO_SIGMA = 1.0 / 0.6744897501960817


def noise_var_from_differences(X: np.ndarray) -> float:
    r"""A robust guess of the noise variance of X, from first differences along the features.

    With white noise of variance :math:`\sigma^2`, neighbouring differences
    :math:`X_{k+1,l} - X_{k,l}` have variance :math:`2\sigma^2`, while smooth
    signal (spectral lines a few points wide) contributes little to most of
    them. The median absolute deviation of all differences, scaled by
    1/0.6745 and divided by :math:`\sqrt 2`, estimates :math:`\sigma` and
    ignores the minority of large differences at sharp peaks.

    Parameters
    ----------
    X : ndarray of shape (K, L)

    Returns
    -------
    float
        :math:`\hat\sigma^2 > 0`. When the MAD is 0 (piecewise-constant or
        noise-free data), 1e-3 times the mean square of X is returned instead,
        floored at the smallest positive float.
    """
    d = np.diff(X, axis=0).ravel()
    if d.size:
        mad = float(np.median(np.abs(d - np.median(d))))
        sigma = _MAD_TO_SIGMA * mad / np.sqrt(2.0)
        if sigma > 0 and np.isfinite(sigma):
            return float(sigma * sigma)
    return float(max(1e-3 * float(np.mean(X * X)), np.finfo(np.float64).tiny))


def check_values(X: np.ndarray, filename: str) -> None:
    """Finite values, not all zero (X of any shape)."""
    if X.dtype.kind in "fc":
        finite = np.isfinite(X)
        if not finite.all():
            n_nan = int(np.count_nonzero(np.isnan(X)))
            n_inf = int(finite.size - np.count_nonzero(finite)) - n_nan
            parts = [f"{n} {what}" for n, what in ((n_nan, "NaN"), (n_inf, "Inf")) if n]
            raise DataFormatError(
                f"{filename} contains {' and '.join(parts)} value(s) among {X.size} ({format_shape(X.shape)}); "
                f"replace missing or invalid values before uploading"
            )
    if not np.any(X):
        raise DataFormatError(f"{filename}: all values are zero; there is nothing to factorize")


def crop_rows(X: np.ndarray, rows: Axis, ppm_range, filename: str) -> tuple[np.ndarray, Axis]:
    """Keep the rows whose ppm lies in ``ppm_range`` (spectra with a ppm axis)."""
    if ppm_range is None:
        return X, rows
    if rows.unit != "ppm":
        raise DataFormatError(f"{filename}: ppm_range needs a ppm axis, and these data have none (their feature "
                              f"axis is '{rows.label}'); leave ppm_range empty")
    lo, hi = ppm_range
    keep = (rows.values >= lo) & (rows.values <= hi)
    n = int(np.count_nonzero(keep))
    if n < 2:
        raise DataFormatError(
            f"{filename}: ppm_range ({lo:g}, {hi:g}) keeps {n} point(s) of the spectrum, which spans "
            f"{rows.values.min():.4g} to {rows.values.max():.4g} ppm; choose a wider range inside it"
        )
    return X[keep], Axis(rows.values[keep], label=rows.label, unit=rows.unit, reversed=rows.reversed)


def _describe_axes(rows: Axis, cols) -> str:
    if rows.unit == "ppm":
        lo, hi = float(rows.values.min()), float(rows.values.max())
        feat = f"{rows.size} spectral points from {hi:.4g} to {lo:.4g} ppm"
    elif rows.unit:
        feat = f"{rows.size} points of {rows.label} ({rows.unit})"
    else:
        feat = f"{rows.size} features"
    if isinstance(cols, Grid):
        obs = f"{cols.size} observations on a {format_shape(cols.shape)} {cols.unit} grid"
    else:
        obs = f"{cols.size} observations"
    return f"Result: {feat} × {obs}."


def suggested_rank(K: int, L: int) -> int:
    """The suggested number of components: DEFAULT_RANK, never more than min(K, L) (1 for one observation)."""
    return int(max(1, min(DEFAULT_RANK, K, L)))


def make_dataset(X: np.ndarray, rows: Axis, cols, filename: str, notes: list[str], *,
                 noise_var: float | None = None, noise_note: str = "") -> Dataset:
    """Check X and wrap it, its axes and a description into a Dataset.

    Parameters
    ----------
    X : ndarray of shape (K, L)
        Real data (converted to C-contiguous float64).
    rows : Axis
        The K features.
    cols : Axis or Grid
        The L observations.
    filename : str
        Becomes the title.
    notes : list of str
        Sentences on what was read and done.
    noise_var : float, optional
        A noise variance measured by the reader (e.g. on signal-free points of
        spectra made from FIDs); None: the robust estimate from neighbouring
        differences (:func:`noise_var_from_differences`).
    noise_note : str
        Where ``noise_var`` came from.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    check_values(X, filename)
    if noise_var is None or not (np.isfinite(noise_var) and noise_var > 0):
        with np.errstate(over="ignore", invalid="ignore"):
            noise_var = noise_var_from_differences(X)
        noise_note = "robust estimate from differences between neighbouring features"
    if not np.isfinite(noise_var):
        raise DataFormatError(f"{filename}: the values are too large to work with (largest magnitude "
                              f"{float(np.max(np.abs(X))):.3g}); rescale the data before uploading")
    K, L = X.shape
    rank = suggested_rank(K, L)
    parts = [f"Uploaded file {filename}.", *notes, _describe_axes(rows, cols)]
    if L == 1:
        parts.append("A single spectrum (one observation): a decomposition needs several observations — keep the "
                     "repeats as observations (dynamics 'keep'), or upload a CSI/MRSI or dynamic file; 1 component "
                     "is suggested.")
    parts.append(f"Suggested noise variance {float(noise_var):.3g} ({noise_note}) and {rank} "
                 f"component{'s' if rank != 1 else ''}: both can be changed.")
    return Dataset(name="upload", title=filename, X=X, rows=rows, cols=cols, truth=None, noise_var=float(noise_var),
                   rank=rank, description=" ".join(parts), presets={})
