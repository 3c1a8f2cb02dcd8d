r"""Square-root operators ``C`` of a prior covariance ``Sigma = C C^T``.

A factor column is ``f^{-1}(C z)`` with whitened ``z ~ N(0, I)``. The fit only
ever needs ``C z`` and ``C^T g``, so the covariance is hidden behind one small
interface, :class:`SquareRoot`, with three implementations:

* :class:`DenseSquareRoot` — an explicit (n_points, n_latent) matrix;
* :class:`KroneckerSquareRoot` — a separable covariance on a grid,
  ``C = C_1 \otimes C_2 \otimes \dots``, applied as one mode product per grid
  axis: cost ``N * sum(r_k)`` instead of ``N * R``, memory ``sum(n_k r_k)``
  instead of ``N * R``;
* :class:`CirculantSquareRoot` — a stationary kernel on a long, equally
  spaced 1-D axis, embedded in a circulant covariance and applied with FFTs:
  cost ``m log m`` per column, memory ``m / 2 + 1`` numbers, where
  ``m`` (about ``n`` plus the kernel's reach) is the size of the embedding.

1-D factors come from :func:`sqrt_factor` (the symmetric square root from an
eigen-decomposition, dropping directions of negligible variance, or a jittered
Cholesky factor). :func:`mirror_factor` builds exact mirror symmetry on
one axis: the GP lives on the half-axis of unique distances ``|x - c|`` and is
duplicated, so samples are exactly symmetric, full rank and need half the
variables.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, linalg

from .kernels import Kernel

#: Eigen-directions with variance below this fraction of the largest are dropped.
EIG_RTOL = 1e-10

#: Regular 1-D axes with more points than this use :class:`CirculantSquareRoot` (priors' "auto").
#: Measured on one core (2-core reference machine): the dense eigen-decomposition takes
#: 8 / 42 / 240 ms at 256 / 512 / 1024 points, and ``C @ Z`` for two columns 7.5 / 30 / 585 us
#: against 16 / 22 / 36 us with FFTs; at 512 points and below the dense factor is cheap, and
#: keeping it there leaves every existing result (the paper's, the CSI phantom's) unchanged.
DENSE_MAX_POINTS = 512

#: Coordinates are regular when every point lies within this fraction of the spacing of a line.
SPACING_RTOL = 1e-9

#: The circulant embedding is grown until its smallest eigenvalue is >= -rtol times its largest.
CIRCULANT_RTOL = 1e-12

#: The circulant embedding grows to at most this many times the textbook size 2 (n - 1).
CIRCULANT_MAX_GROWTH = 64

#: Kernel values below this count as zero when choosing the first embedding size.
CIRCULANT_TAIL = 1e-16

#: A circulant square root is accepted when ``C C^T`` is this close to the covariance (max abs).
CIRCULANT_ATOL = 1e-10


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

    def in_precision(self, dtype) -> tuple:
        """``(apply, apply_transpose)`` computed in ``dtype`` (e.g. float32), for approximate products.

        Both take and return arrays of ``dtype``. The default casts to float64
        and back (no speed-up); :class:`KroneckerSquareRoot` and
        :class:`DenseSquareRoot` compute in ``dtype`` with factors cast once.
        """

        def apply(Z):
            return self.apply(np.asarray(Z, dtype=np.float64)).astype(dtype)

        def apply_transpose(G):
            return self.apply_transpose(np.asarray(G, dtype=np.float64)).astype(dtype)

        return apply, apply_transpose

    def covariance(self) -> np.ndarray:
        """``C C^T`` of shape (n_points, n_points) (for tests and small sizes)."""
        C = self.dense()
        return C @ C.T

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the operator holds."""
        raise NotImplementedError


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

    def in_precision(self, dtype):
        matrix = self.matrix.astype(dtype)
        matrix_T = np.ascontiguousarray(matrix.T)
        return (lambda Z: matrix @ Z), (lambda G: matrix_T @ G)

    @property
    def nbytes(self):
        return self.matrix.nbytes


