"""Tests for the built-in data sets (gppnmf_core.datasets)."""

import numpy as np
import pytest

from gppnmf_core import datasets
from gppnmf_core.dataset import Axis, Dataset, Grid
from gppnmf_core.kernels import RBF, White
from gppnmf_core.links import ExponentialLink, RectifiedGaussianLink
from gppnmf_core.priors import GPPrior, Preset


@pytest.fixture(scope="module")
def csi():
    return datasets.csi_phantom(random_state=0)


@pytest.fixture(scope="module")
def toy():
    return datasets.paper_toy(random_state=0)


def _check_common(data: Dataset):
    D, H, X0 = data.truth.D, data.truth.H, data.truth.X0
    K, L = data.X.shape
    assert data.rows.size == K and data.cols.size == L
    assert D.shape == (K, data.rank) and H.shape == (data.rank, L)
    assert len(data.truth.names) == data.rank
    for a in (data.X, D, H, X0):
        assert a.dtype == np.float64 and np.all(np.isfinite(a))
    assert np.array_equal(X0, D @ H)
    assert np.all(D >= 0) and np.all(H >= 0)
    assert data.noise_var > 0
    assert 100 < len(data.description) < 800
    assert data.presets and all(isinstance(p, Preset) for p in data.presets.values())
    for p in data.presets.values():
        # Every preset fits the data's shapes.
        assert p.prior_D.size in (None, K) and p.prior_H.size in (None, L)
        assert p.noise_var > 0


@pytest.mark.parametrize("name", datasets.NAMES)
def test_load_every_name(name):
    data = datasets.load(name, random_state=1)
    assert data.name == name
    _check_common(data)


@pytest.mark.parametrize("name", datasets.NAMES)
def test_determinism_and_seeds(name):
    a = datasets.load(name, random_state=3)
    b = datasets.load(name, random_state=3)
    c = datasets.load(name, random_state=4)
    assert np.array_equal(a.X, b.X)
    assert np.array_equal(a.truth.H, b.truth.H)
    assert not np.array_equal(a.X, c.X)


def test_generator_is_used_not_global_state():
    np.random.seed(0)
    a = datasets.paper_toy(random_state=np.random.default_rng(5))
    np.random.seed(1)
    b = datasets.paper_toy(random_state=np.random.default_rng(5))
    assert np.array_equal(a.X, b.X)


def test_load_unknown_name():
    with pytest.raises(ValueError, match="name"):
        datasets.load("nope")


def test_load_forwards_keywords():
    data = datasets.load("factories", random_state=0, n_days=10)
    assert data.X.shape == (12, 10)


# ---------------------------------------------------------------- paper toy


def test_toy_shapes_and_axes(toy):
    assert toy.X.shape == (100, 200) and toy.rank == 2
    assert isinstance(toy.rows, Axis) and isinstance(toy.cols, Axis)
    assert toy.rows.label == "feature index" and toy.cols.label == "observation index"
    assert np.array_equal(toy.rows.values, np.arange(100))
    assert np.array_equal(toy.cols.values, np.arange(200))


def test_toy_noise_variance(toy):
    assert np.var(toy.X - toy.truth.X0) == pytest.approx(25.0, rel=0.1)
    assert toy.noise_var == 25.0
    assert np.mean(toy.X < 0) > 0.1


def test_toy_draw_order_and_generating_priors(toy):
    rng = np.random.default_rng(0)
    D = GPPrior(RBF(beta=10.0), RectifiedGaussianLink(s=1.0)).sample(2, size=100, random_state=rng).T
    H = GPPrior(RBF(beta=10.0), ExponentialLink(lam=1.0)).sample(2, size=200, random_state=rng)
    noise = rng.standard_normal((100, 200))
    np.testing.assert_array_equal(toy.truth.D, D)
    np.testing.assert_array_equal(toy.truth.H, H)
    np.testing.assert_allclose(toy.X, D @ H + 5.0 * noise, rtol=0, atol=1e-12)


