"""fit_gppnmf and its objective: gradients, convergence, determinism, masks, bad input."""

import json

import numpy as np
import pytest
from scipy import optimize

import gppnmf_core as gp
from gppnmf_core.structure import KroneckerSquareRoot

KERNELS = [gp.RBF(2.0), gp.Matern32(2.0), gp.Matern52(2.0), gp.Exponential(2.0), gp.Periodic(1.0, 4.0),
           gp.White()]
LINKS = [gp.ExponentialLink(0.7), gp.RectifiedGaussianLink(1.3), gp.GammaLink(2.0, 0.8)]


def _toy(seed, K=100, L=200):
    rng = np.random.default_rng(seed)
    D = gp.GPPrior(gp.RBF(10.0), gp.RectifiedGaussianLink(1.0)).sample(2, size=K, random_state=rng).T
    H = gp.GPPrior(gp.RBF(10.0), gp.ExponentialLink(1.0)).sample(2, size=L, random_state=rng)
    X0 = D @ H
    return X0 + 5.0 * rng.standard_normal(X0.shape), X0


CORRECT = dict(prior_D=gp.GPPrior(gp.RBF(10.0), gp.RectifiedGaussianLink(1.0)),
               prior_H=gp.GPPrior(gp.RBF(10.0), gp.ExponentialLink(1.0)), noise_var=25.0)


def _relative_gradient_error(objective, theta):
    fd = optimize.approx_fprime(theta, lambda t: objective(t)[0], 1e-6)
    grad = objective(theta)[1]
    return np.linalg.norm(grad - fd) / np.linalg.norm(fd)


@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("link", LINKS, ids=repr)
@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_gradient_matches_finite_differences(kernel, link, masked):
    rng = np.random.default_rng(0)
    K, grid = 11, (3, 4)
    L = int(np.prod(grid))
    X = rng.standard_normal((K, L)) + 1.0
    mask = (rng.random((K, L)) > 0.3).astype(float) if masked else None
    prior_D = gp.GPPrior(kernel, link).bind(K)
    prior_H = gp.GPPrior(kernel, gp.ExponentialLink(1.0), grid=grid, mirror_axis=1).bind(L)
    weights_sq = None if mask is None else mask**2
    objective = gp.GPPNMFObjective(X, 2, prior_D, prior_H, 0.5, weights_sq)
    theta = 0.5 * rng.standard_normal(objective.size)
    assert _relative_gradient_error(objective, theta) < 1e-5


def test_gradient_check_can_fail():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 5))
    objective = gp.GPPNMFObjective(X, 2, gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0)).bind(6),
                                   gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0)).bind(5), 1.0)
    theta = rng.standard_normal(objective.size)

    def wrong(t):
        value, grad = objective(t)
        return value, grad * 1.01

    assert _relative_gradient_error(wrong, theta) > 1e-3


def test_objective_value_is_the_papers_eq_22():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 5))
    pD = gp.GPPrior(gp.RBF(2.0), gp.RectifiedGaussianLink(1.0)).bind(7)
    pH = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(2.0)).bind(5)
    objective = gp.GPPNMFObjective(X, 2, pD, pH, 0.3)
    theta = rng.standard_normal(objective.size)
    delta, eta = objective.unpack(theta)
    D = gp.RectifiedGaussianLink(1.0).value(pD.sqrt.dense() @ delta)
    H = gp.ExponentialLink(2.0).value(pH.sqrt.dense() @ eta).T
    expected = 0.5 * (np.sum((X - D @ H) ** 2) / 0.3 + np.sum(delta**2) + np.sum(eta**2))
    assert objective(theta)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("method", ["lbfgs", "alternating_cg"])
def test_fit_recovers_the_toy_truth_and_trace_never_increases(method):
    X, X0 = _toy(0)
    res = gp.fit_gppnmf(X, 2, **CORRECT, method=method, max_iter=300, random_state=0)
    assert res.D.shape == (100, 2) and res.H.shape == (2, 200)
    assert np.all(res.D >= 0) and np.all(res.H >= 0)
    assert np.all(np.diff(res.objective_trace) <= 1e-9 * abs(res.objective))
    assert res.objective == pytest.approx(res.objective_trace[-1])
    assert gp.rmse(res.D @ res.H, X0) < 0.4
    assert res.method == "gppnmf" and res.settings["prior_D"]["link"]["name"] == "rectified_gaussian"


