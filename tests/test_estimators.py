"""The scikit-learn estimators: scikit-learn's own checks, the orientation, pipelines and a grid search over rank."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import gppnmf_core as gp  # noqa: E402
from gppnmf_core.estimators import CNMF, GPPNMF, LSNMF, expected_failed_checks  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMOOTH_D = gp.GPPrior(gp.RBF(10.0), gp.RectifiedGaussianLink(1.0))
SMOOTH_H = gp.GPPrior(gp.RBF(10.0), gp.ExponentialLink(1.0))


@parametrize_with_checks([GPPNMF(), LSNMF(), CNMF()], expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_only_the_listed_checks_are_expected_to_fail():
    assert set(expected_failed_checks(GPPNMF())) == {"check_methods_subset_invariance"}
    assert expected_failed_checks(LSNMF()) == {} and expected_failed_checks(CNMF()) == {}
    for reason in expected_failed_checks(GPPNMF()).values():
        assert len(reason) > 40


@pytest.fixture(scope="module")
def toy():
    return gp.datasets.paper_toy(random_state=0)


def test_gppnmf_is_fit_gppnmf_on_the_transpose(toy):
    est = GPPNMF(2, prior_D=SMOOTH_D, prior_H=SMOOTH_H, noise_var=25.0, random_state=0)
    W = est.fit_transform(toy.X.T)  # samples = the toy's 200 columns, features = its 100 rows
    res = gp.fit_gppnmf(toy.X, 2, SMOOTH_D, SMOOTH_H, 25.0, random_state=0)
    assert est.components_.shape == (2, 100) and W.shape == (200, 2) and est.n_features_in_ == 100
    np.testing.assert_array_equal(est.components_, res.D.T)
    np.testing.assert_array_equal(W, res.H.T)
    assert est.n_iter_ == res.n_iter and est.n_components_ == 2
    assert est.reconstruction_err_ == pytest.approx(np.linalg.norm(toy.X.T - W @ est.components_))
    np.testing.assert_allclose(est.inverse_transform(W), (res.D @ res.H).T)
    assert est.result_.settings["random_state"] == 0


def test_gppnmf_transform_of_the_training_data_is_close_to_the_fit(toy):
    est = GPPNMF(2, prior_D=SMOOTH_D, prior_H=SMOOTH_H, noise_var=25.0, random_state=0)
    W = est.fit_transform(toy.X.T)
    again = est.transform(toy.X.T)
    assert np.max(np.abs(again - W)) < 1e-3 * np.max(W)


@pytest.mark.parametrize("Estimator, fit", [(CNMF, gp.cnmf), (LSNMF, gp.ls_nmf)])
def test_baseline_estimators_wrap_the_functions(toy, Estimator, fit):
    X = np.abs(toy.X.T)
    est = Estimator(2, max_iter=200, random_state=3)
    W = est.fit_transform(X)
    res = fit(X.T, 2, max_iter=200, random_state=3)
    np.testing.assert_array_equal(est.components_, res.D.T)
    np.testing.assert_array_equal(est.result_.H, res.H)
    # fit_transform returns the exact nonnegative least-squares amplitudes: no worse a fit than the updates' H
    assert np.linalg.norm(X - W @ est.components_) <= np.linalg.norm(X - res.H.T @ est.components_) + 1e-9
    np.testing.assert_array_equal(W, est.transform(X))
    assert np.all(W >= 0)


def test_cnmf_transform_respects_the_floor():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 12))  # mostly noise: many amplitudes want to be negative
    est = CNMF(2, floor=1e-2, max_iter=50, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = est.fit_transform(X)
    assert W.min() >= 1e-2 - 1e-12 and np.any(np.isclose(W, 1e-2))


def test_lsnmf_refuses_negative_data_unless_asked_to_clip(toy):
    with pytest.raises(ValueError, match="Negative values in data passed to LSNMF.fit"):
        LSNMF(2).fit(toy.X.T)
    est = LSNMF(2, clip_negative=True, max_iter=100, random_state=0).fit(toy.X.T)
    res = gp.ls_nmf(toy.X, 2, max_iter=100, random_state=0)  # the function always clips
    np.testing.assert_array_equal(est.components_, res.D.T)
    with pytest.raises(ValueError, match="Negative values in data passed to LSNMF.transform"):
        LSNMF(2, max_iter=100).fit(np.abs(toy.X.T)).transform(toy.X.T)


def test_convergence_warning_names_the_estimator_and_the_cause(toy):
    with pytest.warns(ConvergenceWarning, match="CNMF did not converge: reached max_iter=3"):
        CNMF(2, max_iter=3, random_state=0).fit(toy.X.T)
    with pytest.warns(ConvergenceWarning, match="GPPNMF did not converge"):
        GPPNMF(2, noise_var=25.0, max_iter=2, random_state=0).fit(toy.X.T)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        GPPNMF(2, prior_D=SMOOTH_D, prior_H=SMOOTH_H, noise_var=25.0, random_state=0).fit(toy.X.T)


def test_arguments_are_checked_with_their_names(toy):
    with pytest.raises(ValueError, match=r"n_components=300 must be <= min\(n_samples, n_features\)"):
        CNMF(300).fit(toy.X.T)
    with pytest.raises(ValueError, match="n_components must be a positive integer"):
        CNMF(0).fit(toy.X.T)
    with pytest.raises(ValueError, match="prior_D must be a GPPrior or None"):
        GPPNMF(2, prior_D="rbf").fit(toy.X.T)
    with pytest.raises(ValueError, match="prior_H"):  # a grid prior on 64 points, 200 samples given
        GPPNMF(2, prior_H=gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=(8, 8))).fit(toy.X.T)
    est = CNMF(2, max_iter=20).fit(np.abs(toy.X.T))
    with pytest.raises(ValueError, match="n_components = 2 columns"):
        est.inverse_transform(np.ones((3, 4)))
    with pytest.raises(ValueError, match="features"):
        est.transform(np.ones((3, 4)))


def test_in_a_pipeline(toy):
    pipe = make_pipeline(FunctionTransformer(np.abs), CNMF(2, max_iter=100, random_state=0))
    W = pipe.fit_transform(toy.X.T)
    assert W.shape == (200, 2)
    np.testing.assert_allclose(pipe.transform(toy.X.T), W)
    assert pipe.get_params()["cnmf__n_components"] == 2
    assert pipe.set_params(cnmf__n_components=3).fit_transform(toy.X.T).shape == (200, 3)


def test_grid_search_over_rank_finds_the_toy_examples_rank(toy):
    """The paper's toy data has two components; scored by how well each rank recovers the noise-free data."""

    def rmse_to_noise_free(estimator, X, y):
        return -float(np.sqrt(np.mean((y - estimator.inverse_transform(estimator.transform(X))) ** 2)))

    est = GPPNMF(prior_D=SMOOTH_D, prior_H=SMOOTH_H, noise_var=25.0, random_state=0)
    search = GridSearchCV(est, {"n_components": [1, 2, 3]}, scoring=rmse_to_noise_free, cv=KFold(2))
    search.fit(toy.X.T, toy.truth.X0.T)  # contiguous folds: the prior on H runs along the samples
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"n_components": 2}
    assert scores[1] > scores[0] + 0.05
    assert search.best_estimator_.components_.shape == (2, 100)


