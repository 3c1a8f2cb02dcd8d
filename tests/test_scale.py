"""Large grids: Kronecker + mirror + mask equal the dense path, never form (N, N), ignore masked voxels."""

import tracemalloc

import numpy as np
import pytest
from scipy import optimize

import gppnmf_core as gp
from gppnmf_core import priors as priors_module
from gppnmf_core import structure as structure_module
from gppnmf_core.objective import ColumnWeightedFit, ElementwiseWeightedFit
from gppnmf_core.priors import BoundPrior

GRIDS = [(6, 5, 4), (8, 6)]
RANK = 2


def _priors(grid, K, structure="auto", mirror_axis=0):
    prior_D = gp.GPPrior(gp.RBF(2.0), gp.RectifiedGaussianLink(1.3))
    prior_H = gp.GPPrior(gp.RBF(1.5), gp.ExponentialLink(0.8), grid=grid, mirror_axis=mirror_axis,
                         structure=structure)
    return prior_D.bind(K), prior_H.bind(int(np.prod(grid)))


def _masks(K, L, rng):
    """None, 0/1 column masks (1-D and as (K, L)), weighted columns, and element-wise masks."""
    columns = (rng.random(L) > 0.3).astype(float)
    weighted_columns = columns * rng.uniform(0.5, 2.0, L)
    elementwise = (rng.random((K, L)) > 0.3).astype(float)
    return {
        "none": None,
        "columns": columns,
        "columns-2d": np.broadcast_to(columns, (K, L)).copy(),
        "weighted-columns": weighted_columns,
        "elementwise": elementwise,
        "weighted-elementwise": elementwise * rng.uniform(0.2, 3.0, (K, L)),
    }


def _reference(X, weights, bound_D, bound_H, noise_var, theta, n_delta):
    """Value and gradient straight from the formulas, with explicit (N, N) matrices (small sizes only)."""
    K, L = X.shape
    W2 = np.ones((K, L)) if weights is None else np.broadcast_to(weights**2, (K, L))
    delta = theta[:n_delta].reshape(-1, RANK)
    eta = theta[n_delta:].reshape(-1, RANK)
    CD, CH = bound_D.sqrt.dense(), bound_H.sqrt.dense()
    gD, gH = CD @ delta, CH @ eta
    D, dD = bound_D.link.value(gD), bound_D.link.derivative(gD)
    Ht, dHt = bound_H.link.value(gH), bound_H.link.derivative(gH)
    E = W2 * (D @ Ht.T - X)
    value = 0.5 * np.sum(E * (D @ Ht.T - X)) / noise_var + 0.5 * (delta**2).sum() + 0.5 * (eta**2).sum()
    grad_delta = CD.T @ (dD * (E @ Ht) / noise_var) + delta
    grad_eta = CH.T @ (dHt * (E.T @ D) / noise_var) + eta
    return value, np.concatenate([grad_delta.ravel(), grad_eta.ravel()])


@pytest.mark.parametrize("grid", GRIDS, ids=str)
def test_kronecker_mirror_mask_objective_equals_the_dense_path(grid):
    rng = np.random.default_rng(0)
    K, L = 9, int(np.prod(grid))
    bound_D, bound_H = _priors(grid, K)
    assert isinstance(bound_H.sqrt, gp.KroneckerSquareRoot)
    dense_H = BoundPrior(gp.DenseSquareRoot(bound_H.sqrt.dense()), bound_H.link)
    X = rng.standard_normal((K, L)) + 1.0
    for name, mask in _masks(K, L, rng).items():
        weights_sq = None if mask is None else mask**2
        kron = gp.GPPNMFObjective(X, RANK, bound_D, bound_H, 0.7, weights_sq)
        dense = gp.GPPNMFObjective(X, RANK, bound_D, dense_H, 0.7, weights_sq)
        expected_path = ElementwiseWeightedFit if "elementwise" in name else ColumnWeightedFit
        assert isinstance(kron.data_fit, expected_path), name
        for _ in range(3):
            theta = 0.7 * rng.standard_normal(kron.size)
            value, grad = kron(theta)
            ref_value, ref_grad = _reference(X, mask, bound_D, bound_H, 0.7, theta, kron.n_delta)
            dense_value, dense_grad = dense(theta)
            for other_value, other_grad in ((ref_value, ref_grad), (dense_value, dense_grad)):
                assert value == pytest.approx(other_value, rel=1e-9), name
                assert np.linalg.norm(grad - other_grad) <= 1e-9 * np.linalg.norm(other_grad), name


