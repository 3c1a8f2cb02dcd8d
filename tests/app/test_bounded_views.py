"""What the web process computes and sends stays bounded, whatever the size of the data.

Long axes: prior samples are drawn at a few hundred points (never a dense K × K
square root in the web process). Large matrices: heat maps are block means of at
most MAX_HEATMAP_ROWS × MAX_HEATMAP_COLS cells, lines at most MAX_LINE_POINTS
points. Small data sets are shown exactly as before.
"""

import numpy as np
import pytest
from plotly.io.json import to_json_plotly

import app  # noqa: F401 - configures the session secret
import gppnmf_core as gp
import gppnmf_core.priors
from components.panels import data_panel, prior_panel
from components.services import config, store
from components.services.data_source import builtin_key, load_dataset, put_upload
from components.views import figures
from components.views.specs import default_ui, mean_abs, variance

MAX_RESPONSE_BYTES = 5 * 2**20


def _json_size(outputs) -> int:
    """Bytes of a callback's outputs as Dash encodes its response."""
    return len(to_json_plotly(list(outputs)))


def _upload(X, rows, cols, digest) -> tuple[str, str]:
    session = store.new_session_id()
    dataset = gp.Dataset(name="upload", title="upload.npy", X=X, rows=rows, cols=cols, truth=None, noise_var=1.0,
                         rank=2)
    return put_upload(session, dataset, digest), session


def _specs(key, session, **noise):
    dataset = load_dataset(key, session)
    return {"dataset": key, "D": default_ui(dataset, "D"), "H": default_ui(dataset, "H"),
            "noise_var": noise.get("noise_var", 1.0)}


@pytest.fixture
def factored_sizes(monkeypatch):
    """Sizes of every covariance the core factors (eigen-decomposes) while the test runs."""
    sizes = []
    real = gppnmf_core.priors.sqrt_factor

    def recording(cov, *args, **kwargs):
        sizes.append(np.shape(cov)[0])
        return real(cov, *args, **kwargs)

    monkeypatch.setattr(gppnmf_core.priors, "sqrt_factor", recording)
    return sizes


def test_sample_points_spread_evenly_and_keep_both_ends():
    np.testing.assert_array_equal(prior_panel.sample_points(7, 500), np.arange(7))
    points = prior_panel.sample_points(8000, 500)
    assert points.size == 500 and points[0] == 0 and points[-1] == 7999
    assert set(np.diff(points)) <= {16, 17}


def test_prior_samples_of_a_long_spectrum_are_drawn_at_a_few_hundred_points(factored_sizes):
    ppm = np.linspace(10.0, -10.0, 8000) + 1e-7  # coordinates of their own: nothing cached for them yet
    X = np.random.default_rng(0).random((8000, 4))
    key, session = _upload(X, gp.Axis(ppm, label="chemical shift", unit="ppm", reversed=True), gp.Axis(np.arange(4.0)),
                           "5a" * 12)
    *figs, message, _ = prior_panel.draw_prior_samples(_specs(key, session), 0, session)
    samples_D, _, _, _, simulated = figs
    assert message == ""
    assert max(factored_sizes) <= prior_panel.MAX_SAMPLE_POINTS  # no 8000 × 8000 eigendecomposition
    assert samples_D.layout.title.text == "Prior samples of D (500 of 8000 points)"
    x = np.asarray(samples_D.data[0].x)
    assert x.size == 500 and x[0] == ppm[0] and x[-1] == ppm[-1]  # the axis's own values, both ends
    assert samples_D.data[0].type == "scatter" and samples_D.layout.xaxis.autorange == "reversed"
    assert simulated.data[0].z.shape == (167, 4)  # every 3rd of the 500 drawn points: at most PRIOR_CHECK_ROWS
    drawn = prior_panel.sample_points(8000)  # the data beside the simulation at the very points it was drawn at
    shown = drawn[prior_panel.strided_points(drawn.size, prior_panel.PRIOR_CHECK_ROWS)]
    np.testing.assert_allclose(simulated.data[0].z, X[shown], rtol=1e-6)
    assert "167 × 4 of its 8000 × 4 points" in simulated.layout.title.text


def test_a_grid_too_large_to_draw_is_refused_with_a_message():
    key, session = _upload(np.zeros((3, 600 * 4)), gp.Axis(np.arange(3.0)), gp.Grid((600, 4), unit="pixel"),
                           "6b" * 12)
    *figs, message, _ = prior_panel.draw_prior_samples(_specs(key, session), 0, session)
    assert figs == [prior_panel.no_update] * 5
    assert "up to 512 points per axis" in message.children and "600 × 4" in message.children