class IdentitySquareRoot(SquareRoot):
    """``C = I`` of size n: independent points (the white kernel), nothing stored."""

    def __init__(self, n: int):
        self.n_points = self.n_latent = int(n)

    def apply(self, Z):
        return Z

    def apply_transpose(self, G):
        return G

    def in_precision(self, dtype):
        return (lambda Z: Z), (lambda G: G)

    @property
    def nbytes(self):
        return 0


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

    @property
    def nbytes(self):
        return sum(A.nbytes for A in self.factors) + sum(A.nbytes for A in self.factors_T)

    def apply(self, Z):
        m = Z.shape[1]
        return self._mode_products(Z, self.latent_shape + (m,), self.factors).reshape(self.n_points, m)

    def apply_transpose(self, G):
        m = G.shape[1]
        return self._mode_products(G, self.point_shape + (m,), self.factors_T).reshape(self.n_latent, m)

    def in_precision(self, dtype, box=None):
        """Mode products in ``dtype``, the axes that shrink the array first (see :meth:`SquareRoot.in_precision`).

        ``apply`` multiplies by the factors in ascending order of ``n_k / r_k``
        (an expanding mirror factor last), ``apply_transpose`` in the reverse
        order, so that the largest intermediate is the output.

        ``box``, a sequence of one ``(start, stop)`` per grid axis, restricts
        the points to that box (the rows of ``C`` at the box's points, in C
        order of the box): ``apply`` returns values on the box only,
        ``apply_transpose`` takes them, e.g. the bounding box of the voxels a
        mask keeps, which no product outside it needs.
        """
        rows = [slice(None)] * len(self.factors) if box is None else [slice(int(a), int(b)) for a, b in box]
        factors = [np.ascontiguousarray(A[r], dtype=dtype) for A, r in zip(self.factors, rows, strict=True)]
        point_shape = tuple(A.shape[0] for A in factors)
        n_points = int(np.prod(point_shape))
        factors_T = [np.ascontiguousarray(A.T) for A in factors]
        growth = [A.shape[0] / A.shape[1] for A in self.factors]
        order = sorted(range(len(factors)), key=lambda k: growth[k])

        def products(T, shape, matrices, axes):
            shape = list(shape)
            for axis in axes:
                A = matrices[axis]
                before, after = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1:]))
                T = np.matmul(A, T.reshape(before, shape[axis], after))
                shape[axis] = A.shape[0]
            return T

        def apply(Z):
            m = Z.shape[1]
            return products(Z, self.latent_shape + (m,), factors, order).reshape(n_points, m)

        def apply_transpose(G):
            m = G.shape[1]
            return products(G, point_shape + (m,), factors_T, order[::-1]).reshape(self.n_latent, m)

        return apply, apply_transpose