@pytest.mark.parametrize("grid", GRIDS, ids=str)
def test_kronecker_mirror_samples_have_the_dense_paths_covariance(grid):
    kron = gp.GPPrior(gp.RBF(1.5), gp.ExponentialLink(1.0), grid=grid, mirror_axis=0)
    dense = gp.GPPrior(gp.RBF(1.5), gp.ExponentialLink(1.0), grid=grid, mirror_axis=0, structure="dense")
    op_k, op_d = kron.bind().sqrt, dense.bind().sqrt
    assert isinstance(op_k, gp.KroneckerSquareRoot) and isinstance(op_d, gp.DenseSquareRoot)
    assert op_k.n_latent < op_d.n_latent  # the mirror halves the variables
    np.testing.assert_allclose(op_k.covariance(), op_d.covariance(), atol=1e-9)
    np.testing.assert_allclose(op_k.covariance(), dense.grid_covariance(), atol=1e-9)
    # the same draws through the operator and through its explicit matrix
    as_matrix = BoundPrior(gp.DenseSquareRoot(op_k.dense()), kron.link)
    Z = np.random.default_rng(1).standard_normal((op_k.n_latent, 4))
    np.testing.assert_allclose(kron.bind().forward(Z)[0], as_matrix.forward(Z)[0], rtol=1e-12, atol=1e-12)
    # empirical covariance of the latent GP values against the kernel
    draws = kron.link.inverse(kron.sample(4000, random_state=2))
    np.testing.assert_allclose(np.cov(draws.T), dense.grid_covariance(), atol=0.1)


def _relative_gradient_error(objective, theta):
    fd = optimize.approx_fprime(theta, lambda t: objective(t)[0], 1e-6)
    return np.linalg.norm(objective(theta)[1] - fd) / np.linalg.norm(fd)


@pytest.mark.parametrize("mask_name", ["columns", "columns-2d", "weighted-columns", "elementwise",
                                       "weighted-elementwise"])
def test_masked_objective_gradient_matches_finite_differences(mask_name):
    rng = np.random.default_rng(3)
    grid, K = (5, 4, 3), 7
    L = int(np.prod(grid))
    bound_D, bound_H = _priors(grid, K)
    X = rng.standard_normal((K, L)) + 1.0
    mask = _masks(K, L, rng)[mask_name]
    objective = gp.GPPNMFObjective(X, RANK, bound_D, bound_H, 0.5, mask**2)
    theta = 0.5 * rng.standard_normal(objective.size)
    assert _relative_gradient_error(objective, theta) < 1e-5


def test_column_mask_gradient_near_an_exact_fit_uses_the_residual():
    # X = D H exactly: the expanded squared error would cancel, so the residual is formed
    rng = np.random.default_rng(4)
    grid, K = (6, 5), 8
    L = int(np.prod(grid))
    bound_D, bound_H = _priors(grid, K)
    mask = (rng.random(L) > 0.4).astype(float)
    probe = gp.GPPNMFObjective(np.zeros((K, L)), RANK, bound_D, bound_H, 1.0)
    theta = 0.5 * rng.standard_normal(probe.size)
    D, H = probe.factors(theta)
    X = D @ H
    X[:, mask == 0] = 1e3  # left out: must not matter
    objective = gp.GPPNMFObjective(X, RANK, bound_D, bound_H, 1.0, mask)
    value, grad = objective(theta)
    ref_value, ref_grad = _reference(X, mask, bound_D, bound_H, 1.0, theta, objective.n_delta)
    assert value == pytest.approx(ref_value, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)


def test_the_kronecker_path_never_forms_an_n_by_n_matrix(monkeypatch):
    grid, K = (40, 40, 20), 12
    N = int(np.prod(grid))
    limit = 100

    def refuse(name):
        def fail(*args, **kwargs):
            raise AssertionError(f"{name} called on the Kronecker path")
        return fail

    real_sqrt_factor, real_dense_init = structure_module.sqrt_factor, gp.DenseSquareRoot.__init__

    def small_sqrt_factor(cov, *args, **kwargs):
        assert len(cov) <= limit, f"sqrt_factor on a {cov.shape} matrix"
        return real_sqrt_factor(cov, *args, **kwargs)

    def small_dense_init(self, matrix):
        assert np.shape(matrix)[0] <= limit, f"DenseSquareRoot of shape {np.shape(matrix)}"
        real_dense_init(self, matrix)

    monkeypatch.setattr(structure_module, "sqrt_factor", small_sqrt_factor)
    monkeypatch.setattr(priors_module, "sqrt_factor", small_sqrt_factor)
    monkeypatch.setattr(gp.DenseSquareRoot, "__init__", small_dense_init)
    for cls, method in ((gp.SquareRoot, "dense"), (gp.SquareRoot, "covariance"), (gp.GPPrior, "grid_covariance")):
        monkeypatch.setattr(cls, method, refuse(f"{cls.__name__}.{method}"))
    priors_module._axis_factor.cache_clear()

    rng = np.random.default_rng(0)
    prior_D = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0))
    prior_H = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=grid, mirror_axis=0)
    tracemalloc.start()
    try:
        H = prior_H.sample(2, random_state=rng)
        D = prior_D.sample(2, size=K, random_state=rng).T
        X = D @ H + 0.1 * rng.standard_normal((K, N))
        inside = np.ones(grid, bool)
        inside[:4] = inside[-4:] = False  # voxels outside the field of view
        res = gp.fit_gppnmf(X, 2, prior_D, prior_H, 0.01, mask=inside.ravel(), max_iter=3, random_state=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        priors_module._axis_factor.cache_clear()
    assert isinstance(prior_H.bind(N).sqrt, gp.KroneckerSquareRoot)
    assert res.H.shape == (2, N) and np.all(np.isfinite(res.H))
    # data (3 MB, a few copies while it is made), L-BFGS history (2 x 20 x 32k variables: 10 MB);
    # one (N, N) matrix would take 8 GB
    assert peak < 40e6 < N * N * 8 / 200, peak
    # the check bites: the dense structure asks for the (N, N) covariance
    dense = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=grid, mirror_axis=0, structure="dense")
    with pytest.raises(AssertionError, match="grid_covariance"):
        dense.sample(1, random_state=0)


