r"""The Laplace approximation at a GPP-NMF MAP: Hessians, evidence and the sampler's preconditioner.

In the whitened variables ``theta = (delta, eta)`` the negative log posterior
is the MAP objective ``L(theta)`` of
:class:`~gppnmf_core.objective.GPPNMFObjective`. Its Hessian at the MAP gives

* the Laplace evidence (:func:`laplace_log_evidence`, from the Gauss–Newton
  Hessian :func:`gauss_newton_hessian`), used by model choice;
* the preconditioner of the posterior sampler (:func:`make_preconditioner`,
  from the full Hessian :func:`hessian`): the chains run in ``z`` with
  ``theta = theta_MAP + S z`` and ``S^2`` the Laplace covariance on the
  directions where the data term's curvature is not negligible, so that the
  posterior in ``z`` is close to N(0, I).

Also here: the entry points' argument checks (:func:`build_objective`), the
objective's value alone (:func:`objective_value`) and L-BFGS from a warm
start (:func:`map_from`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize

from ._validation import check_mask, check_matrix, check_positive, check_rank
from .objective import GPPNMFObjective
from .priors import bind_to_data

__all__ = [
    "LAPLACE_MAX_DIM",
    "PRECONDITION_FLOOR",
    "PRECONDITION_MIN_EIG",
    "Preconditioner",
    "build_objective",
    "gauss_newton_hessian",
    "hessian",
    "laplace_log_evidence",
    "make_preconditioner",
    "map_from",
    "objective_value",
]

#: Largest number of whitened variables for which the dense (d, d) Gauss–Newton
#: Hessian is formed and eigen-decomposed (128 MiB, about 10 s on one core at the limit).
LAPLACE_MAX_DIM = 4000

#: Eigenvalues of the data term's Hessian (the Hessian minus the prior's identity) smaller than this in
#: magnitude leave a direction to the prior (rescaled by less than 1/sqrt(1.05)): the preconditioner
#: keeps only the larger ones.
PRECONDITION_MIN_EIG = 5e-2

#: Floor of ``1 + lambda`` in the preconditioner: a flat or saddle direction at the MAP gets at most
#: ``1/sqrt(PRECONDITION_FLOOR)`` (about 3.2) times the prior's scale.
PRECONDITION_FLOOR = 0.1


def build_objective(X, rank, prior_D, prior_H, noise_var, mask=None) -> GPPNMFObjective:
    """Validate the arguments of an entry point and build the MAP objective.

    Parameters
    ----------
    X : array_like of shape (K, L)
    rank : int
    prior_D, prior_H : GPPrior
    noise_var : float
    mask : array_like of shape (K, L) or (L,), optional

    Returns
    -------
    GPPNMFObjective
        With ``weights_sq`` (the squared mask, or None) kept as attribute ``mask_sq``.
    """
    X = check_matrix(X, "X")
    rank = check_rank(rank, X.shape)
    noise_var = check_positive(noise_var, "noise_var")
    weights_sq = check_mask(mask, X.shape)
    bound_D, bound_H = bind_to_data(X, prior_D, prior_H)
    objective = GPPNMFObjective(X, rank, bound_D, bound_H, noise_var, weights_sq)
    objective.mask_sq = weights_sq
    return objective


def objective_value(objective: GPPNMFObjective, theta) -> float:
    r"""The MAP objective ``L(theta)`` alone (the negative log posterior up to a constant).

    Parameters
    ----------
    objective : GPPNMFObjective
    theta : array_like of shape (objective.size,)

    Returns
    -------
    float
        ``½ sigma^-2 ||W ⊙ (X - D H)||² + ½ ||theta||²``; ``inf`` where the links overflow.

    Notes
    -----
    Computes the squared error from the factors, without the gradient's
    pull-back through the links and the square roots.
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (objective.size,):
        raise ValueError(f"theta must have shape ({objective.size},), got {theta.shape}")
    with np.errstate(all="ignore"):
        D, H = objective.factors(theta)
        W2 = getattr(objective, "mask_sq", None)
        R = objective.X - D @ H
        R *= R
        squared_error = float(np.sum(R if W2 is None else R * W2))
        value = 0.5 * objective.inv_noise_var * squared_error + 0.5 * float(theta @ theta)
    return value if np.isfinite(value) else float("inf")


