"""The package's NUTS (gppnmf_core.nuts): leapfrog invariants, warm-up schedule, a correlated Gaussian."""

import numpy as np
import pytest

from gppnmf_core.mass_matrix import Metric, estimate_low_rank
from gppnmf_core.nuts import DivergenceError, leapfrog, sample_nuts, warmup_windows


def _gaussian(d=5, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d))
    cov = A @ A.T + 0.5 * np.eye(d)
    scale = np.geomspace(0.3, 3.0, d)
    cov = cov * np.outer(scale, scale)  # correlated and of unequal scales
    mean = rng.standard_normal(d)
    precision = np.linalg.inv(cov)

    def value_and_grad(q):
        r = q - mean
        g = precision @ r
        return 0.5 * float(r @ g), g

    return mean, cov, value_and_grad


def test_leapfrog_is_reversible_and_conserves_energy_for_small_steps():
    _, _, vg = _gaussian()
    rng = np.random.default_rng(1)
    inv_mass = rng.uniform(0.5, 2.0, 5)
    q0, p0 = rng.standard_normal(5), rng.standard_normal(5)
    U0, g0 = vg(q0)
    H0 = U0 + 0.5 * p0 @ (inv_mass * p0)
    errors = []
    for step in (0.02, 0.01):
        q, p, U, g = q0, p0, U0, g0
        for _ in range(int(round(1.0 / step))):
            q, p, U, g = leapfrog(vg, q, p, g, step, inv_mass)
        errors.append(abs(U + 0.5 * p @ (inv_mass * p) - H0))
        # integrating back with the negated step returns to the start (time reversibility)
        for _ in range(int(round(1.0 / step))):
            q, p, U, g = leapfrog(vg, q, p, g, -step, inv_mass)
        np.testing.assert_allclose(q, q0, atol=1e-9)
        np.testing.assert_allclose(p, p0, atol=1e-9)
    assert errors[0] < 1e-2
    assert errors[1] < 0.4 * errors[0]  # second order: halving the step quarters the energy error


def test_warmup_windows_follow_stans_schedule():
    assert warmup_windows(1000) == [(75, 100), (100, 150), (150, 250), (250, 450), (450, 950)]
    assert warmup_windows(300) == [(75, 100), (100, 150), (150, 250)]
    assert warmup_windows(100) == [(15, 90)]  # short: 15 % / 75 % / 10 %
    assert warmup_windows(10) == []


def test_correlated_gaussian_mean_and_covariance_within_monte_carlo_error():
    mean, cov, vg = _gaussian()
    chains = [sample_nuts(vg, np.zeros(5), np.random.default_rng(seed), 500, 4000) for seed in (0, 1)]
    draws = np.concatenate([c.q[500:] for c in chains])
    sd = np.sqrt(np.diag(cov))
    n_eff = 1000  # conservative: NUTS on a 5-d Gaussian gives well over 0.25 effective draws per draw
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * sd / np.sqrt(n_eff))
    sample_cov = np.cov(draws.T)
    np.testing.assert_array_less(np.abs(np.diag(sample_cov) / np.diag(cov) - 1), 4 * np.sqrt(2 / n_eff))
    corr = sample_cov / np.outer(np.sqrt(np.diag(sample_cov)), np.sqrt(np.diag(sample_cov)))
    assert np.max(np.abs(corr - cov / np.outer(sd, sd))) < 4 / np.sqrt(n_eff)
    for c in chains:
        assert c.n_done == 4500 and c.q.shape == (4500, 5)
        assert 0.6 < np.mean(c.stats["accept_stat"][500:]) < 0.95  # dual averaging hit near the 0.8 target
        assert np.sum(c.stats["diverging"][500:]) == 0
        assert np.all(c.stats["step_size"][500:] == c.step_size)  # fixed after warm-up
        np.testing.assert_allclose(c.potential, [vg(q)[0] for q in c.q])


def test_standard_gaussian_in_high_dimension_needs_few_steps():
    d = 200

    def vg(q):
        return 0.5 * float(q @ q), q.copy()

    chain = sample_nuts(vg, np.zeros(d), np.random.default_rng(3), 300, 500, keep_grad=True)
    draws = chain.q[300:]
    assert abs(draws.var() - 1) < 0.05
    assert np.mean(chain.stats["n_step"][300:]) < 32  # the no-U-turn criterion stops early
    np.testing.assert_allclose(chain.grad, chain.q)
    assert abs(np.median(chain.inv_mass) - 1) < 0.1 and np.all((chain.inv_mass > 0.4) & (chain.inv_mass < 2.0))