def test_fitted_estimators_pickle(toy):
    est = GPPNMF(2, prior_D=SMOOTH_D, noise_var=25.0, random_state=0).fit(toy.X.T)
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.transform(toy.X.T[:10]), est.transform(toy.X.T[:10]))
    assert "FitResult(method='gppnmf', D=(100, 2), H=(2, 200)" in repr(back.result_)


@pytest.mark.parametrize("Estimator, fit", [(CNMF, gp.cnmf), (LSNMF, gp.ls_nmf)])
def test_a_mask_goes_to_the_function_transposed(toy, Estimator, fit):
    X = np.abs(toy.X.T)  # (200 samples, 100 features)
    mask = np.random.default_rng(0).random(X.shape) > 0.2
    est = Estimator(2, max_iter=60, tol=0, random_state=0).fit(X, mask=mask)
    res = fit(X.T, 2, max_iter=60, tol=0, random_state=0, mask=mask.T)
    np.testing.assert_array_equal(est.components_, res.D.T)
    assert est.result_.settings["masked"]
    W = est.fit_transform(X, mask=mask)
    assert est.reconstruction_err_ == pytest.approx(np.linalg.norm(np.where(mask, X - W @ est.components_, 0.0)))
    # each sample's amplitudes fit its kept entries only: the left-out ones can hold anything
    X_garbage = np.where(mask, X, 1e3)
    np.testing.assert_allclose(est.fit_transform(X_garbage, mask=mask), W)


def test_gppnmf_takes_a_mask_per_sample(toy):
    keep = np.ones(200, bool)
    keep[50:70] = False
    est = GPPNMF(2, prior_D=SMOOTH_D, prior_H=SMOOTH_H, noise_var=25.0, max_iter=50, random_state=0)
    W = est.fit_transform(toy.X.T, mask=keep)
    res = gp.fit_gppnmf(toy.X, 2, SMOOTH_D, SMOOTH_H, 25.0, max_iter=50, random_state=0, mask=keep.astype(float))
    np.testing.assert_allclose(W, res.H.T)
    assert est.result_.settings["masked"]


def test_a_mask_in_a_pipeline_and_its_shape_checked(toy):
    X = np.abs(toy.X.T)
    mask = np.ones(X.shape, bool)
    mask[::7, ::3] = False
    pipe = make_pipeline(FunctionTransformer(), LSNMF(2, max_iter=40, random_state=0))
    direct = LSNMF(2, max_iter=40, random_state=0).fit(X, mask=mask)
    np.testing.assert_array_equal(pipe.fit(X, lsnmf__mask=mask)[-1].components_, direct.components_)
    with pytest.raises(ValueError, match=r"mask must have the shape of X \(n_samples = 200, n_features = 100\)"):
        LSNMF(2).fit(X, mask=mask.T)
    with pytest.raises(ValueError, match="mask must be boolean"):
        CNMF(2).fit(X, mask=np.full(X.shape, 0.5))