def map_from(objective: GPPNMFObjective, theta0, *, max_iter: int = 1000, tol: float = 1e-10,
             gtol: float = 1e-6) -> tuple[np.ndarray, float, int]:
    """L-BFGS on ``objective`` from ``theta0`` (a warm start), with fit_gppnmf's settings.

    Returns
    -------
    theta : ndarray of shape (objective.size,)
    value : float
    n_iter : int
    """
    from .threads import blas_threads

    with blas_threads(None, objective.product_work):
        res = optimize.minimize(objective, np.asarray(theta0, dtype=np.float64), jac=True, method="L-BFGS-B",
                                options={"maxiter": max_iter, "ftol": tol, "gtol": gtol, "maxcor": 20})
    return res.x, float(res.fun), int(res.nit)


def _dense_sqrt(bound) -> np.ndarray:
    """The square root ``C`` of a bound prior as a dense (n_points, n_latent) array."""
    return bound.sqrt.apply(np.eye(bound.n_latent))


def gauss_newton_hessian(objective: GPPNMFObjective, theta, weights_sq=None) -> np.ndarray:
    r"""Gauss–Newton Hessian of the data term of the objective in ``theta``.

    .. math:: G = \sigma^{-2} J^T \operatorname{diag}(\operatorname{vec} W^2) J,
              \qquad J = \partial \operatorname{vec}(D H) / \partial \theta

    The Hessian of the whole objective is approximated by ``G + I`` (the prior
    contributes exactly ``I``); the terms dropped are the residual times the
    second derivatives of ``D H``, which vanish on average at the truth.
    ``G`` is positive semi-definite, so ``log det(G + I)`` always exists.

    Parameters
    ----------
    objective : GPPNMFObjective
    theta : ndarray of shape (objective.size,)
    weights_sq : ndarray of shape (K, L) or (L,), optional
        Squared mask (as given to the objective); None means all ones.

    Returns
    -------
    ndarray of shape (objective.size, objective.size)

    Raises
    ------
    ValueError
        If ``objective.size`` exceeds :data:`LAPLACE_MAX_DIM`.

    Notes
    -----
    With ``A_m = diag(f_D'(C_D delta_m)) C_D`` (K, n_D) and
    ``B_m = diag(f_H'(C_H eta_m)) C_H`` (L, n_H) the blocks are
    ``A_m^T diag(W^2 (h_m ⊙ h_q)) A_q``, ``B_m^T diag((W^2)^T (d_m ⊙ d_q)) B_q``
    and ``A_m^T (W^2 ⊙ d_q h_m^T) B_q``; in ``theta`` component ``m`` of
    ``delta`` sits at ``m, m + M, m + 2M, ...`` (C order of (n_D, M)).
    """
    d = objective.size
    if d > LAPLACE_MAX_DIM:
        raise ValueError(f"the Gauss-Newton Hessian has {d} x {d} entries; at most {LAPLACE_MAX_DIM} whitened "
                         "variables are supported")
    pD, pH, M = objective.prior_D, objective.prior_H, objective.rank
    delta, eta = objective.unpack(np.asarray(theta, dtype=np.float64))
    CD, CH = _dense_sqrt(pD), _dense_sqrt(pH)
    D, dD = pD.link.value_and_derivative(CD @ delta)
    Ht, dHt = pH.link.value_and_derivative(CH @ eta)
    H = Ht.T
    nD = pD.n_latent * M
    A = [dD[:, m:m + 1] * CD for m in range(M)]
    B = [dHt[:, m:m + 1] * CH for m in range(M)]
    W2 = None if weights_sq is None else np.asarray(weights_sq, dtype=np.float64)
    G = np.zeros((d, d))

    def iD(m):
        return slice(m, nD, M)

    def iH(m):
        return slice(nD + m, d, M)

    for m in range(M):
        for q in range(m, M):
            if W2 is None:
                s, t = np.full(D.shape[0], H[m] @ H[q]), np.full(H.shape[1], D[:, m] @ D[:, q])
            elif W2.ndim == 1:
                s, t = np.full(D.shape[0], (W2 * H[m]) @ H[q]), W2 * (D[:, m] @ D[:, q])
            else:
                s, t = W2 @ (H[m] * H[q]), W2.T @ (D[:, m] * D[:, q])
            G[iD(m), iD(q)] = A[m].T @ (s[:, None] * A[q])
            G[iD(q), iD(m)] = G[iD(m), iD(q)].T
            G[iH(m), iH(q)] = B[m].T @ (t[:, None] * B[q])
            G[iH(q), iH(m)] = G[iH(m), iH(q)].T
        for q in range(M):
            if W2 is None:
                block = np.outer(A[m].T @ D[:, q], B[q].T @ H[m])
            elif W2.ndim == 1:
                block = np.outer(A[m].T @ D[:, q], B[q].T @ (W2 * H[m]))
            else:
                block = A[m].T @ ((W2 * np.outer(D[:, q], H[m])) @ B[q])
            G[iD(m), iH(q)] = block
            G[iH(q), iD(m)] = block.T
    G *= objective.inv_noise_var
    return G