def test_divergences_are_counted_and_never_accepted():
    def vg(q):  # a Gaussian with a wall at q[0] > 2 where the density cannot be evaluated
        if q[0] > 2.0:
            raise DivergenceError("outside")
        return 0.5 * float(q @ q), q.copy()

    chain = sample_nuts(vg, np.zeros(3), np.random.default_rng(0), 200, 1000)
    assert np.all(chain.q[:, 0] <= 2.0)
    assert np.sum(chain.stats["diverging"]) > 0


def test_stop_from_the_iteration_callback():
    _, _, vg = _gaussian()
    seen = []

    def on_iteration(i):
        seen.append(i)
        return i >= 7

    chain = sample_nuts(vg, np.zeros(5), np.random.default_rng(0), 10, 10, on_iteration=on_iteration)
    assert chain.n_done == 7 and chain.q.shape == (7, 5) and seen == list(range(1, 8))


def test_non_finite_start_is_rejected():
    with pytest.raises(ValueError, match="not finite"):
        sample_nuts(lambda q: (float("inf"), q), np.zeros(2), np.random.default_rng(0), 10, 10)


def _long_direction_gaussian(d, var_long, seed):
    """N(0, I + (var_long - 1) u u^T) with a random unit direction u (not along any axis)."""
    u = np.random.default_rng(seed).standard_normal(d)
    u /= np.linalg.norm(u)

    def value_and_grad(q):
        g = q + (1.0 / var_long - 1.0) * (u @ q) * u
        return 0.5 * float(q @ g), g

    return u, value_and_grad


def test_low_rank_estimate_finds_the_long_direction_and_nothing_spurious():
    d, n = 200, 60  # fewer draws than dimensions: their covariance alone has spurious eigenvalues up to ~7
    rng = np.random.default_rng(0)
    U_true, _ = np.linalg.qr(rng.standard_normal((d, 2)))
    lam_true = np.array([25.0, 0.04])  # one long and one short direction
    y = rng.standard_normal((n, d))
    y += (y @ U_true) * (np.sqrt(lam_true) - 1) @ U_true.T  # draws with covariance I + U (lam - 1) U^T
    grads = y + (y @ U_true) * (1 / lam_true - 1) @ U_true.T  # the potential's gradient Sigma^-1 y
    spurious = np.linalg.eigvalsh(np.cov(y.T))[-3]  # third largest eigenvalue of the draws' covariance
    assert spurious > 2.0  # what a draws-only estimate would take for long
    U, lam = estimate_low_rank(y, grads, np.ones(d), max_rank=8, cutoff=2.0)
    assert lam.size == 1  # elsewhere the draws are their own gradients: nothing spurious
    assert abs(U[:, 0] @ U_true[:, 0]) > 0.95 and 15 < lam[0] < 40
    metric = Metric(np.ones(d), U, lam)
    p = metric.momentum(np.random.default_rng(1))
    np.testing.assert_allclose(metric.velocity(p), metric.dense() @ p)
    # the momentum's covariance is the mass matrix, the inverse of the metric
    along = np.array([metric.momentum(rng) for _ in range(4000)]) @ U[:, 0]
    assert abs(along.var() * lam[0] - 1) < 0.1


def test_low_rank_adaptation_mixes_a_long_non_axis_direction():
    arviz = pytest.importorskip("arviz")
    d, var_long = 100, 30.0
    u, vg = _long_direction_gaussian(d, var_long, seed=4)
    ess, rhat = {}, {}
    for rank in (0, 4):
        chains = [sample_nuts(vg, np.zeros(d), np.random.default_rng(seed), 300, 1000, adapt_low_rank=rank)
                  for seed in (1, 2)]
        along = np.stack([c.q[300:] @ u for c in chains])
        data = arviz.convert_to_dataset({"along": along})
        ess[rank], rhat[rank] = float(arviz.ess(data)["along"]), float(arviz.rhat(data)["along"])
        if rank:
            for c in chains:  # the estimated long direction is the true one, with about its variance
                lead = c.metric.directions()[:, 0]
                assert abs(lead @ u) > 0.9 and 0.3 * var_long < c.metric.lam[0] < 2 * var_long
            assert abs(along.var() / var_long - 1) < 4 * np.sqrt(2 / ess[rank])
    assert ess[4] >= 600 and rhat[4] <= 1.01
    assert ess[4] > 2 * ess[0]  # the diagonal metric crosses the long direction by a random walk
