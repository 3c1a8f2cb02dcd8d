"""Pure figure builders, checked on known inputs without a browser."""

import numpy as np
import pytest

import gppnmf_core as gp
from components.views import figures
from components.views.theme import METHOD_COLORS, component_color


def test_data_heatmap_draws_ppm_high_to_low_with_units():
    csi = gp.datasets.csi_phantom(random_state=0)
    fig = figures.data_heatmap(csi)
    np.testing.assert_allclose(fig.data[0].z, csi.X, rtol=1e-6)  # sent as float32
    np.testing.assert_array_equal(fig.data[0].y, csi.rows.values)
    assert fig.layout.yaxis.title.text == "chemical shift (ppm)"
    assert fig.layout.yaxis.autorange is True  # values are stored high to low
    assert "397 × 512" in fig.layout.title.text
    assert fig.data[0].zmid == 0.0  # signed data: diverging scale centred at 0


def test_unsigned_data_use_a_sequential_scale():
    fig = figures.data_heatmap(gp.datasets.factories(random_state=0))
    assert fig.data[0].zmid is None
    assert fig.layout.yaxis.autorange == "reversed"  # a matrix reads top-down


def test_factor_on_an_axis_is_lines_with_truth_dashed_in_the_same_colour():
    axis = gp.Axis(np.linspace(10, -20, 50), label="chemical shift", unit="ppm", reversed=True)
    F, truth = np.random.default_rng(0).random((2, 50)), np.random.default_rng(1).random((2, 50))
    fig = figures.factor_figure(F, axis, title="signals", names=["brain", "muscle"], truth=truth)
    assert [t.name for t in fig.data] == ["brain", "brain (true)", "muscle", "muscle (true)"]
    assert [t.showlegend for t in fig.data] == [None, False, None, False]  # truth grouped with its component
    assert fig.data[0].legendgroup == fig.data[1].legendgroup
    assert fig.data[0].line.color == fig.data[1].line.color == component_color(0)
    assert fig.data[1].line.dash == "dash" and fig.data[0].line.dash is None
    np.testing.assert_array_equal(fig.data[2].y, F[1])
    assert fig.layout.xaxis.autorange == "reversed"
    assert fig.layout.xaxis.title.text == "chemical shift (ppm)"


def test_3d_grid_factor_is_drawn_as_slices():
    grid = gp.Grid((8, 8, 8), names=("left-right", "anterior-posterior", "inferior-superior"))
    F = np.arange(2 * 512, dtype=float).reshape(2, 512)
    fig = figures.factor_figure(F, grid, title="maps", names=["a", "b"])
    image = fig.data[0].z
    # Two factors, each 8 slices in two rows of four, two NaN lines between tiles.
    assert image.shape == (4 * 10 - 2, 4 * 10 - 2)
    volume = F[1].reshape(8, 8, 8)
    np.testing.assert_array_equal(image[20:28, 30:38], volume[:, :, 3].T)  # factor b, slice 4
    np.testing.assert_array_equal(image[30:38, 0:8], volume[:, :, 4].T)  # factor b, slice 5
    assert np.isnan(image[8:10]).all()
    labels = [a.text for a in fig.layout.annotations]
    assert labels.count("8") == 2 and "b" in labels
    assert fig.layout.title.text.endswith("slices 1–8 along inferior-superior")


def test_selected_slice_puts_components_side_by_side():
    grid = gp.Grid((8, 8, 8))
    F = np.random.default_rng(0).random((3, 512))
    fig = figures.factor_figure(F, grid, title="maps", names=["c1", "c2", "c3"], slice_index=4)
    image = fig.data[0].z
    assert image.shape == (8, 3 * 9 - 1)
    np.testing.assert_array_equal(image[:, 9:17], F[1].reshape(8, 8, 8)[:, :, 4].T)
    assert [a.text for a in fig.layout.annotations] == ["c1", "c2", "c3", "x →", "y ↓"]  # no orientation known


def test_2d_grid_factor_is_one_image_each():
    grid = gp.Grid((4, 6), names=("row", "column"), unit="pixel")
    F = np.random.default_rng(0).random((2, 24))
    image = figures.factor_figure(F, grid, title="footprints", names=["x", "y"]).data[0].z
    assert image.shape == (4, 2 * 7 - 1)  # images as stored: grid rows down, columns across
    np.testing.assert_array_equal(image[:, 7:], F[1].reshape(4, 6))


def test_histogram_is_a_density_beside_the_target_pdf():
    link = gp.ExponentialLink(lam=2.0)
    values = np.random.default_rng(0).exponential(0.5, 20000)
    fig = figures.histogram_figure(values, link, "H")
    bars, curve = fig.data
    assert np.sum(np.asarray(bars.y) * np.asarray(bars.width)) == pytest.approx(1.0)
    np.testing.assert_allclose(curve.y, link.pdf(np.asarray(curve.x)))
    np.testing.assert_allclose(bars.y[:10], link.pdf(np.asarray(bars.x[:10])), rtol=0.15)