def laplace_log_evidence(objective: GPPNMFObjective, theta, value: float | None = None,
                         eigenvalues: np.ndarray | None = None) -> float:
    r"""Laplace approximation of the log marginal likelihood ``log p(X | model)`` at a MAP ``theta``.

    .. math::

        \log p(X) \approx -L(\hat\theta) - \tfrac12 \log\det(I + G)
                          - \tfrac{n}{2} \log(2\pi\sigma^2) + \log M!

    with ``G`` the Gauss–Newton Hessian of the data term
    (:func:`gauss_newton_hessian`), ``n`` the number of observed entries (the
    sum of the squared mask where it is 0/1; with weights, ``sum(log W^2)/2``
    is added for the likelihood's normalisation) and ``log M!`` for the ``M!``
    relabellings of the components, which are equally good modes (the priors
    are the same for every component). The prior's normalisation cancels
    against the Gaussian integral in the whitened variables.

    Parameters
    ----------
    objective : GPPNMFObjective
        Built by :func:`build_objective` (so that it knows its mask).
    theta : ndarray of shape (objective.size,)
        The MAP.
    value : float, optional
        ``L(theta)``; computed when not given.
    eigenvalues : ndarray, optional
        Eigenvalues of ``G``, if already computed.

    Returns
    -------
    float
    """
    from math import lgamma

    if value is None:
        value = objective(theta)[0]
    W2 = getattr(objective, "mask_sq", None)
    if eigenvalues is None:  # log det(I + G) from a Cholesky factor: a fifth of the time of eigvalsh
        G = gauss_newton_hessian(objective, theta, W2)
        G[np.diag_indices_from(G)] += 1.0
        log_det = 2.0 * float(np.sum(np.log(np.diag(linalg.cholesky(G, lower=True, overwrite_a=True,
                                                                       check_finite=False)))))
    else:
        log_det = float(np.sum(np.log1p(np.clip(eigenvalues, 0.0, None))))
    K, L = objective.X.shape
    if W2 is None:
        n, log_w = float(K * L), 0.0
    else:
        full = np.broadcast_to(W2, (K, L))
        observed = full > 0
        n = float(np.count_nonzero(observed))
        log_w = 0.5 * float(np.sum(np.log(full[observed])))
    noise_var = 1.0 / objective.inv_noise_var
    return float(-value - 0.5 * log_det - 0.5 * n * np.log(2.0 * np.pi * noise_var) + log_w
                 + lgamma(objective.rank + 1))


@dataclass(frozen=True)
class Preconditioner:
    """The map ``theta = theta_map + S z`` with ``S = I + U diag(c) U^T`` (symmetric).

    Attributes
    ----------
    theta_map : ndarray of shape (d,)
    U : ndarray of shape (d, r)
        Orthonormal eigenvectors of the data term's Hessian kept.
    c : ndarray of shape (r,)
        ``1 / sqrt(1 + lambda) - 1`` for each kept eigenvalue ``lambda`` (floored).

    Notes
    -----
    The low-rank products run in single precision (``U`` is read from memory
    twice per product, twice per leapfrog step: on the CSI phantom, r = 590
    of d = 1306, that halves their cost, 230 -> 100 us). ``S z`` is then exact
    to about 1e-7 of ``|z|``, which the chains never notice: the density is
    evaluated at the ``theta`` that the same product gives, so the target is
    unchanged and only the leapfrog gradient carries the rounding.
    """

    theta_map: np.ndarray
    U: np.ndarray
    c: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "_U32", np.ascontiguousarray(self.U, dtype=np.float32))
        object.__setattr__(self, "_UT32", np.ascontiguousarray(self.U.T, dtype=np.float32))
        object.__setattr__(self, "_c32", np.asarray(self.c, dtype=np.float32))

    def apply(self, v: np.ndarray) -> np.ndarray:
        """``S v`` for ``v`` of shape (d,) or (d, n)."""
        v = np.asarray(v, dtype=np.float64)
        if self.c.size == 0:
            return v.copy()
        low = self._UT32 @ v.astype(np.float32)
        low *= self._c32 if v.ndim == 1 else self._c32[:, None]
        return v + self._U32 @ low

    def to_theta(self, z: np.ndarray) -> np.ndarray:
        """``theta_map + S z`` for ``z`` of shape (d,) or (n, d)."""
        if z.ndim == 1:
            return self.theta_map + self.apply(z)
        return self.theta_map + self.apply(z.T).T


