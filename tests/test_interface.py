"""The public interface exactly as the project promises it (issue 2 and the README)."""

import numpy as np
import pytest

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


def test_how_sure_and_which_model_work_as_written():
    """Issue 12's interface, called as the issue writes it (a small toy and few draws, to stay quick)."""
    toy = gp.datasets.paper_toy(random_state=0, K=20, L=30)
    X, rank, p = toy.X, 2, toy.presets["correct"]
    prior_D, prior_H = p.prior_D, p.prior_H
    post = gp.sample_posterior(X, rank, prior_D, prior_H, 25.0, mask=None, n_draws=60, n_chains=2,
                               callback=None, random_state=0)
    assert post.quantiles("X0", [0.05, 0.5, 0.95]).shape == (3, 20, 30)
    D_q = post.quantiles("D", [0.05, 0.5, 0.95])
    assert D_q.shape == (3, 20, 2)
    np.testing.assert_allclose(np.linalg.norm(post.D_draws, axis=2), 1.0)  # unit-norm columns, draw by draw
    assert np.all(D_q[0] <= D_q[1]) and np.all(D_q[1] <= D_q[2])
    assert post.quantiles("H", [0.05, 0.5, 0.95]).shape == (3, 2, 30)
    assert np.isfinite(post.rhat_max) and post.ess_bulk_min > 0

    candidates = [{"rank": r, "prior_D": prior_D, "prior_H": prior_H} for r in (1, 2, 3, 4)]
    sel = gp.select_model(X, candidates, noise_var=25.0, n_folds=5, random_state=0)
    assert any(sel.best is c for c in candidates)
    assert len(sel.table) == 4 and {"cv_error", "diff", "diff_se", "evidence"} <= set(sel.table[0])

    sigma2 = gp.estimate_noise_var(X, rank, prior_D, prior_H, random_state=0)
    assert isinstance(sigma2, float) and sigma2 > 0

    # the value-only objective and the warm start
    objective = gp.build_objective(X, rank, prior_D, prior_H, 25.0)
    assert gp.objective_value(objective, post.theta_map) == pytest.approx(post.objective_map, rel=1e-12)
    warm = gp.sample_posterior(X, rank, prior_D, prior_H, 25.0, n_draws=20, random_state=1, theta0=post.theta_map)
    assert warm.settings["warm_start"] and warm.objective_map == pytest.approx(post.objective_map, rel=1e-8)


def test_every_public_name_is_exported():
    for name in gp.__all__:
        assert getattr(gp, name) is not None


def test_records_hold_read_only_arrays_and_compare_by_identity():
    """Built-in data sets are cached and shared between sessions: nobody may change one through its arrays."""
    import dataclasses

    import numpy as np
    import pytest

    toy = gp.datasets.paper_toy(random_state=0)
    arrays = [toy.X, toy.truth.D, toy.truth.H, toy.truth.X0, toy.rows.values]
    for array in arrays:
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1.0
        assert array.flags.owndata or not np.shares_memory(array, array.base)
    twin = gp.datasets.paper_toy(random_state=0)
    assert toy == toy and toy != twin and len({toy, twin, toy}) == 2  # identity: hashable, arrays never compared
    assert toy.truth != twin.truth and hash(toy.truth) != hash(twin.truth)
    assert toy.rows == twin.rows and hash(toy.rows) == hash(twin.rows)  # an axis is a small value
    assert toy.rows != gp.Axis(toy.rows.values + 1.0, label=toy.rows.label, unit=toy.rows.unit)
    changed = dataclasses.replace(toy, description="changed")
    assert changed.X is toy.X and changed != toy

    res = gp.ls_nmf(toy.X, 2, max_iter=20, random_state=0)
    for array in (res.D, res.H, res.objective_trace, res.replicate_objectives):
        assert not array.flags.writeable
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.D = np.zeros_like(res.D)
    assert res == res and res != gp.ls_nmf(toy.X, 2, max_iter=20, random_state=0) and hash(res) == hash(res)
    fit = gp.fit_gppnmf(toy.X[:20, :30], 2, gp.GPPrior(gp.White(), gp.ExponentialLink()),
                        gp.GPPrior(gp.White(), gp.ExponentialLink()), 25.0, max_iter=5, random_state=0)
    assert all(not v.flags.writeable for v in fit.latent.values() if isinstance(v, np.ndarray))


def test_a_view_passed_to_a_record_is_copied_and_an_owned_array_marked():
    import numpy as np

    big = np.arange(12.0).reshape(3, 4)
    ds = gp.Dataset("d", "d", big[:, :2], gp.Axis(np.arange(3.0)), gp.Axis(np.arange(2.0)), None, 1.0, 1)
    big[0, 0] = 99.0  # the caller's writable array is not the record's memory
    assert ds.X[0, 0] == 0.0 and not ds.X.flags.writeable and big.flags.writeable
    owned = np.ones((2, 2))
    gp.Truth(owned, owned, owned)
    assert not owned.flags.writeable  # marked in place: no copy of a large array that nobody else aliases
