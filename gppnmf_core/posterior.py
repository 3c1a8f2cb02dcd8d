r"""Posterior sampling for GPP-NMF: how sure is each spectrum, map and fitted value.

The GPP-NMF posterior over the whitened variables ``theta = (delta, eta)`` is

.. math::

    p(\theta \mid X) \propto \exp(-L(\theta)), \qquad
    L(\theta) = \frac{1}{2\sigma^2} \lVert W \odot (X - D H) \rVert_F^2
                + \tfrac12 \lVert \delta \rVert^2 + \tfrac12 \lVert \eta \rVert^2,

with ``L`` the MAP objective of :class:`~gppnmf_core.objective.GPPNMFObjective`
(value and gradient on the flat ``theta``). :func:`sample_posterior` draws from
it with the No-U-Turn sampler.

How it samples
--------------
1. **MAP**: :func:`~gppnmf_core.gppnmf.fit_gppnmf` (or L-BFGS from a given
   ``theta0``).
2. **Laplace preconditioner**: the full Hessian of ``L`` at the MAP
   (:func:`hessian`, central differences of the gradient, ``2 d`` gradient
   evaluations), minus the prior's identity: the data term's curvature
   ``A``. With its eigen-pairs ``(lambda_i, u_i)`` where ``|lambda_i|``
   exceeds :data:`PRECONDITION_MIN_EIG` the chains run in ``z`` with
   ``theta = theta_MAP + S z``,
   ``S = I + sum_i (1/sqrt(max(1 + lambda_i, PRECONDITION_FLOOR)) - 1) u_i u_i^T``
   (so ``S^2`` is the Laplace covariance on those directions). The posterior
   in ``z`` is close to N(0, I): on the CSI phantom the narrowest direction
   of ``theta`` has sd 0.01 while the prior's has sd 1, which without this
   took 60–130 leapfrog steps per draw on the toy and about 15 with it. A
   low-rank ``S`` costs ``2 d r`` per step instead of the ``d^2`` of a dense
   metric. The Gauss–Newton Hessian (:func:`gauss_newton_hessian`, the
   earlier choice, ``curvature="gauss_newton"`` in :func:`make_preconditioner`)
   has every eigenvalue at least 1, but at a MAP of noisy data the residual
   terms make a few directions wider than the prior (toy: down to 0.75):
   left too narrow, those were the slowest to mix (the worst bulk ESS of D
   and H on toy data set 1 went from 80–110 to 290–390 per 2000 draws, the
   worst R̂ from 1.023 to 1.006, at the same 15 steps per draw).
3. **NUTS** (:func:`gppnmf_core.nuts.sample_nuts`, a multinomial No-U-Turn
   sampler of this package) in ``z``, with the step size (dual averaging,
   target acceptance ``target_accept``) and a diagonal mass matrix (Stan's
   windows) adapted during ``n_warmup`` iterations. A trajectory where the
   links overflow (a non-finite objective or gradient) is ended as divergent
   and its end point never accepted; divergences after warm-up are counted.
   ``sampler="mici"`` runs mici's ``DynamicMultinomialHMC`` instead (the
   earlier choice; see below). Without the diagonal mass matrix (step size
   only) toy data set 1 lost a chain to a divergent, label-switched region
   (790 divergences, R̂ 1.15): the adaptation stays.
4. **Chains in parallel processes** (``concurrent.futures`` with the
   ``fork`` start method where there is one, else ``spawn``), each from the MAP
   plus ``jitter * S z0``, ``z0 ~ N(0, I)``, seeded from ``random_state`` by a
   :class:`numpy.random.SeedSequence` so that the draws do not depend on how
   many processes run them.
5. **Identification** (in the chain's worker): every draw's columns of D are matched to the MAP's by
   cosine similarity (:func:`~gppnmf_core.metrics.match_components`; label
   switching happens within chains), then scaled to unit norm with H scaled
   to match (``D H`` unchanged). ``X0 = D H`` is on the raw scale.
6. **Diagnostics** from ArviZ (rank-normalised split-R̂, bulk and tail ESS)
   on the log density and on up to ``n_diagnostic`` entries each of the
   normalised D, the scaled H and X0 (evenly spaced over the flattened arrays,
   all of them when there are fewer). ArviZ takes about 8 ms per variable for
   the three diagnostics, so all of X0 (200,000 entries on the CSI phantom)
   would take half an hour.

Which sampler
-------------
Two well-kept samplers take a NumPy log density with its gradient: ``mici``
(pure Python, NumPy only) and ``nutpie`` (Rust, with ``from_pyfunc``). Measured
on the paper's toy (one chain of 500 warm-up + 1000 draws, same objective,
same Laplace reparametrisation, 2-core machine): mici 8.6 s at 332 us per
gradient, nutpie 9.2 s at 390 us per gradient, both 15 leapfrog steps per draw
and bulk ESS of X0 300–400 (minimum) / 950–1260 (median) per 1000 draws.
Without the reparametrisation nutpie's low-rank mass-matrix adaptation halved
the steps (63 -> 31) but cost 3.5x more per step. nutpie runs the chains of a
Python model on threads that share the GIL, pulls in pyarrow and zarr, and
pins ArviZ below 1.0. mici's per-step overhead was 109 us on a 600-dimensional
standard Gaussian (step size 0.31, 15 steps per draw: the geometry of our
preconditioned toy), against a toy objective of 75–150 us: a third or more of a
chain's time. :mod:`gppnmf_core.nuts` (the same algorithm: multinomial NUTS,
the generalised no-U-turn criterion with Stan's checks across subtrees, Stan's
warm-up) takes 40 us per step on that Gaussian (gradient included), with the
same 15 steps per draw and step size 0.31; on the toy the CPU of one chain of
300 + 1000 iterations went from 6–7 s (mici) to 3.1–4.0 s, on a loaded
machine. It is tested on leapfrog reversibility and energy conservation and on
a correlated Gaussian's mean and covariance (``tests/test_nuts.py``).

What limits mixing on the toy
-----------------------------
Not label switching (no switches in the chains of the sets that fail R̂) and
not the scale of D against H (the log norms of D's columns have bulk ESS
300–390 per 2000 draws): the slowest quantities are the normalised D and the
scaled H along the rotation of NMF (``D R``, ``R^-1 H``; the cosine between the
two spectra had bulk ESS 165). In ``z`` the draws' covariance has one
direction of variance 19 and a few of 3–5 where the Laplace approximation at
the MAP says 1: the posterior is curved there, and those directions had bulk
ESS 55–90 per 2000 draws. A low-rank correction estimated from the warm-up
draws (their principal directions, or the geometric mean of the draws' and
gradients' covariances as in nutpie) did not find them: 225 autocorrelated
warm-up draws in 600 dimensions are all noise at that scale. Toy data sets 7
and 9 fail R̂ with either sampler (mici: R̂ 1.022 / 1.026, bulk ESS 118 / 148,
53 / 3 divergences, 356 label switches on set 7; ours: R̂ 1.045 / 1.037, ESS
57 / 59, 6 / 10 divergences): their chains pass through regions where the two
spectra nearly coincide and the links overflow. ``target_accept=0.9`` did not
help there (R̂ 1.037 / 1.069 at 1.5–2x the steps).
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, optimize

from ._validation import check_int, check_mask, check_matrix, check_positive, check_random_state, check_rank
from .metrics import match_components
from .objective import GPPNMFObjective
from .priors import GPPrior
from .results import Progress, stop_requested

__all__ = [
    "Posterior",
    "gauss_newton_hessian",
    "hessian",
    "identify",
    "laplace_log_evidence",
    "objective_value",
    "sample_posterior",
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

#: Whether the chains also adapt a diagonal mass matrix in z (Stan's windows) besides the step size.
ADAPT_MASS = True

#: Seconds between progress reports handed to the callback.
PROGRESS_INTERVAL_S = 0.1

_QUANTITIES = ("X0", "D", "H")


# --------------------------------------------------------------------------- objective helpers


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
    K, L = X.shape
    rank = check_rank(rank, X.shape)
    noise_var = check_positive(noise_var, "noise_var")
    weights_sq = check_mask(mask, X.shape)
    for name, prior in (("prior_D", prior_D), ("prior_H", prior_H)):
        if not isinstance(prior, GPPrior):
            raise ValueError(f"{name} must be a GPPrior, got {type(prior).__name__}")
    bound_D = prior_D.bind(K, name=f"prior_D (rows of X, shape {X.shape})")
    bound_H = prior_H.bind(L, name=f"prior_H (columns of X, shape {X.shape})")
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


# --------------------------------------------------------------------------- the result


@dataclass
class Posterior:
    """Draws from the GPP-NMF posterior, identified and summarised.

    Attributes
    ----------
    D_draws : ndarray of shape (n_chains, n_draws, K, M)
        Columns of D scaled to unit Euclidean norm, matched to the MAP's component order.
    H_draws : ndarray of shape (n_chains, n_draws, M, L)
        Rows of H on the matching scale (``D_draws[c, i] @ H_draws[c, i]`` is the draw's ``D H``).
    lp_draws : ndarray of shape (n_chains, n_draws)
        Log density ``-L(theta)`` of each draw.
    D_map, H_map : ndarray of shape (K, M) and (M, L)
        The MAP, normalised the same way.
    objective_map : float
        ``L`` at the MAP.
    theta_map : ndarray of shape (d,)
        The MAP's whitened variables.
    rhat_max, ess_bulk_min, ess_tail_min : float
        Worst rank-normalised split-R̂ and bulk / tail effective sample sizes
        (ArviZ) over the log density and the diagnosed entries of D, H and X0.
    n_divergent : int
        Divergent transitions after warm-up (over all chains).
    n_label_switches : int
        Draws whose matching to the MAP was not the identity.
    stopped : bool
        Whether the callback stopped sampling (the draws are those made so far).
    runtime : float
        Wall-clock seconds, MAP included.
    settings : dict
        Everything that determines the draws, ``random_state`` included, and sampler statistics.
    """

    D_draws: np.ndarray
    H_draws: np.ndarray
    lp_draws: np.ndarray
    D_map: np.ndarray
    H_map: np.ndarray
    objective_map: float
    theta_map: np.ndarray
    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    n_divergent: int
    n_label_switches: int
    stopped: bool
    runtime: float
    settings: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)

    @property
    def n_chains(self) -> int:
        return self.D_draws.shape[0]

    @property
    def n_draws(self) -> int:
        """Draws per chain."""
        return self.D_draws.shape[1]

    @property
    def rank(self) -> int:
        return self.D_map.shape[1]

    def _check(self, name: str) -> None:
        if name not in _QUANTITIES:
            raise ValueError(f"name must be one of {_QUANTITIES}, got {name!r}")
        if self.n_draws == 0:
            raise ValueError("this Posterior holds no draws (sampling was stopped during warm-up)")

    def quantiles(self, name: str, qs) -> np.ndarray:
        """Posterior quantiles of ``"X0"`` (K, L), ``"D"`` (K, M) or ``"H"`` (M, L) over all draws.

        Parameters
        ----------
        name : {"X0", "D", "H"}
            ``"D"``: unit-norm columns in the MAP's component order; ``"H"``: rows
            on the matching scale; ``"X0"``: ``D H`` on the data's scale.
        qs : array_like of shape (n_q,)
            Probabilities in [0, 1].

        Returns
        -------
        ndarray of shape (n_q, *shape of the quantity)
        """
        self._check(name)
        qs = np.atleast_1d(np.asarray(qs, dtype=np.float64))
        if qs.ndim != 1 or np.any(~np.isfinite(qs)) or np.any((qs < 0) | (qs > 1)):
            raise ValueError(f"qs must be a 1-D sequence of probabilities in [0, 1], got {qs!r}")
        if name == "D":
            return np.quantile(self.D_draws.reshape(-1, *self.D_map.shape), qs, axis=0)
        if name == "H":
            return np.quantile(self.H_draws.reshape(-1, *self.H_map.shape), qs, axis=0)
        return self._x0_blocks(lambda X: np.quantile(X, qs, axis=0), (qs.size,))

    def mean(self, name: str) -> np.ndarray:
        """Posterior mean of ``"X0"``, ``"D"`` or ``"H"`` (shapes as in :meth:`quantiles`)."""
        self._check(name)
        if name == "D":
            return self.D_draws.mean(axis=(0, 1))
        if name == "H":
            return self.H_draws.mean(axis=(0, 1))
        return self._x0_blocks(lambda X: X.mean(axis=0), ())

    def _x0_blocks(self, reduce, lead: tuple) -> np.ndarray:
        """Apply ``reduce`` to the draws of X0, one block of columns (about 64 MiB) at a time."""
        D = self.D_draws.reshape(-1, *self.D_map.shape)
        H = self.H_draws.reshape(-1, *self.H_map.shape)
        K, L = D.shape[1], H.shape[2]
        out = np.empty((*lead, K, L))
        step = max(1, (64 << 20) // (8 * D.shape[0] * K))
        for start in range(0, L, step):
            cols = slice(start, min(start + step, L))
            out[..., cols] = reduce(np.matmul(D, H[:, :, cols]))
        return out

    def __repr__(self) -> str:
        K, M = self.D_map.shape
        state = ", stopped" if self.stopped else ""
        return (f"Posterior(K={K}, L={self.H_map.shape[1]}, M={M}, chains={self.n_chains}, "
                f"draws={self.n_draws}, rhat_max={self.rhat_max:.3f}, ess_bulk_min={self.ess_bulk_min:.0f}, "
                f"divergent={self.n_divergent}, random_state={self.settings.get('random_state')!r}{state})")


# --------------------------------------------------------------------------- the chains


class _StopSampling(KeyboardInterrupt):
    """Raised in a chain's trace function when the caller asked to stop (mici ends the chain cleanly)."""


# Shared between the main process and the chain workers: iterations done per chain and a stop flag.
_SHARED: dict = {}


def _init_worker(progress, stop) -> None:
    _SHARED["progress"], _SHARED["stop"] = progress, stop


@contextmanager
def _quiet_mici():
    """mici logs a traceback when a chain is interrupted and a line per divergence: silence both."""
    import mici.samplers  # noqa: F401  (creates the loggers)

    names = [n for n in list(logging.Logger.manager.loggerDict) if n == "mici" or n.startswith("mici.")]
    loggers = [logging.getLogger(n) for n in names]
    before = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, before, strict=True):
            logger.disabled = disabled


