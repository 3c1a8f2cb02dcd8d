"""GPPrior: sampling, marginals, sizes implied by coords or grid, specs, bad input."""

import numpy as np
import pytest
from scipy import stats

import gppnmf_core as gp
from gppnmf_core import priors as priors_module
from gppnmf_core.structure import DENSE_MAX_POINTS, CirculantSquareRoot

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


# --- long regular 1-D axes: the circulant path ------------------------------------------------------

def _ppm(K):
    return np.linspace(10.0, -20.0, K)  # descending, like every ppm axis


@pytest.mark.parametrize("K", [397, 512])
def test_short_axes_keep_the_dense_factor_bit_for_bit(K):
    priors_module._axis_factor.cache_clear()
    prior = gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0), coords=_ppm(K))
    sqrt = prior.bind().sqrt
    assert isinstance(sqrt, gp.DenseSquareRoot)
    np.testing.assert_array_equal(sqrt.dense(), gp.sqrt_factor(gp.RBF(0.3)(_ppm(K))))


@pytest.mark.parametrize("coords", [None, "ppm"])
def test_long_regular_axes_use_the_circulant_factor(coords):
    K = DENSE_MAX_POINTS + 1
    kw = {} if coords is None else {"coords": _ppm(K)}
    beta = 3.0 if coords is None else 3.0 * 30.0 / (K - 1)
    prior = gp.GPPrior(gp.RBF(beta), gp.ExponentialLink(1.0), **kw)
    sqrt = prior.bind(K).sqrt
    assert isinstance(sqrt, CirculantSquareRoot) and sqrt.n_points == K
    x = np.arange(float(K)) if coords is None else _ppm(K)
    np.testing.assert_allclose(sqrt.covariance(), gp.RBF(beta)(x), rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "kernel, coords, structure",
    [
        (gp.RBF(0.3), np.sort(np.random.default_rng(0).uniform(-20.0, 10.0, 600)), "auto"),  # irregular
        (gp.RBF(0.3), np.r_[_ppm(300), _ppm(300)[-1] - 0.1 - np.arange(300) * 0.1], "auto"),  # two spacings
        (gp.Periodic(1.0, 2.0), _ppm(600), "auto"),
        (gp.RBF(0.3), _ppm(600), "dense"),
    ],
    ids=["irregular", "two-spacings", "periodic", "forced-dense"],
)
def test_what_stays_dense_on_long_axes(kernel, coords, structure):
    prior = gp.GPPrior(kernel, gp.ExponentialLink(1.0), coords=coords, structure=structure)
    sqrt = prior.bind().sqrt
    assert isinstance(sqrt, gp.DenseSquareRoot)
    np.testing.assert_allclose(sqrt.covariance(), kernel(coords), atol=1e-8)


@pytest.mark.parametrize(
    "prior, size, expected",
    [
        (gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=(4, 5)), None, gp.KroneckerSquareRoot),
        (gp.GPPrior(gp.Exponential(2.0), gp.ExponentialLink(1.0), coords=_ppm(600)), None, CirculantSquareRoot),
        (gp.GPPrior(gp.Matern32(2.0), gp.ExponentialLink(1.0)), DENSE_MAX_POINTS + 1, CirculantSquareRoot),
        (gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0)), DENSE_MAX_POINTS, gp.DenseSquareRoot),
        (gp.GPPrior(gp.Periodic(1.0, 2.0), gp.ExponentialLink(1.0), coords=_ppm(600)), None, gp.DenseSquareRoot),
        (gp.GPPrior(gp.White(), gp.ExponentialLink(1.0)), 600, gp.IdentitySquareRoot),
    ],
    ids=["grid-kronecker", "long-axis-circulant", "index-circulant", "short-dense", "periodic-dense", "white"],
)
def test_auto_structure_picks_the_cheapest_exact_form_the_docs_name(prior, size, expected):
    assert prior.structure == "auto"
    assert type(prior.bind(size).sqrt) is expected


def test_kronecker_structure_is_never_circulant():
    """"kronecker" is the per-axis form on a grid; on a 1-D axis (one factor) it is the dense factor, where
    "auto" would take the circulant one."""
    ppm = _ppm(600)
    auto = gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0), coords=ppm)
    kron = gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0), coords=ppm, structure="kronecker")
    assert isinstance(auto.bind().sqrt, CirculantSquareRoot)
    assert isinstance(kron.bind().sqrt, gp.DenseSquareRoot)
    np.testing.assert_allclose(kron.bind().sqrt.covariance(), auto.bind().sqrt.covariance(), atol=1e-8)
    on_grid = gp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0), grid=(3, 4), structure="kronecker")
    assert isinstance(on_grid.bind().sqrt, gp.KroneckerSquareRoot)