def test_rmse_chart_groups_like_figure_3_with_method_colours():
    scores = {"gppnmf": {"rmse_noisy": 5.0, "rmse_noise_free": 0.3, "rmse_factors": 0.2},
              "ls_nmf": {"rmse_noisy": 5.2, "rmse_noise_free": 1.6, "rmse_factors": 1.0}}
    fig = figures.rmse_figure(scores)
    assert [t.name for t in fig.data] == ["GPP-NMF", "LS-NMF"]
    assert list(fig.data[0].x) == ["vs noisy data", "vs noise-free data", "vs underlying factors"]
    assert fig.data[1].marker.color == METHOD_COLORS["ls_nmf"]
    only_data = figures.rmse_figure({"cnmf": {"rmse_noisy": 1.0}})
    assert list(only_data.data[0].x) == ["vs noisy data"]


def test_trace_uses_a_log_scale_only_for_positive_objectives():
    assert figures.trace_figure(np.array([10.0, 5.0, 4.0]), "gppnmf").layout.yaxis.type == "log"
    assert figures.trace_figure(np.array([1.0, -2.0]), "cnmf").layout.yaxis.type == "linear"


def test_several_factors_on_a_long_time_axis_are_stacked_lines_with_truth_in_their_row():
    days = gp.Axis(np.arange(1000.0), label="day", unit="day")
    F, truth = np.random.default_rng(0).random((3, 1000)), np.random.default_rng(1).random((3, 1000))
    fig = figures.factor_figure(F, days, title="activity", names=["f1", "f2", "f3"], truth=truth)
    assert {t.type for t in fig.data} == {"scatter"}  # lines, never a one-row heat map
    assert [t.name for t in fig.data] == ["f1", "f1 (true)", "f2", "f2 (true)", "f3", "f3 (true)"]
    assert [t.yaxis for t in fig.data] == ["y", "y", "y2", "y2", "y3", "y3"]  # one row per factor
    np.testing.assert_array_equal(fig.data[3].y, truth[1])
    assert fig.layout.xaxis3.title.text == "day"  # no unit repeated when it equals the label


def test_long_spectra_are_overlaid_lines_even_with_several_components():
    ppm = gp.Axis(np.linspace(4.3, 0.2, 4096), label="chemical shift", unit="ppm", reversed=True)
    F = np.random.default_rng(0).random((3, 4096))
    fig = figures.factor_figure(F, ppm, title="signals", names=["a", "b", "c"])
    assert [t.type for t in fig.data] == ["scatter"] * 3 and {t.yaxis for t in fig.data} == {None}
    assert fig.layout.xaxis.autorange == "reversed"


def test_stacked_lines_on_a_very_long_axis_stay_bounded():
    F = np.random.default_rng(0).random((3, 100_000))
    fig = figures.factor_figure(F, gp.Axis(np.arange(100_000.0)), title="activity", names=["a", "b", "c"])
    assert [t.type for t in fig.data] == ["scatter"] * 3
    assert all(np.size(t.y) <= figures.MAX_LINE_POINTS for t in fig.data)
    assert "min/max envelope of 100000 points" in fig.layout.xaxis3.title.text


def test_rmse_labels_are_plain_numbers_with_the_noise_level_on_the_noisy_data_group():
    scores = {"gppnmf": {"rmse_noisy": 0.343, "rmse_noise_free": 0.0724, "rmse_factors": 0.2},
              "cnmf": {"rmse_noisy": 0.724, "rmse_noise_free": 0.5, "rmse_factors": 1234.5}}
    fig = figures.rmse_figure(scores, noise_var=0.25)
    assert list(fig.data[0].text) == ["0.343", "0.0724", "0.2"]
    assert list(fig.data[1].text) == ["0.724", "0.5", "1230"]  # never "343m" or "1.23k"
    assert fig.data[0].texttemplate == "%{text}"
    (line,) = fig.layout.shapes
    assert line.line.dash == "dash" and line.y0 == line.y1 == pytest.approx(0.5)  # σ = √σ²
    assert (line.x0, line.x1) == (-0.45, 0.45)  # spans the first group, "vs noisy data", only
    assert "dashed: noise level σ = 0.5" in fig.layout.title.text
    assert fig.layout.yaxis.exponentformat == "none"  # axis ticks without SI prefixes too
    assert not figures.rmse_figure({"cnmf": {"rmse_noise_free": 1.0}}, noise_var=0.25).layout.shapes


