"""Posterior sampling: a known Gaussian posterior, label switching, reproducibility, stop."""

import numpy as np
import pytest

import gppnmf_core as gp
from gppnmf_core.links import Link
from gppnmf_core.posterior import (
    Posterior,
    build_objective,
    gauss_newton_hessian,
    identify,
    laplace_log_evidence,
    objective_value,
    sample_posterior,
)


class IdentityLink(Link):
    """f^{-1}(h) = h: makes D = C delta linear (negative values allowed, for tests only)."""

    name = "identity"

    def value_and_derivative(self, h):
        h = np.asarray(h, dtype=np.float64)
        return h.copy(), np.ones_like(h)

    def to_spec(self):
        return {"name": "identity"}


class ConstantLink(Link):
    """f^{-1}(h) = 1: H is fixed at ones and eta keeps its N(0, I) prior (for tests only)."""

    name = "constant"

    def value_and_derivative(self, h):
        h = np.asarray(h, dtype=np.float64)
        return np.ones_like(h), np.zeros_like(h)

    def to_spec(self):
        return {"name": "constant"}


def _linear_gaussian(K=4, L=6, noise_var=2.0, seed=0):
    """X = C delta 1^T + noise: the posterior of D = C delta is Gaussian with known mean and covariance."""
    rng = np.random.default_rng(seed)
    prior_D = gp.GPPrior(gp.RBF(beta=2.0), IdentityLink())
    prior_H = gp.GPPrior(gp.White(), ConstantLink())
    C = prior_D.bind(K).sqrt.apply(np.eye(K))
    X = (C @ rng.standard_normal(K))[:, None] + np.sqrt(noise_var) * rng.standard_normal((K, L))
    precision = np.eye(K) + L / noise_var * C.T @ C
    cov_delta = np.linalg.inv(precision)
    mean_delta = cov_delta @ (C.T @ X.sum(axis=1)) / noise_var
    return X, prior_D, prior_H, noise_var, C @ mean_delta, C @ cov_delta @ C.T


def test_linear_gaussian_posterior_mean_and_covariance():
    X, prior_D, prior_H, noise_var, mean, cov = _linear_gaussian()
    post = sample_posterior(X, 1, prior_D, prior_H, noise_var, n_draws=600, n_chains=2, n_warmup=200,
                            random_state=1, n_jobs=1)
    x0 = (post.D_draws[..., 0] * post.H_draws[:, :, 0, :1]).reshape(-1, X.shape[0])  # D H[:, 0] = C delta
    n_eff = post.ess_bulk_min
    assert n_eff > 200
    se = np.sqrt(np.diag(cov) / n_eff)
    assert np.all(np.abs(x0.mean(axis=0) - mean) < 4 * se)
    sample_cov = np.cov(x0.T)
    # variance of a sample variance ~ 2 s^4 / n: allow 4 standard errors
    assert np.all(np.abs(np.diag(sample_cov) / np.diag(cov) - 1) < 4 * np.sqrt(2 / n_eff))
    corr = sample_cov / np.sqrt(np.outer(np.diag(sample_cov), np.diag(sample_cov)))
    corr_true = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.max(np.abs(corr - corr_true)) < 4 / np.sqrt(n_eff)
    q = post.quantiles("X0", [0.05, 0.5, 0.95])
    assert q.shape == (3,) + X.shape
    assert np.all(q[0] <= q[1]) and np.all(q[1] <= q[2])


def test_identify_undoes_permutation_and_scale():
    rng = np.random.default_rng(0)
    D = rng.random((30, 3)) + np.eye(30, 3) * 5
    H = rng.random((3, 20))
    perm = np.array([2, 0, 1])
    scale = np.array([0.5, 3.0, 7.0])
    D_id, H_id, switched = identify(D[:, perm] * scale, H[perm] / scale[:, None], D)
    assert switched
    np.testing.assert_allclose(D_id, D / np.linalg.norm(D, axis=0))
    np.testing.assert_allclose(D_id @ H_id, D @ H)
    _, _, switched = identify(D * 2.0, H / 2.0, D)
    assert not switched


def test_gauss_newton_matches_finite_differences_at_zero_residual():
    toy = gp.datasets.paper_toy(random_state=0, K=12, L=15)
    p = toy.presets["correct"]
    rng = np.random.default_rng(1)
    for mask in (None, (rng.random(15) > 0.3).astype(float), (rng.random((12, 15)) > 0.3).astype(float)):
        probe = build_objective(toy.X, 2, p.prior_D, p.prior_H, 0.5, mask)
        theta = 0.3 * rng.standard_normal(probe.size)
        D, H = probe.factors(theta)
        objective = build_objective(D @ H, 2, p.prior_D, p.prior_H, 0.5, mask)  # residual zero: GN is exact
        G = gauss_newton_hessian(objective, theta, objective.mask_sq) + np.eye(objective.size)
        h = 1e-5
        fd = np.array([(objective(theta + h * e)[1] - objective(theta - h * e)[1]) / (2 * h)
                       for e in np.eye(objective.size)])
        assert np.max(np.abs(G - fd)) < 1e-6 * np.max(np.abs(fd))
        assert objective_value(objective, theta) == pytest.approx(objective(theta)[0], rel=1e-12)


