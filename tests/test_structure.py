"""Square-root operators: Kronecker and mirror paths equal the dense path."""

import numpy as np
import pytest

import gppnmf_core as gp
from gppnmf_core.structure import mirror_coordinates


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