def regular_spacing(coords, rtol: float = SPACING_RTOL) -> float | None:
    """The spacing of equally spaced coordinates, or None if they are not.

    Parameters
    ----------
    coords : array_like of shape (n,)
        Ascending or descending coordinates (a ppm axis is descending).
    rtol : float
        Every point must lie within ``rtol * |h|`` of ``coords[0] + i * h``,
        with ``h = (coords[-1] - coords[0]) / (n - 1)``; then every distance
        ``|x_i - x_j|`` is within ``2 rtol |h|`` of ``|i - j| |h|``.

    Returns
    -------
    float or None
        ``|h| > 0``, or None for fewer than two points, repeated or unequally
        spaced coordinates.
    """
    x = np.asarray(coords, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        return None
    h = (x[-1] - x[0]) / (x.size - 1)
    if h == 0.0:
        return None
    deviation = np.max(np.abs(x - (x[0] + h * np.arange(x.size))))
    return abs(float(h)) if deviation <= rtol * abs(h) else None


class EmbeddingError(ValueError):
    """The covariance has no accurate circulant embedding within the allowed size."""


def circulant_eigenvalues(kernel: Kernel, spacing: float, size: int) -> np.ndarray:
    """Eigenvalues of the symmetric circulant with first row ``k(min(j, m - j) * h)``.

    Parameters
    ----------
    kernel : Kernel
        Stationary kernel, evaluated with :meth:`~gppnmf_core.kernels.Kernel.of_distance`.
    spacing : float
        Distance ``h > 0`` between neighbouring points.
    size : int
        Size ``m`` of the circulant.

    Returns
    -------
    ndarray of shape (size // 2 + 1,)
        The real eigenvalues ``rfft(row)``; eigenvalue ``j`` belongs to the
        Fourier modes ``j`` and ``m - j``.
    """
    j = np.arange(size)
    row = kernel.of_distance(spacing * np.minimum(j, size - j).astype(np.float64))
    return fft.rfft(row).real


def decay_lag(values: np.ndarray, tail: float = CIRCULANT_TAIL) -> int:
    """The last lag ``j >= 1`` with ``|values[j]| > tail`` (0 if none).

    Parameters
    ----------
    values : ndarray of shape (n,)
        The kernel at lags ``0, h, ..., (n - 1) h``.
    """
    big = np.flatnonzero(np.abs(values[1:]) > tail)
    return int(big[-1]) + 1 if big.size else 0


def _embedding(kernel, target, spacing, rtol, atol, max_size):
    """Grow the circulant until it is nonnegative (to ``rtol``) and its block matches ``target`` (to ``atol``).

    Starts at the fast FFT length ``m >= n + decay_lag(target)`` and grows by
    about 3/2 up to ``max_size``. Returns ``m``, the eigenvalues and
    ``max |C C^T - Sigma|`` of the clipped embedding.
    """
    n_points = target.size
    size = fft.next_fast_len(n_points + decay_lag(target), real=True)
    while True:
        lam = circulant_eigenvalues(kernel, spacing, size)
        # the (n, n) block of the clipped circulant is Toeplitz with first row irfft(lam+)[:n]
        error = float(np.max(np.abs(fft.irfft(np.maximum(lam, 0.0), n=size)[:n_points] - target)))
        if (lam.min() >= -rtol * lam.max() and error <= atol) or size >= max_size:
            return size, lam, error
        size = min(fft.next_fast_len(-(-3 * size // 2), real=True), max(max_size, size + 1))


class CirculantSquareRoot(SquareRoot):
    r"""``C = P S`` for a stationary kernel on ``n`` equally spaced points, applied with FFTs.

    The (n, n) covariance ``Sigma_ij = k(|i - j| h)`` is the leading block of
    a symmetric circulant of size ``m`` with first row ``k(min(j, m - j) h)``,
    whose eigenvalues are ``lambda = rfft(row)``. ``S`` is the real symmetric
    square root of the circulant with negative eigenvalues clipped to zero,
    ``S z = irfft(sqrt(lambda) * rfft(z))``, and ``P`` keeps the first ``n``
    points, so ``C`` has shape (n, m) and ``C C^T`` is the clipped circulant's
    leading block, a symmetric Toeplitz matrix with first row
    ``irfft(max(lambda, 0))[:n]``: its distance from ``Sigma``,
    :attr:`max_abs_error`, is computed exactly with one more FFT. No (n, n)
    matrix is formed; the operator holds ``m // 2 + 1`` numbers.

    Choosing ``m``: the textbook embedding takes ``m >= 2 (n - 1)``; here ``m``
    starts at the fast FFT length ``>= n + T``, where ``T`` is the last lag with
    ``|k(T h)| > 1e-16`` (:func:`decay_lag`). Lags ``d > m / 2`` then carry
    ``k((m - d) h)`` in place of ``k(d h)``, both below 1e-16. For a length scale
    of a few points ``m`` is about ``n``, so the fit has about as many whitened
    variables as with a dense factor (half of the textbook embedding's); a
    kernel that has not decayed within the axis gets ``m >= 2n - 1``. ``m``
    then grows (fast FFT lengths, each about 3/2 times the last) until
    ``min(lambda) >= -rtol * max(lambda)`` and ``max_abs_error <= atol``.

    The order of the points does not matter for the covariance (it depends on
    ``|i - j|`` only), so a descending axis such as ppm is handled as it is.

    Parameters
    ----------
    kernel : Kernel
        A stationary kernel whose correlation decays with distance (RBF,
        Matérn, exponential). A periodic kernel does not decay and generally
        has no accurate embedding.
    n_points : int
        Number of points ``n >= 2``.
    spacing : float
        Distance ``h > 0`` between neighbouring points, in the kernel's units.
    rtol : float
        Negative eigenvalues down to ``-rtol * max(lambda)`` are clipped.
    max_size : int, optional
        Largest embedding ``m``; default :data:`CIRCULANT_MAX_GROWTH` times
        ``2 (n - 1)``. Long length scales need large embeddings (about 16 to 34
        length scales for the RBF and Matérn kernels).
    atol : float
        Largest accepted ``max |C C^T - Sigma|``.

    Attributes
    ----------
    n_points : int
        ``n``.
    n_latent : int
        ``m``, the number of whitened variables per column.
    spacing : float
    sqrt_eigenvalues : ndarray of shape (m // 2 + 1,)
        ``sqrt(max(lambda, 0))``.
    clipped : float
        The most negative eigenvalue clipped, relative to the largest (0 if none).
    max_abs_error : float
        ``max |C C^T - Sigma|`` over all (n, n) entries.

    Raises
    ------
    EmbeddingError
        If even the largest embedding misses ``Sigma`` by more than ``atol``.
    ValueError
        For ``n_points < 2`` or a spacing that is not positive.
    """

    def __init__(self, kernel: Kernel, n_points: int, spacing: float = 1.0, *, rtol: float = CIRCULANT_RTOL,
                 max_size: int | None = None, atol: float = CIRCULANT_ATOL):
        n_points = int(n_points)
        if n_points < 2:
            raise ValueError(f"n_points must be >= 2 for a circulant square root, got {n_points}")
        spacing = float(spacing)
        if not np.isfinite(spacing) or spacing <= 0.0:
            raise ValueError(f"spacing must be a positive finite number, got {spacing!r}")
        max_size = CIRCULANT_MAX_GROWTH * 2 * (n_points - 1) if max_size is None else int(max_size)
        target = kernel.of_distance(spacing * np.arange(n_points, dtype=np.float64))
        size, lam, self.max_abs_error = _embedding(kernel, target, spacing, rtol, atol, max_size)
        self.kernel, self.spacing = kernel, spacing
        self.n_points, self.n_latent = n_points, size
        self.clipped = float(max(-lam.min(), 0.0) / lam.max())
        self.sqrt_eigenvalues = np.sqrt(np.maximum(lam, 0.0))
        if not self.max_abs_error <= atol:
            raise EmbeddingError(
                f"{kernel!r} on {n_points} points of spacing {spacing:g}: the circulant embedding of "
                f"size {size} (max_size {max_size}) misses the covariance by {self.max_abs_error:.2e} > "
                f"atol {atol:.0e}; use a dense square root"
            )

    def _check_rows(self, A, rows: int, name: str) -> np.ndarray:
        A = np.asarray(A, dtype=np.float64)
        if A.ndim not in (1, 2) or A.shape[0] != rows:
            raise ValueError(f"{name} must have shape ({rows}, n_columns) for this {self.n_points}-point "
                             f"circulant square root with {self.n_latent} latent variables, got {A.shape}")
        return A

    def _filter(self, A) -> np.ndarray:
        """``S @ A`` for ``A`` of shape (m, ...) (zero-padded from fewer rows): one batched FFT pair."""
        spectrum = fft.rfft(A, n=self.n_latent, axis=0)
        spectrum *= self.sqrt_eigenvalues.reshape((-1,) + (1,) * (A.ndim - 1))
        return fft.irfft(spectrum, n=self.n_latent, axis=0)

    def apply(self, Z):
        """``C @ Z = (S Z)[:n]`` for ``Z`` of shape (m, n_columns); returns (n, n_columns)."""
        return self._filter(self._check_rows(Z, self.n_latent, "Z"))[: self.n_points]

    def apply_transpose(self, G):
        """``C.T @ G = S @ [G; 0]`` for ``G`` of shape (n, n_columns); returns (m, n_columns)."""
        return self._filter(self._check_rows(G, self.n_points, "G"))

    def dense(self):
        """The explicit (n, m) matrix ``C[i, j] = s[(j - i) mod m]``, ``s = irfft(sqrt(lambda))`` (for tests)."""
        s = fft.irfft(self.sqrt_eigenvalues, n=self.n_latent)
        offsets = np.arange(self.n_latent)[None, :] - np.arange(self.n_points)[:, None]
        return s[offsets % self.n_latent]

    @property
    def nbytes(self):
        return self.sqrt_eigenvalues.nbytes