def test_structure_circulant_forces_the_fft_path_and_says_where_it_does_not_apply():
    prior = gp.GPPrior(gp.Matern32(2.0), gp.ExponentialLink(1.0), structure="circulant")
    assert isinstance(prior.bind(40).sqrt, CirculantSquareRoot)
    with pytest.raises(ValueError, match="equally spaced"):
        gp.GPPrior(gp.RBF(1.0), gp.ExponentialLink(1.0), coords=[0.0, 1.0, 3.0], structure="circulant").bind()
    with pytest.raises(ValueError, match="Periodic"):
        gp.GPPrior(gp.Periodic(1.0, 3.0), gp.ExponentialLink(1.0), structure="circulant").bind(40)
    with pytest.raises(ValueError, match=r"structure='circulant' is for 1-D priors .* grid \(4, 4\)"):
        gp.GPPrior(gp.RBF(1.0), gp.ExponentialLink(1.0), grid=(4, 4), structure="circulant")


def test_a_kernel_too_long_for_the_embedding_falls_back_to_dense_with_a_warning():
    prior = gp.GPPrior(gp.RBF(1e5), gp.ExponentialLink(1.0))
    with pytest.warns(RuntimeWarning, match=r"circulant embedding .* using the dense \(600, 600\) square root"):
        sqrt = prior.bind(600).sqrt
    assert isinstance(sqrt, gp.DenseSquareRoot)


@pytest.mark.parametrize("link", LINKS, ids=repr)
def test_circulant_prior_marginals_pass_ks_test(link):
    prior = gp.GPPrior(gp.Matern52(4.0), link, coords=np.arange(600.0)[::-1])  # descending, long: circulant
    assert isinstance(prior.bind().sqrt, CirculantSquareRoot)
    draws = prior.sample(n_samples=3000, random_state=5)
    assert stats.kstest(draws[:, 300], link.cdf).pvalue > 0.01
    assert stats.kstest(draws[:, 300], gp.ExponentialLink(lam=1.7).cdf).pvalue < 1e-6  # the test can fail
    latent = prior.link.inverse(draws[:, 290:300])
    np.testing.assert_allclose(np.corrcoef(latent.T), gp.Matern52(4.0)(np.arange(10.0)), atol=0.06)


def test_spec_round_trip_keeps_the_circulant_path():
    ppm = _ppm(1000)
    for structure in ("auto", "circulant"):
        prior = gp.GPPrior(gp.RBF(0.1), gp.RectifiedGaussianLink(1.0), coords=ppm, structure=structure)
        again = gp.GPPrior.from_spec(prior.to_spec(), coords=ppm)
        assert again.to_spec() == prior.to_spec() and again.to_spec()["structure"] == structure
        assert isinstance(again.bind().sqrt, CirculantSquareRoot)
        np.testing.assert_array_equal(prior.sample(2, random_state=4), again.sample(2, random_state=4))


def test_factor_cache_is_bounded_by_bytes():
    built = []

    def build(n):
        built.append(n)
        return np.zeros(n)  # n * 8 bytes

    cache = priors_module._FactorCache(build, max_bytes=1000, maxsize=32)
    assert cache(100) is cache(100) and built == [100]  # cached: 800 bytes
    cache(50)  # 400 more: over the budget, the least recently used (100) goes
    assert len(cache) == 1 and cache.nbytes == 400
    cache(200)  # 1600 bytes: larger than the whole budget, never cached
    assert len(cache) == 1 and cache.nbytes == 400
    cache(200)
    assert built == [100, 50, 200, 200]
    cache.cache_clear()
    assert len(cache) == 0 and cache.nbytes == 0
    assert priors_module._axis_factor.max_bytes <= 256 * 2**20


ALL_KERNELS = [gp.RBF(2.0), gp.Matern32(3.0), gp.Matern52(0.5), gp.Exponential(4.0), gp.Periodic(beta=0.7, period=5.0),
               gp.White()]
ALL_LINKS = [gp.ExponentialLink(lam=2.5), gp.RectifiedGaussianLink(s=0.3), gp.GammaLink(k=0.5, theta=4.0)]


