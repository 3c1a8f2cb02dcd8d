r"""The mass matrix of Hamiltonian Monte Carlo: diagonal plus low rank, and its estimation in warm-up.

The metric
----------
:class:`Metric` is the inverse mass matrix

.. math:: M^{-1} = S (I + U \operatorname{diag}(\lambda - 1) U^T) S, \qquad S = \operatorname{diag}(\sqrt{s}),

with ``s`` the diagonal part (per-coordinate variances), ``U`` (d, r) orthonormal
and ``lambda`` the variances along the columns of ``U`` in the space scaled by
``S^-1``. Momenta are drawn from ``N(0, M)``; the leapfrog velocity is
``M^-1 p``. Both cost ``O(d r)``.

Why low rank
------------
A diagonal mass matrix rescales the coordinate axes only. A posterior with one
long direction that is not along an axis (NMF's rotation ``D R``, ``R^-1 H``
on the GPP-NMF toy: variance about 20 where the rest is about 1) keeps the
step size set by the short directions, and NUTS's trajectories, which stop at
the first U-turn of the short ones, cross the long one by a random walk: its
effective sample size falls by about the variance ratio. Rescaling that one
direction removes the random walk.

How the directions are found (:func:`estimate_low_rank`)
--------------------------------------------------------
From the draws ``y_i`` of one warm-up window and the potential's gradients
``g_i`` there, both expressed in the space scaled by the diagonal part
(``y = S^-1 q``, ``g = S grad U``): in the span ``B`` of the centred draws,
the covariances ``Sigma_y = cov(B^T y)`` and ``Sigma_g = cov(B^T g)`` (each
shrunk towards the identity with weight ``shrink / (n + shrink)``) and their
geometric mean ``A = Sigma_g^-1 # Sigma_y``, the matrix with
``A Sigma_g A = Sigma_y``. For a Gaussian target with covariance ``Sigma``,
``g = Sigma^-1 y`` and ``A`` is ``Sigma`` on the subspace whatever the number
of draws; in particular where ``Sigma = I`` the draws are their own gradients
and ``A = I`` exactly, so the directions that a few hundred draws in hundreds
of dimensions make look long by chance (the Marchenko–Pastur spread of a
sample covariance) are *not* picked, and a long direction that the chain has
explored only partly in the window is seen at its full length (draws and
gradients shrink alike). Eigen-pairs of ``A`` with eigenvalue above
``cutoff`` (at most ``max_rank``, the longest first) make ``U`` and
``lambda``. Only long directions: a short one barely shows in the span of the
draws (it would need the gradients' span, and there, for a target that is not
Gaussian, the two spans differ by directions that look short by construction);
in :func:`gppnmf_core.posterior.sample_posterior` the short directions are the
Laplace preconditioner's part. Along a long direction the variance is the
larger of ``A``'s and the draws' own: on the GPP-NMF toy the longest direction
(one spectrum turning towards the other) is skewed, flat on one side and
steep where the spectra approach, and the steep side's gradients made ``A``
say 7–9 where the draws said 12–23 (data set 9; the variance over the
sampled chains was 22–30). The draws' variance can only fall short (a window
that has not crossed the direction), so the larger of the two is the better
estimate. The same idea, the geometric mean of the
draws' covariance and the inverse of the gradients', is behind nutpie's
low-rank mass-matrix adaptation (A. Seyboldt); Stan's dense metric uses the
draws alone. This is our own implementation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Metric", "estimate_low_rank", "geometric_mean"]


@dataclass
class Metric:
    """Inverse mass matrix ``S (I + U diag(lam - 1) U^T) S`` with ``S = diag(sqrt(diag))``.

    Attributes
    ----------
    diag : ndarray of shape (d,)
        Variances of the diagonal part (Stan's ``inv_metric``).
    U : ndarray of shape (d, r)
        Orthonormal directions in the space scaled by ``S^-1`` (``r = 0``: diagonal).
    lam : ndarray of shape (r,)
        Variances along the columns of ``U`` in that space.
    """

    diag: np.ndarray
    U: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    lam: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self):
        self.diag = np.asarray(self.diag, dtype=np.float64)
        d = self.diag.size
        self.U = np.asarray(self.U, dtype=np.float64).reshape(d, -1) if np.size(self.U) else np.zeros((d, 0))
        self.lam = np.asarray(self.lam, dtype=np.float64).reshape(-1)
        if self.U.shape[1] != self.lam.size:
            raise ValueError(f"U has {self.U.shape[1]} columns but lam has {self.lam.size} entries")
        self._sqrt = np.sqrt(self.diag)
        self._lam_m1 = self.lam - 1.0
        self._mom = 1.0 / np.sqrt(self.lam) - 1.0
        # M^-1 = diag + V diag(lam - 1) V^T with V = S U: two products with V per velocity
        self._V = np.ascontiguousarray(self._sqrt[:, None] * self.U)
        self._VT = np.ascontiguousarray(self._V.T)

    @property
    def rank(self) -> int:
        """Number of low-rank directions ``r``."""
        return self.lam.size

    def velocity(self, p: np.ndarray) -> np.ndarray:
        """``M^-1 p`` for a momentum of shape (d,)."""
        if self.lam.size == 0:
            return self.diag * p
        return self.diag * p + self._V @ (self._lam_m1 * (self._VT @ p))

    def momentum(self, rng: np.random.Generator) -> np.ndarray:
        """A momentum ``p ~ N(0, M)`` of shape (d,)."""
        xi = rng.standard_normal(self.diag.size)
        if self.lam.size:
            xi += self.U @ (self._mom * (self.U.T @ xi))
        return xi / self._sqrt

    def dense(self) -> np.ndarray:
        """``M^-1`` as a dense (d, d) array (for tests and small problems)."""
        A = np.eye(self.diag.size) + (self.U * self._lam_m1) @ self.U.T
        return self._sqrt[:, None] * A * self._sqrt[None, :]

    def directions(self) -> np.ndarray:
        """The low-rank directions in the original coordinates ``S U``, columns of unit norm, shape (d, r)."""
        V = self._sqrt[:, None] * self.U
        return V / np.maximum(np.linalg.norm(V, axis=0), 1e-300)


def geometric_mean(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    r"""The geometric mean ``A # B = A^{1/2} (A^{-1/2} B A^{-1/2})^{1/2} A^{1/2}`` of SPD matrices.

    It is the SPD matrix ``G`` with ``G A^{-1} G = B``.

    Parameters
    ----------
    A, B : ndarray of shape (k, k)
        Symmetric positive definite.

    Returns
    -------
    ndarray of shape (k, k)
    """
    w, V = np.linalg.eigh(A)
    half = (V * np.sqrt(w)) @ V.T
    inv_half = (V / np.sqrt(w)) @ V.T
    wm, Vm = np.linalg.eigh(inv_half @ B @ inv_half)
    middle = (Vm * np.sqrt(np.clip(wm, 0.0, None))) @ Vm.T
    G = half @ middle @ half
    return 0.5 * (G + G.T)


def estimate_low_rank(draws: np.ndarray, grads: np.ndarray, diag: np.ndarray, *, max_rank: int = 8,
                      cutoff: float = 2.0, shrink: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Long directions of a window's draws, from the draws and the potential's gradients.

    Parameters
    ----------
    draws : ndarray of shape (n, d)
        Positions of one warm-up window.
    grads : ndarray of shape (n, d)
        Gradients of the potential ``U = -log density`` at those positions.
    diag : ndarray of shape (d,)
        The diagonal part of the metric to be used with the result.
    max_rank : int
        At most this many directions.
    cutoff : float
        Keep eigenvalues of the geometric mean above ``cutoff``.
    shrink : float
        Pseudo-draws of the identity added to both covariances.

    Returns
    -------
    U : ndarray of shape (d, r)
        Orthonormal directions in the space scaled by ``diag ** -0.5``, longest first.
    lam : ndarray of shape (r,)
        Their variances in that space.

    Notes
    -----
    See the module notes: ``A = Sigma_g^-1 # Sigma_y`` on the span of the
    centred draws. Fewer than 4 draws give no directions.
    """
    n, d = draws.shape
    if n < 4 or max_rank < 1:
        return np.zeros((d, 0)), np.zeros(0)
    s = np.sqrt(np.asarray(diag, dtype=np.float64))
    Y = (draws - draws.mean(axis=0)) / s
    G = (grads - grads.mean(axis=0)) * s
    _, sv, Vt = np.linalg.svd(Y, full_matrices=False)
    B = Vt[sv > sv[0] * 1e-8].T  # (d, k): the span of the centred draws
    k = B.shape[1]
    w = shrink / (n + shrink)
    cov_y = (1.0 - w) * (Y @ B).T @ (Y @ B) / (n - 1) + w * np.eye(k)
    cov_g = (1.0 - w) * (G @ B).T @ (G @ B) / (n - 1) + w * np.eye(k)
    A = geometric_mean(np.linalg.inv(cov_g), cov_y)
    lam, V = np.linalg.eigh(A)
    order = [i for i in np.argsort(-lam) if lam[i] > cutoff][:max_rank]
    U = B @ V[:, order]
    U, _ = np.linalg.qr(U)  # orthonormal to rounding (B and V are)
    return U, np.maximum(lam[order], np.var(Y @ U, axis=0, ddof=1))