def hessian(objective: GPPNMFObjective, theta, step: float = 1e-5) -> np.ndarray:
    r"""The full Hessian of the objective at ``theta`` by central differences of its gradient.

    .. math:: \nabla^2 L(\theta)_{:, i} \approx
              \frac{\nabla L(\theta + h e_i) - \nabla L(\theta - h e_i)}{2h}

    symmetrised. Unlike the Gauss–Newton Hessian (:func:`gauss_newton_hessian`
    plus the prior's identity) it keeps the residual times the curvature of
    ``D H`` and of the links, which at a MAP fitted to noisy data makes some
    directions *wider* than the prior (eigenvalues below 1: on the toy down
    to 0.75). Those are the directions a Gauss–Newton preconditioner leaves
    too narrow, and where the chains mixed slowest (bulk ESS of D and H 80-110
    per 2000 draws on toy data set 1, against 300-390 with this Hessian).

    Parameters
    ----------
    objective : GPPNMFObjective
    theta : ndarray of shape (objective.size,)
    step : float
        The difference step ``h`` (whitened variables have prior sd 1).

    Returns
    -------
    ndarray of shape (objective.size, objective.size)
        ``2 * objective.size`` gradient evaluations.

    Raises
    ------
    ValueError
        If ``objective.size`` exceeds :data:`LAPLACE_MAX_DIM`.
    """
    d = objective.size
    if d > LAPLACE_MAX_DIM:
        raise ValueError(f"the Hessian has {d} x {d} entries; at most {LAPLACE_MAX_DIM} whitened variables are "
                         "supported")
    theta = np.asarray(theta, dtype=np.float64)
    out = np.empty((d, d))
    probe = theta.copy()
    with np.errstate(all="ignore"):
        for i in range(d):
            probe[i] = theta[i] + step
            up = objective(probe)[1]
            probe[i] = theta[i] - step
            out[i] = up - objective(probe)[1]
            probe[i] = theta[i]
    out /= 2.0 * step
    out += out.T
    out *= 0.5
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("the gradient is not finite near the MAP (the links overflow)")
    return out


def make_preconditioner(objective: GPPNMFObjective, theta_map, eigen=None, curvature: str = "exact"
                        ) -> Preconditioner:
    """The Laplace preconditioner at ``theta_map`` (identity when the dimension is too large).

    Parameters
    ----------
    objective : GPPNMFObjective
    theta_map : ndarray of shape (objective.size,)
    eigen : (ndarray, ndarray), optional
        Eigenvalues and eigenvectors of the Hessian *minus the identity* (the
        data term's part), if already computed.
    curvature : {"exact", "gauss_newton"}
        Which Hessian: the full one (:func:`hessian`, default) or the
        Gauss–Newton one (:func:`gauss_newton_hessian`).

    Notes
    -----
    Eigenvalues ``lambda`` of the data term's Hessian with ``|lambda|`` above
    :data:`PRECONDITION_MIN_EIG` are kept, with ``1 + lambda`` floored at
    :data:`PRECONDITION_FLOOR` (a direction where the MAP is a saddle or flat
    gets at most ``1 / sqrt(PRECONDITION_FLOOR)`` times the prior's scale).
    """
    theta_map = np.asarray(theta_map, dtype=np.float64)
    if eigen is None:
        if objective.size > LAPLACE_MAX_DIM:
            warnings.warn(f"{objective.size} whitened variables exceed LAPLACE_MAX_DIM = {LAPLACE_MAX_DIM}: "
                          "sampling without the Laplace preconditioner (slow mixing)", RuntimeWarning, stacklevel=3)
            return Preconditioner(theta_map, np.zeros((theta_map.size, 0)), np.zeros(0))
        if curvature == "exact":
            try:
                A = hessian(objective, theta_map)
                A[np.diag_indices_from(A)] -= 1.0
            except FloatingPointError:
                curvature = "gauss_newton"
        if curvature != "exact":
            A = gauss_newton_hessian(objective, theta_map, getattr(objective, "mask_sq", None))
        eigen = np.linalg.eigh(A)
    w, V = eigen
    keep = np.abs(w) > PRECONDITION_MIN_EIG
    scale = 1.0 / np.sqrt(np.maximum(1.0 + w[keep], PRECONDITION_FLOOR))
    return Preconditioner(theta_map, np.ascontiguousarray(V[:, keep]), scale - 1.0)
