"""The public interface exactly as the project promises it (issue 2 and the README)."""

import numpy as np

import gppnmf_core as gp


def test_the_promised_interface_works_as_written():
    toy = gp.datasets.paper_toy(random_state=0)
    assert isinstance(toy, gp.Dataset)
    assert toy.X.shape == (100, 200) and toy.truth.D.shape == (100, 2) and toy.truth.H.shape == (2, 200)
    np.testing.assert_array_equal(toy.truth.X0, toy.truth.D @ toy.truth.H)
    assert toy.noise_var == 25.0

    pD = gp.GPPrior(gp.RBF(beta=10.0), gp.RectifiedGaussianLink(s=1.0))
    pH = gp.GPPrior(gp.RBF(beta=10.0), gp.ExponentialLink(lam=1.0))
    res = gp.fit_gppnmf(toy.X, rank=2, prior_D=pD, prior_H=pH, noise_var=25.0, random_state=0)
    assert res.D.shape == (100, 2) and res.H.shape == (2, 200) and isinstance(res.objective, float)
    for baseline in (gp.ls_nmf(toy.X, rank=2, random_state=0), gp.cnmf(toy.X, rank=2, random_state=0)):
        assert baseline.D.shape == (100, 2) and baseline.H.shape == (2, 200)
        assert isinstance(baseline, gp.FitResult) and isinstance(baseline.objective, float)

    csi = gp.datasets.csi_phantom(random_state=0)
    assert csi.rows.values.shape == (csi.X.shape[0],)
    assert csi.cols.shape == (8, 8, 8)
    grid_prior = gp.GPPrior(gp.RBF(beta=2.0), gp.ExponentialLink(lam=2e-4), grid=(8, 8, 8), mirror_axis=0)
    ppm_prior = gp.GPPrior(gp.RBF(beta=0.3), gp.ExponentialLink(lam=1.0), coords=csi.rows.values)
    assert grid_prior.sample(n_samples=2, random_state=0).shape == (2, 512)
    assert ppm_prior.sample(n_samples=2, random_state=0).shape == (2, csi.X.shape[0])
    assert pH.sample(n_samples=3, size=200, random_state=0).shape == (3, 200)

    fit = gp.fit_gppnmf(csi.X, 2, ppm_prior, grid_prior, noise_var=1e8, random_state=0)
    maps = fit.H[0].reshape(8, 8, 8)
    np.testing.assert_array_equal(maps, maps[::-1])  # axis 0 is the mirrored one


def test_every_public_name_is_exported():
    for name in gp.__all__:
        assert getattr(gp, name) is not None