def test_lbfgs_reaches_the_alternating_schemes_optimum():
    for seed in range(3):
        X, _ = _toy(seed)
        ours = gp.fit_gppnmf(X, 2, **CORRECT, random_state=0)
        reference = gp.fit_gppnmf(X, 2, **CORRECT, method="alternating_cg", max_iter=1000, random_state=0)
        assert ours.converged
        assert ours.objective <= reference.objective + 1e-6 * abs(reference.objective)


def test_determinism_under_a_seed():
    X, _ = _toy(3)
    a = gp.fit_gppnmf(X, 2, **CORRECT, random_state=7)
    b = gp.fit_gppnmf(X, 2, **CORRECT, random_state=np.random.default_rng(7))
    np.testing.assert_array_equal(a.D, b.D)
    np.testing.assert_array_equal(a.objective_trace, b.objective_trace)


def test_replicates_keep_the_best():
    X, _ = _toy(4)
    res = gp.fit_gppnmf(X, 2, **CORRECT, n_replicates=3, init_std=1.0, random_state=0)
    assert res.replicate_objectives.shape == (3,)
    assert res.objective == pytest.approx(res.replicate_objectives.min())


def test_callback_reports_progress_and_can_stop():
    X, _ = _toy(5)
    seen = []

    def callback(progress):
        seen.append(progress)
        return progress.iteration >= 5

    res = gp.fit_gppnmf(X, 2, **CORRECT, n_replicates=2, callback=callback, random_state=0)
    assert res.stopped and not res.converged
    assert [p.iteration for p in seen] == [1, 2, 3, 4, 5]
    assert all(p.method == "gppnmf" and p.n_replicates == 2 for p in seen)
    assert res.objective == pytest.approx(seen[-1].objective)
    assert 0 < seen[-1].fraction < 1


def test_masked_entries_do_not_influence_the_fit():
    X, _ = _toy(6, K=30, L=40)
    mask = np.ones_like(X)
    mask[5:9, 10:20] = 0.0
    garbled = X.copy()
    garbled[mask == 0] = 1e6
    kw = dict(prior_D=gp.GPPrior(gp.RBF(10.0), gp.RectifiedGaussianLink(1.0)),
              prior_H=gp.GPPrior(gp.RBF(10.0), gp.ExponentialLink(1.0)), noise_var=25.0, random_state=0)
    a = gp.fit_gppnmf(X, 2, mask=mask, **kw)
    b = gp.fit_gppnmf(garbled, 2, mask=mask, **kw)
    np.testing.assert_allclose(a.D, b.D, rtol=1e-10, atol=1e-12)
    assert not np.allclose(gp.fit_gppnmf(garbled, 2, **kw).D, a.D)


