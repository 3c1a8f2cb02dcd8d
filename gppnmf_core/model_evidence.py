r"""The Laplace evidence of a candidate without the full Hessian: the blocks and a rank-M² coupling.

:func:`~gppnmf_core.posterior.laplace_log_evidence` forms the (d, d)
Gauss–Newton Hessian ``G`` of all whitened variables and factors ``I + G``.
When the mask is absent or weights whole columns (``W² = 1 w²ᵀ``), ``G`` has
structure that makes this cheaper with the same value (to rounding):

* the D–D block, component blocks ``(m, q)``: ``s_mq A_mᵀ A_q`` with
  ``s = H diag(w²) Hᵀ`` (M × M) and ``A_m = diag(f_D'(C_D δ_m)) C_D``;
* the H–H block: ``(dᵀ d)_mq B_mᵀ diag(w²) B_q`` with
  ``B_m = diag(f_H'(C_H η_m)) C_H``;
* the D–H block ``(m, q)`` is of rank one, ``(A_mᵀ d_q)(B_qᵀ (w² ⊙ h_m))ᵀ``,
  so the whole coupling is ``U Vᵀ`` of rank at most ``M²``.

Then, with ``P = I + G_DD`` and ``Q = I + G_HH`` (Schur complement and the
matrix determinant lemma),

.. math::

    \log\det(I + G) = \log\det P + \log\det Q
                      + \log\det\bigl(I_{M^2} - (U^T P^{-1} U)(V^T Q^{-1} V)\bigr),

two Cholesky factors of the D and H sizes instead of one of their sum
(``(n_D M)³ + (n_H M)³`` against ``((n_D + n_H) M)³``), and the blocks are
formed as two stacked products instead of ``M²`` strided block writes. Other
masks use :func:`~gppnmf_core.posterior.laplace_log_evidence` unchanged.
"""

from __future__ import annotations

from math import lgamma

import numpy as np
from scipy import linalg

from .objective import ColumnWeightedFit, GPPNMFObjective
from .posterior import laplace_log_evidence

__all__ = ["block_log_det", "candidate_log_evidence"]


def _column_weights_sq(objective: GPPNMFObjective):
    """The squared column weights (L,) of a column-weighted objective (None: all ones), else False."""
    if not isinstance(objective.data_fit, ColumnWeightedFit):
        return False
    W2 = getattr(objective, "mask_sq", None)
    if W2 is None:
        return None
    W2 = np.asarray(W2, dtype=np.float64)
    return W2 if W2.ndim == 1 else W2[0]


def block_log_det(objective: GPPNMFObjective, theta, w2=None) -> float:
    r"""``log det(I + G)`` of the Gauss–Newton Hessian ``G`` for no mask or column weights ``w2`` (L,).

    Equal (to rounding) to the log-determinant inside
    :func:`~gppnmf_core.posterior.laplace_log_evidence`; see the module notes.
    """
    pD, pH, M = objective.prior_D, objective.prior_H, objective.rank
    delta, eta = objective.unpack(np.asarray(theta, dtype=np.float64))
    CD = pD.sqrt.apply(np.eye(pD.n_latent))
    CH = pH.sqrt.apply(np.eye(pH.n_latent))
    D, dD = pD.link.value_and_derivative(CD @ delta)
    Ht, dHt = pH.link.value_and_derivative(CH @ eta)
    nD, nH = pD.n_latent, pH.n_latent
    L = Ht.shape[0]
    w2 = np.ones(L) if w2 is None else np.asarray(w2, dtype=np.float64)
    c = objective.inv_noise_var
    # stacked A = [A_0 ... A_{M-1}] (K, M nD), B likewise (L, M nH); component-major order
    A = (dD[:, :, None] * CD[:, None, :]).reshape(D.shape[0], M * nD)
    B = (dHt[:, :, None] * CH[:, None, :]).reshape(L, M * nH)
    s = (Ht * w2[:, None]).T @ Ht  # (M, M)
    t = D.T @ D
    P = (A.T @ A).reshape(M, nD, M, nD)
    P *= (c * s)[:, None, :, None]
    P = P.reshape(M * nD, M * nD)
    P[np.diag_indices_from(P)] += 1.0
    Bw = B * np.sqrt(w2)[:, None]
    Q = (Bw.T @ Bw).reshape(M, nH, M, nH)
    Q *= (c * t)[:, None, :, None]
    Q = Q.reshape(M * nH, M * nH)
    Q[np.diag_indices_from(Q)] += 1.0
    # coupling: column (m, q) of U is A_m^T d_q in block m; of V, B_q^T (w2 h_m) in block q (times c)
    AtD = np.einsum("kmi,kq->miq", A.reshape(-1, M, nD), D)  # (M, nD, M): A_m^T d_q
    BtH = np.einsum("lqj,lm->qjm", B.reshape(L, M, nH), Ht * w2[:, None])  # (M, nH, M): B_q^T (w2 h_m)
    U = np.zeros((M, nD, M, M))
    V = np.zeros((M, nH, M, M))
    for m in range(M):
        U[m, :, m, :] = AtD[m]  # U[(m, i), (m, q)]
        for q in range(M):
            V[q, :, m, q] = BtH[q, :, m]
    U = U.reshape(M * nD, M * M)
    V = c * V.reshape(M * nH, M * M)
    cP = linalg.cho_factor(P, lower=True, overwrite_a=True, check_finite=False)
    cQ = linalg.cho_factor(Q, lower=True, overwrite_a=True, check_finite=False)
    S = U.T @ linalg.cho_solve(cP, U, check_finite=False)
    T = V.T @ linalg.cho_solve(cQ, V, check_finite=False)
    sign, small = np.linalg.slogdet(np.eye(M * M) - S @ T)
    if sign <= 0:  # cannot happen for a positive definite I + G; fall back to be safe
        return float("nan")
    return float(2.0 * np.sum(np.log(np.diag(cP[0]))) + 2.0 * np.sum(np.log(np.diag(cQ[0]))) + small)


def candidate_log_evidence(objective: GPPNMFObjective, theta, value: float) -> float:
    """The Laplace evidence of :func:`~gppnmf_core.posterior.laplace_log_evidence`, by :func:`block_log_det`
    where the mask allows (none, or column weights), else by that function.

    ``objective`` must carry ``mask_sq`` (the squared mask or None), as
    :func:`~gppnmf_core.posterior.build_objective` sets it.
    """
    w2 = _column_weights_sq(objective)
    if w2 is False:
        return laplace_log_evidence(objective, theta, value=value)
    log_det = block_log_det(objective, theta, w2)
    if not np.isfinite(log_det):
        return laplace_log_evidence(objective, theta, value=value)
    K, L = objective.X.shape
    if w2 is None:
        n, log_w = float(K * L), 0.0
    else:
        observed = w2 > 0
        n = float(K * np.count_nonzero(observed))
        log_w = 0.5 * K * float(np.sum(np.log(w2[observed])))
    noise_var = 1.0 / objective.inv_noise_var
    return float(-value - 0.5 * log_det - 0.5 * n * np.log(2.0 * np.pi * noise_var) + log_w
                 + lgamma(objective.rank + 1))