def _run_chain(task: dict) -> dict:
    """Run one chain; ``task`` holds the objective, preconditioner, settings, seed and ``sampler``."""
    if task.get("sampler", "nuts") == "mici":
        return _run_chain_mici(task)
    from .nuts import DivergenceError, sample_nuts
    from .threads import blas_threads

    objective, pre = task["objective"], task["pre"]
    chain, seed = task["chain"], task["seed"]
    progress, stop = _SHARED.get("progress"), _SHARED.get("stop")
    local = task.get("local_progress")
    if local is not None:
        progress, stop = local
    poll = task.get("poll")

    def value_and_grad(z):
        theta = pre.to_theta(z)
        value, grad = objective(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            raise DivergenceError("the links overflowed (non-finite objective)")
        return value, pre.apply(grad)

    def on_iteration(done):
        if progress is not None:
            progress[chain] = done
        if poll is not None:
            poll()
        return bool(stop is not None and stop.value)

    cpu_start = time.process_time()
    rng = np.random.default_rng(seed)
    z0 = None
    with blas_threads(1, 0), np.errstate(all="ignore"):
        for scale in (task["jitter"], 0.1 * task["jitter"], 0.0):  # a start where the links stay finite
            z0 = scale * rng.standard_normal(objective.size)
            try:
                value_and_grad(z0)
                break
            except DivergenceError:
                continue
        out = sample_nuts(value_and_grad, z0, rng, task["n_warmup"], task["n_draws"],
                          target_accept=task["target_accept"], max_tree_depth=task["max_tree_depth"],
                          adapt_mass=task.get("adapt_mass", ADAPT_MASS), on_iteration=on_iteration)
    n_warmup = task["n_warmup"]
    result = {"z": out.q[n_warmup:], "lp": -out.potential[n_warmup:], "done": out.n_done, "stats": out.stats}
    result.update(_identify_chain(objective, pre, result["z"], task.get("D_map")))
    result["cpu_s"] = time.process_time() - cpu_start
    return result


def _identify_chain(objective: GPPNMFObjective, pre: Preconditioner, z: np.ndarray, D_map) -> dict:
    """Factors of a chain's draws, matched to ``D_map`` and normalised (:func:`identify`), in the worker."""
    if D_map is None:
        return {}
    K, L, M = objective.X.shape[0], objective.X.shape[1], objective.rank
    D_out, H_out = np.empty((len(z), K, M)), np.empty((len(z), M, L))
    switched = np.zeros(len(z), dtype=bool)
    for i, theta in enumerate(pre.to_theta(z) if len(z) else []):
        D_out[i], H_out[i], switched[i] = identify(*objective.factors(theta), D_map)
    return {"D": D_out, "H": H_out, "switched": switched}


def _run_chain_mici(task: dict) -> dict:
    """Run one chain with mici's ``DynamicMultinomialHMC`` (the earlier sampler, kept for comparison)."""
    try:
        import mici
    except ImportError as err:  # not a dependency any more
        raise ImportError("sampler='mici' needs the mici package (pip install mici)") from err

    from .threads import blas_threads

    objective, pre = task["objective"], task["pre"]
    chain, seed = task["chain"], task["seed"]
    progress, stop = _SHARED.get("progress"), _SHARED.get("stop")
    local = task.get("local_progress")
    if local is not None:
        progress, stop = local

    def value_and_grad(z):
        theta = pre.to_theta(z)
        with np.errstate(all="ignore"):
            value, grad = objective(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            raise mici.errors.HamiltonianDivergenceError("the links overflowed (non-finite objective)")
        return value, pre.apply(grad)

    def neg_log_dens(z):
        return value_and_grad(z)[0]

    def grad_neg_log_dens(z):
        value, grad = value_and_grad(z)
        return grad, value

    iteration = [0]
    poll = task.get("poll")

    calls = [0]

    def trace(state):
        calls[0] += 1
        if calls[0] == 1:  # mici calls it once on the initial state to size its arrays
            return {"z": state.pos, "lp": -system.neg_log_dens(state)}
        iteration[0] += 1
        if progress is not None:
            progress[chain] = iteration[0]
        if poll is not None:
            poll()
        if stop is not None and stop.value:
            raise _StopSampling
        return {"z": state.pos, "lp": -system.neg_log_dens(state)}

    cpu_start = time.process_time()
    rng = np.random.default_rng(seed)
    system = mici.systems.EuclideanMetricSystem(neg_log_dens, grad_neg_log_dens=grad_neg_log_dens)
    integrator = mici.integrators.LeapfrogIntegrator(system)
    sampler = mici.samplers.DynamicMultinomialHMC(system, integrator, rng, max_tree_depth=task["max_tree_depth"])
    z0 = None
    for scale in (task["jitter"], 0.1 * task["jitter"], 0.0):  # a start where the links stay finite
        z0 = scale * rng.standard_normal(objective.size)
        try:
            value_and_grad(z0)
            break
        except mici.errors.HamiltonianDivergenceError:
            continue
    adapters = [mici.adapters.DualAveragingStepSizeAdapter(task["target_accept"]),
                mici.adapters.OnlineVarianceMetricAdapter()]
    with _quiet_mici(), blas_threads(1, 0), np.errstate(all="ignore"):
        out = sampler.sample_chains(
            task["n_warmup"], task["n_draws"], [z0], adapters=adapters, trace_funcs=[trace],
            trace_warm_up=True, display_progress=False, monitor_stats=None)
    done = iteration[0]
    z = np.asarray(out.traces["z"][0])[:done]
    stats = {key: np.asarray(val[0])[:done] for key, val in out.statistics.items()}
    lp = np.asarray(out.traces["lp"][0])[:done]
    return {"z": z[task["n_warmup"]:], "lp": lp[task["n_warmup"]:], "done": done, "stats": stats,
            "cpu_s": time.process_time() - cpu_start}


def _start_method() -> str:
    methods = multiprocessing.get_all_start_methods()
    return "fork" if "fork" in methods else "spawn"


def sample_posterior(
    X,
    rank,
    prior_D: GPPrior,
    prior_H: GPPrior,
    noise_var,
    mask=None,
    n_draws: int = 1000,
    n_chains: int = 2,
    callback=None,
    random_state=0,
    theta0=None,
    *,
    n_warmup: int = 300,
    target_accept: float = 0.8,
    max_tree_depth: int = 8,
    jitter: float = 0.5,
    n_jobs: int | None = None,
    n_diagnostic: int | None = 48,
    map_result=None,
    sampler: str = "nuts",
) -> Posterior:
    r"""Draw from the GPP-NMF posterior with NUTS and summarise it (bands for D, H and X0 = D H).

    See the module notes for the method (MAP, Laplace preconditioner, NUTS
    with adapted step size and mass matrix, chains in parallel processes,
    matching to the MAP, ArviZ diagnostics).

    Parameters
    ----------
    X : array_like of shape (K, L)
        Data; may contain negative values.
    rank : int
        Number of components M.
    prior_D, prior_H : GPPrior
        Priors of the columns of D (K points) and the rows of H (L points).
    noise_var : float
        Noise variance sigma^2 (> 0).
    mask : array_like of shape (K, L) or (L,), optional
        Weights W as in :func:`~gppnmf_core.gppnmf.fit_gppnmf` (0 leaves an
        entry or a whole column out; H there follows the prior).
    n_draws : int
        Draws per chain kept after warm-up.
    n_chains : int
        Independent chains (at least 1; R̂ needs 2 to compare chains).
    callback : callable, optional
        ``callback(Progress)``: first the MAP fit's reports (``method="gppnmf"``),
        then every :data:`PROGRESS_INTERVAL_S` seconds ``Progress("posterior", 0,
        1, iterations done over all chains, n_chains * (n_warmup + n_draws),
        L at the MAP)``. Raising :class:`StopIteration` or returning True
        stops (the fits' contract): the result then holds the draws made so
        far (``stopped=True``; none if warm-up had not finished).
    random_state : None, int or numpy.random.Generator
        Seeds the MAP fit, the chains' starting points and the chains.
    theta0 : array_like of shape (d,), optional
        Warm start for the MAP (flat ``(delta, eta)`` as in
        :class:`~gppnmf_core.objective.GPPNMFObjective`); L-BFGS runs from it
        instead of a fresh :func:`fit_gppnmf`.
    n_warmup : int
        Adaptation iterations per chain (discarded).
    target_accept : float
        Target average acceptance statistic of the step-size adaptation.
    max_tree_depth : int
        At most ``2**max_tree_depth`` leapfrog steps per draw.
    jitter : float
        Scale of the chains' random starts around the MAP, in units of the
        Laplace standard deviation.
    n_jobs : int, optional
        Processes for the chains; default ``min(n_chains, cpu count)``; 1 runs
        them one after the other in this process. The draws do not depend on it.
    n_diagnostic : int or None
        Entries each of D, H and X0 on which R̂ and ESS are computed (None: all).
    map_result : FitResult, optional
        A GPP-NMF fit of the same data and model to start from (its ``latent``).
    sampler : {"nuts", "mici"}
        ``"nuts"``: this package's NUTS (:mod:`gppnmf_core.nuts`); ``"mici"``:
        mici's ``DynamicMultinomialHMC`` (needs mici installed; slower per step).

    Returns
    -------
    Posterior

    Raises
    ------
    ValueError
        For invalid data, rank, priors, noise variance, mask (as fit_gppnmf),
        a ``theta0`` of the wrong shape, or counts below 1.

    Examples
    --------
    >>> import gppnmf_core as gp
    >>> from gppnmf_core.posterior import sample_posterior
    >>> toy = gp.datasets.paper_toy(random_state=0)
    >>> p = toy.presets["correct"]
    >>> post = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, 25.0, n_draws=200)  # doctest: +SKIP
    >>> post.quantiles("X0", [0.05, 0.5, 0.95]).shape  # doctest: +SKIP
    (3, 100, 200)
    """
    start = time.perf_counter()
    objective = build_objective(X, rank, prior_D, prior_H, noise_var, mask)
    n_draws = check_int(n_draws, "n_draws")
    n_chains = check_int(n_chains, "n_chains")
    n_warmup = check_int(n_warmup, "n_warmup", minimum=0)
    max_tree_depth = check_int(max_tree_depth, "max_tree_depth", maximum=16)
    target_accept = check_positive(target_accept, "target_accept")
    if target_accept >= 1.0:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept}")
    jitter = float(jitter)
    if not np.isfinite(jitter) or jitter < 0:
        raise ValueError(f"jitter must be a non-negative finite number, got {jitter!r}")
    if n_diagnostic is not None:
        n_diagnostic = check_int(n_diagnostic, "n_diagnostic")
    if sampler not in ("nuts", "mici"):
        raise ValueError(f"sampler must be 'nuts' or 'mici', got {sampler!r}")
    if n_jobs is None:
        n_jobs = min(n_chains, os.cpu_count() or 1)
    n_jobs = check_int(n_jobs, "n_jobs")
    seed_input = random_state if not isinstance(random_state, np.random.Generator) else None
    rng = check_random_state(random_state)
    seeds = rng.integers(0, 2**63 - 1, size=n_chains + 1)

    # 1. the MAP
    stopped = False
    if theta0 is not None:
        theta0 = np.asarray(theta0, dtype=np.float64)
        if theta0.shape != (objective.size,):
            raise ValueError(f"theta0 must have shape ({objective.size},) = (n_latent_D * M + n_latent_H * M,) "
                             f"for X of shape {objective.X.shape} and rank {objective.rank}, got {theta0.shape}")
        theta_map, value_map, _ = map_from(objective, theta0)
    elif map_result is not None:
        theta_map = objective.pack(map_result.latent["delta"], map_result.latent["eta"])
        if theta_map.shape != (objective.size,):
            raise ValueError(f"map_result's latent variables have {theta_map.size} entries, expected {objective.size}")
        theta_map, value_map, _ = map_from(objective, theta_map)
    else:
        from .gppnmf import fit_gppnmf

        fit = fit_gppnmf(objective.X, objective.rank, prior_D, prior_H, noise_var, mask=mask, callback=callback,
                         random_state=int(seeds[-1]))
        theta_map = objective.pack(fit.latent["delta"], fit.latent["eta"])
        value_map, stopped = fit.objective, fit.stopped

    timings = {"map": time.perf_counter() - start}

    # 2. the preconditioner
    mark = time.perf_counter()
    pre = make_preconditioner(objective, theta_map)
    timings["preconditioner"] = time.perf_counter() - mark

    # 3.-4. the chains
    total = n_chains * (n_warmup + n_draws)
    D_map, H_map = objective.factors(theta_map)
    tasks = [{"D_map": D_map, "objective": objective, "pre": pre, "chain": c, "seed": int(seeds[c]),
              "n_warmup": n_warmup, "n_draws": n_draws, "target_accept": target_accept,
              "max_tree_depth": max_tree_depth,
              "jitter": jitter, "sampler": sampler} for c in range(n_chains)]
    mark = time.perf_counter()
    results = [] if stopped else _run_chains(tasks, n_jobs, callback, total, value_map)
    timings["chains"] = time.perf_counter() - mark
    mark = time.perf_counter()
    if any(r["done"] < n_warmup + n_draws for r in results) or len(results) < n_chains:
        stopped = True

    # 5. identification (done in the workers: each draw's D matched to the MAP's and normalised)
    n_kept = min((r["z"].shape[0] for r in results), default=0)
    K, L, M = objective.X.shape[0], objective.X.shape[1], objective.rank
    D_draws = np.empty((n_chains, n_kept, K, M))
    H_draws = np.empty((n_chains, n_kept, M, L))
    lp_draws = np.empty((n_chains, n_kept))
    switches = 0
    for c, r in enumerate(results):
        lp_draws[c] = r["lp"][:n_kept]
        if "D" not in r:
            r.update(_identify_chain(objective, pre, r["z"], D_map))
        D_draws[c], H_draws[c] = r["D"][:n_kept], r["H"][:n_kept]
        switches += int(np.sum(r["switched"][:n_kept]))
    D_map_n, H_map_n = _normalise(D_map, H_map)
    timings["identify"] = time.perf_counter() - mark

    # 6. diagnostics
    mark = time.perf_counter()
    diagnostics = _diagnostics(D_draws, H_draws, lp_draws, n_diagnostic) if n_kept >= 4 else {}
    timings["diagnostics"] = time.perf_counter() - mark
    n_divergent = int(sum(np.sum(r["stats"].get("diverging", np.zeros(0))[n_warmup:]) for r in results))
    step_sizes = [float(r["stats"]["step_size"][-1]) for r in results if r["stats"].get("step_size") is not None
                  and r["stats"]["step_size"].size]
    n_steps = [float(np.mean(r["stats"]["n_step"][n_warmup:])) for r in results
               if r["stats"].get("n_step") is not None and r["stats"]["n_step"].size > n_warmup]
    settings = {
        "rank": M, "noise_var": 1.0 / objective.inv_noise_var, "masked": mask is not None,
        "n_draws": n_draws, "n_chains": n_chains, "n_warmup": n_warmup, "target_accept": target_accept,
        "max_tree_depth": max_tree_depth, "jitter": jitter, "random_state": seed_input,
        "n_jobs": n_jobs, "n_diagnostic": n_diagnostic, "warm_start": theta0 is not None or map_result is not None,
        "prior_D": prior_D.to_spec(), "prior_H": prior_H.to_spec(),
        "sampler": ("gppnmf_core.nuts (multinomial NUTS)" if sampler == "nuts" else "mici DynamicMultinomialHMC (NUTS)")
        + ", Laplace-preconditioned",
        "preconditioner_rank": int(pre.c.size), "step_size": step_sizes, "mean_leapfrog_steps": n_steps,
        "chain_cpu_s": [float(r.get("cpu_s", float("nan"))) for r in results], "timings": timings,
    }
    return Posterior(
        D_draws=D_draws, H_draws=H_draws, lp_draws=lp_draws, D_map=D_map_n, H_map=H_map_n,
        objective_map=float(value_map), theta_map=theta_map,
        rhat_max=diagnostics.get("rhat_max", float("nan")), ess_bulk_min=diagnostics.get("ess_bulk_min", 0.0),
        ess_tail_min=diagnostics.get("ess_tail_min", 0.0), n_divergent=n_divergent, n_label_switches=switches,
        stopped=stopped, runtime=time.perf_counter() - start, settings=settings, diagnostics=diagnostics,
    )


def identify(D: np.ndarray, H: np.ndarray, D_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Put one draw in the reference's component order and scale (label switching and scale).

    Parameters
    ----------
    D : ndarray of shape (K, M)
    H : ndarray of shape (M, L)
    D_ref : ndarray of shape (K, M)
        The MAP's signals.

    Returns
    -------
    D_id : ndarray of shape (K, M)
        Columns matched to ``D_ref`` by cosine similarity
        (:func:`~gppnmf_core.metrics.match_components`), scaled to unit norm.
    H_id : ndarray of shape (M, L)
        Rows permuted alike and scaled so that ``D_id @ H_id == D @ H``.
    switched : bool
        Whether the matching was not the identity.
    """
    perm = match_components(D, D_ref)
    D_id, H_id = _normalise(D[:, perm], H[perm])
    return D_id, H_id, bool(np.any(perm != np.arange(perm.size)))


def _normalise(D: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm columns of D, H scaled so that the product is unchanged."""
    norms = np.linalg.norm(D, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    return D / norms, H * norms[:, None]


def _run_chains(tasks: list, n_jobs: int, callback, total: int, value_map: float) -> list:
    """Run the chains in ``n_jobs`` processes (or here), reporting progress; returns them in order."""
    n_chains = len(tasks)
    last = [time.monotonic()]

    def report(progress_counts, stop) -> None:
        now = time.monotonic()
        if callback is None or now - last[0] < PROGRESS_INTERVAL_S:
            return
        last[0] = now
        done = min(int(sum(progress_counts[:n_chains])), total)
        if stop_requested(callback, Progress("posterior", 0, 1, done, total, value_map)):
            stop.value = 1

    if n_jobs == 1:
        counts, stop = [0] * n_chains, _Flag()
        results = []
        for task in tasks:
            task = dict(task, local_progress=(counts, stop), poll=lambda: report(counts, stop))
            results.append(_run_chain(task))
            if stop.value:
                break
        return results
    context = multiprocessing.get_context(_start_method())
    counts = context.Array("l", n_chains, lock=False)
    stop = context.Value("b", 0, lock=False)
    with concurrent.futures.ProcessPoolExecutor(min(n_jobs, n_chains), mp_context=context,
                                                initializer=_init_worker, initargs=(counts, stop)) as pool:
        futures = [pool.submit(_run_chain, task) for task in tasks]
        _import_arviz_in_background()  # after the workers are forked: ~2 s of imports overlap the chains
        while not all(f.done() for f in futures):
            concurrent.futures.wait(futures, timeout=PROGRESS_INTERVAL_S)
            report(counts, stop)
        results = [f.result() for f in futures]
    thread = _SHARED.get("arviz_thread")
    if thread is not None:  # never fork (the next call's workers) while a thread holds the import lock
        thread.join()
    return results


def _import_arviz_in_background() -> None:
    """Start importing ArviZ (about 2 s, matplotlib included) in a thread, once per process."""
    import sys
    import threading

    if "arviz" in sys.modules or _SHARED.get("arviz_thread") is not None:
        return

    def load():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                import arviz  # noqa: F401
            except Exception:  # noqa: BLE001  (reported when _diagnostics imports it)
                pass

    thread = threading.Thread(target=load, name="gppnmf-arviz-import", daemon=True)
    _SHARED["arviz_thread"] = thread
    thread.start()


class _Flag:
    """A stop flag with the ``.value`` of a shared ``multiprocessing.Value``."""

    def __init__(self):
        self.value = 0


def _evenly(n_total: int, n: int | None) -> np.ndarray:
    """At most ``n`` evenly spaced indices of ``range(n_total)`` (all for None)."""
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.unique(np.linspace(0, n_total - 1, n).round().astype(int))


def _diagnostics(D_draws, H_draws, lp_draws, n_diagnostic) -> dict:
    """ArviZ split-R̂ and bulk/tail ESS on the log density and chosen entries of D, H and X0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        thread = _SHARED.get("arviz_thread")
        if thread is not None:
            thread.join()
        import arviz as az

        C, N = lp_draws.shape
        Df = D_draws.reshape(C, N, -1)
        Hf = H_draws.reshape(C, N, -1)
        K, M = D_draws.shape[2:]
        L = H_draws.shape[3]
        iD, iH = _evenly(Df.shape[2], n_diagnostic), _evenly(Hf.shape[2], n_diagnostic)
        iX = _evenly(K * L, n_diagnostic)
        k, l_ = np.divmod(iX, L)
        X0 = np.einsum("cnkm,cnml->cnkl", D_draws[:, :, np.unique(k)], H_draws[..., np.unique(l_)])
        X0 = X0[:, :, np.searchsorted(np.unique(k), k), np.searchsorted(np.unique(l_), l_)]
        data = az.convert_to_dataset({"lp": lp_draws, "D": Df[:, :, iD], "H": Hf[:, :, iH], "X0": X0})
        rhat = az.rhat(data)
        bulk = az.ess(data, method="bulk")
        tail = az.ess(data, method="tail")
    per = {}
    for name in ("lp", "D", "H", "X0"):
        per[name] = {"rhat_max": float(np.nanmax(rhat[name].values)),
                     "ess_bulk_min": float(np.nanmin(bulk[name].values)),
                     "ess_tail_min": float(np.nanmin(tail[name].values))}
    return {
        "rhat_max": max(v["rhat_max"] for v in per.values()),
        "ess_bulk_min": min(v["ess_bulk_min"] for v in per.values()),
        "ess_tail_min": min(v["ess_tail_min"] for v in per.values()),
        "per_quantity": per,
        "n_entries": {"D": int(iD.size), "H": int(iH.size), "X0": int(iX.size)},
    }