@pytest.mark.parametrize("kernel", ALL_KERNELS, ids=repr)
@pytest.mark.parametrize("link", ALL_LINKS, ids=repr)
def test_every_kernel_and_link_survives_a_json_round_trip(kernel, link):
    import json

    for where, prior in [({"coords": np.linspace(0, 4, 9)}, gp.GPPrior(kernel, link, coords=np.linspace(0, 4, 9))),
                         ({"grid": (3, 4)}, gp.GPPrior([kernel, gp.RBF(1.5)], link, grid=(3, 4), mirror_axis=0,
                                                       sqrt_method="cholesky"))]:
        spec = json.loads(json.dumps(prior.to_spec()))
        again = gp.GPPrior.from_spec(spec, **where)
        assert again.to_spec() == prior.to_spec()
        assert again.kernels == prior.kernels and again.link == prior.link
        assert (again.mirror_axis, again.structure, again.sqrt_method) == (prior.mirror_axis, prior.structure,
                                                                         prior.sqrt_method)
        np.testing.assert_allclose(again.sample(2, random_state=0), prior.sample(2, random_state=0))


def test_a_spec_without_the_optional_fields_takes_the_defaults():
    prior = gp.GPPrior.from_spec({"kernel": {"name": "rbf"}, "link": {"name": "gamma", "k": 2}}, coords=np.arange(5.0))
    assert prior.kernels == (gp.RBF(1.0),) and prior.link == gp.GammaLink(k=2.0, theta=1.0)
    assert (prior.mirror_axis, prior.structure, prior.sqrt_method) == (None, "auto", "eig")


GOOD = {"kernel": {"name": "rbf", "beta": 2.0}, "link": {"name": "exponential", "lam": 1.0}}


@pytest.mark.parametrize(("change", "message"), [
    ({"kernel": {"name": "rbf", "beta": -1}}, "prior spec: kernel.beta must be a positive number, got -1"),
    ({"kernel": {"name": "rbf", "beta": "2"}}, "prior spec: kernel.beta must be a positive number, got '2'"),
    ({"kernel": {"name": "periodic", "period": float("nan")}}, "prior spec: kernel.period must be a positive number"),
    ({"kernel": {"name": "gauss"}}, "prior spec: kernel.name must be one of"),
    ({"kernel": {"beta": 1.0}}, "prior spec: kernel.name must be one of .* got None"),
    ({"kernel": {"name": "rbf", "length_scale": 1.0}}, r"prior spec: kernel \(kernel 'rbf'\) has unknown field"),
    ({"kernel": [{"name": "rbf"}, {"name": "white", "beta": 1.0}]}, r"prior spec: kernel\[1\] \(kernel 'white'\)"),
    ({"kernel": []}, "prior spec: kernel must be a kernel spec or a non-empty list"),
    ({"kernel": "rbf"}, "prior spec: kernel must be an object"),
    ({"link": {"name": "exponential", "scale": 2.0}}, r"prior spec: link \(link 'exponential'\) has unknown field"),
    ({"link": {"name": "gamma", "k": 0}}, "prior spec: link.k must be a positive number, got 0"),
    ({"link": {"name": "rectified_gaussian", "s": True}}, "prior spec: link.s must be a positive number, got True"),
    ({"mirror_axis": -1}, "prior spec: mirror_axis must be null or an integer >= 0, got -1"),
    ({"mirror_axis": 1.0}, "prior spec: mirror_axis must be null or an integer"),
    ({"structure": "sparse"}, "prior spec: structure must be one of"),
    ({"sqrt_method": "svd"}, "prior spec: sqrt_method must be one of"),
    ({"kernal": {}}, r"prior spec: unknown field\(s\) \['kernal'\]"),
])
def test_a_bad_spec_is_refused_with_the_field_named(change, message):
    spec = {**GOOD, **change}
    with pytest.raises(ValueError, match=message):
        gp.validate_prior_spec(spec)
    with pytest.raises(ValueError, match=message):
        gp.GPPrior.from_spec(spec, coords=np.arange(4.0))


@pytest.mark.parametrize("spec", [[GOOD], "rbf", None, {"link": GOOD["link"]}, {"kernel": GOOD["kernel"]}])
def test_a_spec_that_is_not_an_object_or_lacks_a_field(spec):
    with pytest.raises(ValueError, match="prior spec"):
        gp.validate_prior_spec(spec)
