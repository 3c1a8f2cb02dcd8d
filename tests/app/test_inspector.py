"""Spectra as lines with their peaks labelled, the observation inspector, and the single-observation notice."""

import numpy as np
import pytest

import app  # noqa: F401 - registers every callback and binds the cache
import gppnmf_core as gp
from components.panels import data_panel, results_panel
from components.services import store
from components.services.data_source import builtin_key, load_dataset, put_upload
from components.views import figures

PPM_1H = gp.Axis(np.linspace(4.3, 0.2, 4096), label="chemical shift", unit="ppm", reversed=True)


def _spectrum(axis: gp.Axis, peaks=((2.01, 3.0), (3.03, 2.0), (3.20, 1.5)), noise=0.05, seed=0) -> np.ndarray:
    ppm = np.asarray(axis.values)
    y = sum(a / (1 + ((ppm - c) / 0.02) ** 2) for c, a in peaks)
    return y + noise * np.random.default_rng(seed).standard_normal(ppm.size)


def _texts(fig) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_a_1h_ppm_axis_gets_its_usual_peaks_labelled_at_their_shifts():
    fig = figures.factor_figure(_spectrum(PPM_1H), PPM_1H, title="s", names=["x"], nucleus="1H")
    labels = {(a.text, a.x) for a in fig.layout.annotations}
    assert {("NAA", 2.01), ("Cr", 3.03), ("Cr", 3.92), ("Cho", 3.2), ("mI", 3.56), ("Lip", 0.9),
            ("Lip", 1.3)} == labels  # water (4.68) lies outside 0.2–4.3 ppm
    assert all(a.xref == "x" and a.yref == "y domain" and a.font.size <= 10 for a in fig.layout.annotations)
    assert len(fig.layout.shapes) == len(labels)  # one dotted guide per label
    top = max(np.max(t.y) for t in fig.data)
    assert fig.layout.yaxis.range[1] > top  # room above the highest peak for the labels


def test_no_labels_outside_the_range_on_other_axes_or_without_a_nucleus():
    high = gp.Axis(np.linspace(12.0, 5.0, 300), label="chemical shift", unit="ppm", reversed=True)
    assert figures.peak_labels(high, "1H") == []  # no 1H peak between 5 and 12 ppm
    assert _texts(figures.factor_figure(np.ones(300), high, title="s", names=["x"], nucleus="1H")) == []
    hz = gp.Axis(np.linspace(500, -500, 300), label="frequency", unit="Hz", reversed=True)
    assert figures.peak_labels(hz, "1H") == []
    assert figures.peak_labels(PPM_1H, None) == [] and figures.peak_labels(PPM_1H, "7Li") == []
    assert _texts(figures.factor_figure(_spectrum(PPM_1H), PPM_1H, title="s", names=["x"])) == []


def test_close_labels_go_to_separate_tiers():
    labels = figures.peak_labels(PPM_1H, "1H")
    tier = {(name, ppm): t for name, ppm, t in labels}
    assert tier[("Cr", 3.03)] != tier[("Cho", 3.2)]  # 0.17 ppm apart: they would overlap side by side
    assert max(tier.values()) < 3


def test_31p_and_13c_peaks_come_from_their_tables():
    csi = gp.datasets.csi_phantom(random_state=0)
    assert figures.nucleus_of(csi) == "31P"
    names = [name for name, *_ in figures.peak_labels(csi.rows, "31P")]
    assert {"PCr", "γ-ATP", "α-ATP", "β-ATP", "Pi"} <= set(names)
    carbon = gp.Axis(np.linspace(190.0, 155.0, 500), label="chemical shift", unit="ppm", reversed=True)
    assert figures.nucleus_from_ppm(155.0, 190.0) == "13C"
    assert sorted(ppm for _, ppm, _ in figures.peak_labels(carbon, "13C")) == [161.0, 171.0, 176.6, 179.4, 183.2]


@pytest.mark.parametrize("low, high, nucleus", [
    (0.2, 4.3, "1H"), (-15.0, 24.3, "1H"), (-20.0, 10.0, "31P"), (150.0, 190.0, "13C"), (20.0, 60.0, None),
])
def test_the_nucleus_is_guessed_from_the_ppm_range(low, high, nucleus):
    assert figures.nucleus_from_ppm(low, high) == nucleus


