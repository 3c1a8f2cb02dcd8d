"""Property-based tests (hypothesis) of the invariants the other tests check at fixed points.

* the Kronecker square root equals its dense matrix, on random grid shapes and kernels;
* every link's ``inverse`` undoes its ``value``, and its derivative is the slope;
* aligning factors to a truth permutes and rescales them without changing ``D @ H``;
* a prior spec survives JSON and ``GPPrior.from_spec`` for every kernel, link and per-axis setting;
* a small array written as .npy, .npz, .csv or .mat reads back as the same ``X``;
* a full mask is no mask, and left-out entries never matter, for both multiplicative-update fits.

Each test is bounded (``max_examples``, no deadline) so that the file runs in well under a
minute on a loaded 2-core machine; ``derandomize`` keeps every run on the same examples.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import gppnmf_core as gp  # noqa: E402
from gppnmf_core.structure import KroneckerSquareRoot, sqrt_factor  # noqa: E402

BOUNDED = settings(max_examples=40, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

positive = st.floats(min_value=0.1, max_value=10.0, allow_nan=False, allow_infinity=False)
kernels = st.one_of(
    st.builds(gp.RBF, positive), st.builds(gp.Matern32, positive), st.builds(gp.Matern52, positive),
    st.builds(gp.Exponential, positive), st.builds(gp.Periodic, beta=positive, period=positive),
    st.just(gp.White()),
)
links = st.one_of(
    st.builds(gp.ExponentialLink, lam=positive), st.builds(gp.RectifiedGaussianLink, s=positive),
    st.builds(gp.GammaLink, k=st.floats(0.3, 8.0), theta=positive),
)


def _seed():
    return st.integers(min_value=0, max_value=2**32 - 1)


# ------------------------------------------------------------------------------------------ Kronecker vs dense


@BOUNDED
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3), data=st.data(), seed=_seed())
def test_kronecker_square_root_is_its_dense_matrix(shape, data, seed):
    factors = []
    for n in shape:
        kernel = data.draw(kernels)
        factors.append(sqrt_factor(kernel(np.arange(n, dtype=np.float64))))
    C = KroneckerSquareRoot(factors)
    dense = factors[0]
    for A in factors[1:]:
        dense = np.kron(dense, A)
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 4))
    Z = rng.standard_normal((C.n_latent, m))
    G = rng.standard_normal((C.n_points, m))
    assert (C.n_points, C.n_latent) == dense.shape
    np.testing.assert_allclose(C.apply(Z), dense @ Z, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(C.apply_transpose(G), dense.T @ G, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(C.dense(), dense, rtol=1e-12, atol=1e-12)


@BOUNDED
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3), data=st.data())
def test_a_grid_prior_is_the_kronecker_product_of_its_axes(shape, data):
    per_axis = [data.draw(kernels) for _ in shape]
    prior = gp.GPPrior(per_axis, gp.ExponentialLink(), grid=tuple(shape))
    C = prior.bind().sqrt
    cov = C.dense() @ C.dense().T
    np.testing.assert_allclose(cov, prior.grid_covariance(), atol=1e-8)


# ------------------------------------------------------------------------------------------ links


@BOUNDED
@given(link=links, h=st.lists(st.floats(-6.0, 6.0), min_size=1, max_size=20))
def test_link_inverse_undoes_value_and_derivative_is_the_slope(link, h):
    h = np.asarray(h)
    x, dx = link.value_and_derivative(h)
    assert np.all(x >= 0) and np.all(np.isfinite(dx)) and np.all(dx > 0)
    inside = x > 1e-300  # the value underflows to 0 far in the left tail of a sparse marginal
    np.testing.assert_allclose(link.inverse(x[inside]), h[inside], rtol=1e-6, atol=1e-6)
    step = 1e-5
    slope = (link.value(h + step) - link.value(h - step)) / (2 * step)
    np.testing.assert_allclose(dx, slope, rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(link.cdf(x), gp.links.special.ndtr(h), rtol=1e-6, atol=1e-10)


@BOUNDED
@given(link=links)
def test_link_spec_round_trip(link):
    again = gp.link_from_spec(json.loads(json.dumps(link.to_spec())))
    assert again == link and again.to_spec() == link.to_spec()


# ------------------------------------------------------------------------------------------ alignment


@BOUNDED
@given(K=st.integers(2, 12), L=st.integers(1, 12), M=st.integers(1, 4), seed=_seed())
def test_alignment_permutes_and_rescales_without_changing_the_product(K, L, M, seed):
    rng = np.random.default_rng(seed)
    D_true = np.abs(rng.standard_normal((K, M))) + 0.01
    perm = rng.permutation(M)
    scale = rng.uniform(0.1, 10.0, M)
    D = D_true[:, perm] * scale + 0.01 * np.abs(rng.standard_normal((K, M)))
    H = np.abs(rng.standard_normal((M, L)))
    D_al, H_al = gp.align_to_truth(D, H, D_true)
    np.testing.assert_allclose(D_al @ H_al, D @ H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(D_al, axis=0), np.linalg.norm(D_true, axis=0), rtol=1e-10)
    order = gp.match_components(D, D_true)
    assert sorted(order.tolist()) == list(range(M))


# ------------------------------------------------------------------------------------------ prior specs


@BOUNDED
@given(kernel=kernels, link=links, n=st.integers(1, 12), structure=st.sampled_from(["auto", "dense"]),
       sqrt_method=st.sampled_from(["eig", "cholesky"]))
def test_a_1d_prior_spec_round_trips_through_json(kernel, link, n, structure, sqrt_method):
    coords = np.linspace(0.0, 3.0, n)
    prior = gp.GPPrior(kernel, link, coords=coords, structure=structure, sqrt_method=sqrt_method)
    spec = json.loads(json.dumps(prior.to_spec()))
    gp.validate_prior_spec(spec)
    again = gp.GPPrior.from_spec(spec, coords=coords)
    assert again.to_spec() == prior.to_spec()
    assert again.kernels == prior.kernels and again.link == prior.link
    assert (again.structure, again.sqrt_method) == (structure, sqrt_method)


@BOUNDED
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data(), link=links)
def test_a_grid_prior_spec_round_trips_with_per_axis_kernels_and_mirror(shape, data, link):
    per_axis = data.draw(st.one_of(kernels.map(lambda k: [k]), st.lists(kernels, min_size=len(shape),
                                                                        max_size=len(shape))))
    mirror = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1)))
    structure = data.draw(st.sampled_from(["auto", "kronecker", "dense"]))
    prior = gp.GPPrior(per_axis, link, grid=tuple(shape), mirror_axis=mirror, structure=structure)
    spec = json.loads(json.dumps(prior.to_spec()))
    again = gp.GPPrior.from_spec(spec, grid=tuple(shape))
    assert again.to_spec() == prior.to_spec()
    assert again.kernels == prior.kernels and again.mirror_axis == mirror and again.structure == structure
    np.testing.assert_allclose(again.sample(2, random_state=0), prior.sample(2, random_state=0))


# ------------------------------------------------------------------------------------------ readers


def _npy(X):
    buffer = io.BytesIO()
    np.save(buffer, X)
    return buffer.getvalue()


def _npz(X):
    buffer = io.BytesIO()
    np.savez(buffer, X=X)
    return buffer.getvalue()


def _csv(X):
    text = io.StringIO()
    np.savetxt(text, X, delimiter=",", fmt="%.17g")
    return text.getvalue().encode()


def _mat(X):
    import scipy.io

    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"X": X})
    return buffer.getvalue()


WRITERS = {"npy": _npy, "npz": _npz, "csv": _csv, "mat": _mat}


@BOUNDED
@given(K=st.integers(3, 9), L=st.integers(3, 9), fmt=st.sampled_from(sorted(WRITERS)), seed=_seed(),
       scale=st.sampled_from([1e-3, 1.0, 1e4]))
def test_a_small_array_reads_back_as_the_same_matrix(K, L, fmt, seed, scale):
    X = scale * np.random.default_rng(seed).standard_normal((K, L))
    ds = gp.read_dataset(WRITERS[fmt](X), f"data.{fmt}", gp.ReadOptions(orientation="features_first"))
    assert ds.X.dtype == np.float64
    np.testing.assert_array_equal(ds.X, X)
    assert ds.rows.size == K and ds.cols.size == L
    assert not ds.X.flags.writeable


# ------------------------------------------------------------------------------------------ masks


@settings(max_examples=15, deadline=None, derandomize=True)
@given(K=st.integers(2, 8), L=st.integers(2, 8), seed=_seed(), method=st.sampled_from(["ls_nmf", "cnmf"]))
def test_left_out_entries_never_matter_and_a_full_mask_is_no_mask(K, L, seed, method):
    fit = getattr(gp, method)
    rng = np.random.default_rng(seed)
    X = np.abs(rng.standard_normal((K, L))) + 0.1
    plain = fit(X, 1, max_iter=15, tol=0, random_state=0)
    full = fit(X, 1, max_iter=15, tol=0, random_state=0, mask=np.ones((K, L), bool))
    np.testing.assert_array_equal(full.D, plain.D)
    mask = rng.random((K, L)) > 0.3
    mask[0, 0] = True
    a = fit(X, 1, max_iter=15, tol=0, random_state=0, mask=mask)
    b = fit(np.where(mask, X, rng.standard_normal((K, L)) * 1e3), 1, max_iter=15, tol=0, random_state=0, mask=mask)
    np.testing.assert_array_equal(a.D, b.D)
    np.testing.assert_array_equal(a.H, b.H)
    assert a.objective == pytest.approx(0.5 * np.sum(np.where(mask, X - a.D @ a.H, 0.0) ** 2), rel=1e-9)