def test_toy_presets(toy):
    correct, incorrect = toy.presets["correct"], toy.presets["incorrect"]
    assert correct.prior_D.to_spec() == GPPrior(RBF(beta=10.0), RectifiedGaussianLink(s=1.0)).to_spec()
    assert correct.prior_H.to_spec() == GPPrior(RBF(beta=10.0), ExponentialLink(lam=1.0)).to_spec()
    assert incorrect.prior_D.to_spec() == GPPrior(RBF(beta=np.sqrt(10.0)), ExponentialLink(lam=1.0)).to_spec()
    assert incorrect.prior_H.to_spec() == GPPrior(RBF(beta=np.sqrt(1000.0)), RectifiedGaussianLink(s=1.0)).to_spec()
    assert correct.noise_var == incorrect.noise_var == 25.0


def test_toy_options():
    data = datasets.paper_toy(random_state=0, K=20, L=30, rank=3, beta=3.0, noise_var=0.0)
    assert data.X.shape == (20, 30) and data.truth.D.shape == (20, 3)
    assert np.array_equal(data.X, data.truth.X0)
    assert data.noise_var > 0  # a fit needs sigma^2 > 0


# ---------------------------------------------------------------- CSI phantom


def test_csi_axes(csi):
    ppm = csi.rows.values
    assert isinstance(csi.rows, Axis) and csi.rows.reversed
    assert csi.rows.unit == "ppm" and csi.rows.label == "chemical shift"
    assert 380 <= ppm.size <= 420
    assert np.all(np.diff(ppm) < 0)  # descending, drawn reversed
    assert ppm.min() >= -20.0 and ppm.max() <= 10.0
    assert ppm.min() < -19.8 and ppm.max() > 9.8
    # Spectral width 2000 Hz over 1024 points at 25.85 MHz.
    assert csi.rows.spacing == pytest.approx(2000.0 / 1024 / 25.85, rel=1e-3)
    assert isinstance(csi.cols, Grid) and csi.cols.shape == (8, 8, 8)
    assert csi.cols.names == ("left-right", "anterior-posterior", "inferior-superior")
    assert csi.X.shape == (ppm.size, 512)
    assert csi.truth.names == ("brain", "muscle") and csi.rank == 2


def _peak_value(ppm, spectrum, centre, half_width=0.4):
    window = np.abs(ppm - centre) <= half_width
    return spectrum[window].max()


def _area(ppm, spectrum, lo, hi):
    return spectrum[(ppm >= lo) & (ppm <= hi)].sum()


def test_csi_peaks_where_the_table_says(csi):
    ppm, D = csi.rows.values, csi.truth.D
    spacing = csi.rows.spacing
    for m in range(2):
        assert abs(ppm[np.argmax(D[:, m])]) <= spacing  # PCr is the tallest peak
    brain, muscle = D[:, 0], D[:, 1]
    for peak in datasets.PEAKS_31P:
        # NAD is only a shoulder of alpha-ATP, as in vivo.
        if peak.name in ("PE", "PC", "Pi", "GPE", "GPC", "PCr"):
            i = np.argmin(np.abs(ppm - peak.ppm))
            local = brain[i - 2 : i + 3]
            # A local maximum within one point of the table's shift.
            assert np.argmax(local) in (1, 2, 3), peak.name
    # gamma-ATP doublet: two maxima J apart around -2.46 ppm, dip at the centre.
    j_ppm = datasets.ATP_J_HZ / (datasets.GAMMA_31P_MHZ_PER_T * 1.5)
    centre = np.argmin(np.abs(ppm + 2.46))
    side = np.argmin(np.abs(ppm + 2.46 - j_ppm / 2))
    assert brain[side] > brain[centre]
    # Area ratios (areas count nuclei): muscle PCr/gamma-ATP ~ 4, brain ~ 1.4, muscle Pi/ATP ~ 0.55.
    pcr, gatp = (-1.2, 1.2), (-3.6, -1.3)
    assert _area(ppm, muscle, *pcr) / _area(ppm, muscle, *gatp) == pytest.approx(4.0, rel=0.2)
    assert _area(ppm, brain, *pcr) / _area(ppm, brain, *gatp) == pytest.approx(1.4, rel=0.2)
    assert _area(ppm, muscle, 3.9, 5.7) / _area(ppm, muscle, *gatp) == pytest.approx(0.55, rel=0.2)
    # Heights: a narrow singlet towers over a doublet of equal area, so the
    # muscle's PCr/gamma-ATP height ratio exceeds its area ratio of 4.
    assert 4.0 < _peak_value(ppm, muscle, 0.0) / _peak_value(ppm, muscle, -2.46) < 15.0
    # Brain has clear PME/PDE, muscle little.
    for lo, hi in ((5.8, 7.2), (2.5, 3.9)):
        assert _area(ppm, brain, lo, hi) > 3 * _area(ppm, muscle, lo, hi)


