"""Links: accuracy, stability in both tails, inverses and target distributions."""

import numpy as np
import pytest
from scipy import stats

import gppnmf_core as gp

LINKS = [
    gp.ExponentialLink(lam=1.0), gp.ExponentialLink(lam=2e-4), gp.RectifiedGaussianLink(s=1.0),
    gp.RectifiedGaussianLink(s=3.0), gp.GammaLink(k=2.0, theta=1.5),
]
TARGETS = {
    "exponential": lambda link: stats.expon(scale=1.0 / link.lam),
    "rectified_gaussian": lambda link: stats.halfnorm(scale=link.s),
    "gamma": lambda link: stats.gamma(link.k, scale=link.theta),
}
H = np.unique(np.concatenate([np.linspace(-30, 30, 241), [-8.3, 8.3]]))


@pytest.mark.parametrize("link", LINKS, ids=repr)
def test_finite_positive_and_increasing_for_abs_h_up_to_30(link):
    value, deriv = link.value_and_derivative(H)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(deriv))
    assert np.all(value > 0) and np.all(deriv > 0), "no flat derivative anywhere in [-30, 30]"
    assert np.all(np.diff(value) > 0)


@pytest.mark.parametrize("link", LINKS, ids=repr)
def test_derivative_matches_finite_differences(link):
    eps = 1e-6 * np.maximum(1.0, np.abs(H))
    fd = (link.value(H + eps) - link.value(H - eps)) / (2 * eps)
    np.testing.assert_allclose(link.derivative(H), fd, rtol=1e-5)


@pytest.mark.parametrize("link", LINKS, ids=repr)
def test_inverse_round_trip(link):
    np.testing.assert_allclose(link.inverse(link.value(H)), H, atol=1e-9)


@pytest.mark.parametrize("link", LINKS, ids=repr)
def test_value_is_target_quantile_of_normal_cdf(link):
    h = np.linspace(-6, 6, 49)
    target = TARGETS[link.name](link)
    # P(value(h)) = Phi(h), checked through whichever tail probability is small,
    # where SciPy's cdf and sf are accurate.
    value = link.value(h)
    lower = h <= 0
    np.testing.assert_allclose(target.cdf(value[lower]), stats.norm.cdf(h[lower]), rtol=1e-9)
    np.testing.assert_allclose(target.sf(value[~lower]), stats.norm.sf(h[~lower]), rtol=1e-9)
    x = target.ppf(np.linspace(0.01, 0.99, 25))
    np.testing.assert_allclose(link.pdf(x), target.pdf(x), rtol=1e-9)
    np.testing.assert_allclose(link.cdf(x), target.cdf(x), rtol=1e-9)
    assert link.mean() == pytest.approx(target.mean())
    assert link.pdf(-1.0) == 0 and link.cdf(-1.0) == 0


def test_papers_closed_forms():
    # Paper eqs. (25)-(26) and (28)-(29) with sigma_i = 1.
    h = np.linspace(-4, 4, 17)
    exp_link, rg_link = gp.ExponentialLink(lam=2.0), gp.RectifiedGaussianLink(s=1.5)
    x = -np.log(0.5 - 0.5 * stats.norm.cdf(h) * 2 + 0.5) / 2.0
    np.testing.assert_allclose(exp_link.value(h), x, rtol=1e-12)
    np.testing.assert_allclose(exp_link.derivative(h), np.exp(2.0 * x - h * h / 2) / (np.sqrt(2 * np.pi) * 2.0),
                               rtol=1e-10)
    y = rg_link.value(h)
    np.testing.assert_allclose(rg_link.derivative(h), 1.5 / 2 * np.exp(y**2 / (2 * 1.5**2) - h * h / 2), rtol=1e-10)


def test_naive_saturation_points_are_handled():
    # The naive exponential link saturates near h = 8; the naive half-normal returns Inf at 8.25.
    assert gp.ExponentialLink(1.0).value(10.0) > 27.6 * 1.5
    assert np.isfinite(gp.RectifiedGaussianLink(1.0).value(9.0))


@pytest.mark.parametrize("cls,arg", [(gp.ExponentialLink, "lam"), (gp.RectifiedGaussianLink, "s")])
@pytest.mark.parametrize("bad", [0.0, -2.0, np.nan])
def test_bad_parameters(cls, arg, bad):
    with pytest.raises(ValueError, match=arg):
        cls(bad)


@pytest.mark.parametrize("link", LINKS, ids=repr)
def test_spec_round_trip(link):
    assert gp.link_from_spec(link.to_spec()) == link
