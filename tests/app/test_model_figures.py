"""The X ≈ D × H picture, its caption, the prior check side by side, and the results panel's use of them (truth
maps under the estimates, one colour scale per component across methods, the slice label), without a browser."""

from __future__ import annotations

import numpy as np
import pytest

import gppnmf_core as gp
from components.panels import results_panel
from components.views import model_figures
from components.views.figures import shared_zranges


@pytest.fixture(scope="module")
def factories():
    return gp.datasets.factories(random_state=0)


@pytest.fixture(scope="module")
def csi():
    return gp.datasets.csi_phantom(random_state=0)


def _truth_results(dataset, methods=("gppnmf", "cnmf")):
    """Stored-result arrays that are the truth, a little scaled per method (so ranges differ)."""
    arrays = {}
    for i, m in enumerate(methods):
        arrays[f"{m}.D"] = np.array(dataset.truth.D)
        arrays[f"{m}.H"] = np.array(dataset.truth.H) * (1 + 0.5 * i)
    return arrays, {"methods": list(methods)}


def test_factorization_figure_is_x_d_h_with_shared_rows_and_columns(factories):
    D, H = factories.truth.D, factories.truth.H[:, :40]
    cols = gp.Axis(np.arange(40.0), label="day", unit="day")
    fig = model_figures.factorization_figure(factories.X[:, :40], D, H, factories.rows, cols, title="X ≈ D × H",
                                             names=factories.truth.names)
    assert [t.name for t in fig.data] == ["X", "D", "H"]
    np.testing.assert_allclose(fig.data[0].z, factories.X[:, :40])
    np.testing.assert_allclose(fig.data[1].z, D)
    np.testing.assert_allclose(fig.data[2].z, H)
    assert list(fig.data[1].x) == list(factories.truth.names) and list(fig.data[2].y) == list(factories.truth.names)
    assert fig.layout.yaxis2.matches == "y" and fig.layout.xaxis3.matches == "x"
    texts = [a.text for a in fig.layout.annotations]
    assert "≈" in texts and "×" in texts and "<b>D</b>" in texts and "signals × weights" in fig.layout.title.text
    assert "X: image 12 × 40" in fig.layout.meta["summary"]
    with pytest.raises(ValueError, match="D of shape"):
        model_figures.factorization_figure(factories.X[:, :40], D[:5], H, factories.rows, cols, title="t", names="abc")


def test_teaching_columns_first_days_or_the_shown_slice(factories, csi):
    chosen, note = model_figures.teaching_columns(factories.cols)
    np.testing.assert_array_equal(chosen, np.arange(100))
    assert note == "the first 100 of 1000 days"
    chosen, note = model_figures.teaching_columns(csi.cols, slice_index=4)
    assert chosen.size == 64 and np.all(np.unravel_index(chosen, csi.cols.shape)[2] == 4)
    assert "slice 5 along inferior-superior" in note
    assert model_figures.teaching_columns(gp.Axis(np.arange(30.0)))[1] == ""


def test_factorization_view_from_stored_results_says_what_d_and_h_are(factories, csi):
    arrays, meta = _truth_results(factories)
    fig, caption = results_panel.factorization_view(factories, arrays, meta, "gppnmf", 0)
    assert fig.data[0].z.shape == (12, 100)
    assert "Each column of D is one signal (factory 1, factory 2, factory 3)" in caption
    assert "each day" in caption and "RMSE 0" in caption  # the truth fits the noise-free data exactly
    arrays, meta = _truth_results(csi)
    fig, caption = results_panel.factorization_view(csi, arrays, meta, "not-a-method", 4)  # forged: first method
    assert caption.startswith("GPP-NMF") and fig.data[2].z.shape == (2, 64)


def test_result_maps_share_one_colour_scale_per_component_with_the_truth_below(csi):
    arrays, meta = _truth_results(csi)
    ranges = results_panel.map_ranges(csi, [arrays[f"{m}.H"] for m in meta["methods"]])
    assert ranges == shared_zranges(arrays["gppnmf.H"], arrays["cnmf.H"], csi.truth.H)
    figures = []
    for m in meta["methods"]:
        column = results_panel.method_column(m, {"n_iter": 1, "converged": True, "runtime": 0.1},
                                             arrays[f"{m}.D"], arrays[f"{m}.H"], np.ones(3), csi, 4, zranges=ranges)
        figures.append(column.children[3].figure)
    for fig in figures:  # the same colour range for component k in every method's maps
        assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == ranges[0]
        assert (fig.layout.coloraxis2.cmin, fig.layout.coloraxis2.cmax) == ranges[1]
        assert "lower row: truth" in fig.layout.title.text
        assert {"L", "R", "A", "P"} <= {a.text for a in fig.layout.annotations}
    assert results_panel.map_ranges(gp.datasets.factories(random_state=0), [arrays["gppnmf.H"]]) is None


def test_slice_label_names_the_axis_and_calls_it_axial_only_when_it_is():
    assert results_panel.slice_label(gp.Grid((8, 8, 8), names=("left-right", "anterior-posterior",
                                                                 "inferior-superior"))) == \
        "axial slice (inferior → superior)"
    assert results_panel.slice_label(gp.Grid((8, 8, 8), names=("x", "y", "z"))) == "slice along z"
    assert results_panel.slice_label(gp.Grid((8, 8, 8))) == "slice along z"


def test_prior_check_puts_the_data_and_the_simulation_side_by_side_on_one_scale(csi):
    rng = np.random.default_rng(0)
    simulated = rng.normal(size=csi.X.shape) * 100
    fig = model_figures.prior_check_figure(csi.X, simulated, csi.rows, csi.cols, title="prior check")
    assert [t.name for t in fig.data] == ["X (the data)", "simulated from the prior"]
    assert fig.data[0].zmin == fig.data[1].zmin and fig.data[0].zmax == fig.data[1].zmax
    assert fig.data[0].zmax == pytest.approx(max(np.abs(csi.X).max(), np.abs(simulated).max()), rel=1e-6)
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]  # side by side
    with pytest.raises(ValueError, match="one shape"):
        model_figures.prior_check_figure(csi.X, simulated[:, :3], csi.rows, csi.cols, title="t")