def test_every_chart_carries_a_text_alternative_with_its_key_numbers():
    rmse = figures.rmse_figure({"gppnmf": {"rmse_noisy": 0.343}})
    assert rmse.layout.meta["summary"] == "RMSE by method (paper Figure 3). GPP-NMF: vs noisy data 0.343."
    with_noise = figures.rmse_figure({"gppnmf": {"rmse_noisy": 0.343}}, noise_var=0.09)
    assert with_noise.layout.meta["summary"].startswith("RMSE by method (paper Figure 3) — dashed: noise level σ = 0.3")
    axis = gp.Axis(np.linspace(0, 9, 10), label="time", unit="h")
    lines = figures.factor_figure(np.arange(10.0)[None, :], axis, title="signals", names=["f1"])
    assert "f1: 10 points from 0 to 9 at 9" in lines.layout.meta["summary"]
    image = figures.factor_figure(np.ones((1, 24)), gp.Grid((4, 6), unit="pixel"), title="maps", names=["a"])
    assert "image 4 × 6, values 1 to 1" in image.layout.meta["summary"]


def test_titles_sit_below_the_mode_bar_band():
    fig = figures.trace_figure(np.array([3.0, 2.0]), "gppnmf")
    assert fig.layout.title.yref == "container" and fig.layout.title.pad.t == figures.MODEBAR_BAND
    assert fig.layout.margin.t >= figures.MODEBAR_BAND + 24


PHANTOM_GRID = gp.Grid((8, 8, 8), names=("left-right", "anterior-posterior", "inferior-superior"))


def test_orientation_comes_from_the_grid_axis_names_and_is_never_guessed():
    assert figures.direction_letters("left-right") == ("L", "R")
    assert figures.direction_letters("posterior → anterior") == ("P", "A")
    assert figures.direction_letters("S-I") == ("S", "I")
    for name in ("x", "row", "axis 1", "left-anterior", "left", "x-y"):
        assert figures.direction_letters(name) is None
    # 3-D slices: grid axis 0 across, axis 1 down.
    assert figures.orientation_labels(PHANTOM_GRID, 4) == {"left": "L", "right": "R", "top": "A", "bottom": "P"}
    assert figures.orientation_labels(gp.Grid((8, 8, 8)), 4) == {"across": "x →", "down": "y ↓"}
    assert figures.orientation_labels(gp.Grid((4, 6), names=("row", "column")), None) == \
        {"across": "column →", "down": "row ↓"}  # a 2-D grid as stored: axis 1 across


def test_phantom_maps_carry_orientation_letters_and_say_them_in_the_summary():
    F = np.random.default_rng(0).random((2, 512))
    fig = figures.factor_figure(F, PHANTOM_GRID, title="maps", names=["brain", "muscle"], slice_index=4)
    texts = [a.text for a in fig.layout.annotations]
    assert {"L", "R", "A", "P"} <= set(texts)
    left = next(a for a in fig.layout.annotations if a.text == "L")
    right = next(a for a in fig.layout.annotations if a.text == "R")
    assert left.x < right.x <= 8  # both under the first tile, L at its left edge
    assert "L at left" in fig.layout.meta["summary"] and "A at top" in fig.layout.meta["summary"]
    unknown = figures.factor_figure(F, gp.Grid((8, 8, 8)), title="maps", names=["a", "b"], slice_index=0)
    assert "orientation not known" in unknown.layout.meta["summary"]
    assert not {"L", "R", "A", "P"} & {a.text for a in unknown.layout.annotations}


def test_truth_maps_are_a_second_row_under_the_estimates():
    rng = np.random.default_rng(0)
    F, truth = rng.random((2, 512)), rng.random((2, 512))
    fig = figures.factor_figure(F, PHANTOM_GRID, title="maps", names=["brain", "muscle"], slice_index=4,
                                truth=truth)
    image = fig.data[0].z
    assert image.shape == (2 * 9 - 1, 2 * 9 - 1)
    np.testing.assert_array_equal(image[9:, 9:], truth[1].reshape(8, 8, 8)[:, :, 4].T)
    np.testing.assert_array_equal(image[:8, :8], F[0].reshape(8, 8, 8)[:, :, 4].T)
    texts = [a.text for a in fig.layout.annotations]
    assert "truth" in texts and "estimate" in texts
    assert "lower row: truth" in fig.layout.title.text


def test_zranges_give_each_component_its_own_fixed_colour_scale():
    rng = np.random.default_rng(0)
    F, truth = rng.random((2, 512)), 3 * rng.random((2, 512))
    ranges = figures.shared_zranges(F, truth, None)
    assert ranges[0] == (0.0, pytest.approx(max(F[0].max(), truth[0].max())))
    fig = figures.factor_figure(F, PHANTOM_GRID, title="maps", names=["brain", "muscle"], slice_index=4,
                                truth=truth, zranges=ranges)
    assert [t.name for t in fig.data] == ["brain", "muscle"]
    assert fig.data[0].coloraxis == "coloraxis" and fig.data[1].coloraxis == "coloraxis2"
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == ranges[0]
    assert (fig.layout.coloraxis2.cmin, fig.layout.coloraxis2.cmax) == ranges[1]
    brain, muscle = (np.asarray(t.z, dtype=float) for t in fig.data)
    assert np.isnan(brain[:, 9:]).all() and np.isnan(muscle[:, :8]).all()  # each trace holds its own tiles
    np.testing.assert_array_equal(muscle[9:, 9:], truth[1].reshape(8, 8, 8)[:, :, 4].T)


