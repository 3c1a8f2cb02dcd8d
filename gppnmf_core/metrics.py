r"""Measures of a factorization against the data and, where known, the truth.

Orientation as everywhere in the project: ``X`` of shape (K, L) is
approximated by ``D @ H`` with ``D`` of shape (K, M) and ``H`` of shape (M, L).

An NMF recovers its components only up to order and scale: ``D P S`` and
``S^{-1} P^T H`` give the same product for any permutation ``P`` and positive
diagonal ``S``. Before factors are compared with the truth they are therefore
matched (:func:`match_components`, by the assignment with the highest summed
cosine similarity of the columns of D) and rescaled (:func:`align_to_truth`, so
that each column of D has the norm of its true counterpart). These are the
three bar groups of the GPP-NMF paper's Figure 3: RMSE against the noisy data,
against the noise-free data and against the underlying factors.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._validation import check_matrix

__all__ = ["align_to_truth", "evaluate", "match_components", "normalize_for_display", "rmse"]


def rmse(A, B) -> float:
    r"""Root-mean-square difference of two arrays of the same shape.

    .. math:: \mathrm{RMSE}(A, B) = \sqrt{\operatorname{mean}\big((A - B)^2\big)}

    Parameters
    ----------
    A, B : array_like of the same shape
        Any number of dimensions, at least one element.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ (the message quotes both) or the arrays are empty.
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got A of shape {A.shape} and B of shape {B.shape}")
    if A.size == 0:
        raise ValueError(f"A and B must not be empty, got shape {A.shape}")
    diff = A - B
    return float(np.sqrt(np.vdot(diff, diff) / diff.size))


def _unit_columns(D: np.ndarray) -> np.ndarray:
    """Columns of ``D`` scaled to unit Euclidean norm; zero columns stay zero."""
    norms = np.linalg.norm(D, axis=0)
    return np.divide(D, norms, out=np.zeros_like(D), where=norms > 0)


def match_components(D_est, D_true) -> np.ndarray:
    """Match estimated components to true ones by cosine similarity of D columns.

    Solves the assignment problem that maximises the summed cosine similarity
    between matched columns (``scipy.optimize.linear_sum_assignment``). A zero
    column has similarity 0 with every column.

    Parameters
    ----------
    D_est : array_like of shape (K, M)
        Estimated signals.
    D_true : array_like of shape (K, M)
        True signals.

    Returns
    -------
    perm : ndarray of int of shape (M,)
        ``perm[j]`` is the index of the estimated component matched to true
        component ``j``, so ``D_est[:, perm]`` lines up with ``D_true``.

    Raises
    ------
    ValueError
        If the shapes differ (the message quotes both).
    """
    D_est = check_matrix(D_est, "D_est")
    D_true = check_matrix(D_true, "D_true")
    if D_est.shape != D_true.shape:
        raise ValueError(
            f"D_est and D_true must have the same shape (K, M), got D_est of shape {D_est.shape} "
            f"and D_true of shape {D_true.shape}"
        )
    similarity = _unit_columns(D_est).T @ _unit_columns(D_true)  # (M_est, M_true)
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    perm = np.empty(D_true.shape[1], dtype=np.intp)
    perm[cols] = rows
    return perm


def _check_factors(D, H) -> tuple[np.ndarray, np.ndarray]:
    D = check_matrix(D, "D")
    H = check_matrix(H, "H")
    if D.shape[1] != H.shape[0]:
        raise ValueError(
            f"D of shape {D.shape} (K, M) and H of shape {H.shape} (M, L) disagree on the number of components M"
        )
    return D, H


def align_to_truth(D, H, D_true) -> tuple[np.ndarray, np.ndarray]:
    r"""Reorder and rescale estimated factors to line up with the true signals.

    Components are permuted by :func:`match_components`; then each matched pair
    ``(d, h)`` becomes ``(c d, h / c)`` with

    .. math:: c = \|d_\text{true}\|_2 / \|d\|_2,

    so that ``d`` has the norm of its true counterpart while ``D @ H`` is
    unchanged. A pair is left unscaled where either norm is zero.

    Parameters
    ----------
    D : array_like of shape (K, M)
        Estimated signals.
    H : array_like of shape (M, L)
        Estimated amplitudes.
    D_true : array_like of shape (K, M)
        True signals.

    Returns
    -------
    D_aligned : ndarray of shape (K, M)
    H_aligned : ndarray of shape (M, L)

    Raises
    ------
    ValueError
        If the shapes disagree (the message quotes them).
    """
    D, H = _check_factors(D, H)
    D_true = check_matrix(D_true, "D_true")
    perm = match_components(D, D_true)
    D = D[:, perm]
    H = H[perm]
    norm_est = np.linalg.norm(D, axis=0)
    norm_true = np.linalg.norm(D_true, axis=0)
    ok = (norm_est > 0) & (norm_true > 0)
    c = np.ones(D.shape[1])
    c[ok] = norm_true[ok] / norm_est[ok]
    return D * c, H / c[:, None]


