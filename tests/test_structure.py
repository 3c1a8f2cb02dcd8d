"""Square-root operators: Kronecker and mirror paths equal the dense path."""

import numpy as np
import pytest

import gppnmf_core as gp
from gppnmf_core.structure import CirculantSquareRoot, EmbeddingError, mirror_coordinates, regular_spacing


def _kron_all(factors):
    out = np.ones((1, 1))
    for A in factors:
        out = np.kron(out, A)
    return out


@pytest.mark.parametrize("method", ["eig", "cholesky"])
def test_sqrt_factor_reproduces_covariance(method):
    cov = gp.Matern52(beta=3.0)(np.arange(30.0))
    A = gp.sqrt_factor(cov, method)
    np.testing.assert_allclose(A @ A.T, cov, atol=1e-9)


def test_eig_square_root_handles_singular_rbf():
    cov = gp.RBF(beta=10.0)(np.arange(200.0))  # numerically rank-deficient
    A = gp.sqrt_factor(cov)
    assert np.all(np.isfinite(A))
    np.testing.assert_allclose(A @ A.T, cov, atol=1e-8)
    np.testing.assert_allclose(A, A.T, atol=1e-12)  # symmetric: independent of eigenvector signs


def test_bad_sqrt_method():
    with pytest.raises(ValueError, match="method"):
        gp.sqrt_factor(np.eye(3), "qr")


@pytest.mark.parametrize("shape", [(4, 3, 5), (6, 7), (9,)])
def test_kronecker_apply_equals_dense_kron(shape):
    rng = np.random.default_rng(1)
    factors = [gp.sqrt_factor(gp.RBF(1.5)(np.arange(float(n)))) for n in shape]
    op = gp.KroneckerSquareRoot(factors)
    C = _kron_all(factors)
    Z = rng.standard_normal((op.n_latent, 3))
    G = rng.standard_normal((op.n_points, 3))
    np.testing.assert_allclose(op.apply(Z), C @ Z, atol=1e-12)
    np.testing.assert_allclose(op.apply_transpose(G), C.T @ G, atol=1e-12)


@pytest.mark.parametrize("mirror_axis", [None, 0, 1, 2])
def test_grid_prior_kronecker_equals_dense(mirror_axis):
    kw = dict(grid=(6, 5, 4), mirror_axis=mirror_axis)
    kron = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), **kw)
    dense = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), structure="dense", **kw)
    op_k, op_d = kron.bind().sqrt, dense.bind().sqrt
    assert isinstance(op_k, gp.KroneckerSquareRoot) and isinstance(op_d, gp.DenseSquareRoot)
    target = dense.grid_covariance()
    np.testing.assert_allclose(op_k.covariance(), target, atol=1e-9)
    np.testing.assert_allclose(op_d.covariance(), target, atol=1e-9)