def test_the_prior_check_shares_its_rows_between_two_labelled_maps():
    ppm = gp.Axis(np.linspace(10.0, -20.0, 40), label="chemical shift", unit="ppm", reversed=True)
    voxels = gp.Axis(np.arange(0.0, 60.0, 2.0), label="voxel", unit="index")
    X, S = np.random.default_rng(0).random((2, 40, 30))
    from components.views.model_figures import prior_check_figure

    fig = prior_check_figure(X, S - 0.5, ppm, voxels, title="Prior check")
    data, simulated = fig.data
    assert (data.xaxis, data.yaxis, simulated.xaxis, simulated.yaxis) == ("x", "y", "x2", "y2")
    assert fig.layout.yaxis2.matches == "y" and fig.layout.yaxis2.showticklabels is False  # one row axis, labelled once
    assert fig.layout.yaxis.autorange is True and fig.layout.yaxis.title.text == "chemical shift (ppm)"
    heads, shared = fig.layout.annotations[:2], fig.layout.annotations[2]
    assert [a.text for a in heads] == ["the data X", "from the prior"]
    centres = [np.mean(fig.layout.xaxis.domain), np.mean(fig.layout.xaxis2.domain)]
    assert [a.x for a in heads] == pytest.approx(centres)  # each name above its map
    assert (data.showscale, simulated.showscale) == (False, True) and data.colorscale == simulated.colorscale
    assert data.zmin == -data.zmax  # signed: a diverging scale centred at 0
    # the column axis named once, centred under both maps (two titles overlapped on a phone)
    assert shared.text == "voxel (index)" and shared.x == 0.5 and shared.yanchor == "top"
    assert fig.layout.xaxis.title.text is None and fig.layout.xaxis2.title.text is None
    grid = prior_check_figure(X, S, ppm, gp.Grid((5, 6), unit="pixel"), title="t")
    assert grid.data[0].x is None and grid.data[0].zmin == 0  # indices on a grid; unsigned: a sequential scale


def test_every_figure_is_drawn_with_plotly_white_for_what_it_holds():
    """The figures' template is plotly_white cut to what they draw (built 3× faster): its layout but for maps,
    polar, ternary and 3-D scenes, and its defaults for every trace type the builders use."""
    import plotly.io as pio

    from gppnmf_core.plotting._common import TEMPLATE, TRACE_TYPES
    from gppnmf_core.plotting.model import factorization_figure, prior_check_figure

    white = pio.templates["plotly_white"]
    for kind in TRACE_TYPES:
        assert TEMPLATE.data[kind] == white.data[kind], kind
    cut = {"geo", "polar", "ternary", "scene"}
    assert TEMPLATE.layout.to_plotly_json() == {k: v for k, v in white.layout.to_plotly_json().items() if k not in cut}
    axis, grid = gp.Axis(np.linspace(10.0, -10.0, 30), label="shift", unit="ppm", reversed=True), gp.Grid((4, 5))
    rng = np.random.default_rng(0)
    D, H = rng.random((30, 2)), rng.random((2, 20))
    built = [
        figures.factor_figure(D.T, axis, title="D", names=["a", "b"], truth=D.T),
        figures.factor_figure(H, grid, title="H", names=["a", "b"], zranges=[(0, 1), (0, 1)]),
        figures.factor_figure(rng.random((2, 20)), gp.Axis(np.arange(20.0)), title="t", names=["a", "b"]),
        figures.histogram_figure(H, gp.ExponentialLink(lam=1.0), "hist"),
        figures.matrix_heatmap(D @ H, axis, grid, "X"),
        figures.rmse_figure({"gppnmf": {"rmse_noisy": 1.0}}, noise_var=0.5),
        figures.trace_figure(np.array([3.0, 2.0]), "gppnmf"),
        figures.inspector_figure(D[:, 0], {"gppnmf": D[:, 1]}, axis, title="fit"),
        prior_check_figure(D @ H, D @ H, axis, grid, title="check"),
        factorization_figure(D @ H, D, H, axis, grid, title="X ≈ D H", names=["a", "b"]),
    ]
    for fig in built:
        assert fig.layout.template == TEMPLATE, fig.layout.title.text
        assert {t.type for t in fig.data} <= set(TRACE_TYPES), fig.layout.title.text
