"""gppnmf_core.plotting: the page's figures from a fit and its data set, in a notebook (needs plotly only)."""

import numpy as np
import pytest

pytest.importorskip("plotly")

import gppnmf_core as gp  # noqa: E402
from gppnmf_core import plotting  # noqa: E402
from gppnmf_core.plotting.theme import METHOD_COLORS, component_color  # noqa: E402


@pytest.fixture(scope="module")
def toy():
    return gp.datasets.paper_toy(random_state=0)


@pytest.fixture(scope="module")
def toy_fits(toy):
    p = toy.presets["correct"]
    return {"gppnmf": gp.fit_gppnmf(toy.X, 2, p.prior_D, p.prior_H, p.noise_var, max_iter=60, random_state=0),
            "cnmf": gp.cnmf(toy.X, 2, max_iter=200, random_state=0)}


@pytest.fixture(scope="module")
def csi():
    return gp.datasets.csi_phantom(random_state=0)


@pytest.fixture(scope="module")
def csi_fit(csi):
    return gp.cnmf(csi.X, csi.rank, max_iter=100, random_state=0)


def test_plotting_is_a_lazy_submodule_with_a_documented_api():
    names = ("plot_data", "plot_factors", "plot_maps", "plot_factorization", "plot_rmse", "plot_convergence",
             "plot_bands", "plot_prior_check", "plot_model_selection")
    assert set(names) <= set(dir(plotting)) and set(names) <= set(plotting.__all__)
    for name in names:
        doc = getattr(plotting, name).__doc__
        assert doc and len(doc) > 40, name
    assert "Parameters" in plotting.plot_factors.__doc__ and "Returns" in plotting.plot_factors.__doc__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        plotting.nope  # noqa: B018


def test_factors_on_the_toy_are_lines_with_the_truth_dashed(toy, toy_fits):
    fig = plotting.plot_factors(toy_fits["gppnmf"], toy)
    assert [t.name for t in fig.data] == ["component 1", "component 1 (true)", "component 2", "component 2 (true)"]
    assert fig.layout.title.text.startswith("GPP-NMF · D, signals")
    assert fig.data[0].line.color == component_color(0) and fig.data[1].line.dash == "dash"
    np.testing.assert_array_equal(fig.data[0].x, toy.rows.values)
    np.testing.assert_allclose(fig.data[1].y, toy.truth.D[:, 0])
    # matched and scaled to the truth, as the page shows them
    D, _ = plotting.align_results(toy_fits, toy)["gppnmf"]
    np.testing.assert_allclose(fig.data[0].y, D[:, 0])
    assert "summary" in fig.layout.meta


def test_maps_on_an_axis_are_amplitude_lines(toy, toy_fits):
    fig = plotting.plot_maps(toy_fits["cnmf"], toy)
    assert fig.layout.title.text.startswith("CNMF · H, amplitudes")
    assert [t.type for t in fig.data] == ["scatter"] * 4
    assert fig.layout.yaxis.title.text == "amplitude"


def test_the_data_heat_map(toy, csi):
    fig = plotting.plot_data(toy)
    assert fig.data[0].type == "heatmap" and np.shape(fig.data[0].z) == toy.X.shape
    assert fig.layout.title.text == f"{toy.title}: X is 100 × 200"
    fig = plotting.plot_data(csi)
    np.testing.assert_array_equal(fig.data[0].y, csi.rows.values)
    assert fig.layout.yaxis.autorange is True  # ppm drawn high to low


def test_factorization_picture_and_caption(toy, toy_fits):
    fig = plotting.plot_factorization(toy_fits["gppnmf"], toy)
    assert [t.name for t in fig.data] == ["X", "D", "H"]
    assert np.shape(fig.data[1].z) == (100, 2) and np.shape(fig.data[2].z) == (2, 100)  # the first 100 days
    assert fig.layout.title.text.startswith("X ≈ D × H from GPP-NMF's result")
    caption = fig.layout.meta["caption"]
    assert caption.startswith("GPP-NMF: X (100 × 200) ≈ D (100 × 2) × H (2 × 200)") and "RMSE" in caption
    assert [a.text for a in fig.layout.annotations if a.text in ("≈", "×")] == ["≈", "×"]


