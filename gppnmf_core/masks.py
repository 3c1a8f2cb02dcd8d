"""Masks of the observations a fit should count: pure NumPy, for scripts and the app alike.

Every factorization takes a ``mask`` (:func:`~gppnmf_core.fit_gppnmf`,
:func:`~gppnmf_core.ls_nmf`, :func:`~gppnmf_core.cnmf`); a 1-D mask of one
value per column of X keeps or leaves out whole observations (voxels). This
module builds such a mask from the data: :func:`included_observations` keeps
the columns whose :func:`signal_strength` reaches a percentage of the largest,
so voxels that hold only noise (outside the head) can be left out.

>>> import numpy as np
>>> from gppnmf_core.masks import included_observations, signal_strength
>>> X = np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 0.0]])
>>> signal_strength(X).round(3)
array([1.414, 2.828, 0.   ])
>>> included_observations(X, 40)
array([ True,  True, False])
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import check_matrix

__all__ = ["included_observations", "signal_strength"]


def signal_strength(X) -> np.ndarray:
    r"""How much of the mean signal each observation (column of X) holds.

    The projection of each column on the unit vector along the mean column,
    clipped at zero:

    .. math:: s_j = \max\!\left(0,\; \frac{x_j^\top \bar x}{\|\bar x\|}\right),
        \qquad \bar x = \frac1L \sum_j x_j .

    Noise averages out of the mean, so a noise-only column projects to about
    0, while its plain energy (dominated by the noise) would look like any
    other column's.

    Parameters
    ----------
    X : array_like of shape (K, L)
        Data, features in rows and observations in columns; finite.

    Returns
    -------
    ndarray of shape (L,), float64
        Nonnegative strength of each column; all zero when the mean column is zero.

    Raises
    ------
    ValueError
        If ``X`` is not a finite, non-empty 2-D array (the message names X and its shape).
    """
    X = check_matrix(X, "X")
    mean = X.mean(axis=1)
    norm = np.linalg.norm(mean)
    return np.maximum(X.T @ mean / norm, 0.0) if norm > 0 else np.zeros(X.shape[1])


def included_observations(X, threshold_percent) -> np.ndarray:
    """The column mask: observations whose signal strength reaches a percentage of the largest.

    Parameters
    ----------
    X : array_like of shape (K, L)
        Data, features in rows and observations in columns; finite.
    threshold_percent : float or None
        Keep column ``j`` when ``signal_strength(X)[j] >= threshold_percent / 100
        * signal_strength(X).max()``. 0 or None keeps every column; 100 keeps
        the strongest (and any tied with it).

    Returns
    -------
    ndarray of bool, shape (L,)
        True for the columns kept; pass it as the ``mask`` of a fit.

    Raises
    ------
    ValueError
        If ``X`` is not a finite 2-D array, or ``threshold_percent`` is not a
        finite number >= 0 (or None).
    """
    if threshold_percent is None:
        threshold_percent = 0.0
    if isinstance(threshold_percent, bool) or not isinstance(threshold_percent, numbers.Real):
        raise ValueError(f"threshold_percent must be a number of percent (0 to 100) or None, "
                         f"got {threshold_percent!r}")
    threshold = float(threshold_percent)
    if not np.isfinite(threshold) or threshold < 0:
        raise ValueError(f"threshold_percent must be a finite number >= 0, got {threshold_percent!r}")
    strength = signal_strength(X)
    return strength >= (threshold / 100.0) * strength.max()
