"""Tests of the LS-NMF and CNMF baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gppnmf_core.baselines import cnmf, ls_nmf
from gppnmf_core.results import FitResult, Progress

METHODS = [ls_nmf, cnmf]


def _truth(K=40, L=60, M=2, seed=0):
    """A nonnegative rank-M product with zeros in both factors (identifiable)."""
    rng = np.random.default_rng(seed)
    D = np.abs(rng.standard_normal((K, M))) * (rng.random((K, M)) < 0.6)
    H = np.abs(rng.standard_normal((M, L))) * (rng.random((M, L)) < 0.6)
    return D, H


@pytest.fixture(scope="module")
def noisy():
    """Toy-like data: a rank-2 product plus noise, with many negative entries."""
    D, H = _truth(60, 80, 2, seed=1)
    X0 = 3.0 * D @ H
    X = X0 + 1.5 * np.random.default_rng(2).standard_normal(X0.shape)
    assert np.mean(X < 0) > 0.1
    return X


def _half_sq(X, D, H):
    return 0.5 * np.sum((X - D @ H) ** 2)


def test_ls_nmf_trace_nonincreasing(noisy):
    res = ls_nmf(noisy, 2, max_iter=300, tol=0, random_state=0)
    trace = res.objective_trace
    assert trace.shape == (301,)
    assert np.all(np.diff(trace) <= 1e-12 * trace[0])
    assert trace[-1] < 0.5 * trace[0]


def test_cnmf_trace_decreases_overall(noisy):
    res = cnmf(noisy, 2, max_iter=300, tol=0, floor=1e-3, random_state=0)
    trace = res.objective_trace
    assert trace.shape == (301,)
    assert trace[-1] < 0.5 * trace[0]
    assert trace[-1] <= trace.min() * (1 + 1e-9)
    # overall decrease: the mean over each block of 50 iterations goes down
    blocks = trace[1:].reshape(6, 50).mean(axis=1)
    assert np.all(np.diff(blocks) <= 0)


@pytest.mark.parametrize("fit", METHODS)
def test_trace_and_objective_are_consistent(fit, noisy):
    res = fit(noisy, 2, max_iter=50, tol=0, random_state=3)
    data = np.maximum(noisy, 0) if fit is ls_nmf else noisy
    assert res.objective == res.objective_trace[-1]
    assert res.objective == pytest.approx(_half_sq(data, res.D, res.H), rel=1e-12)
    # the cheap expanded cost matches the residual-based cost along the way
    assert res.objective_trace[-2] == pytest.approx(res.objective_trace[-1], rel=1e-2)
    assert res.n_iter == 50


def test_ls_nmf_nonnegative(noisy):
    res = ls_nmf(noisy, 2, max_iter=200, random_state=0)
    assert np.all(res.D >= 0) and np.all(res.H >= 0)


def test_cnmf_floor_applies(noisy):
    floor = 0.05
    res = cnmf(noisy, 2, max_iter=200, floor=floor, random_state=0)
    assert res.D.min() >= floor and res.H.min() >= floor
    # the floor is actually hit (the data have many negative entries)
    assert np.any(res.D == floor) or np.any(res.H == floor)


@pytest.mark.parametrize("fit", METHODS)
def test_recovers_exact_low_rank(fit):
    D0, H0 = _truth(30, 40, 3, seed=4)
    X = D0 @ H0
    res = fit(X, 3, max_iter=3000, tol=1e-12, random_state=0, **({"floor": 1e-9} if fit is cnmf else {}))
    rel = np.linalg.norm(X - res.D @ res.H) / np.linalg.norm(X)
    assert rel < 1e-2
    # near an exact fit the final objective is still accurate (from the residual)
    assert res.objective == pytest.approx(_half_sq(X, res.D, res.H), rel=1e-10)


@pytest.mark.parametrize("fit", METHODS)
def test_shapes_dtypes_and_metadata(fit, noisy):
    res = fit(noisy, 2, max_iter=20, random_state=1)
    assert isinstance(res, FitResult)
    assert res.D.shape == (60, 2) and res.H.shape == (2, 80)
    assert res.D.dtype == np.float64 and res.H.dtype == np.float64
    assert res.method == fit.__name__
    assert res.runtime > 0
    assert res.rank == 2
    json.dumps(res.settings)
    assert res.settings["rank"] == 2 and res.settings["max_iter"] == 20
    assert res.settings["random_state"] == 1
    if fit is cnmf:
        assert res.settings["floor"] == 1e-6


def test_ls_nmf_clips_negative_entries(noisy):
    a = ls_nmf(noisy, 2, max_iter=60, tol=0, random_state=5)
    b = ls_nmf(np.maximum(noisy, 0), 2, max_iter=60, tol=0, random_state=5)
    np.testing.assert_array_equal(a.D, b.D)
    np.testing.assert_array_equal(a.H, b.H)
    np.testing.assert_array_equal(a.objective_trace, b.objective_trace)


def test_cnmf_uses_negative_entries(noisy):
    a = cnmf(noisy, 2, max_iter=60, tol=0, random_state=5)
    b = cnmf(np.maximum(noisy, 0), 2, max_iter=60, tol=0, random_state=5)
    assert not np.allclose(a.D, b.D)


@pytest.mark.parametrize("fit", METHODS)
def test_deterministic_under_seed(fit, noisy):
    a = fit(noisy, 2, max_iter=40, random_state=7)
    b = fit(noisy, 2, max_iter=40, random_state=7)
    c = fit(noisy, 2, max_iter=40, random_state=8)
    np.testing.assert_array_equal(a.D, b.D)
    np.testing.assert_array_equal(a.H, b.H)
    assert not np.allclose(a.D, c.D)
    g = fit(noisy, 2, max_iter=40, random_state=np.random.default_rng(7))
    np.testing.assert_array_equal(a.D, g.D)
    assert g.settings["random_state"] == "Generator"


@pytest.mark.parametrize("fit", METHODS)
def test_replicates_keep_lowest(fit, noisy):
    res = fit(noisy, 2, max_iter=15, tol=0, n_replicates=5, random_state=4)
    objs = res.replicate_objectives
    assert objs.shape == (5,)
    assert len(np.unique(objs)) == 5
    best = int(np.argmin(objs))
    assert best > 0  # with this seed a later replicate wins
    assert res.objective == objs[best] == res.objective_trace[-1]
    assert f"replicate {best + 1} of 5" in res.message
    # the first replicate draws what a single-replicate fit with the same seed draws
    single = fit(noisy, 2, max_iter=15, tol=0, n_replicates=1, random_state=4)
    assert single.objective == objs[0]


@pytest.mark.parametrize("fit", METHODS)
def test_stopping_rule(fit, noisy):
    tol = 1e-4
    res = fit(noisy, 2, max_iter=5000, tol=tol, random_state=0)
    assert res.converged and not res.stopped
    n, t = res.n_iter, res.objective_trace
    assert n < 5000 and n % 10 == 0
    assert "converged" in res.message
    # it stopped at the first check point where the 10-iteration change fell below tol
    assert abs(t[n - 10] - t[n]) < tol * t[n - 10]
    assert abs(t[n - 20] - t[n - 10]) >= tol * t[n - 20]
    capped = fit(noisy, 2, max_iter=25, tol=0, random_state=0)
    assert not capped.converged and capped.n_iter == 25
    assert "max_iter" in capped.message


@pytest.mark.parametrize("fit", METHODS)
def test_zero_tol_runs_max_iter_even_at_an_exact_fit(fit):
    # rank-1 data fitted exactly after one iteration: the objective stalls near 0
    rng = np.random.default_rng(3)
    X = 1e6 * np.outer(rng.random(5) + 0.5, rng.random(6) + 0.5)
    res = fit(X, 1, max_iter=50, tol=0, random_state=0)
    assert res.n_iter == 50 and not res.converged
    # the final objective comes from the residual, free of the cancellation in
    # the expanded cost 0.5 (|X|^2 - 2 <D, X H^T> + <D^T D, H H^T>), which is
    # off by about eps |X|^2 ~ 1e-3 here
    assert res.objective == pytest.approx(_half_sq(X, res.D, res.H), abs=1e-9)
    assert res.objective < 1e-9


@pytest.mark.parametrize("fit", METHODS)
def test_callback_progress(fit, noisy):
    seen = []
    res = fit(noisy, 2, max_iter=35, tol=0, n_replicates=2, callback=seen.append, random_state=0)
    assert not res.stopped
    assert all(isinstance(p, Progress) for p in seen)
    assert all(p.method == fit.__name__ and p.n_replicates == 2 and p.max_iter == 35 for p in seen)
    assert [(p.replicate, p.iteration) for p in seen] == [
        (r, i) for r in range(2) for i in (0, 10, 20, 30, 35)
    ]
    assert seen[-1].fraction == 1.0
    assert all(np.isfinite(p.objective) for p in seen)


@pytest.mark.parametrize("fit", METHODS)
def test_callback_stops(fit, noisy):
    def stop_at_20(p):
        return p.replicate == 1 and p.iteration >= 20

    res = fit(noisy, 2, max_iter=100, tol=0, n_replicates=4, callback=stop_at_20, random_state=0)
    assert res.stopped
    assert res.replicate_objectives.shape == (2,)
    assert res.objective == res.replicate_objectives.min()
    assert "stopped" in res.message

    first = fit(noisy, 2, max_iter=100, tol=0, callback=lambda p: True, random_state=0)
    assert first.stopped and first.n_iter == 0
    assert first.objective_trace.shape == (1,)


BAD_INPUTS = [
    (dict(X=np.array([[1.0, np.nan], [2.0, 3.0]])), "X"),
    (dict(X=np.ones(4)), "X"),
    (dict(rank=0), "rank"),
    (dict(rank=4), "rank"),
    (dict(rank=1.5), "rank"),
    (dict(max_iter=0), "max_iter"),
    (dict(tol=-1e-3), "tol"),
    (dict(n_replicates=0), "n_replicates"),
    (dict(random_state="seed"), "random_state"),
    (dict(callback=3), "callback"),
]


@pytest.mark.parametrize("fit", METHODS)
@pytest.mark.parametrize(("kwargs", "name"), BAD_INPUTS)
def test_bad_inputs(fit, kwargs, name):
    args = {"X": np.abs(np.random.default_rng(0).standard_normal((3, 5))), "rank": 2, **kwargs}
    with pytest.raises(ValueError, match=name):
        fit(args.pop("X"), args.pop("rank"), **args)


@pytest.mark.parametrize("floor", [0, 0.0, -1e-6, float("nan")])
def test_cnmf_bad_floor(floor):
    with pytest.raises(ValueError, match="floor"):
        cnmf(np.ones((3, 4)), 1, floor=floor)


def test_ls_nmf_needs_positive_entries():
    with pytest.raises(ValueError, match="no positive entries"):
        ls_nmf(-np.ones((4, 5)), 2)
    # CNMF is defined on such data (the floor keeps the factors positive)
    res = cnmf(-np.ones((4, 5)), 2, max_iter=20, floor=1e-3, random_state=0)
    assert np.all(res.D >= 1e-3) and np.isfinite(res.objective)


@pytest.mark.parametrize("fit", METHODS)
def test_a_callback_raising_stop_iteration_stops_like_returning_true(fit, noisy):
    def raising(p):
        if p.replicate == 1 and p.iteration >= 20:
            raise StopIteration

    a = fit(noisy, 2, max_iter=100, tol=0, n_replicates=4, callback=raising, random_state=0)
    b = fit(noisy, 2, max_iter=100, tol=0, n_replicates=4, callback=lambda p: p.replicate == 1 and p.iteration >= 20,
            random_state=0)
    assert a.stopped and a.message == b.message
    np.testing.assert_array_equal(a.D, b.D)
    np.testing.assert_array_equal(a.replicate_objectives, b.replicate_objectives)


@pytest.mark.parametrize("fit", METHODS)
def test_nfev_and_a_short_repr(fit, noisy):
    res = fit(noisy, 2, max_iter=30, tol=0, random_state=0)
    assert res.nfev == res.n_iter + 1 == 31
    text = repr(res)
    assert text.startswith(f"FitResult(method='{fit.__name__}', D=(60, 2), H=(2, 80)") and len(text) < 250


# --- masks -------------------------------------------------------------------------------------------------------


def _masked_half_sq(X, W, D, H):
    R = np.where(W, X - D @ H, 0.0)
    return 0.5 * np.sum(R * R)


def _private_fit(fit, X, mask, **kwargs):
    """The shared solver with a mask exactly as given (no collapsing of full or column masks)."""
    import time

    from gppnmf_core import baselines

    data = np.maximum(X, 0) if fit is ls_nmf else X
    return baselines._mu_fit(
        np.where(mask, data, 0.0), kwargs.pop("rank", 2), method=fit.__name__,
        floor=None if fit is ls_nmf else kwargs.pop("floor", 1e-6), tol=kwargs.pop("tol", 0.0),
        n_replicates=1, callback=None, rng=np.random.default_rng(kwargs.pop("random_state", 0)), settings={},
        start=time.perf_counter(), n_threads=None, mask=mask, **kwargs,
    )


@pytest.mark.parametrize("fit", METHODS)
@pytest.mark.parametrize("full", [lambda X: np.ones(X.shape, bool), lambda X: np.ones(X.shape[1], bool),
                                  lambda X: np.ones(X.shape, int)], ids=["2d", "columns", "0/1"])
def test_a_full_mask_is_the_unmasked_fit(fit, full, noisy):
    plain = fit(noisy, 2, max_iter=60, tol=0, random_state=5)
    masked = fit(noisy, 2, max_iter=60, tol=0, random_state=5, mask=full(noisy))
    np.testing.assert_array_equal(masked.D, plain.D)
    np.testing.assert_array_equal(masked.H, plain.H)
    np.testing.assert_array_equal(masked.objective_trace, plain.objective_trace)
    assert masked.settings["masked"] and not plain.settings["masked"]


@pytest.mark.parametrize("fit", METHODS)
def test_the_weighted_updates_with_all_weights_one_are_the_plain_updates(fit, noisy):
    plain = fit(noisy, 2, max_iter=80, tol=0, random_state=2)
    weighted = _private_fit(fit, noisy, np.ones(noisy.shape, bool), max_iter=80, random_state=2)
    np.testing.assert_allclose(weighted.D, plain.D, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.H, plain.H, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.objective_trace, plain.objective_trace, rtol=1e-9)


@pytest.mark.parametrize("fit", METHODS)
def test_held_out_entries_are_ignored_and_predicted(fit):
    D0, H0 = _truth(30, 40, 2, seed=6)
    X0 = (D0 + 0.1) @ (H0 + 0.1)  # exactly rank 2, every row and column informative
    rng = np.random.default_rng(1)
    mask = rng.random(X0.shape) > 0.15
    X = X0.copy()
    X[~mask] = np.nan  # anything may sit in the held-out entries
    kwargs = dict(max_iter=2000, tol=1e-12, random_state=0, **({"floor": 1e-9} if fit is cnmf else {}))
    res = fit(X, 2, mask=mask, **kwargs)
    garbage = np.where(mask, X0, 1e6 * rng.standard_normal(X0.shape))
    np.testing.assert_array_equal(fit(garbage, 2, mask=mask, **kwargs).D, res.D)
    fitted = res.D @ res.H
    kept_err = np.linalg.norm((fitted - X0)[mask]) / np.linalg.norm(X0[mask])
    held_err = np.linalg.norm((fitted - X0)[~mask]) / np.linalg.norm(X0[~mask])
    assert kept_err < 1e-6 and held_err < 1e-6
    # zero-filling the held-out entries instead would fit those zeros
    zero_filled = fit(np.where(mask, X0, 0.0), 2, **kwargs)
    assert np.linalg.norm((zero_filled.D @ zero_filled.H - X0)[~mask]) / np.linalg.norm(X0[~mask]) > 0.3
    assert res.objective == pytest.approx(_masked_half_sq(X0, mask, res.D, res.H), rel=1e-10, abs=1e-20)


@pytest.mark.parametrize("fit", METHODS)
def test_masked_objective_and_its_trace(fit, noisy):
    mask = np.random.default_rng(3).random(noisy.shape) > 0.3
    res = fit(noisy, 2, max_iter=100, tol=0, random_state=0, mask=mask)
    data = np.maximum(noisy, 0) if fit is ls_nmf else noisy
    assert res.objective == res.objective_trace[-1]
    assert res.objective == pytest.approx(_masked_half_sq(data, mask, res.D, res.H), rel=1e-12)
    trace = res.objective_trace
    if fit is ls_nmf:  # the weighted updates keep the monotone decrease
        assert np.all(np.diff(trace) <= 1e-12 * trace[0])
    assert trace[-1] < 0.5 * trace[0]
    if fit is cnmf:
        assert res.D.min() >= 1e-6 and res.H.min() >= 1e-6


@pytest.mark.parametrize("fit", METHODS)
def test_a_column_mask_runs_the_weighted_updates_on_the_kept_columns(fit, noisy):
    keep = np.random.default_rng(4).random(noisy.shape[1]) > 0.25
    by_columns = fit(noisy, 2, max_iter=70, tol=0, random_state=1, mask=keep)
    as_rows_equal = fit(noisy, 2, max_iter=70, tol=0, random_state=1, mask=np.tile(keep, (noisy.shape[0], 1)))
    np.testing.assert_array_equal(as_rows_equal.D, by_columns.D)
    weighted = _private_fit(fit, noisy, np.tile(keep, (noisy.shape[0], 1)), max_iter=70, random_state=1)
    np.testing.assert_allclose(weighted.D, by_columns.D, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.H, by_columns.H, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.objective_trace, by_columns.objective_trace, rtol=1e-9)
    left_out = by_columns.H[:, ~keep]
    np.testing.assert_array_equal(left_out, 0.0 if fit is ls_nmf else 1e-6)


BAD_MASKS = [
    (np.ones((3, 4), bool), "shape of X"),
    (np.ones(4, bool), "one value per column"),
    (np.full((3, 5), 0.5), "boolean"),
    (np.zeros((3, 5), bool), "every entry"),
    (np.array([["a"] * 5] * 3), "boolean"),
]


@pytest.mark.parametrize("fit", METHODS)
@pytest.mark.parametrize(("mask", "match"), BAD_MASKS)
def test_bad_masks(fit, mask, match):
    X = np.abs(np.random.default_rng(0).standard_normal((3, 5)))
    with pytest.raises(ValueError, match=f"mask.*{match}|{match}.*mask"):
        fit(X, 2, mask=mask)


@pytest.mark.parametrize("fit", METHODS)
def test_non_finite_values_only_where_the_mask_leaves_them_out(fit):
    X = np.abs(np.random.default_rng(0).standard_normal((4, 5)))
    X[0, 0] = np.nan
    mask = np.ones(X.shape, bool)
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        fit(X, 2, mask=mask)
    mask[0, 0] = False
    assert np.isfinite(fit(X, 2, mask=mask, max_iter=20).objective)


def test_ls_nmf_needs_positive_entries_where_the_mask_keeps_them():
    X = -np.ones((4, 5))
    X[0, 0] = 1.0
    mask = np.ones(X.shape, bool)
    mask[0, 0] = False
    with pytest.raises(ValueError, match="no positive entries where the mask keeps"):
        ls_nmf(X, 2, mask=mask)