def test_the_readers_nucleus_note_wins_over_the_range():
    dataset = gp.Dataset(name="upload", title="t", X=np.ones((50, 2)),
                         rows=gp.Axis(np.linspace(10, -20, 50), unit="ppm", reversed=True),
                         cols=gp.Axis(np.arange(2.0)), truth=None, noise_var=1.0, rank=2,
                         description="NIfTI-MRS. Nucleus 1H at 297.2 MHz. FID → spectrum: …")
    assert figures.nucleus_of(dataset) == "1H"
    assert figures.nucleus_of(gp.datasets.paper_toy(random_state=0)) is None  # no ppm axis


def _upload(X, rows, cols, digest, description=""):
    session = store.new_session_id()
    dataset = gp.Dataset(name="upload", title="svs.nii", X=X, rows=rows, cols=cols, truth=None, noise_var=1.0,
                         rank=2, description=description)
    return put_upload(session, dataset, digest), session


def test_a_4096_point_spectrum_preview_is_a_line_of_at_most_4000_points_with_labels():
    X = np.stack([_spectrum(PPM_1H, seed=s) for s in range(2)], axis=1)
    key, session = _upload(X, PPM_1H, gp.Axis(np.arange(2.0), label="observation"), "4a" * 12,
                           "Nucleus 1H at 123.2 MHz.")
    signal, strength, summary = data_panel.show_preview(key, 0, session)
    (line,) = signal.data
    assert line.type == "scatter" and line.mode == "lines"  # never a one-row heat map
    assert np.size(line.y) <= figures.MAX_LINE_POINTS and max(line.y) == pytest.approx(X.max(axis=0).max(), rel=0.2)
    assert "envelope of 4096 points" in signal.layout.xaxis.title.text
    assert signal.layout.xaxis.autorange == "reversed" and "NAA" in _texts(signal)


def test_long_result_spectra_are_lines_with_labels_and_dynamics_amplitudes_lines_against_time():
    time = gp.Axis(np.arange(600) * 3.0, label="time", unit="s")
    rng = np.random.default_rng(0)
    D, H = rng.random((4096, 2)), rng.random((2, 600))
    dataset = gp.Dataset(name="upload", title="dyn", X=D @ H, rows=PPM_1H, cols=time, truth=None, noise_var=1.0,
                         rank=2, description="Nucleus 1H at 123.2 MHz.")
    fit = {"converged": True, "n_iter": 10, "runtime": 0.1}
    column = results_panel.method_column("gppnmf", fit, D, H, np.array([2.0, 1.0]), dataset, 0)
    signals, maps = column.children[2].figure, column.children[3].figure
    assert [t.type for t in signals.data] == ["scatter"] * 2 and "NAA" in _texts(signals)
    assert all(np.size(t.y) <= figures.MAX_LINE_POINTS for t in signals.data)
    assert [t.type for t in maps.data] == ["scatter"] * 2  # amplitude against time, one row per component
    assert np.asarray(maps.data[1].x)[-1] == pytest.approx(1797.0) and maps.layout.xaxis2.title.text == "time (s)"


def test_the_inspector_figure_has_the_data_each_fit_and_each_residual():
    x = _spectrum(PPM_1H)
    fits = {"gppnmf": 0.9 * x, "cnmf": 0.5 * x, "ls_nmf": np.zeros_like(x)}
    fig = figures.inspector_figure(x, fits, PPM_1H, title="Observation 3", nucleus="1H")
    assert [t.name for t in fig.data] == ["X", "GPP-NMF fit", "GPP-NMF residual", "CNMF fit", "CNMF residual",
                                          "LS-NMF fit", "LS-NMF residual"]
    residual = fig.data[4]
    assert residual.yaxis == "y2" and fig.data[3].yaxis == "y"  # residuals in the lower row
    keep = figures.envelope_indices(0.5 * x)
    np.testing.assert_allclose(residual.y, (0.5 * x)[keep])
    assert all(np.size(t.y) <= figures.MAX_LINE_POINTS for t in fig.data)
    assert fig.data[1].line.color == "#1f77b4" and "NAA" in _texts(fig)
    assert fig.layout.xaxis.autorange == "reversed" and fig.layout.xaxis2.title.text.startswith("chemical shift")


def _store_results(session, key, methods=("gppnmf", "cnmf")):
    dataset = load_dataset(key, session)
    rng = np.random.default_rng(1)
    K, L = dataset.X.shape
    arrays = {}
    for m in methods:
        arrays[f"{m}.D"], arrays[f"{m}.H"], arrays[f"{m}.trace"] = rng.random((K, 2)), rng.random((2, L)), np.ones(3)
    store.put(session, "results", arrays, {"dataset": key, "methods": list(methods)})
    return arrays, dataset