def test_csi_spectral_scale_suits_lambda_D(csi):
    D = csi.truth.D
    assert np.all((D.max(axis=0) > 2.0) & (D.max(axis=0) < 20.0))
    assert np.all(np.median(D, axis=0) < 0.2)  # ~0 away from the peaks


def test_csi_maps(csi):
    H = csi.truth.H.reshape(2, 8, 8, 8)
    for m in range(2):
        assert np.array_equal(H[m], H[m][::-1])  # exactly left-right symmetric
    empty = np.all(H == 0, axis=0)
    for i in (0, 7):
        for j in (0, 7):
            for k in (0, 7):
                assert empty[i, j, k]
    assert 50 < empty.sum() < 350
    # Partial volumes: values strictly between 0 and full.
    assert np.any((H[0] > 0) & (H[0] < H[0].max()))
    assert np.any((H[1] > 0) & (H[1] < H[1].max()))
    # Brain in the core, muscle around it: the centre voxel is brain only.
    assert H[0, 3, 4, 4] == H[0].max() and H[1, 3, 4, 4] == 0
    # Shell thicker laterally than on top; muscle rich inferiorly.
    muscle = H[1]
    assert muscle[:, 4, 4].sum() > muscle[3, 4, 5:].sum()
    assert muscle[:, :, :2].sum() > muscle[:, :, 6:].sum()
    # Magnitude sensible for lambda_H = 2e-4 (mean 5000).
    assert 2e3 < np.mean(csi.truth.H[csi.truth.H > 0]) < 2e4


def test_csi_signal_to_noise(csi):
    ppm, H, X0 = csi.rows.values, csi.truth.H, csi.truth.X0
    sigma = np.sqrt(1e8)
    i0 = np.argmin(np.abs(ppm))
    full_brain = (H[0] == H[0].max()) & (H[1] == 0)
    assert full_brain.sum() >= 5
    heights = X0[i0, full_brain] / sigma
    assert np.all((heights >= 3) & (heights <= 6))
    assert np.mean(csi.X < 0) > 0.3
    noise_only = np.all(H == 0, axis=0)
    assert np.var(csi.X[:, noise_only]) == pytest.approx(1e8, rel=0.05)


def test_csi_presets(csi):
    paper = csi.presets["paper"]
    assert paper.noise_var == 1e8
    assert paper.prior_D.to_spec() == GPPrior(RBF(beta=0.3), ExponentialLink(lam=1.0)).to_spec()
    np.testing.assert_array_equal(paper.prior_D.coords, csi.rows.values)
    expected_H = GPPrior(RBF(beta=2.0), ExponentialLink(lam=2e-4), grid=(8, 8, 8), mirror_axis=0)
    assert paper.prior_H.to_spec() == expected_H.to_spec()
    assert paper.prior_H.grid == (8, 8, 8)
    paper.prior_D.bind(csi.X.shape[0])
    paper.prior_H.bind(csi.X.shape[1])


def test_csi_field_strength():
    data = datasets.csi_phantom(random_state=0, field_strength_tesla=3.0, noise_var=0.0)
    ppm = data.rows.values
    assert data.rows.spacing == pytest.approx(2000.0 / 1024 / (17.235 * 3.0), rel=1e-6)
    assert ppm.min() > -20.0  # the 2000 Hz window is only +-19.3 ppm at 3 T
    assert abs(ppm[np.argmax(data.truth.D[:, 0])]) <= data.rows.spacing
    assert np.array_equal(data.X, data.truth.X0)


# ---------------------------------------------------------------- factories