@pytest.fixture(scope="module")
def huge_upload():
    """X of 4096 × 32768 (1 GiB of float64), stored the way an upload is; repetitive, so it compresses."""
    K, L = 4096, 32768
    ppm = np.linspace(20.0, -20.0, K)
    spectrum = np.exp(-(((ppm - 3.0) / 0.5) ** 2)) + 0.5 * np.exp(-(((ppm + 7.0) / 0.3) ** 2))
    X = np.tile(np.outer(spectrum, np.random.default_rng(0).random(64)), (1, L // 64)) - 0.01
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "SESSION_QUOTA_BYTES", 2**31)
        key, session = _upload(X, gp.Axis(ppm, label="chemical shift", unit="ppm", reversed=True),
                               gp.Axis(np.arange(float(L)), label="observation"), "7c" * 12)
    del X
    yield key, session
    store.delete(session, "dataset-" + "7c" * 12)


def test_the_data_panel_answers_a_huge_upload_with_small_responses(huge_upload):
    key, session = huge_upload
    description, facts, heatmap = data_panel.show_dataset(key, session)
    assert _json_size([description, facts, heatmap]) <= MAX_RESPONSE_BYTES
    assert heatmap.data[0].z.shape == (373, 800)
    assert heatmap.layout.title.text.endswith("shown as 373 × 800 block means (11 × 41 values) of 4096 × 32768")
    y = np.asarray(heatmap.data[0].y)
    assert y[0] > y[-1] and heatmap.layout.yaxis.autorange is True  # ppm still high to low
    preview = data_panel.show_preview(key, 10, session)
    assert _json_size(preview) <= MAX_RESPONSE_BYTES
    for fig in preview[:2]:
        assert all(np.size(trace.y) <= figures.MAX_LINE_POINTS for trace in fig.data)


def test_the_prior_redraw_for_a_huge_upload_is_small(huge_upload, factored_sizes):
    key, session = huge_upload
    outputs = prior_panel.draw_prior_samples(_specs(key, session), 0, session)
    assert outputs[-2] == "" and _json_size(outputs) <= MAX_RESPONSE_BYTES
    assert max(factored_sizes, default=0) <= prior_panel.MAX_SAMPLE_POINTS
    assert outputs[1].layout.title.text == "Prior samples of H (500 of 32768 points)"


@pytest.mark.parametrize("name", ["paper_toy", "csi_phantom"])
def test_small_data_sets_are_shown_at_full_resolution(name):
    key = builtin_key(name)
    dataset = load_dataset(key)
    heatmap = data_panel.show_dataset(key, None)[2]
    np.testing.assert_array_equal(heatmap.data[0].z, dataset.X.astype(np.float32))
    np.testing.assert_array_equal(heatmap.data[0].y, dataset.rows.values)
    assert "shown as" not in heatmap.layout.title.text and heatmap.data[0].hovertemplate is None
    signal = data_panel.show_preview(key, 0, None)[0]
    assert np.size(signal.data[0].y) == dataset.X.shape[0] and "envelope" not in signal.layout.xaxis.title.text


def test_block_means_average_each_block_and_leave_nan_out():
    X = np.arange(20.0).reshape(4, 5)
    X[0, 0] = np.nan
    means = figures.block_means(X, 2, 2)
    assert means.shape == (2, 3)
    assert means[0, 0] == pytest.approx((1 + 5 + 6) / 3)
    assert means[1, 2] == pytest.approx((14 + 19) / 2)  # the last, narrower block
    assert np.isnan(figures.block_means(np.full((2, 2), np.nan), 2, 2)).all()


def test_a_large_matrix_is_drawn_as_block_means_with_block_centres_as_coordinates():
    rows = gp.Axis(np.linspace(5.0, -5.0, 1000), unit="ppm", reversed=True)
    cols = gp.Grid((40, 50))
    X = np.random.default_rng(0).standard_normal((1000, 2000))
    fig = figures.matrix_heatmap(X, rows, cols, "big")
    assert fig.data[0].z.shape == (334, 667)  # blocks of 3 × 3 values
    np.testing.assert_allclose(fig.data[0].z[0, 0], X[:3, :3].mean(), rtol=1e-6)
    np.testing.assert_allclose(fig.data[0].y[:2], [rows.values[:3].mean(), rows.values[3:6].mean()])
    np.testing.assert_allclose(fig.data[0].x[0], 1.0)  # flattened grid index of the block's centre
    assert "mean of 3 × 3 values" in fig.data[0].hovertemplate and fig.data[0].zmid == 0.0


def test_a_long_line_keeps_its_peaks_in_a_min_max_envelope():
    y = np.random.default_rng(0).standard_normal(100_000)
    y[12_345], y[67_890] = 50.0, -50.0
    keep = figures.envelope_indices(y)
    assert keep.size <= figures.MAX_LINE_POINTS and {12_345, 67_890} <= set(keep)
    assert np.all(np.diff(keep) > 0)
    np.testing.assert_array_equal(figures.envelope_indices(y[:4000]), np.arange(4000))
    axis = gp.Axis(np.arange(100_000.0), label="time", unit="s")
    fig = figures.factor_figure(y, axis, title="signal", names=["y"])
    assert np.size(fig.data[0].y) <= figures.MAX_LINE_POINTS and max(fig.data[0].y) == 50.0
    assert fig.layout.xaxis.title.text == "time (s) · min/max envelope of 100000 points"


def test_long_series_and_grid_images_are_bounded():
    F = np.random.default_rng(0).random((3, 100_000))
    lines = figures.factor_figure(F, gp.Axis(np.arange(100_000.0)), title="activity", names=["a", "b", "c"])
    assert len(lines.data) == 3 and all(t.type == "scatter" and len(t.y) <= 4000 for t in lines.data)
    image = figures.factor_figure(np.random.default_rng(1).random((2, 500 * 600)), gp.Grid((500, 600)),
                                  title="maps", names=["a", "b"])
    assert image.data[0].z.shape[0] <= figures.MAX_HEATMAP_ROWS
    assert image.data[0].z.shape[1] <= figures.MAX_HEATMAP_COLS
    assert "block means of 2 × 2 pixels" in image.layout.title.text
    assert image.layout.annotations[1].x == pytest.approx((601 + 299.5) / 2)  # label moved with the image


def test_data_summaries_match_numpy_across_bands():
    X = np.random.default_rng(0).standard_normal((3000, 700))  # several bands of 2**20 values
    assert mean_abs(X) == pytest.approx(np.mean(np.abs(X)), rel=1e-12)
    assert variance(X) == pytest.approx(np.var(X), rel=1e-12)
    assert data_panel.negative_fraction(X) == pytest.approx(np.mean(X < 0), rel=1e-12)
