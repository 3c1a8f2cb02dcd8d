"""GPPrior: sampling, marginals, sizes implied by coords or grid, specs, bad input."""

import numpy as np
import pytest
from scipy import stats

import gppnmf_core as gp

LINKS = [gp.ExponentialLink(lam=0.5), gp.RectifiedGaussianLink(s=2.0), gp.GammaLink(k=3.0, theta=0.5)]


@pytest.mark.parametrize("link", LINKS, ids=repr)
@pytest.mark.parametrize("where", ["index", "grid"])
def test_sample_marginals_pass_ks_test_against_target(link, where):
    # One point per independent draw, so the KS sample is i.i.d.
    if where == "grid":
        prior = gp.GPPrior(gp.RBF(2.0), link, grid=(4, 4, 4), mirror_axis=0)
    else:
        prior = gp.GPPrior(gp.RBF(5.0), link)
    draws = prior.sample(n_samples=3000, size=None if where == "grid" else 30, random_state=3)
    pvalue = stats.kstest(draws[:, 7], link.cdf).pvalue
    assert pvalue > 0.01
    assert np.all(draws >= 0)


def test_ks_test_can_fail_for_the_wrong_target():
    draws = gp.GPPrior(gp.RBF(5.0), gp.ExponentialLink(lam=1.0)).sample(3000, size=30, random_state=3)
    assert stats.kstest(draws[:, 7], gp.ExponentialLink(lam=1.3).cdf).pvalue < 1e-6


def test_sample_covariance_of_latent_gp_matches_kernel():
    prior = gp.GPPrior(gp.Matern52(3.0), gp.RectifiedGaussianLink(1.0))
    draws = prior.sample(20000, size=10, random_state=0)
    latent = prior.link.inverse(draws)
    np.testing.assert_allclose(np.corrcoef(latent.T), gp.Matern52(3.0)(np.arange(10.0)), atol=0.03)


def test_sizes_implied_by_coords_and_grid():
    ppm = np.linspace(10.0, -20.0, 397)
    assert gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0), coords=ppm).sample(3, random_state=0).shape == (3, 397)
    grid = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(2e-4), grid=(8, 8, 8), mirror_axis=0)
    maps = grid.sample(n_samples=2, random_state=0).reshape(2, 8, 8, 8)
    np.testing.assert_array_equal(maps, maps[:, ::-1])  # exact left-right symmetry on axis 0
    assert not np.array_equal(maps, maps[:, :, ::-1])


def test_coords_set_the_kernel_units():
    ppm = np.linspace(-1.0, 1.0, 41)
    prior = gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0), coords=ppm)
    np.testing.assert_allclose(prior.bind().sqrt.covariance(), gp.RBF(0.3)(ppm), atol=1e-9)


def test_determinism_under_a_seed():
    prior = gp.GPPrior(gp.RBF(10.0), gp.ExponentialLink(1.0))
    a = prior.sample(3, size=200, random_state=0)
    np.testing.assert_array_equal(a, prior.sample(3, size=200, random_state=0))
    np.testing.assert_array_equal(a, prior.sample(3, size=200, random_state=np.random.default_rng(0)))
    assert not np.allclose(a, prior.sample(3, size=200, random_state=1))


def test_per_axis_kernels_and_spec_round_trip():
    prior = gp.GPPrior([gp.RBF(1.0), gp.Matern32(2.0)], gp.GammaLink(2.0, 1.0), grid=(5, 6), mirror_axis=1)
    spec = prior.to_spec()
    again = gp.GPPrior.from_spec(spec, grid=(5, 6))
    assert again.to_spec() == spec
    np.testing.assert_array_equal(prior.sample(2, random_state=4), again.sample(2, random_state=4))


def test_size_mismatch_names_the_prior_and_both_sizes():
    prior = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=(8, 8, 8))
    with pytest.raises(ValueError, match=r"grid \(8, 8, 8\) has 512 points, but the factor has 200"):
        prior.sample(1, size=200)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mirror_axis=0), "mirror_axis needs a grid"),
        (dict(grid=(4, 4), mirror_axis=2), "mirror_axis"),
        (dict(grid=(4, 0)), "grid"),
        (dict(coords=[0.0, np.nan]), "coords"),
        (dict(coords=np.zeros((2, 2))), "coords"),
        (dict(coords=[0.0, 1.0], grid=(2,)), "either coords or grid"),
        (dict(structure="sparse"), "structure"),
    ],
)
def test_bad_prior_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gp.GPPrior(gp.RBF(1.0), gp.ExponentialLink(1.0), **kwargs)


def test_bad_kernel_and_link_objects():
    with pytest.raises(ValueError, match="kernel"):
        gp.GPPrior("rbf", gp.ExponentialLink(1.0))
    with pytest.raises(ValueError, match="link"):
        gp.GPPrior(gp.RBF(1.0), "exponential")
    with pytest.raises(ValueError, match="one per grid axis"):
        gp.GPPrior([gp.RBF(1.0)] * 2, gp.ExponentialLink(1.0), grid=(2, 2, 2))
    with pytest.raises(ValueError, match="size is needed"):
        gp.GPPrior(gp.RBF(1.0), gp.ExponentialLink(1.0)).sample(2)
    with pytest.raises(ValueError, match="n_samples"):
        gp.GPPrior(gp.RBF(1.0), gp.ExponentialLink(1.0)).sample(0, size=3)


def test_white_prior_needs_no_matrix_and_matches_the_dense_path():
    prior = gp.GPPrior(gp.White(), gp.ExponentialLink(1.0))
    assert isinstance(prior.bind(1000).sqrt, gp.IdentitySquareRoot)
    dense = gp.GPPrior(gp.White(), gp.ExponentialLink(1.0), coords=np.r_[np.arange(5.0), 4.0])
    assert isinstance(dense.bind().sqrt, gp.DenseSquareRoot)  # repeated coordinate: correlated, not identity
    np.testing.assert_allclose(prior.bind(6).sqrt.covariance(), np.eye(6))
