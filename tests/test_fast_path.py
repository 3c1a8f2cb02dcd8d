"""The truncated-Newton path (method="newton_cg"): Gauss–Newton products and the same optimum as L-BFGS."""

import numpy as np
import pytest

import gppnmf_core as gp
from gppnmf_core.solvers import _conjugate_gradient, minimize_newton_cg

RANK = 2


def _grid_problem(grid=(8, 6, 5), K=30, seed=0, mirror_axis=0):
    rng = np.random.default_rng(seed)
    prior_D = gp.GPPrior(gp.RBF(3.0), gp.ExponentialLink(1.0))
    prior_H = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=grid, mirror_axis=mirror_axis)
    H = prior_H.sample(RANK, random_state=rng)
    D = prior_D.sample(RANK, size=K, random_state=rng).T
    index = np.indices(grid).reshape(len(grid), -1)
    inside = sum(((index[a] - (n - 1) / 2) / (0.45 * n)) ** 2 for a, n in enumerate(grid)) <= 1
    X = D @ H + 0.3 * rng.standard_normal((K, H.shape[1]))
    return X, inside, dict(prior_D=prior_D, prior_H=prior_H, noise_var=0.09, random_state=0, max_iter=5000)


def _gauss_newton_reference(objective, theta, v):
    """``(I + J^T J / sigma^2) v`` with J from central differences of the weighted residual."""
    X = objective.X
    W = objective_weights(objective)

    def residual(t):
        D, H = objective.factors(t)
        return (W * (D @ H - X)).ravel()

    eps = 1e-6
    Jv = (residual(theta + eps * v) - residual(theta - eps * v)) / (2 * eps)
    # J^T (J v) by differences of <residual, Jv> along each coordinate would be O(n) passes; use the
    # explicit Jacobian instead (small problems only)
    n = theta.size
    J = np.empty((Jv.size, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = eps
        J[:, i] = (residual(theta + e) - residual(theta - e)) / (2 * eps)
    return v + objective.inv_noise_var * (J.T @ Jv)


def objective_weights(objective):
    K, L = objective.X.shape
    fit = objective.data_fit
    if isinstance(fit, gp.objective.ElementwiseWeightedFit):
        return fit.W if fit.W is not None else np.ones((K, L))
    w = np.zeros(L)
    if fit.keep is None:
        w[:] = 1.0
    else:
        w[fit.keep] = 1.0 if fit.scale is None else fit.scale[:, 0]
    return np.broadcast_to(w, (K, L))


@pytest.mark.parametrize("mask_kind", ["none", "columns", "weighted-columns", "elementwise", "weighted-elementwise"])
def test_gauss_newton_product_matches_finite_differences(mask_kind):
    rng = np.random.default_rng(1)
    grid, K = (4, 3, 2), 6
    L = int(np.prod(grid))
    prior_D = gp.GPPrior(gp.RBF(2.0), gp.RectifiedGaussianLink(1.3)).bind(K)
    prior_H = gp.GPPrior(gp.RBF(1.5), gp.ExponentialLink(0.8), grid=grid, mirror_axis=0).bind(L)
    columns = (rng.random(L) > 0.3).astype(float)
    elementwise = (rng.random((K, L)) > 0.3).astype(float)
    mask = {"none": None, "columns": columns, "weighted-columns": columns * rng.uniform(0.5, 2.0, L),
            "elementwise": elementwise, "weighted-elementwise": elementwise * rng.uniform(0.2, 3.0, (K, L))}[mask_kind]
    X = rng.standard_normal((K, L)) + 1.0
    objective = gp.GPPNMFObjective(X, RANK, prior_D, prior_H, 0.5, None if mask is None else mask**2)
    for _ in range(2):
        theta = 0.5 * rng.standard_normal(objective.size)
        v = rng.standard_normal(objective.size)
        product = objective.gauss_newton_product(theta, v)
        reference = _gauss_newton_reference(objective, theta, v)
        assert np.linalg.norm(product - reference) <= 1e-6 * np.linalg.norm(reference), mask_kind
        # symmetric and at least the identity
        u = rng.standard_normal(objective.size)
        assert u @ objective.gauss_newton_product(theta, v) == pytest.approx(
            v @ objective.gauss_newton_product(theta, u), rel=1e-10)
        assert v @ product >= v @ v


def test_gauss_newton_check_can_fail():
    rng = np.random.default_rng(2)
    K, L = 5, 7
    objective = gp.GPPNMFObjective(rng.standard_normal((K, L)), RANK,
                                   gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0)).bind(K),
                                   gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0)).bind(L), 1.0)
    theta, v = rng.standard_normal(objective.size), rng.standard_normal(objective.size)
    reference = _gauss_newton_reference(objective, theta, v)
    wrong = objective.gauss_newton_product(theta, v) + 1e-3 * np.linalg.norm(reference) * np.eye(objective.size)[0]
    assert np.linalg.norm(wrong - reference) > 1e-6 * np.linalg.norm(reference)
    # the cache follows theta: a product at a new point is not the old one's
    other = theta + 0.1
    assert not np.allclose(objective.gauss_newton_product(other, v), objective.gauss_newton_product(theta, v))