def test_rmse_bars_from_scores_or_from_results(toy, toy_fits):
    scores = plotting.score_results(toy_fits, toy)
    assert set(scores["gppnmf"]) >= {"rmse_noisy", "rmse_noise_free", "rmse_factors"}
    fig = plotting.plot_rmse(scores, noise_var=toy.noise_var)
    assert [t.name for t in fig.data] == ["GPP-NMF", "CNMF"]
    assert fig.data[0].marker.color == METHOD_COLORS["gppnmf"]
    assert list(fig.data[0].x) == ["vs noisy data", "vs noise-free data", "vs underlying factors"]
    assert "noise level σ = 5" in fig.layout.title.text and len(fig.layout.shapes) == 1
    from_results = plotting.plot_rmse(toy_fits, toy)
    assert [list(t.y) for t in from_results.data] == [list(t.y) for t in fig.data]
    with pytest.raises(TypeError, match="give the dataset too"):
        plotting.plot_rmse(toy_fits)


def test_convergence_trace(toy_fits):
    fig = plotting.plot_convergence(toy_fits["cnmf"])
    assert fig.layout.title.text == "CNMF · convergence"
    assert len(fig.data[0].y) == toy_fits["cnmf"].objective_trace.size


def test_phantom_spectra_are_labelled_and_drawn_high_to_low(csi, csi_fit):
    fig = plotting.plot_factors(csi_fit, csi)
    assert [t.name for t in fig.data] == ["brain", "brain (true)", "muscle", "muscle (true)"]
    assert fig.layout.xaxis.autorange == "reversed" and fig.layout.xaxis.title.text == "chemical shift (ppm)"
    assert {a.text for a in fig.layout.annotations} & {"PCr", "γ-ATP", "Pi"}  # 31P peaks labelled


def test_phantom_maps_every_slice_with_orientation_and_shared_scales(csi, csi_fit):
    fig = plotting.plot_maps(csi_fit, csi)
    assert fig.layout.title.text.startswith("CNMF · H, amplitudes — slices 1–8 along inferior-superior")
    assert [t.name for t in fig.data] == ["brain", "muscle"]  # one heat map (and colour scale) per component
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis2.cmax > 0
    assert "Images: left-right across (L at left, R at right)" in fig.layout.meta["summary"]
    one = plotting.plot_maps(csi_fit, csi, slice_index=3)
    assert one.layout.title.text.endswith("lower row: truth")
    texts = {a.text for a in one.layout.annotations}
    assert {"L", "R", "estimate", "truth"} <= texts
    # sharing the scale with another result widens each component's range to cover both (and the truth)
    other = gp.ls_nmf(csi.X, csi.rank, max_iter=30, random_state=1)
    shared = plotting.plot_maps(csi_fit, csi, share_with=other)
    H = plotting.align_results({"a": csi_fit, "b": other}, csi)
    top = max(float(H["a"][1][0].max()), float(H["b"][1][0].max()), float(csi.truth.H[0].max()))
    assert shared.layout.coloraxis.cmax == pytest.approx(top)


def test_phantom_factorization_shows_one_slice(csi, csi_fit):
    fig = plotting.plot_factorization(csi_fit, csi, slice_index=3)
    assert "the 64 voxels of slice 4 along inferior-superior, of 512" in fig.layout.title.text
    assert np.shape(fig.data[0].z) == (397, 64)


