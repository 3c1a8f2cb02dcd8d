"""Contract shared by every kernel: symmetric, unit diagonal, PSD, stationary."""

import numpy as np
import pytest

import gppnmf_core as gp

KERNELS = [
    gp.RBF(beta=2.0), gp.Matern32(beta=2.0), gp.Matern52(beta=2.0), gp.Exponential(beta=2.0),
    gp.Periodic(beta=1.0, period=5.0), gp.White(),
]


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_kernel_contract(kernel):
    x = np.linspace(-3.0, 7.0, 40)
    K = kernel(x)
    assert K.shape == (40, 40)
    np.testing.assert_array_equal(K, K.T)
    np.testing.assert_allclose(np.diag(K), 1.0)
    assert np.linalg.eigvalsh(K).min() > -1e-10
    assert np.all(np.abs(K) <= 1.0 + 1e-12)
    np.testing.assert_allclose(kernel(x + 3.3), K, atol=1e-12)  # stationary


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_spec_round_trip(kernel):
    assert gp.kernel_from_spec(kernel.to_spec()) == kernel


def test_rbf_uses_the_papers_length_scale_convention():
    # Paper eq. (30): exp(-(i - j)^2 / beta^2); beta^2 = 100 in the toy example.
    k = gp.RBF(beta=10.0)
    assert k(np.array([0.0]), np.array([10.0]))[0, 0] == pytest.approx(np.exp(-1.0))
    assert k(np.array([0.0]), np.array([5.0]))[0, 0] == pytest.approx(np.exp(-0.25))


def test_named_formulas():
    r = np.array([0.0, 0.5, 1.0, 3.0])
    a = np.sqrt(3.0) * r
    np.testing.assert_allclose(gp.Matern32(1.0).of_distance(r), (1 + a) * np.exp(-a))
    b = np.sqrt(5.0) * r
    np.testing.assert_allclose(gp.Matern52(1.0).of_distance(r), (1 + b + b * b / 3) * np.exp(-b))
    np.testing.assert_allclose(gp.Exponential(2.0).of_distance(r), np.exp(-r / 2))
    np.testing.assert_allclose(gp.Periodic(1.0, 3.0).of_distance(np.array([3.0, 6.0])), 1.0)
    np.testing.assert_array_equal(gp.White()(np.arange(3.0)), np.eye(3))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, "2", None])
def test_non_positive_beta_is_rejected(bad):
    with pytest.raises(ValueError, match="beta"):
        gp.RBF(beta=bad)


def test_bad_period_and_unknown_spec():
    with pytest.raises(ValueError, match="period"):
        gp.Periodic(beta=1.0, period=0.0)
    with pytest.raises(ValueError, match="kernel name"):
        gp.kernel_from_spec({"name": "nope"})