def test_conjugate_gradient_solves_a_positive_definite_system():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((40, 40))
    A = A @ A.T + np.eye(40)
    b = rng.standard_normal(40)
    step, used = _conjugate_gradient(lambda v: A @ v, b, 1e-10, 200)
    np.testing.assert_allclose(A @ step, -b, atol=1e-8)
    assert used <= 60


def test_newton_cg_minimises_a_quadratic():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((30, 30))
    A = A @ A.T + np.eye(30)
    b = rng.standard_normal(30)
    out = minimize_newton_cg(lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b), lambda x, v: A @ v, np.zeros(30),
                             max_iter=50, tol=1e-14, gtol=1e-10, on_iteration=lambda i, v: False)
    np.testing.assert_allclose(out.x, np.linalg.solve(A, b), atol=1e-8)
    assert out.converged and out.n_iter <= 12  # inexact steps: residual 0.5, then shrinking


def _aligned_factors(a, b):
    D, H = gp.align_to_truth(b.D, b.H, a.D)
    return D, H


@pytest.mark.parametrize("case", ["mask-mirror", "no-mask-mirror", "mask-no-mirror", "elementwise-mask"])
def test_newton_cg_reaches_the_lbfgs_optimum(case):
    X, inside, kw = _grid_problem(mirror_axis=None if case == "mask-no-mirror" else 0, seed=1)
    mask = None if case == "no-mask-mirror" else inside
    if case == "elementwise-mask":
        mask = np.broadcast_to(inside, X.shape).astype(float)
        mask[np.random.default_rng(5).random(X.shape) < 0.05] = 0.0
    old = gp.fit_gppnmf(X, RANK, mask=mask, method="lbfgs", tol=1e-13, gtol=1e-9, **kw)
    new = gp.fit_gppnmf(X, RANK, mask=mask, method="newton_cg", **kw)
    assert new.converged, new.message
    assert new.objective <= old.objective * (1 + 1e-6)
    assert abs(new.objective - old.objective) <= 1e-6 * abs(old.objective)
    assert new.n_iter * 5 < old.n_iter  # the point of the path: far fewer iterations
    D, H = _aligned_factors(old, new)
    np.testing.assert_allclose(D, old.D, rtol=0, atol=2e-3 * np.abs(old.D).max())
    np.testing.assert_allclose(H, old.H, rtol=0, atol=2e-3 * np.abs(old.H).max())
    if kw["prior_H"].mirror_axis == 0:
        maps = new.H.reshape(RANK, *kw["prior_H"].grid)
        np.testing.assert_array_equal(maps, maps[:, ::-1])
    assert new.settings["method"] == "newton_cg"


def test_newton_cg_on_the_toy_example_matches_lbfgs():
    toy = gp.datasets.paper_toy(random_state=3)
    correct = toy.presets["correct"]
    kw = dict(prior_D=correct.prior_D, prior_H=correct.prior_H, noise_var=correct.noise_var, random_state=0)
    old = gp.fit_gppnmf(toy.X, 2, tol=1e-13, **kw)
    new = gp.fit_gppnmf(toy.X, 2, method="newton_cg", **kw)
    assert new.objective <= old.objective * (1 + 1e-6)
    D, _ = _aligned_factors(old, new)
    np.testing.assert_allclose(D, old.D, atol=1e-2 * np.abs(old.D).max())


def test_newton_cg_stops_on_request():
    X, inside, kw = _grid_problem()
    seen = []
    res = gp.fit_gppnmf(X, RANK, mask=inside, method="newton_cg",
                        callback=lambda p: seen.append(p.iteration) or p.iteration >= 2, **kw)
    assert res.stopped and res.n_iter == 2 and seen == [1, 2]


