r"""The GPP-NMF MAP objective over the whitened variables, with its gradient.

.. math::

    L(\delta, \eta) = \frac{1}{2\sigma^2} \lVert W \odot (X - D H) \rVert_F^2
                      + \tfrac12 \lVert \delta \rVert^2 + \tfrac12 \lVert \eta \rVert^2,
    \qquad D = f_D^{-1}(C_D \delta), \quad H^T = f_H^{-1}(C_H \eta)

(paper eq. 22). The gradient follows the chain rule:

.. math::

    G_D = \sigma^{-2} (W^2 \odot (DH - X)) H^T, \qquad
    \nabla_\delta = C_D^T (f_D^{-1\prime}(C_D \delta) \odot G_D) + \delta

and likewise for ``eta`` with ``G_H = sigma^-2 D^T (W^2 ⊙ (DH - X))``.
The variables are packed into one flat float64 vector ``theta = [vec(delta), vec(eta)]``
(SciPy's ``jac=True`` convention: one call returns value and gradient).
"""

from __future__ import annotations

import numpy as np

from .priors import BoundPrior

#: Use the expanded squared error only while it keeps more than ten of sixteen digits.
CANCELLATION_LIMIT = 1e-6


class GPPNMFObjective:
    """Value and gradient of the GPP-NMF MAP objective on a flat vector.

    Parameters
    ----------
    X : ndarray of shape (K, L)
        Data (validated by the caller).
    rank : int
        Number of components M.
    prior_D : BoundPrior
        Prior for the columns of D, bound to K points.
    prior_H : BoundPrior
        Prior for the rows of H, bound to L points.
    noise_var : float
        Noise variance sigma^2 (> 0).
    weights_sq : ndarray of shape (K, L), optional
        Squared mask ``W**2``; None means every entry counts once.

    Notes
    -----
    ``delta`` has shape (prior_D.n_latent, M) and ``eta`` (prior_H.n_latent, M);
    ``theta`` holds ``delta.ravel()`` followed by ``eta.ravel()``.
    """

    def __init__(self, X, rank, prior_D: BoundPrior, prior_H: BoundPrior, noise_var, weights_sq=None):
        self.X = X
        self.rank = rank
        self.prior_D = prior_D
        self.prior_H = prior_H
        self.inv_noise_var = 1.0 / noise_var
        self.weights_sq = weights_sq
        self.x_sq = float(np.vdot(X, X))
        self.n_delta = prior_D.n_latent * rank
        self.size = self.n_delta + prior_H.n_latent * rank
        #: Slices of theta holding delta and eta, in that order.
        self.blocks = (slice(0, self.n_delta), slice(self.n_delta, self.size))

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split ``theta`` into ``delta`` (n_latent_D, M) and ``eta`` (n_latent_H, M)."""
        delta = theta[: self.n_delta].reshape(self.prior_D.n_latent, self.rank)
        eta = theta[self.n_delta :].reshape(self.prior_H.n_latent, self.rank)
        return delta, eta

    @staticmethod
    def pack(delta: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unpack`."""
        return np.concatenate([delta.ravel(), eta.ravel()])

    def factors(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``D`` of shape (K, M) and ``H`` of shape (M, L) for ``theta``."""
        delta, eta = self.unpack(theta)
        return self.prior_D.forward(delta)[0], self.prior_H.forward(eta)[0].T

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective value and gradient of shape (size,) at ``theta``."""
        delta, eta = self.unpack(theta)
        D, dD = self.prior_D.forward(delta)
        Ht, dHt = self.prior_H.forward(eta)
        squared_error, grad_D, grad_Ht = self._data_fit(D, Ht)
        value = 0.5 * self.inv_noise_var * squared_error + 0.5 * (np.vdot(delta, delta) + np.vdot(eta, eta))
        grad_delta = self.prior_D.pullback(dD, self.inv_noise_var * grad_D) + delta
        grad_eta = self.prior_H.pullback(dHt, self.inv_noise_var * grad_Ht) + eta
        return float(value), self.pack(grad_delta, grad_eta)

    def _data_fit(self, D, Ht):
        """``||W ⊙ (X - D H)||²`` and its gradients (times sigma²) w.r.t. D (K, M) and H^T (L, M).

        Without a mask the products are expanded,
        ``||X - DH||² = ||X||² - 2 <X H^T, D> + <D^T D, H H^T>``, so that no
        (K, L) temporary is formed: three passes over X become two reads. When
        the fit is so close that the expansion would cancel more than
        ``CANCELLATION_LIMIT`` of ``||X||²``, the residual is formed explicitly.
        """
        if self.weights_sq is None:
            XHt, XtD = self.X @ Ht, self.X.T @ D
            DtD, HHt = D.T @ D, Ht.T @ Ht
            squared_error = self.x_sq - 2.0 * np.vdot(XHt, D) + np.vdot(DtD, HHt)
            if squared_error > CANCELLATION_LIMIT * self.x_sq:
                return squared_error, D @ HHt - XHt, Ht @ DtD - XtD
        residual = D @ Ht.T
        residual -= self.X
        weighted = residual if self.weights_sq is None else self.weights_sq * residual
        return np.vdot(residual, weighted), weighted @ Ht, weighted.T @ D
