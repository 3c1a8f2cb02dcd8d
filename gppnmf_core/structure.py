r"""Square-root operators ``C`` of a prior covariance ``Sigma = C C^T``.

A factor column is ``f^{-1}(C z)`` with whitened ``z ~ N(0, I)``. The fit only
ever needs ``C z`` and ``C^T g``, so the covariance is hidden behind one small
interface, :class:`SquareRoot`, with two implementations:

* :class:`DenseSquareRoot` — an explicit (n_points, n_latent) matrix;
* :class:`KroneckerSquareRoot` — a separable covariance on a grid,
  ``C = C_1 \otimes C_2 \otimes \dots``, applied as one mode product per grid
  axis: cost ``N * sum(r_k)`` instead of ``N * R``, memory ``sum(n_k r_k)``
  instead of ``N * R``.

1-D factors come from :func:`sqrt_factor` (the symmetric square root from an
eigen-decomposition, dropping directions of negligible variance, or a jittered
Cholesky factor). :func:`mirror_factor` builds exact mirror symmetry on
one axis: the GP lives on the half-axis of unique distances ``|x - c|`` and is
duplicated, so samples are exactly symmetric, full rank and need half the
variables.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from .kernels import Kernel

#: Eigen-directions with variance below this fraction of the largest are dropped.
EIG_RTOL = 1e-10


def sqrt_factor(cov: np.ndarray, method: str = "eig", rtol: float = EIG_RTOL) -> np.ndarray:
    """A square root ``A`` with ``A @ A.T ≈ cov``.

    Parameters
    ----------
    cov : ndarray of shape (n, n)
        Symmetric positive semi-definite covariance.
    method : {"eig", "cholesky"}
        ``"eig"``: the symmetric square root ``U sqrt(w) U^T`` over the
        eigen-pairs with ``w > rtol * max(w)``. Unlike ``U sqrt(w)`` it does not
        depend on the sign or rotation the eigen-solver picks for eigenvectors,
        so samples are the same on every machine; it handles singular and
        near-singular kernels, and ``A @ A.T`` differs from ``cov`` by at most
        ``rtol * max(w)`` in spectral norm. ``"cholesky"``: the lower Cholesky
        factor of ``cov + jitter * I`` with the smallest jitter in 1e-12,
        1e-11, ... (times the mean variance) that succeeds.
    rtol : float
        Relative eigenvalue threshold for ``"eig"``.

    Returns
    -------
    ndarray of shape (n, n)
    """
    cov = np.asarray(cov, dtype=np.float64)
    if method == "eig":
        w, U = linalg.eigh(cov)
        keep = w > rtol * max(w[-1], 0.0)
        if not np.any(keep):
            raise ValueError("covariance has no positive eigenvalue")
        U = U[:, keep]
        return (U * np.sqrt(w[keep])) @ U.T
    if method == "cholesky":
        scale = float(np.mean(np.diag(cov)))
        for exponent in range(-12, -3):
            jitter = scale * 10.0**exponent
            try:
                return linalg.cholesky(cov + jitter * np.eye(len(cov)), lower=True)
            except linalg.LinAlgError:
                continue
        raise ValueError("covariance is not positive definite even with a jitter of 1e-4")
    raise ValueError(f"method must be 'eig' or 'cholesky', got {method!r}")


def mirror_coordinates(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique distances to the centre of ``n`` grid points and where each point maps.

    Returns
    -------
    half : ndarray of shape (ceil(n / 2),)
        The unique values of ``|i - (n - 1) / 2|``, ascending.
    index : ndarray of int of shape (n,)
        ``half[index[i]] == |i - (n - 1) / 2|``.
    """
    distance = np.abs(np.arange(n) - (n - 1) / 2.0)
    half, index = np.unique(distance, return_inverse=True)
    return half, index


def mirror_factor(kernel: Kernel, n: int, method: str = "eig") -> np.ndarray:
    """Square root of ``kernel(|x - c|, |x' - c|)`` on ``n`` points, exactly symmetric.

    The GP lives on the ``ceil(n / 2)`` unique distances to the centre and is
    copied to both mirrored points: rows ``i`` and ``n - 1 - i`` of the result
    are identical.

    Returns
    -------
    ndarray of shape (n, ceil(n / 2))
    """
    half, index = mirror_coordinates(n)
    return sqrt_factor(kernel(half), method)[index]


class SquareRoot:
    """A linear operator ``C`` of shape (n_points, n_latent) with ``C C^T = Sigma``."""

    n_points: int
    n_latent: int

    def apply(self, Z: np.ndarray) -> np.ndarray:
        """``C @ Z`` for ``Z`` of shape (n_latent, m); returns (n_points, m)."""
        raise NotImplementedError

    def apply_transpose(self, G: np.ndarray) -> np.ndarray:
        """``C.T @ G`` for ``G`` of shape (n_points, m); returns (n_latent, m)."""
        raise NotImplementedError

    def dense(self) -> np.ndarray:
        """The explicit matrix ``C`` of shape (n_points, n_latent) (for tests and small sizes)."""
        return self.apply(np.eye(self.n_latent))

    def covariance(self) -> np.ndarray:
        """``C C^T`` of shape (n_points, n_points) (for tests and small sizes)."""
        C = self.dense()
        return C @ C.T


class DenseSquareRoot(SquareRoot):
    """``C`` held as an explicit matrix of shape (n_points, n_latent)."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float64)
        self.n_points, self.n_latent = self.matrix.shape

    def apply(self, Z):
        return self.matrix @ Z

    def apply_transpose(self, G):
        return self.matrix.T @ G

    def dense(self):
        return self.matrix


class IdentitySquareRoot(SquareRoot):
    """``C = I`` of size n: independent points (the white kernel), nothing stored."""

    def __init__(self, n: int):
        self.n_points = self.n_latent = int(n)

    def apply(self, Z):
        return Z

    def apply_transpose(self, G):
        return G


class KroneckerSquareRoot(SquareRoot):
    """``C = A_1 ⊗ A_2 ⊗ ... ⊗ A_d`` for per-axis factors ``A_k`` of shape (n_k, r_k).

    Points are flattened in C order (the first axis varies slowest), matching
    ``np.kron`` and ``ndarray.reshape``. ``C @ Z`` is computed as one mode
    product per axis; no (N, R) matrix is formed.
    """

    def __init__(self, factors):
        self.factors = [np.ascontiguousarray(A, dtype=np.float64) for A in factors]
        self.factors_T = [np.ascontiguousarray(A.T) for A in self.factors]
        self.point_shape = tuple(A.shape[0] for A in self.factors)
        self.latent_shape = tuple(A.shape[1] for A in self.factors)
        self.n_points = int(np.prod(self.point_shape))
        self.n_latent = int(np.prod(self.latent_shape))

    @staticmethod
    def _mode_products(T, shape, matrices):
        """Multiply axis k of ``T`` (laid out as ``shape``) by ``matrices[k]``, for every k.

        Each product is one batched matmul on the view (before, r_k, after):
        no transposes or copies besides the products themselves.
        """
        shape = list(shape)
        for axis, A in enumerate(matrices):
            before, after = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1 :]))
            T = np.matmul(A, T.reshape(before, shape[axis], after))
            shape[axis] = A.shape[0]
        return T

    def apply(self, Z):
        m = Z.shape[1]
        return self._mode_products(Z, self.latent_shape + (m,), self.factors).reshape(self.n_points, m)

    def apply_transpose(self, G):
        m = G.shape[1]
        return self._mode_products(G, self.point_shape + (m,), self.factors_T).reshape(self.n_latent, m)