def test_csi_like_grid_prior_gives_exactly_symmetric_maps():
    rng = np.random.default_rng(0)
    prior_H = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=(8, 8, 8), mirror_axis=0)
    prior_D = gp.GPPrior(gp.RBF(3.0), gp.ExponentialLink(1.0))
    H = prior_H.sample(2, random_state=rng)
    D = prior_D.sample(2, size=40, random_state=rng).T
    X = D @ H + 0.3 * rng.standard_normal((40, 512))
    res = gp.fit_gppnmf(X, 2, prior_D, prior_H, noise_var=0.09, random_state=0)
    assert isinstance(prior_H.bind(512).sqrt, KroneckerSquareRoot)
    maps = res.H.reshape(2, 8, 8, 8)
    np.testing.assert_array_equal(maps, maps[:, ::-1])


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(X=np.full((100, 200), np.nan)), "X contains"),
        (dict(X=np.ones(5)), "X must be a 2-D array"),
        (dict(rank=0), "rank must be >= 1"),
        (dict(rank=101), r"rank must be <= min\(K, L\) = 100"),
        (dict(rank=2.5), "rank must be an integer"),
        (dict(noise_var=0.0), "noise_var"),
        (dict(noise_var=-25.0), "noise_var"),
        (dict(mask=np.ones((3, 3))), r"mask must have the shape of X \(100, 200\), got \(3, 3\)"),
        (dict(mask=-np.ones((100, 200))), "mask must be non-negative"),
        (dict(prior_H=gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=(8, 8, 8))),
         r"prior_H .* grid \(8, 8, 8\) has 512 points, but the factor has 200"),
        (dict(prior_D=gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), coords=np.arange(5.0))),
         "prior_D .*coords of length 5"),
        (dict(prior_D="rbf"), "prior_D must be a GPPrior"),
        (dict(method="newton"), "method"),
        (dict(max_iter=0), "max_iter"),
        (dict(random_state="seed"), "random_state"),
        (dict(callback=3), "callback must be callable or None, got int 3"),
    ],
)
def test_bad_input_raises_a_clear_value_error(change, match):
    X, _ = _toy(0)
    kwargs = dict(X=X, rank=2, **CORRECT)
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        gp.fit_gppnmf(**kwargs)


def test_stop_during_a_later_replicate_is_reported_even_when_an_earlier_one_is_best():
    X, _ = _toy(5)

    def stop_in_second_replicate(progress):
        return progress.replicate == 1 and progress.iteration >= 2

    res = gp.fit_gppnmf(X, 2, **CORRECT, n_replicates=2, callback=stop_in_second_replicate, random_state=0)
    assert res.replicate_objectives.shape == (2,)
    assert res.objective == res.replicate_objectives[0]  # the finished first replicate is better
    assert res.stopped


@pytest.mark.parametrize("method", ["lbfgs", "alternating_cg"])
def test_a_callback_raising_stop_iteration_stops_like_returning_true(method):
    """SciPy's stop contract (raise StopIteration) and the older one (return True) give the same fit."""
    X, _ = _toy(5)

    def raising(progress):
        if progress.replicate == 1 and progress.iteration >= 4:
            raise StopIteration

    def returning(progress):
        return progress.replicate == 1 and progress.iteration >= 4

    kw = dict(n_replicates=3, method=method, max_iter=40, random_state=0)
    a = gp.fit_gppnmf(X, 2, **CORRECT, callback=raising, **kw)
    b = gp.fit_gppnmf(X, 2, **CORRECT, callback=returning, **kw)
    assert a.stopped and b.stopped and a.replicate_objectives.shape == (2,)
    np.testing.assert_array_equal(a.D, b.D)
    np.testing.assert_array_equal(a.replicate_objectives, b.replicate_objectives)
    with pytest.raises(KeyError):  # any other exception from the callback propagates
        gp.fit_gppnmf(X, 2, **CORRECT, callback=lambda p: {}["boom"], random_state=0)


def test_the_result_records_its_seed_and_evaluations_and_has_a_short_repr():
    X, _ = _toy(2)
    res = gp.fit_gppnmf(X, 2, **CORRECT, random_state=11)
    assert res.settings["random_state"] == 11
    assert gp.fit_gppnmf(X, 2, **CORRECT, max_iter=3, random_state=None).settings["random_state"] is None
    generator = gp.fit_gppnmf(X, 2, **CORRECT, max_iter=3, random_state=np.random.default_rng(1))
    assert generator.settings["random_state"] == "Generator"
    json.dumps(res.settings)
    assert res.nfev >= res.n_iter + 1  # at least one evaluation per iteration and the start
    text = repr(res)
    assert len(text) < 250 and "D=(100, 2)" in text and "H=(2, 200)" in text
    assert f"n_iter={res.n_iter}" in text and f"converged={res.converged}" in text and "nfev=" in text
    assert res == res and res != gp.fit_gppnmf(X, 2, **CORRECT, random_state=11)  # identity, not array ==
    cg = gp.fit_gppnmf(X, 2, **CORRECT, method="alternating_cg", max_iter=5, random_state=0)
    assert cg.nfev > 2 * cg.n_iter  # two line searches per sweep, each at least one evaluation
