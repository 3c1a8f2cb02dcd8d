r"""The noise variance sigma^2 of GPP-NMF, estimated with the fit (MacKay's evidence update).

Held-out error is flat in sigma^2 and cannot set it. Instead alternate

1. the MAP ``theta`` at the current sigma^2 (L-BFGS, warm-started from the
   previous round), and
2. ``sigma^2 = RSS / (n - gamma)``,

where ``RSS = ||W ⊙ (X - D H)||²``, ``n`` the number of observed entries and
``gamma`` the effective number of parameters the data determine (MacKay 1992):

.. math:: \gamma = \sum_i \frac{\lambda_i}{\lambda_i + 1}

with ``lambda_i`` the eigenvalues of the **Gauss–Newton** Hessian of the data
term at the MAP (:func:`~gppnmf_core.posterior.gauss_newton_hessian`; the
prior's Hessian is the identity in the whitened variables). A direction the
data pin down (``lambda >> 1``) counts as one parameter, one left to the prior
(``lambda << 1``) as none. The plain ``RSS / n`` is biased low by the fraction
``gamma / n`` of the noise the fit absorbs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_int, check_positive, check_random_state
from .posterior import LAPLACE_MAX_DIM, build_objective, gauss_newton_hessian, map_from

__all__ = ["NoiseEstimate", "estimate_noise_var"]


@dataclass
class NoiseEstimate:
    """The estimate and how it was reached.

    Attributes
    ----------
    noise_var : float
        The final sigma^2.
    rounds : list of dict
        Per round: ``noise_var`` used for the fit, ``rss``, ``gamma``, ``n``,
        ``objective``, ``updated`` (the new sigma^2).
    converged : bool
        Whether the relative change of the last update was below ``rtol``.
    theta : ndarray of shape (d,)
        The MAP at the last sigma^2 used.
    """

    noise_var: float
    rounds: list = field(default_factory=list)
    converged: bool = False
    theta: np.ndarray | None = None

    @property
    def n_rounds(self) -> int:
        return len(self.rounds)


def effective_parameters(objective, theta) -> float:
    r"""MacKay's ``gamma = sum_i lambda_i / (lambda_i + 1)`` at ``theta`` (Gauss–Newton eigenvalues).

    Returns 0.0 with a warning above :data:`~gppnmf_core.posterior.LAPLACE_MAX_DIM` variables.
    """
    if objective.size > LAPLACE_MAX_DIM:
        warnings.warn(f"{objective.size} whitened variables exceed LAPLACE_MAX_DIM = {LAPLACE_MAX_DIM}: gamma set "
                      "to 0, so sigma^2 = RSS / n is biased low", RuntimeWarning, stacklevel=3)
        return 0.0
    w = np.linalg.eigvalsh(gauss_newton_hessian(objective, theta, objective.mask_sq))
    w = np.clip(w, 0.0, None)
    return float(np.sum(w / (w + 1.0)))


def _observed(objective) -> tuple[float, np.ndarray | None]:
    """Number of observed entries and the (K, L) squared weights (None: all ones)."""
    K, L = objective.X.shape
    W2 = objective.mask_sq
    if W2 is None:
        return float(K * L), None
    full = np.broadcast_to(W2, (K, L))
    return float(np.count_nonzero(full > 0)), full


def _initial_guess(X: np.ndarray, rank: int, W2) -> float:
    """sigma^2 from the residual of the rank-M truncated SVD, corrected for its M (K + L - M) parameters."""
    K, L = X.shape
    Xw = X if W2 is None else np.where(W2 > 0, X, 0.0)
    U, s, Vt = np.linalg.svd(Xw, full_matrices=False)
    R = Xw - (U[:, :rank] * s[:rank]) @ Vt[:rank]
    n = K * L if W2 is None else np.count_nonzero(W2 > 0)
    rss = float(np.sum(R * R if W2 is None else (R * R) * (W2 > 0)))
    dof = max(n - rank * (K + L - rank), 1)
    return max(rss / dof, np.finfo(np.float64).tiny)


def estimate_noise_var(
    X,
    rank,
    prior_D,
    prior_H,
    mask=None,
    max_rounds: int = 5,
    random_state=0,
    *,
    noise_var0=None,
    rtol: float = 1e-4,
    return_details: bool = False,
):
    r"""Estimate the noise variance by alternating MAP fits and MacKay's update ``RSS / (n - gamma)``.

    Parameters
    ----------
    X : array_like of shape (K, L)
    rank : int
    prior_D, prior_H : GPPrior
    mask : array_like of shape (K, L) or (L,), optional
        As in :func:`~gppnmf_core.gppnmf.fit_gppnmf`; the RSS and ``n`` count observed entries only.
    max_rounds : int
        At most this many (fit, update) rounds.
    random_state : None, int or numpy.random.Generator
        Seeds the first MAP fit (later rounds are warm-started).
    noise_var0 : float, optional
        Starting sigma^2; default the residual variance of the rank-M truncated
        SVD of X, corrected for its ``M (K + L - M)`` parameters.
    rtol : float
        Stop when an update changes sigma^2 by less than this fraction.
    return_details : bool
        Also return the :class:`NoiseEstimate` record.

    Returns
    -------
    float, or (float, NoiseEstimate) with ``return_details=True``

    Raises
    ------
    ValueError
        For invalid data, rank, priors, mask (as fit_gppnmf) or settings.
    """
    from .gppnmf import fit_gppnmf

    max_rounds = check_int(max_rounds, "max_rounds")
    rtol = check_positive(rtol, "rtol")
    probe = build_objective(X, rank, prior_D, prior_H, 1.0, mask)
    X = probe.X
    n, W2 = _observed(probe)
    sigma2 = _initial_guess(X, probe.rank, W2) if noise_var0 is None else check_positive(noise_var0, "noise_var0")
    rng = check_random_state(random_state)
    record = NoiseEstimate(noise_var=sigma2)
    theta = None
    for _ in range(max_rounds):
        objective = build_objective(X, rank, prior_D, prior_H, sigma2, mask)
        if theta is None:
            fit = fit_gppnmf(X, rank, prior_D, prior_H, sigma2, mask=mask, random_state=rng)
            theta, value = objective.pack(fit.latent["delta"], fit.latent["eta"]), fit.objective
        else:
            theta, value, _ = map_from(objective, theta)
        D, H = objective.factors(theta)
        R = X - D @ H
        rss = float(np.sum(R * R if W2 is None else R * R * W2))
        gamma = effective_parameters(objective, theta)
        updated = rss / max(n - gamma, 1.0)
        record.rounds.append({"noise_var": sigma2, "rss": rss, "gamma": gamma, "n": n, "objective": value,
                              "updated": updated})
        change = abs(updated - sigma2) / sigma2
        sigma2 = updated
        if change < rtol:
            record.converged = True
            break
    record.noise_var, record.theta = sigma2, theta
    return (sigma2, record) if return_details else sigma2