def test_the_inspector_callback_draws_the_chosen_observation_from_the_stored_results():
    session = store.new_session_id()
    arrays, csi = _store_results(session, builtin_key("csi_phantom"))
    figure, style, largest, box, message = results_panel.inspect_observation({"done": True}, 37, [], 4, session)
    assert style == results_panel.SHOWN and largest == 512 and message == ""
    assert figure.layout.title.text.startswith("Observation 37 of 512")
    np.testing.assert_array_equal(figure.data[0].y, csi.X[:, 36])
    np.testing.assert_allclose(figure.data[1].y, arrays["gppnmf.D"] @ arrays["gppnmf.H"][:, 36])
    np.testing.assert_allclose(figure.data[4].y, csi.X[:, 36] - arrays["cnmf.D"] @ arrays["cnmf.H"][:, 36])
    strongest = results_panel.inspect_observation({"done": True}, None, [], 4, session)[0]
    assert f"Observation {int(np.argmax(gp.signal_strength(csi.X))) + 1} " in strongest.layout.title.text


@pytest.mark.parametrize("forged", [0, 513, 2.5, "7", True, [3]])
def test_a_forged_observation_number_gets_a_message(forged):
    session = store.new_session_id()
    _store_results(session, builtin_key("csi_phantom"))
    figure, style, largest, box, message = results_panel.inspect_observation({"done": True}, forged, [], 4, session)
    assert figure is results_panel.no_update and message.className == "error" and "1 to 512" in message.children


def test_no_results_no_inspector():
    session = store.new_session_id()
    assert results_panel.inspect_observation({"done": True}, 3, [], 4, session)[1] == results_panel.HIDDEN
    assert results_panel.inspect_observation(None, 3, [], 4, session)[1] == results_panel.HIDDEN


def test_results_that_do_not_match_the_data_set_get_a_message():
    session = store.new_session_id()
    store.put(session, "results", {"gppnmf.D": np.ones((5, 2)), "gppnmf.H": np.ones((2, 3))},
              {"dataset": builtin_key("csi_phantom"), "methods": ["gppnmf"]})
    *_, message = results_panel.inspect_observation({"done": True}, 3, [], 4, session)
    assert "run the decomposition again" in message.children


def test_a_click_on_a_map_names_the_observation_under_it():
    grid = gp.Grid((8, 8, 8))
    # Slice 5 (index 4) of a 3-D grid, second component's tile (x offset 9): pixel row 2, column 6 → voxel (6, 2, 4).
    click = {"points": [{"x": 9 + 6, "y": 2, "z": 0.3}]}
    assert results_panel.observation_at(click, grid, 4, n_tiles=3) == np.ravel_multi_index((6, 2, 4), (8, 8, 8))
    assert results_panel.observation_at({"points": [{"x": 8, "y": 2}]}, grid, 4) is None  # the gap between tiles
    image = gp.Grid((4, 6))
    assert results_panel.observation_at({"points": [{"x": 7 + 5, "y": 3}]}, image, 0, n_tiles=2) == 3 * 6 + 5
    time = gp.Axis(np.arange(64) * 3.0, label="time", unit="s")
    assert results_panel.observation_at({"points": [{"x": 31.0, "y": 0.2}]}, time, 0) == 10
    for forged in (None, {}, {"points": []}, {"points": [{"x": "left"}]}, {"points": [{"x": float("nan")}]},
                   {"points": [{"x": 1, "y": 99}]}):
        assert results_panel.observation_at(forged, grid, 4) is None


def test_a_single_observation_is_flagged_before_run():
    X = _spectrum(PPM_1H)[:, None]
    key, session = _upload(X, PPM_1H, gp.Axis(np.arange(1.0), label="observation"), "5b" * 12)
    _, facts, _ = data_panel.show_dataset(key, session)
    notice = facts[0]
    assert notice.className == "notice" and "needs several observations" in notice.children
    assert "keep the dynamics" in notice.children and "CSI/MRSI or dynamic file" in notice.children
    heat = data_panel.show_dataset(key, session)[2]
    assert heat.data[0].type == "scatter" and heat.layout.title.text.endswith("X is 4096 × 1")
    _, csi_facts, _ = data_panel.show_dataset(builtin_key("csi_phantom"), None)
    assert all(getattr(li, "className", None) != "notice" for li in csi_facts)
