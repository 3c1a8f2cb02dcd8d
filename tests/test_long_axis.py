"""GPP-NMF on long regular 1-D axes: the circulant (FFT) square root in the objective and the fit."""

import tracemalloc

import numpy as np
import pytest
from scipy import optimize

import gppnmf_core as gp
from gppnmf_core import priors as priors_module
from gppnmf_core import structure as structure_module
from gppnmf_core.structure import DENSE_MAX_POINTS, CirculantSquareRoot

LINKS = [gp.ExponentialLink(0.7), gp.RectifiedGaussianLink(1.3), gp.GammaLink(2.0, 0.8)]


def _relative_gradient_error(objective, theta):
    fd = optimize.approx_fprime(theta, lambda t: objective(t)[0], 1e-6)
    return np.linalg.norm(objective(theta)[1] - fd) / np.linalg.norm(fd)


@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("link", LINKS, ids=repr)
def test_gradient_with_a_circulant_prior_on_D(link, masked):
    rng = np.random.default_rng(0)
    K, L = 30, 8
    ppm = np.linspace(4.0, -2.0, K)  # descending
    prior_D = gp.GPPrior(gp.RBF(0.6), link, coords=ppm, structure="circulant").bind()
    assert isinstance(prior_D.sqrt, CirculantSquareRoot) and prior_D.n_latent > K
    prior_H = gp.GPPrior(gp.Matern32(2.0), gp.ExponentialLink(1.0)).bind(L)
    X = rng.standard_normal((K, L)) + 1.0
    weights_sq = (rng.random((K, L)) > 0.3).astype(float) if masked else None
    objective = gp.GPPNMFObjective(X, 2, prior_D, prior_H, 0.5, weights_sq)
    theta = 0.5 * rng.standard_normal(objective.size)
    assert _relative_gradient_error(objective, theta) < 1e-5

    def wrong(t):  # the check can fail
        value, grad = objective(t)
        return value, grad * 1.01

    assert _relative_gradient_error(wrong, theta) > 1e-3


def test_objective_with_the_circulant_prior_is_eq_22_with_its_dense_matrix():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 6))
    pD = gp.GPPrior(gp.Exponential(3.0), gp.RectifiedGaussianLink(1.0), structure="circulant").bind(40)
    pH = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(2.0)).bind(6)
    objective = gp.GPPNMFObjective(X, 2, pD, pH, 0.3)
    theta = rng.standard_normal(objective.size)
    delta, eta = objective.unpack(theta)
    D = gp.RectifiedGaussianLink(1.0).value(pD.sqrt.dense() @ delta)
    H = gp.ExponentialLink(2.0).value(pH.sqrt.dense() @ eta).T
    expected = 0.5 * (np.sum((X - D @ H) ** 2) / 0.3 + np.sum(delta**2) + np.sum(eta**2))
    assert objective(theta)[0] == pytest.approx(expected, rel=1e-12)


def _long_problem(K=600, L=40, seed=0):
    rng = np.random.default_rng(seed)
    ppm = np.linspace(10.0, -20.0, K)
    beta = 3.0 * 30.0 / (K - 1)  # three points

    def priors(structure):
        return (gp.GPPrior(gp.RBF(beta), gp.ExponentialLink(1.0), coords=ppm, structure=structure),
                gp.GPPrior(gp.RBF(4.0), gp.ExponentialLink(1.0)))

    prior_D, prior_H = priors("dense")
    D = prior_D.sample(2, random_state=rng).T
    H = prior_H.sample(2, size=L, random_state=rng)
    return D @ H + 0.1 * rng.standard_normal((K, L)), priors


def test_fit_on_a_long_axis_reaches_the_dense_paths_objective():
    # Each path starts from its own random point (different numbers of whitened variables); on this
    # data set both reach the same optimum (GPP-NMF is not convex: on others they may not).
    X, priors = _long_problem()
    fits = {}
    for structure in ("dense", "auto"):
        prior_D, prior_H = priors(structure)
        fits[structure] = gp.fit_gppnmf(X, 2, prior_D, prior_H, 0.01, tol=1e-11, max_iter=20000, random_state=0)
    assert isinstance(priors("dense")[0].bind().sqrt, gp.DenseSquareRoot)
    assert isinstance(priors("auto")[0].bind().sqrt, CirculantSquareRoot)
    dense, fast = fits["dense"], fits["auto"]
    assert fast.objective == pytest.approx(dense.objective, rel=1e-6)
    assert fast.latent["delta"].shape == (priors("auto")[0].bind().n_latent, 2)
    scale = np.max(dense.D @ dense.H)
    np.testing.assert_allclose(fast.D @ fast.H, dense.D @ dense.H, atol=1e-3 * scale)


def test_a_long_axis_never_forms_a_K_by_K_matrix(monkeypatch):
    K, L = 6000, 12
    limit = DENSE_MAX_POINTS

    def refuse(name):
        def fail(*args, **kwargs):
            raise AssertionError(f"{name} called on the circulant path")
        return fail

    real_sqrt_factor = structure_module.sqrt_factor

    def small_sqrt_factor(cov, *args, **kwargs):
        assert len(cov) <= limit, f"sqrt_factor on a {cov.shape} matrix"
        return real_sqrt_factor(cov, *args, **kwargs)

    monkeypatch.setattr(priors_module, "sqrt_factor", small_sqrt_factor)
    for cls, method in ((gp.SquareRoot, "dense"), (gp.SquareRoot, "covariance"), (gp.Kernel, "__call__")):
        monkeypatch.setattr(cls, method, refuse(f"{cls.__name__}.{method}"))
    priors_module._axis_factor.cache_clear()
    rng = np.random.default_rng(0)
    ppm = np.linspace(10.0, -20.0, K)
    prior_D = gp.GPPrior(gp.Matern52(0.02), gp.ExponentialLink(1.0), coords=ppm)
    prior_H = gp.GPPrior(gp.White(), gp.ExponentialLink(1.0))
    tracemalloc.start()
    try:
        D = prior_D.sample(2, random_state=rng).T
        X = D @ prior_H.sample(2, size=L, random_state=rng) + 0.1 * rng.standard_normal((K, L))
        res = gp.fit_gppnmf(X, 2, prior_D, prior_H, 0.01, max_iter=5, random_state=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        priors_module._axis_factor.cache_clear()
    assert isinstance(prior_D.bind().sqrt, CirculantSquareRoot)
    assert res.D.shape == (K, 2) and np.all(np.isfinite(res.D))
    assert peak < 20e6 < K * K * 8 / 10, peak  # one (K, K) matrix: 288 MB
    # the check bites: the dense structure evaluates the kernel on all pairs
    dense = gp.GPPrior(gp.Matern52(0.02), gp.ExponentialLink(1.0), coords=ppm, structure="dense")
    with pytest.raises(AssertionError, match="Kernel.__call__"):
        dense.sample(1, random_state=0)


def test_descending_and_ascending_axes_give_the_same_operator():
    up = gp.GPPrior(gp.Matern32(0.05), gp.ExponentialLink(1.0), coords=np.linspace(-20.0, 10.0, 700)).bind()
    down = gp.GPPrior(gp.Matern32(0.05), gp.ExponentialLink(1.0), coords=np.linspace(10.0, -20.0, 700)).bind()
    assert isinstance(down.sqrt, CirculantSquareRoot)
    np.testing.assert_array_equal(up.sqrt.sqrt_eigenvalues, down.sqrt.sqrt_eigenvalues)
    np.testing.assert_allclose(down.sqrt.covariance(), gp.Matern32(0.05)(np.linspace(10.0, -20.0, 700)),
                               atol=1e-10)