def _voxel_problem(grid=(8, 6, 5), K=24, seed=0):
    rng = np.random.default_rng(seed)
    prior_D = gp.GPPrior(gp.RBF(3.0), gp.ExponentialLink(1.0))
    prior_H = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=grid, mirror_axis=0)
    H = prior_H.sample(2, random_state=rng)
    D = prior_D.sample(2, size=K, random_state=rng).T
    index = np.indices(grid).reshape(len(grid), -1)
    inside = sum(((index[a] - (n - 1) / 2) / (0.45 * n)) ** 2 for a, n in enumerate(grid)) <= 1
    X = D @ H + 0.3 * rng.standard_normal((K, H.shape[1]))
    X[:, ~inside] = 0.3 * rng.standard_normal((K, int((~inside).sum())))
    return X, inside, dict(prior_D=prior_D, prior_H=prior_H, noise_var=0.09, random_state=0, max_iter=200)


def test_voxel_mask_fit_is_mirror_symmetric_and_ignores_masked_data():
    X, inside, kw = _voxel_problem()
    grid = kw["prior_H"].grid
    res = gp.fit_gppnmf(X, 2, mask=inside, **kw)
    maps = res.H.reshape(2, *grid)
    np.testing.assert_array_equal(maps, maps[:, ::-1])
    garbled = X.copy()
    garbled[:, ~inside] = np.random.default_rng(9).normal(50.0, 1e3, (X.shape[0], int((~inside).sum())))
    other = gp.fit_gppnmf(garbled, 2, mask=inside, **kw)
    np.testing.assert_array_equal(other.D, res.D)
    np.testing.assert_array_equal(other.H, res.H)
    # the same mask as a (K, L) matrix takes the same path
    as_matrix = gp.fit_gppnmf(garbled, 2, mask=np.broadcast_to(inside, X.shape).astype(float), **kw)
    np.testing.assert_array_equal(as_matrix.H, res.H)
    assert res.settings["masked"]
    # without the mask the garbage matters
    assert not np.allclose(gp.fit_gppnmf(garbled, 2, **kw).H, res.H)


def test_an_asymmetric_mask_still_gives_exactly_symmetric_maps():
    X, inside, kw = _voxel_problem(seed=1)
    grid = kw["prior_H"].grid
    lopsided = inside.reshape(grid).copy()
    lopsided[: grid[0] // 2] = False  # only one half of the mirror axis has data
    res = gp.fit_gppnmf(X, 2, mask=lopsided.ravel(), **kw)
    maps = res.H.reshape(2, *grid)
    np.testing.assert_array_equal(maps, maps[:, ::-1])


def test_elementwise_mask_fit_ignores_masked_entries_and_matches_weighted_columns():
    X, inside, kw = _voxel_problem(grid=(6, 4, 3), K=15, seed=2)
    rng = np.random.default_rng(5)
    mask = np.broadcast_to(inside, X.shape).astype(float)
    mask[rng.random(X.shape) < 0.1] = 0.0  # a few more entries left out: element-wise path
    garbled = X.copy()
    garbled[mask == 0] = 1e6
    a = gp.fit_gppnmf(X, 2, mask=mask, **kw)
    b = gp.fit_gppnmf(garbled, 2, mask=mask, **kw)
    np.testing.assert_allclose(b.D, a.D, rtol=1e-10, atol=1e-12)
    # column weights given as 1-D and as a full matrix give the same fit
    weights = inside * np.linspace(0.5, 1.5, inside.size)
    c = gp.fit_gppnmf(X, 2, mask=weights, **kw)
    d = gp.fit_gppnmf(X, 2, mask=np.broadcast_to(weights, X.shape), **kw)
    np.testing.assert_array_equal(c.H, d.H)


@pytest.mark.parametrize(
    "mask, match",
    [
        (np.ones(7), r"a 1-D mask must hold one weight per column of X \(120\), got 7"),
        (-np.ones(120), "mask must be non-negative"),
        (np.zeros(120), "mask masks out every entry"),
        (np.full(120, np.nan), "mask contains non-finite"),
    ],
)
def test_bad_voxel_masks(mask, match):
    X, _, kw = _voxel_problem(grid=(6, 5, 4), K=10)
    with pytest.raises(ValueError, match=match):
        gp.fit_gppnmf(X, 2, mask=mask, **kw)