def test_prior_check_puts_data_and_simulation_on_one_scale(toy, csi):
    p = toy.presets["correct"]
    fig = plotting.plot_prior_check(toy, p.prior_D, p.prior_H)
    assert [t.name for t in fig.data] == ["X (the data)", "simulated from the prior"]
    assert fig.data[0].zmin == fig.data[1].zmin and fig.data[0].zmax == fig.data[1].zmax
    assert np.shape(fig.data[1].z) == toy.X.shape
    assert fig.layout.title.text.startswith("Prior check")
    again = plotting.plot_prior_check(toy, p.prior_D, p.prior_H)
    np.testing.assert_array_equal(again.data[1].z, fig.data[1].z)  # seeded
    q = csi.presets["paper"]
    fig = plotting.plot_prior_check(csi, q.prior_D, q.prior_H, random_state=1)
    assert fig.layout.yaxis.autorange is True  # ppm high to low


def test_the_builders_take_arrays(toy):
    fig = plotting.factor_figure(toy.truth.D.T, toy.rows, title="truth", names=["a", "b"])
    assert [t.name for t in fig.data] == ["a", "b"] and fig.layout.title.text == "truth"
    fig = plotting.matrix_heatmap(toy.X, toy.rows, toy.cols, "X")
    assert fig.data[0].zmid == 0.0  # signed data: diverging scale
    with pytest.raises(ValueError, match="X ≈ D × H needs"):
        plotting.factorization_figure(toy.X, toy.truth.D, toy.truth.H[:, :5], toy.rows, toy.cols, title="t",
                                      names=["a", "b"])


def test_model_selection_figure(toy):
    p = toy.presets
    candidates = [{"rank": 2, "prior_D": p["incorrect"].prior_D, "prior_H": p["incorrect"].prior_H,
                   "name": "incorrect", "max_iter": 40},
                  {"rank": 2, "prior_D": p["correct"].prior_D, "prior_H": p["correct"].prior_H, "max_iter": 40}]
    sel = gp.select_model(toy.X, candidates, noise_var=toy.noise_var, n_folds=2, random_state=0)
    fig = plotting.plot_model_selection(sel)
    labels = list(fig.data[0].y)
    assert {label.removeprefix("✓ ") for label in labels} == {"incorrect", "rank 2"}
    assert sum(label.startswith("✓ ") for label in labels) == 1


@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")  # one chain: no R-hat
def test_posterior_bands(toy):
    pytest.importorskip("arviz")  # the posterior extra (diagnostics); the sampler is our own
    p = toy.presets["correct"]
    small = gp.Dataset(name="toy40", title="toy, 40 days", X=np.array(toy.X[:, :40]), rows=toy.rows,
                       cols=gp.Axis(toy.cols.values[:40], label=toy.cols.label, unit=toy.cols.unit), truth=None,
                       noise_var=toy.noise_var, rank=2)
    post = gp.sample_posterior(small.X, 2, p.prior_D, p.prior_H, p.noise_var, n_draws=20, n_warmup=20, n_chains=1,
                               n_jobs=1, random_state=0)
    fig = plotting.plot_bands(post, small)
    assert [t.name for t in fig.data if t.showlegend is not False] == ["component 1 (median, 90 % band)",
                                                                       "component 2 (median, 90 % band)"]
    assert len(fig.data) == 6 and fig.data[1].fill == "tonexty"
    maps = plotting.plot_bands(post, small, "H")
    assert maps.layout.title.text == "GPP-NMF · H, amplitudes with 90 % bands"
    with pytest.raises(ValueError, match="factor must be"):
        plotting.plot_bands(post, small, "X")


def test_plotting_without_plotly_says_what_to_install():
    import subprocess
    import sys

    script = ("import sys\nsys.modules['plotly'] = None  # as if not installed\nimport gppnmf_core as gp\n"
              "from gppnmf_core.plotting.theme import METHOD_COLORS\n"
              "try:\n    gp.plotting.plot_factors\nexcept ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert "gppnmf_core.plotting needs plotly" in out.stdout and "gppnmf-studio[plot]" in out.stdout