def test_factories():
    data = datasets.factories(random_state=0)
    expected = np.array(
        [
            [0, 0, 9, 5, 3, 2, 1, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 3, 2, 1, 1, 0, 0, 0],
            [0, 5, 5, 6, 6, 7, 4, 2, 1, 0.5, 0, 0],
        ]
    ).T
    assert np.array_equal(data.truth.D, expected)
    assert data.X.shape == (12, 1000) and data.rank == 3
    assert set(np.unique(data.truth.H)) == {0.0, 1.0}
    assert np.all(np.abs(data.truth.H.mean(axis=1) - 0.5) < 0.06)
    assert np.array_equal(data.X, data.truth.X0)  # no noise by default
    assert data.rows.label == "time of day" and data.rows.unit == "h"
    assert data.cols.label == "day" and data.cols.unit == "day"
    assert 0 < data.noise_var < 0.1
    assert "identifiab" in data.description
    smooth = data.presets["smooth"]
    assert isinstance(smooth.prior_H.kernels[0], White)
    assert isinstance(smooth.prior_D.link, RectifiedGaussianLink)


def test_factories_noise():
    data = datasets.factories(random_state=0, n_days=500, noise_var=0.25)
    assert data.X.shape == (12, 500)
    assert np.var(data.X - data.truth.X0) == pytest.approx(0.25, rel=0.1)
    assert data.noise_var == 0.25


# ---------------------------------------------------------------- calcium imaging


def test_calcium_imaging():
    data = datasets.calcium_imaging(random_state=0)
    D, H = data.truth.D, data.truth.H
    assert data.X.shape == (32 * 32, 300) and data.rank == 5
    assert isinstance(data.rows, Grid) and data.rows.shape == (32, 32)
    assert data.rows.names == ("row", "column") and data.rows.unit == "pixel"
    assert data.cols.label == "frame" and data.cols.size == 300
    assert np.all(D >= 0) and np.all(H >= 0)
    assert np.linalg.matrix_rank(D) == 5 and np.linalg.matrix_rank(H) == 5
    np.testing.assert_allclose(D.max(axis=0), 1.0)
    # Compact footprints: a few dozen pixels each, mostly apart.
    assert np.all(((D > 0).sum(axis=0) > 20) & ((D > 0).sum(axis=0) < 200))
    overlap = (D > 0.5).astype(float).T @ (D > 0.5).astype(float)
    assert np.all(overlap[~np.eye(5, dtype=bool)] == 0)
    # Sparse activity: mostly near zero, with transients.
    assert np.all(np.median(H, axis=1) < 0.5 * H.max(axis=1))
    smooth = data.presets["smooth"]
    assert smooth.prior_D.grid == (32, 32)


def test_calcium_imaging_options():
    data = datasets.calcium_imaging(random_state=0, shape=(16, 20), n_frames=50, n_cells=3, noise_var=0.0)
    assert data.X.shape == (320, 50) and data.rank == 3
    assert data.rows.shape == (16, 20)
    assert np.array_equal(data.X, data.truth.X0)


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "func, kwargs, name",
    [
        (datasets.factories, {"n_days": 0}, "n_days"),
        (datasets.factories, {"noise_var": -1}, "noise_var"),
        (datasets.paper_toy, {"noise_var": -1}, "noise_var"),
        (datasets.paper_toy, {"rank": 0}, "rank"),
        (datasets.paper_toy, {"K": 5, "rank": 6}, "rank"),
        (datasets.paper_toy, {"beta": 0.0}, "beta"),
        (datasets.csi_phantom, {"noise_var": -1}, "noise_var"),
        (datasets.csi_phantom, {"field_strength_tesla": 0}, "field_strength_tesla"),
        (datasets.csi_phantom, {"ppm_range": (10, -20)}, "ppm_range"),
        (datasets.csi_phantom, {"ppm_range": (50, 60)}, "ppm_range"),
        (datasets.calcium_imaging, {"shape": (32, 0)}, "shape"),
        (datasets.calcium_imaging, {"shape": (32,)}, "shape"),
        (datasets.calcium_imaging, {"n_frames": 0}, "n_frames"),
        (datasets.calcium_imaging, {"n_cells": 0}, "n_cells"),
        (datasets.calcium_imaging, {"noise_var": -1}, "noise_var"),
    ],
)
def test_bad_arguments(func, kwargs, name):
    with pytest.raises(ValueError, match=name):
        func(random_state=0, **kwargs)


def test_bad_random_state():
    with pytest.raises(ValueError, match="random_state"):
        datasets.factories(random_state="seed")