def normalize_for_display(D, H) -> tuple[np.ndarray, np.ndarray]:
    """Scale each column of D to a maximum absolute value of 1, compensated in H.

    For display only: ``D' @ H'`` equals ``D @ H`` (up to rounding). Zero
    columns of D (and their rows of H) are left as they are.

    Parameters
    ----------
    D : array_like of shape (K, M)
    H : array_like of shape (M, L)

    Returns
    -------
    D_scaled : ndarray of shape (K, M)
    H_scaled : ndarray of shape (M, L)
    """
    D, H = _check_factors(D, H)
    peak = np.abs(D).max(axis=0)
    c = np.where(peak > 0, peak, 1.0)
    return D / c, H * c[:, None]


def evaluate(D, H, X, X0=None, D_true=None, H_true=None) -> dict[str, float]:
    r"""RMSE of a factorization against the data and, where known, the truth.

    Parameters
    ----------
    D : array_like of shape (K, M)
        Estimated signals.
    H : array_like of shape (M, L)
        Estimated amplitudes.
    X : array_like of shape (K, L)
        The (noisy) data that were factorized.
    X0 : array_like of shape (K, L), optional
        The noise-free data ``D_true @ H_true``.
    D_true : array_like of shape (K, M), optional
        True signals; give together with ``H_true``.
    H_true : array_like of shape (M, L), optional
        True amplitudes; give together with ``D_true``.

    Returns
    -------
    dict
        ``"rmse_noisy"``: :func:`rmse` of ``X`` and ``D @ H``. With ``X0``:
        ``"rmse_noise_free"``, of ``X0`` and ``D @ H``. With the true factors,
        after :func:`align_to_truth`: ``"rmse_D"``, ``"rmse_H"`` and
        ``"rmse_factors"``, the RMSE over all elements of both factors together,

        .. math::
            \sqrt{\frac{\|D_a - D_\text{true}\|_F^2 + \|H_a - H_\text{true}\|_F^2}{KM + ML}}.

    Raises
    ------
    ValueError
        If a shape disagrees with ``(K, M)``, ``(M, L)`` or ``(K, L)`` (the
        message names the argument and quotes the shapes), or if only one of
        ``D_true`` and ``H_true`` is given.
    """
    D, H = _check_factors(D, H)
    X = check_matrix(X, "X")
    shape = (D.shape[0], H.shape[1])
    if X.shape != shape:
        raise ValueError(f"X must have shape (K, L) = {shape} to match D {D.shape} and H {H.shape}, got {X.shape}")
    DH = D @ H
    out = {"rmse_noisy": rmse(X, DH)}
    if X0 is not None:
        X0 = check_matrix(X0, "X0")
        if X0.shape != shape:
            raise ValueError(f"X0 must have the shape of X {shape}, got {X0.shape}")
        out["rmse_noise_free"] = rmse(X0, DH)
    if (D_true is None) != (H_true is None):
        raise ValueError("D_true and H_true must be given together (or neither)")
    if D_true is not None:
        D_true, H_true = _check_factors(D_true, H_true)
        if D_true.shape != D.shape:
            raise ValueError(f"D_true must have the shape of D {D.shape}, got {D_true.shape}")
        if H_true.shape != H.shape:
            raise ValueError(f"H_true must have the shape of H {H.shape}, got {H_true.shape}")
        D_a, H_a = align_to_truth(D, H, D_true)
        sq_D = float(np.sum((D_a - D_true) ** 2))
        sq_H = float(np.sum((H_a - H_true) ** 2))
        out["rmse_D"] = float(np.sqrt(sq_D / D.size))
        out["rmse_H"] = float(np.sqrt(sq_H / H.size))
        out["rmse_factors"] = float(np.sqrt((sq_D + sq_H) / (D.size + H.size)))
    return out