def test_preconditioned_conjugate_gradient_solves_with_fewer_products():
    rng = np.random.default_rng(6)
    scales = np.logspace(0, 4, 60)
    Q, _ = np.linalg.qr(rng.standard_normal((60, 60)))
    A = (Q * scales) @ Q.T + np.diag(rng.uniform(1.0, 2.0, 60))
    b = rng.standard_normal(60)
    exact_inverse = np.linalg.inv(A)
    plain, plain_used = _conjugate_gradient(lambda v: A @ v, b, 1e-10, 500)
    step, used = _conjugate_gradient(lambda v: A @ v, b, 1e-10, 500, precond=lambda r: exact_inverse @ r)
    np.testing.assert_allclose(A @ step, -b, atol=1e-8 * np.linalg.norm(b))
    np.testing.assert_allclose(A @ plain, -b, atol=1e-8 * np.linalg.norm(b))
    assert used <= 2 < plain_used


def test_auto_uses_lbfgs_on_small_fits_and_newton_on_large_grids():
    toy = gp.datasets.paper_toy(random_state=0)
    correct = toy.presets["correct"]
    kw = dict(prior_D=correct.prior_D, prior_H=correct.prior_H, noise_var=correct.noise_var, random_state=0)
    auto = gp.fit_gppnmf(toy.X, 2, **kw)
    lbfgs = gp.fit_gppnmf(toy.X, 2, method="lbfgs", **kw)
    assert auto.settings["method"] == "lbfgs"
    assert auto.objective == lbfgs.objective  # the very same run: small fits are unchanged
    np.testing.assert_array_equal(auto.D, lbfgs.D)

    X, inside, kw = _grid_problem(grid=(20, 16, 16), K=40, seed=2)
    objective_size = (40 + 10 * 16 * 16) * RANK
    assert objective_size >= gp.gppnmf.AUTO_NEWTON_MIN_SIZE
    auto = gp.fit_gppnmf(X, RANK, mask=inside, **kw)
    assert auto.settings["method"] == "newton_cg" and auto.converged
    old = gp.fit_gppnmf(X, RANK, mask=inside, method="lbfgs", **kw)
    assert auto.objective <= old.objective + 1e-6 * abs(old.objective)
    assert auto.n_iter * 5 < old.n_iter
    D, H = _aligned_factors(old, auto)
    np.testing.assert_allclose(D, old.D, rtol=0, atol=5e-3 * np.abs(old.D).max())
    np.testing.assert_allclose(H, old.H, rtol=0, atol=5e-3 * np.abs(old.H).max())
    maps = auto.H.reshape(RANK, 20, 16, 16)
    np.testing.assert_array_equal(maps, maps[:, ::-1])


@pytest.mark.parametrize("mask_kind", ["none", "columns", "weighted-columns", "inner-box", "elementwise"])
def test_gauss_newton_operator_matches_the_product(mask_kind):
    """The per-point operator: float64 equals gauss_newton_product, float32 agrees to single precision."""
    rng = np.random.default_rng(7)
    grid, K = (6, 5, 4), 9
    L = int(np.prod(grid))
    prior_D = gp.GPPrior(gp.RBF(2.0), gp.RectifiedGaussianLink(1.3)).bind(K)
    prior_H = gp.GPPrior(gp.RBF(1.5), gp.ExponentialLink(0.8), grid=grid, mirror_axis=0).bind(L)
    columns = (rng.random(L) > 0.3).astype(float)
    inner = np.zeros(grid)
    inner[1:5, 1:4, 2:] = rng.random((4, 3, 2)) > 0.2  # the products run on this bounding box only
    inner[1, 1, 2] = inner[4, 3, 3] = 1.0
    mask = {"none": None, "columns": columns, "weighted-columns": columns * rng.uniform(0.5, 2.0, L),
            "inner-box": inner.ravel(), "elementwise": (rng.random((K, L)) > 0.3).astype(float)}[mask_kind]
    X = rng.standard_normal((K, L)) + 1.0
    objective = gp.GPPNMFObjective(X, RANK, prior_D, prior_H, 0.5, None if mask is None else mask**2)
    if mask_kind == "inner-box":
        assert objective._h_in_precision(np.float32)[2] == 4 * 3 * 2 < L
    for _ in range(2):
        theta = 0.5 * rng.standard_normal(objective.size)
        exact64 = objective.gauss_newton_operator(theta, np.float64)
        single = objective.gauss_newton_operator(theta)
        for _ in range(3):
            v = rng.standard_normal(objective.size)
            reference = objective.gauss_newton_product(theta, v)
            assert np.linalg.norm(exact64(v) - reference) <= 1e-12 * np.linalg.norm(reference), mask_kind
            assert np.linalg.norm(single(v) - reference) <= 1e-5 * np.linalg.norm(reference), mask_kind
            assert single(v).dtype == np.float64


