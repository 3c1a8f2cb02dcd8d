"""Tests of the factorization metrics."""

from __future__ import annotations

import numpy as np
import pytest

from gppnmf_core.metrics import (
    align_to_truth,
    evaluate,
    match_components,
    normalize_for_display,
    rmse,
)


@pytest.fixture
def truth():
    rng = np.random.default_rng(0)
    D = np.abs(rng.standard_normal((20, 3)))
    D[:7, 0] *= 10  # make the columns clearly distinct
    D[7:14, 1] *= 10
    D[14:, 2] *= 10
    H = np.abs(rng.standard_normal((3, 15)))
    return D, H


def test_rmse_hand_computed():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    B = np.array([[1.0, 0.0], [3.0, 0.0]])
    assert rmse(A, B) == pytest.approx(np.sqrt((4 + 16) / 4))
    assert rmse(A, A) == 0.0
    assert rmse([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == pytest.approx(np.sqrt(2 / 3))


def test_rmse_shape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(2, 3\)"):
        rmse(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="empty"):
        rmse(np.zeros((0, 2)), np.zeros((0, 2)))


def test_match_components_known_permutation(truth):
    D, _ = truth
    p = np.array([2, 0, 1])
    D_est = D[:, p] * np.array([0.1, 5.0, 2.0])
    perm = match_components(D_est, D)
    # D_est[:, perm] lines up with D: est column k holds true column p[k]
    np.testing.assert_array_equal(p[perm], [0, 1, 2])
    np.testing.assert_array_equal(perm, np.argsort(p))


def test_align_undoes_permutation_and_scaling(truth):
    D, H = truth
    p = np.array([1, 2, 0])
    c = np.array([0.01, 7.0, 300.0])
    D_est = D[:, p] * c
    H_est = H[p] / c[:, None]
    D_a, H_a = align_to_truth(D_est, H_est, D)
    np.testing.assert_allclose(D_a, D, rtol=1e-12)
    np.testing.assert_allclose(H_a, H, rtol=1e-12)
    np.testing.assert_allclose(D_a @ H_a, D_est @ H_est, rtol=1e-12)


def test_evaluate_exact_truth(truth):
    D, H = truth
    X0 = D @ H
    noise = 0.3 * np.random.default_rng(1).standard_normal(X0.shape)
    p = np.array([2, 1, 0])
    c = np.array([3.0, 0.5, 20.0])
    out = evaluate(D[:, p] * c, H[p] / c[:, None], X0 + noise, X0=X0, D_true=D, H_true=H)
    assert set(out) == {"rmse_noisy", "rmse_noise_free", "rmse_D", "rmse_H", "rmse_factors"}
    assert out["rmse_noisy"] == pytest.approx(np.sqrt(np.mean(noise**2)))
    assert out["rmse_noise_free"] == pytest.approx(0.0, abs=1e-12)
    for key in ("rmse_D", "rmse_H", "rmse_factors"):
        assert out[key] == pytest.approx(0.0, abs=1e-12)
    assert all(isinstance(v, float) for v in out.values())


def test_evaluate_factor_rmse_hand_computed(truth):
    D, H = truth
    E = np.zeros_like(H)
    E[0, :4] = [1.0, -2.0, 0.5, 3.0]
    out = evaluate(D, H + E, D @ H, D_true=D, H_true=H)
    assert out["rmse_D"] == pytest.approx(0.0, abs=1e-12)
    assert out["rmse_H"] == pytest.approx(np.sqrt(np.sum(E**2) / H.size))
    assert out["rmse_factors"] == pytest.approx(np.sqrt(np.sum(E**2) / (D.size + H.size)))
    assert "rmse_noise_free" not in out


def test_evaluate_without_truth(truth):
    D, H = truth
    out = evaluate(D, H, D @ H + 1.0)
    assert out == {"rmse_noisy": pytest.approx(1.0)}


def test_zero_columns_are_handled(truth):
    D, H = truth
    D_est = D.copy()
    D_est[:, 1] = 0.0
    perm = match_components(D_est, D)
    assert sorted(perm) == [0, 1, 2]
    np.testing.assert_array_equal(perm, [0, 1, 2])
    D_a, H_a = align_to_truth(D_est, H, D)
    assert np.all(np.isfinite(D_a)) and np.all(np.isfinite(H_a))
    np.testing.assert_array_equal(D_a[:, 1], 0.0)
    np.testing.assert_array_equal(H_a[1], H[1])
    D_true = D.copy()
    D_true[:, 2] = 0.0
    out = evaluate(D_est, H, D @ H, D_true=D_true, H_true=H)
    assert all(np.isfinite(v) for v in out.values())
    # an estimated column matched to a zero true column is left unscaled
    D_a, H_a = align_to_truth(D, H, D_true)
    assert np.all(np.isfinite(D_a)) and np.all(np.isfinite(H_a))
    np.testing.assert_allclose(D_a @ H_a, D @ H, rtol=1e-12)
    perm = match_components(np.zeros_like(D), np.zeros_like(D))
    assert sorted(perm) == [0, 1, 2]


def test_normalize_for_display(truth):
    D, H = truth
    D = D.copy()
    D[:, 2] = 0.0
    D_n, H_n = normalize_for_display(D, H)
    np.testing.assert_allclose(D_n[:, :2].max(axis=0), 1.0)
    np.testing.assert_array_equal(D_n[:, 2], 0.0)
    np.testing.assert_array_equal(H_n[2], H[2])
    np.testing.assert_allclose(D_n @ H_n, D @ H, rtol=1e-12)
    with pytest.raises(ValueError, match="disagree"):
        normalize_for_display(D, H[:2])


def test_shape_errors(truth):
    D, H = truth
    X = D @ H
    with pytest.raises(ValueError, match=r"D_est.*\(20, 3\).*D_true.*\(19, 3\)"):
        match_components(D, D[:-1])
    with pytest.raises(ValueError, match="disagree"):
        evaluate(D, H[:2], X)
    with pytest.raises(ValueError, match=r"X must have shape"):
        evaluate(D, H, X[:, :-1])
    with pytest.raises(ValueError, match="X0"):
        evaluate(D, H, X, X0=X[:-1])
    with pytest.raises(ValueError, match="D_true"):
        evaluate(D, H, X, D_true=D[:-1], H_true=H)
    with pytest.raises(ValueError, match="H_true"):
        evaluate(D, H, X, D_true=D, H_true=H[:, :-1])
    with pytest.raises(ValueError, match="together"):
        evaluate(D, H, X, D_true=D)
    with pytest.raises(ValueError, match="D_true"):
        align_to_truth(D, H, D[:, :2])