def test_toy_reproducible_across_processes_and_summaries():
    toy = gp.datasets.paper_toy(random_state=3, K=20, L=25)
    p = toy.presets["correct"]
    kwargs = dict(n_draws=60, n_chains=2, n_warmup=60, random_state=5, n_diagnostic=8)
    a = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, n_jobs=1, **kwargs)
    b = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, n_jobs=2, **kwargs)
    assert isinstance(a, Posterior)
    np.testing.assert_array_equal(a.D_draws, b.D_draws)
    np.testing.assert_array_equal(a.H_draws, b.H_draws)
    assert a.quantiles("D", [0.05, 0.95]).shape == (2, 20, 2)
    assert a.quantiles("H", [0.5]).shape == (1, 2, 25)
    np.testing.assert_allclose(np.linalg.norm(a.D_draws, axis=2), 1.0)
    assert np.isfinite(a.rhat_max) and a.ess_bulk_min > 0
    assert a.settings["random_state"] == 5 and "rhat_max" in repr(a)
    with pytest.raises(ValueError, match="name must be one of"):
        a.quantiles("W", [0.5])
    with pytest.raises(ValueError, match="theta0 must have shape"):
        sample_posterior(toy.X, 2, p.prior_D, p.prior_H, 25.0, theta0=np.zeros(3))


def test_missing_arviz_is_named_before_any_sampling(monkeypatch):
    import sys

    toy = gp.datasets.paper_toy(random_state=0, K=15, L=20)
    p = toy.presets["correct"]
    monkeypatch.setitem(sys.modules, "arviz", None)  # what `import arviz` sees when the extra is not installed
    seen = []
    with pytest.raises(ImportError, match=r"gppnmf-studio\[posterior\]"):
        sample_posterior(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, n_draws=10, n_warmup=10, n_chains=1,
                         n_jobs=1, callback=seen.append)
    assert seen == []  # not even the MAP fit started


def test_callback_stops_sampling():
    toy = gp.datasets.paper_toy(random_state=0, K=15, L=20)
    p = toy.presets["correct"]
    seen = []

    def callback(progress):
        seen.append(progress.method)
        return progress.method == "posterior"

    post = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, n_draws=100000, n_warmup=10,
                            n_chains=1, n_jobs=1, callback=callback)
    assert post.stopped and "posterior" in seen
    assert post.n_draws < 100000


def test_laplace_evidence_prefers_the_generating_prior():
    toy = gp.datasets.paper_toy(random_state=0)
    out = {}
    for name in ("correct", "incorrect"):
        p = toy.presets[name]
        fit = gp.fit_gppnmf(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, random_state=0)
        objective = build_objective(toy.X, 2, p.prior_D, p.prior_H, p.noise_var)
        theta = objective.pack(fit.latent["delta"], fit.latent["eta"])
        out[name] = laplace_log_evidence(objective, theta, value=fit.objective)
    assert out["correct"] > out["incorrect"]


def test_exact_hessian_and_preconditioner_whiten_the_linear_gaussian_posterior():
    from gppnmf_core.posterior import PRECONDITION_MIN_EIG, hessian, make_preconditioner

    X, prior_D, prior_H, noise_var, _, _ = _linear_gaussian(K=5, L=8, noise_var=0.5)
    objective = build_objective(X, 1, prior_D, prior_H, noise_var)
    C = prior_D.bind(5).sqrt.apply(np.eye(5))
    theta = np.random.default_rng(0).standard_normal(objective.size)
    exact = np.eye(objective.size)
    exact[:5, :5] += 8 / noise_var * C.T @ C  # H = 1: the data term is 8 copies of ||x_l - C delta||^2 / 2 s^2
    H = hessian(objective, theta)
    np.testing.assert_allclose(H, exact, atol=1e-6 * np.abs(exact).max())
    pre = make_preconditioner(objective, theta)
    S = pre.apply(np.eye(objective.size))
    np.testing.assert_allclose(S, S.T, atol=1e-6)
    # S H S = I except along dropped directions (|lambda| <= PRECONDITION_MIN_EIG), float32 products
    assert np.max(np.abs(S @ H @ S - np.eye(objective.size))) < PRECONDITION_MIN_EIG + 1e-4
    np.testing.assert_allclose(pre.to_theta(np.zeros(objective.size)), theta)