@pytest.mark.parametrize("kind", ["kronecker", "kronecker-mirror", "dense", "identity", "circulant"])
def test_square_roots_in_single_precision_match_the_dense_matrix(kind):
    from gppnmf_core import structure

    rng = np.random.default_rng(8)
    if kind.startswith("kronecker"):
        grid = (7, 4, 5)
        sqrt = gp.GPPrior(gp.RBF(1.5), gp.ExponentialLink(1.0), grid=grid,
                          mirror_axis=0 if kind.endswith("mirror") else None).bind(int(np.prod(grid))).sqrt
        assert isinstance(sqrt, structure.KroneckerSquareRoot)
    elif kind == "dense":
        sqrt = structure.DenseSquareRoot(rng.standard_normal((12, 10)))
    elif kind == "identity":
        sqrt = structure.IdentitySquareRoot(9)
    else:
        sqrt = structure.CirculantSquareRoot(gp.RBF(2.0), 40)
    C = sqrt.dense()
    if kind.startswith("kronecker"):  # restricted to a box of the grid: the rows of C at its points
        box = [(1, 6), (0, 3), (2, 5)]
        apply, apply_transpose = sqrt.in_precision(np.float64, box)
        inside = np.zeros(grid, dtype=bool)
        inside[1:6, 0:3, 2:5] = True
        C_box = C[inside.ravel()]
        Z = rng.standard_normal((sqrt.n_latent, 2))
        G = rng.standard_normal((C_box.shape[0], 2))
        np.testing.assert_allclose(apply(Z), C_box @ Z, rtol=0, atol=1e-12)
        np.testing.assert_allclose(apply_transpose(G), C_box.T @ G, rtol=0, atol=1e-12)
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 2e-6)):
        apply, apply_transpose = sqrt.in_precision(dtype)
        Z = rng.standard_normal((sqrt.n_latent, 3)).astype(dtype)
        G = rng.standard_normal((sqrt.n_points, 3)).astype(dtype)
        out, out_T = apply(Z), apply_transpose(G)
        assert out.dtype == dtype and out_T.dtype == dtype
        np.testing.assert_allclose(out, C @ Z.astype(np.float64), rtol=0, atol=rtol * np.abs(C).sum(1).max() * 4)
        np.testing.assert_allclose(out_T, C.T @ G.astype(np.float64), rtol=0, atol=rtol * np.abs(C).sum(0).max() * 4)


def test_newton_cg_with_an_operator_matches_hessp():
    """minimize_newton_cg(operator=...) runs the same steps as with hessp."""
    X, inside, kw = _grid_problem(seed=3)
    bound_D = kw["prior_D"].bind(X.shape[0])
    bound_H = kw["prior_H"].bind(X.shape[1])
    objective = gp.GPPNMFObjective(X, RANK, bound_D, bound_H, kw["noise_var"], inside.astype(float))
    theta0 = 1e-3 * np.random.default_rng(0).standard_normal(objective.size)
    common = dict(max_iter=200, tol=1e-10, gtol=1e-6, on_iteration=lambda i, v: False)
    with_hessp = minimize_newton_cg(objective, objective.gauss_newton_product, theta0, **common)
    with_operator = minimize_newton_cg(objective, None, theta0,
                                       operator=lambda t: objective.gauss_newton_operator(t, np.float64), **common)
    # the same method; rounding (1e-16) changes the inexact CG steps and so the path, not the optimum
    assert with_operator.converged and with_hessp.converged
    assert with_operator.objective == pytest.approx(with_hessp.objective, rel=1e-8)
    np.testing.assert_allclose(objective.factors(with_operator.x)[1], objective.factors(with_hessp.x)[1],
                               rtol=0, atol=1e-3 * np.abs(objective.factors(with_hessp.x)[1]).max())


def test_conjugate_gradient_in_single_precision():
    """CG on float32 vectors (the fit's inner solves) reaches a moderate residual and returns float32."""
    rng = np.random.default_rng(9)
    A = rng.standard_normal((50, 50))
    A = (A @ A.T + np.eye(50)).astype(np.float32)
    b = rng.standard_normal(50).astype(np.float32)
    step, used = _conjugate_gradient(lambda v: A @ v, b, 1e-4, 500)
    assert step.dtype == np.float32
    assert np.linalg.norm(A.astype(float) @ step + b) <= 1e-3 * np.linalg.norm(b)
    out = minimize_newton_cg(lambda x: (0.5 * x @ A @ x - b @ x, (A @ x - b).astype(float)), None,
                             np.zeros(50), max_iter=50, tol=1e-12, gtol=1e-4, on_iteration=lambda i, v: False,
                             operator=lambda x: (lambda v: A @ v), cg_dtype=np.float32)
    assert out.converged
    np.testing.assert_allclose(out.x, np.linalg.solve(A.astype(float), b), atol=1e-3)