def test_mirror_factor_is_exactly_symmetric_and_full_rank():
    for n in (7, 8):
        A = gp.mirror_factor(gp.RBF(2.0), n)
        np.testing.assert_array_equal(A, A[::-1])
        half, index = mirror_coordinates(n)
        assert A.shape == (n, half.size) == (n, (n + 1) // 2)
        assert np.linalg.matrix_rank(A.T @ A) == half.size
        np.testing.assert_allclose(A @ A.T, gp.RBF(2.0)(np.abs(np.arange(n) - (n - 1) / 2)), atol=1e-10)


def test_mirror_pullback_sums_mirrored_pairs():
    op = gp.KroneckerSquareRoot([gp.mirror_factor(gp.RBF(2.0), 8)])
    g = np.zeros((8, 1))
    g[1] = 1.0
    g2 = np.zeros((8, 1))
    g2[1] = g2[6] = 0.5
    np.testing.assert_allclose(op.apply_transpose(g), op.apply_transpose(g2), atol=1e-15)


# --- circulant square roots (long regular 1-D axes) -------------------------------------------------

CIRCULANT_CASES = [(kernel, K, beta) for kernel in (gp.RBF, gp.Matern32, gp.Matern52, gp.Exponential)
                   for K in (50, 100, 300) for beta in (0.7, 3.0, 20.0, 120.0)]


@pytest.mark.parametrize("kernel, K, beta", CIRCULANT_CASES, ids=lambda v: getattr(v, "__name__", repr(v)))
def test_circulant_square_root_reproduces_the_covariance(kernel, K, beta):
    op = CirculantSquareRoot(kernel(beta), K)
    C = op.dense()
    assert C.shape == (K, op.n_latent) and op.n_latent >= K
    error = np.max(np.abs(C @ C.T - kernel(beta)(np.arange(float(K)))))
    assert error <= 1e-10
    assert op.max_abs_error == pytest.approx(error, abs=1e-14)  # the reported error is the real one


@pytest.mark.parametrize("spacing", [1.0, 0.0125])
def test_circulant_spacing_is_in_the_kernels_units(spacing):
    op = CirculantSquareRoot(gp.Matern52(6 * spacing), 80, spacing)
    np.testing.assert_allclose(op.covariance(), gp.Matern52(6 * spacing)(spacing * np.arange(80.0)), atol=1e-10)


@pytest.mark.parametrize("K, beta", [(50, 2.0), (301, 40.0)])
def test_circulant_apply_and_transpose_match_dense_and_each_other(K, beta):
    rng = np.random.default_rng(2)
    op = CirculantSquareRoot(gp.RBF(beta), K)
    C = op.dense()
    Z = rng.standard_normal((op.n_latent, 3))
    G = rng.standard_normal((K, 3))
    np.testing.assert_allclose(op.apply(Z), C @ Z, atol=1e-12)
    np.testing.assert_allclose(op.apply_transpose(G), C.T @ G, atol=1e-12)
    assert np.vdot(op.apply(Z), G) == pytest.approx(np.vdot(Z, op.apply_transpose(G)), rel=1e-12)
    np.testing.assert_allclose(op.apply(Z[:, 0]), C @ Z[:, 0], atol=1e-12)  # one column as a vector
    assert op.nbytes == (op.n_latent // 2 + 1) * 8


def test_circulant_first_size_follows_the_kernels_reach():
    short = CirculantSquareRoot(gp.RBF(2.0), 1000)  # RBF(2) is below 1e-16 after 13 points
    assert 1000 <= short.n_latent <= 1100
    long = CirculantSquareRoot(gp.RBF(300.0), 100)  # longer than the axis: many times the textbook 2 (n - 1)
    assert long.n_latent > 10 * 2 * 99
    assert long.clipped <= 1e-12


def test_circulant_embedding_that_cannot_grow_enough_is_refused():
    with pytest.raises(EmbeddingError, match=r"misses the covariance by .* > atol"):
        CirculantSquareRoot(gp.RBF(50.0), 50, max_size=98)
    assert CirculantSquareRoot(gp.RBF(50.0), 50).max_abs_error <= 1e-10  # grown: accepted


def test_circulant_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="n_points"):
        CirculantSquareRoot(gp.RBF(1.0), 1)
    with pytest.raises(ValueError, match="spacing"):
        CirculantSquareRoot(gp.RBF(1.0), 10, 0.0)
    op = CirculantSquareRoot(gp.RBF(1.0), 10)
    with pytest.raises(ValueError, match=rf"Z must have shape \({op.n_latent}, n_columns\).*got \(10, 2\)"):
        op.apply(np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"G must have shape \(10, n_columns\).*got \(11, 2\)"):
        op.apply_transpose(np.zeros((11, 2)))


@pytest.mark.parametrize(
    "coords, expected",
    [
        (np.arange(5.0), 1.0),
        (np.linspace(10.0, -20.0, 4096), 30.0 / 4095),  # a descending ppm axis
        (np.r_[0.0, 1.0, 2.0, 3.5], None),
        (np.r_[0.0, 1.0, 2.0, 3.0 + 1e-6], None),
        (np.zeros(4), None),
        (np.r_[1.0], None),
    ],
)
def test_regular_spacing(coords, expected):
    spacing = regular_spacing(coords)
    assert spacing == (None if expected is None else pytest.approx(expected, rel=1e-12))