def test_laplace_evidence_cholesky_matches_eigenvalues():
    toy = gp.datasets.paper_toy(random_state=0, K=20, L=30)
    p = toy.presets["correct"]
    objective = build_objective(toy.X, 2, p.prior_D, p.prior_H, p.noise_var)
    theta = 0.1 * np.random.default_rng(2).standard_normal(objective.size)
    w = np.linalg.eigvalsh(gauss_newton_hessian(objective, theta))
    assert laplace_log_evidence(objective, theta) == pytest.approx(
        laplace_log_evidence(objective, theta, eigenvalues=w), rel=1e-10)


def test_permuted_draws_are_matched_to_the_map_in_the_posterior():
    """Chains started from a relabelled MAP still report D and H in the MAP's order."""
    toy = gp.datasets.paper_toy(random_state=4, K=20, L=25, noise_var=1.0)
    p = toy.presets["correct"]
    fit = gp.fit_gppnmf(toy.X, 2, p.prior_D, p.prior_H, 1.0, random_state=0)
    objective = build_objective(toy.X, 2, p.prior_D, p.prior_H, 1.0)
    swapped = objective.pack(fit.latent["delta"][:, ::-1], fit.latent["eta"][:, ::-1])
    post = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, 1.0, n_draws=40, n_warmup=40, n_chains=1, n_jobs=1,
                            theta0=swapped, random_state=0)
    D_fit = fit.D / np.linalg.norm(fit.D, axis=0)
    np.testing.assert_allclose(post.D_map, D_fit[:, ::-1], atol=1e-3)  # the MAP keeps the order it was given
    np.testing.assert_array_equal(gp.match_components(post.mean("D"), post.D_map), [0, 1])
    cos = np.einsum("cnkm,kq->cnmq", post.D_draws, post.D_map)  # draw column m against MAP column q
    kept = cos[..., 0, 0] + cos[..., 1, 1]
    assert np.all(kept >= cos[..., 0, 1] + cos[..., 1, 0] - 1e-12)  # every draw in its best order


def test_mici_sampler_option_gives_the_same_kind_of_result():
    pytest.importorskip("mici")
    toy = gp.datasets.paper_toy(random_state=3, K=20, L=25)
    p = toy.presets["correct"]
    post = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, n_draws=30, n_chains=1, n_warmup=30,
                            random_state=5, n_diagnostic=8, n_jobs=1, sampler="mici")
    assert post.D_draws.shape == (1, 30, 20, 2) and "mici" in post.settings["sampler"]
    with pytest.raises(ValueError, match="sampler must be"):
        sample_posterior(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, sampler="stan")


def test_component_order_check_keeps_exactly_one_relabelling():
    """The sampled region holds one of the M! relabellings of every point (a fundamental domain)."""
    from itertools import permutations

    from gppnmf_core.posterior_chains import _order_check

    toy = gp.datasets.paper_toy(random_state=0, K=12, L=15)
    p = toy.presets["correct"]
    rng = np.random.default_rng(0)
    for M in (2, 3):
        objective = build_objective(toy.X, M, p.prior_D, p.prior_H, p.noise_var)
        in_order = _order_check(objective, rng.standard_normal(objective.size))
        for _ in range(50):
            delta, eta = objective.unpack(rng.standard_normal(objective.size))
            inside = [in_order(objective.pack(delta[:, list(perm)], eta[:, list(perm)]))
                      for perm in permutations(range(M))]
            assert sum(inside) == 1
    assert _order_check(build_objective(toy.X, 1, p.prior_D, p.prior_H, p.noise_var), np.zeros(27)) is None


def test_max_draws_continues_the_chains_until_the_targets_or_the_cap():
    toy = gp.datasets.paper_toy(random_state=3, K=20, L=25)
    p = toy.presets["correct"]
    kwargs = dict(n_draws=40, n_chains=2, n_warmup=60, random_state=5, n_diagnostic=8)
    short = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, n_jobs=1, **kwargs)
    assert short.ess_bulk_min < 200  # 80 draws cannot reach the target, so the long run must continue
    long = sample_posterior(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, n_jobs=2, max_draws=100, **kwargs)
    assert long.n_draws == 100 and long.settings["n_rounds"] == 4  # 40, then rounds of 20 (half of n_draws)
    # the continuation extends the same chains: the first 40 draws are the short run's
    np.testing.assert_array_equal(long.D_draws[:, :40], short.D_draws)
    assert long.settings["draws_per_chain"] == 100 and np.isfinite(long.rhat_max)
