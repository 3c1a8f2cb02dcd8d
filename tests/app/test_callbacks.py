"""Callbacks called as plain functions, and the job runner without Dash."""

import json

import numpy as np
import pytest

import app  # noqa: F401 - binds the cache the callbacks use
import gppnmf_core as gp
from components.jobs import compute
from components.panels import data_panel, prior_panel, results_panel
from components.services import store
from components.services.data_source import builtin_key, load_dataset
from components.views.specs import controls_of, factor_axis, prior_for
from gppnmf_core.plotting.alignment import align_results, score_results

CSI = builtin_key("csi_phantom")
TOY = builtin_key("paper_toy")


def _paper_specs(key=CSI, preset="paper"):
    p = load_dataset(key).presets[preset]
    return {"dataset": key, "D": p.prior_D.to_spec(), "H": p.prior_H.to_spec(), "noise_var": p.noise_var}


def test_picking_a_builtin_selects_it_and_shows_description_facts_and_heatmap():
    key = data_panel.pick_builtin("csi_phantom")
    assert key == CSI and data_panel.pick_builtin(None) is data_panel.no_update
    description, facts, fig = data_panel.show_dataset(key, store.new_session_id())
    assert "31P" in description or "CSI" in description
    texts = [li.children for li in facts]
    assert any("8 × 8 × 8 voxel grid" in t for t in texts)
    assert fig.data[0].type == "heatmap"


def test_presets_round_trip_through_the_page_spec():
    for key, preset in ((CSI, "paper"), (TOY, "correct"), (TOY, "incorrect")):
        dataset = load_dataset(key)
        p = dataset.presets[preset]
        for f, prior in (("D", p.prior_D), ("H", p.prior_H)):
            again = prior_for(prior.to_spec(), factor_axis(dataset, f), f)
            assert again.to_spec() == prior.to_spec()


def test_offer_presets_sets_ranges_in_the_data_units():
    ids = [{"type": "param-slider", "factor": f, "name": n} for f, n in prior_panel.PARAMS]
    mirror_ids = [{"type": "mirror", "factor": "D"}, {"type": "mirror", "factor": "H"}]
    options, value, mins, maxs, marks, mirrors = prior_panel.offer_presets(CSI, ids, mirror_ids)
    assert value == "paper" and {"label": "paper", "value": "paper"} in options
    # β for spectra in ppm: 0.3 ppm inside the range; λ_H = 2e-4 inside its range.
    assert mins[0] <= np.log10(0.3) <= maxs[0]
    assert mins[3] <= np.log10(2e-4) <= maxs[3]
    assert mirrors[0][0]["disabled"] and not mirrors[1][0]["disabled"]


def _collect(specs, preset=None, loaded=None, **override):
    """collect_prior_specs for controls that show ``specs`` (with ``override`` typed in boxes: "H-beta": 3)."""
    shown = {f: controls_of(specs[f]) for f in ("D", "H")}
    kernel, link = [shown["D"]["kernel"], shown["H"]["kernel"]], [shown["D"]["link"], shown["H"]["link"]]
    mirror = [["mirror"] if shown[f]["mirror"] else [] for f in ("D", "H")]
    values = {"D-beta": shown["D"]["beta"], "D-scale": shown["D"]["scale"], "H-beta": shown["H"]["beta"],
              "H-scale": shown["H"]["scale"], "noise-var": specs["noise_var"], **override}
    param_ids = [{"type": "param-input", "factor": f, "name": n} for f, n in prior_panel.PARAMS]
    factor_ids = [{"type": "kernel", "factor": "D"}, {"type": "kernel", "factor": "H"}]
    params = [values[f"{i['factor']}-{i['name']}"] for i in param_ids]
    return prior_panel.collect_prior_specs(specs["dataset"], kernel, link, mirror, params, factor_ids, param_ids,
                                           None, preset, loaded)


def test_collect_prior_specs_and_the_message_for_a_zero_beta():
    specs = _paper_specs()
    collected, message, classes, field_messages, description, notes = _collect(specs, "paper")
    assert message == "" and collected == specs and set(classes) == {"number"} and set(field_messages) == {""}
    assert description == load_dataset(CSI).presets["paper"].description and notes == ["", ""]
    kept, message, classes, field_messages, *_ = _collect(specs, **{"H-beta": 0})
    assert kept is None  # Run waits: it never fits the last valid β while the box shows 0
    assert "Fix the marked value" in message.children and message.className == "error"
    beta_H = [i for i, (f, n) in enumerate(prior_panel.PARAMS) if (f, n) == ("H", "beta")][0]
    assert classes[beta_H] == "number invalid" and classes.count("number invalid") == 1
    assert "length scale β of H must be a positive number" in field_messages[beta_H]
    kept, message, classes, field_messages, *_ = _collect(specs, **{"noise-var": -1})
    assert kept is None and "noise variance σ²" in field_messages[-1]


@pytest.mark.parametrize("typed, read", [("1,5", 1.5), ("1.5", 1.5), ("2e-4", 2e-4), (" 3 ", 3.0)])
def test_typed_numbers_are_read_as_written(typed, read):
    collected, *_ = _collect(_paper_specs(), **{"H-beta": typed})
    assert collected["H"]["kernel"] == {"name": "rbf", "beta": read}


@pytest.mark.parametrize("typed", ["1,5,3", "1,500.5", "abc", "", "NaN", "-2"])
def test_typed_text_that_is_not_a_positive_number_is_refused_at_its_box(typed):
    collected, _, classes, field_messages, *_ = _collect(_paper_specs(), **{"D-scale": typed})
    assert collected is None and classes[1] == "number invalid" and "link parameter of D" in field_messages[1]


def test_the_preset_description_says_when_the_controls_were_edited():
    _, _, _, _, description, _ = _collect(_paper_specs(), "paper", **{"H-beta": 3})
    assert description.startswith("Edited from 'paper'") and "H: β 2 → 3" in description and "Reset" in description
    ids = [{"type": "kernel", "factor": "D"}, {"type": "kernel", "factor": "H"}]
    param_ids = [{"type": "param-input", "factor": f, "name": n} for f, n in prior_panel.PARAMS]
    kernels, links, mirrors, params, loaded = prior_panel.apply_preset("paper", 1, CSI, ids, param_ids)  # Reset
    assert params == [0.3, 1.0, 2.0, 0.0002, 1e8] and mirrors == [[], ["mirror"]]
    paper = _paper_specs()
    assert loaded == {f: paper[f] for f in ("D", "H", "noise_var")}


def test_draw_prior_samples_for_the_csi_phantom():
    *figs, message, drawn = prior_panel.draw_prior_samples(_paper_specs(), 0)
    samples_D, samples_H, hist_D, hist_H, simulated = figs
    assert message == "" and samples_D.layout.title.text == "Prior samples of D"  # 397 points: drawn at every one
    assert len(samples_D.data) == 3 and samples_D.layout.xaxis.title.text == "chemical shift (ppm)"
    maps = samples_H.data[0].z
    assert maps.shape == (38, 38)  # two samples × two rows of four slices
    tile = maps[:8, :8]
    np.testing.assert_array_equal(tile, tile[:, ::-1])  # left-right symmetric (drawn across)
    X_shown, simulation = simulated.data  # the prior check: the data beside the simulation, same points
    assert X_shown.name == "X (the data)" and simulation.name == "simulated from the prior"
    rows = prior_panel.strided_points(397, prior_panel.PRIOR_CHECK_ROWS)  # no more cells than the card shows
    cols = prior_panel.strided_points(512, prior_panel.PRIOR_CHECK_COLS)
    np.testing.assert_allclose(X_shown.z, load_dataset(CSI).X[np.ix_(rows, cols)], rtol=1e-6)  # float32 on the wire
    assert simulation.z.shape == (rows.size, cols.size) == (199, 256) and not np.allclose(simulation.z, X_shown.z)
    assert "(199 × 256 of its 397 × 512 points)" in simulated.layout.title.text
    other_seed = prior_panel.draw_prior_samples(_paper_specs(), 1)[0]
    assert not np.array_equal(other_seed.data[0].y, samples_D.data[0].y)
    assert set(drawn) == {"D", "H", "check"}


def test_the_prior_check_is_a_regular_image_on_regular_axes():
    """Every k-th point, one k: on the phantom's regular ppm axis and voxel index the cells are evenly spaced, so
    plotly paints each map as one image (unevenly spaced cells are painted one rectangle at a time, 5× slower)."""
    np.testing.assert_array_equal(prior_panel.strided_points(397, 200), np.arange(0, 397, 2))
    np.testing.assert_array_equal(prior_panel.strided_points(100, 200), np.arange(100))
    points = prior_panel.strided_points(401, 200)
    assert points.size == 134 and set(np.diff(points)) == {3}
    simulated = prior_panel.draw_prior_samples(_paper_specs(), 0)[4]
    for trace in simulated.data:
        for values in (np.asarray(trace.x), np.asarray(trace.y)):
            steps = np.diff(values)
            assert np.allclose(steps, steps[0], rtol=1e-9), "cells unevenly spaced: plotly paints them one by one"


def _changed(specs, path, value):
    factor, *keys = path.split(".")
    out = json.loads(json.dumps(specs))
    if not keys:
        out[factor] = value
        return out
    node = out[factor]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return out


def test_a_redraw_draws_only_the_figures_whose_settings_changed():
    """D's slider redraws D's samples, its histogram and the prior check, and leaves H's figures as they are; σ²
    the prior check only; a new seed or data set everything. ``drawn`` (what the page shows) comes back each time."""
    specs = _paper_specs()
    *everything, _, drawn = prior_panel.draw_prior_samples(specs, 0, None, None)
    assert all(f is not prior_panel.no_update for f in everything)
    nothing = prior_panel.no_update
    beta = specs["D"]["kernel"]["beta"]
    cases = {
        "D.kernel.beta": (beta * 1.1, (True, False, True, False, True)),
        "H.link.lam": (specs["H"]["link"]["lam"] * 2, (False, True, False, True, True)),
        "noise_var": (specs["noise_var"] * 2, (False, False, False, False, True)),
    }
    for path, (value, redrawn) in cases.items():
        *figs, message, keys = prior_panel.draw_prior_samples(_changed(specs, path, value), 0, None, drawn)
        assert message == "" and [f is not nothing for f in figs] == list(redrawn), path
        groups = ("D", "H", "D", "H", "check")  # the group of each figure, in output order
        assert {g for g in keys if keys[g] != drawn[g]} == {g for g, on in zip(groups, redrawn, strict=True) if on}
    *figs, _, keys = prior_panel.draw_prior_samples(specs, 0, None, drawn)
    assert figs == [nothing] * 5 and keys == drawn  # nothing changed: nothing redrawn, and the relay is freed
    assert all(f is not nothing for f in prior_panel.draw_prior_samples(specs, 1, None, drawn)[:5])  # new seed
    moved = prior_panel.draw_prior_samples(_changed(specs, "D.kernel.beta", beta * 1.1), 0, None, drawn)
    np.testing.assert_array_equal(moved[4].data[0].z, everything[4].data[0].z)  # the data X stays X
    assert not np.array_equal(moved[4].data[1].z, everything[4].data[1].z)  # the simulation follows D
    for forged in ("x", ["D"], {"D": 1}, {"D": drawn["H"], "H": drawn["D"]}):  # the browser holds it: no trust
        *figs, _, _ = prior_panel.draw_prior_samples(specs, 0, None, forged)
        assert sum(f is not nothing for f in figs) >= 4


def test_run_decomposition_aligns_and_scores_every_method():
    dataset = load_dataset(TOY)
    specs = _paper_specs(TOY, "correct")
    priors = [prior_for(specs[f], factor_axis(dataset, f), f) for f in ("D", "H")]
    reports = []
    settings = compute.JobSettings(methods=("gppnmf", "cnmf", "ls_nmf"), rank=2, max_iter=500, tol=1e-6,
                                n_replicates=1, noise_var=25.0)
    results = compute.run_decomposition(dataset, *priors, settings, report=lambda f, t: reports.append((f, t)))
    assert list(results) == ["gppnmf", "cnmf", "ls_nmf"]
    assert reports[0] == (0.0, "GPP-NMF (1/3): starting") and reports[-1] == (1.0, "done")
    assert all(0 <= f <= 1 for f, _ in reports)
    factors = align_results(results, dataset)
    scores = score_results(results, dataset)
    assert scores["gppnmf"]["rmse_noise_free"] < scores["cnmf"]["rmse_noise_free"] < scores["ls_nmf"]["rmse_noise_free"]
    for method, (D, H) in factors.items():
        np.testing.assert_allclose(D @ H, results[method].D @ results[method].H, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(rank=101), "rank must be a whole number from 1 to 20 for data of size 100 × 200 on this server"),
        (dict(rank=0), "rank"),
        (dict(methods=()), "choose at least one method"),
        (dict(max_iter=0), "iterations"),
        (dict(n_replicates=50), "replicates"),
        (dict(tol=float("nan")), "tolerance"),
    ],
)
def test_bad_job_settings_are_explained(change, message):
    settings = dict(methods=("gppnmf",), rank=2, max_iter=10, tol=1e-6, n_replicates=1, noise_var=25.0)
    settings.update(change)
    with pytest.raises(ValueError, match=message):
        compute.check_settings(load_dataset(TOY), compute.JobSettings(**settings))


def test_store_keeps_sessions_apart_and_refuses_bad_ids():
    a, b = store.new_session_id(), store.new_session_id()
    store.put(a, "results", {"x": np.arange(3.0)}, {"who": "a"})
    assert store.get(b, "results") is None
    arrays, meta = store.get(a, "results")
    np.testing.assert_array_equal(arrays["x"], np.arange(3.0))
    assert meta == {"who": "a"}
    unsigned = a.split(".")[0] + "." + "0" * 32  # a well-formed id this server did not sign
    for forged in ("../../etc", a.split(".")[0], unsigned, a + "\n", None, 7):
        with pytest.raises(ValueError, match="session is not valid"):
            store.get(forged, "results")


def test_show_results_draws_columns_and_the_rmse_chart():
    session = store.new_session_id()
    dataset = load_dataset(CSI)
    specs = _paper_specs()
    priors = [prior_for(specs[f], factor_axis(dataset, f), f) for f in ("D", "H")]
    settings = compute.JobSettings(methods=("gppnmf", "ls_nmf"), rank=2, max_iter=300, tol=1e-6, n_replicates=1,
                                noise_var=1e8)
    from components.panels.decompose_panel import _store_results

    _store_results(session, CSI, dataset, settings, compute.run_decomposition(dataset, *priors, settings))
    columns, rmse, rmse_style, placeholder_style, downloads, message = results_panel.show_results(
        {"error": None}, 4, session)
    assert len(columns) == 2 and rmse_style == results_panel.SHOWN == downloads and message == ""
    assert [t.name for t in rmse.data] == ["GPP-NMF", "LS-NMF"]
    maps = columns[0].children[3].figure
    assert maps.data[0].z.shape == (2 * 9 - 1, 2 * 9 - 1)  # the estimates, the truth under them
    error = results_panel.show_results({"error": "rank must be ..."}, 4, session)
    assert error[0] == [] and error[-1].children == "⚠ rank must be ..."
    expired = results_panel.show_results({"error": None}, 4, store.new_session_id())
    assert "expired" in expired[-1].children


def test_builtin_keys_only():
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("file:/etc/passwd")
    assert json.dumps(_paper_specs())  # specs are JSON-able as they travel through dcc.Store
    assert isinstance(load_dataset(TOY), gp.Dataset)


def test_voxel_mask_leaves_low_energy_observations_out_of_the_fit():
    dataset = load_dataset(CSI)
    include = gp.included_observations(dataset.X, 20)
    noise_only = dataset.truth.H.sum(axis=0) == 0
    assert not include[noise_only].any()  # every noise-only voxel outside the head is left out
    assert include.sum() > 150
    specs = _paper_specs()
    priors = [prior_for(specs[f], factor_axis(dataset, f), f) for f in ("D", "H")]
    settings = compute.JobSettings(methods=("gppnmf", "cnmf"), rank=2, max_iter=300, tol=1e-6, n_replicates=1,
                                noise_var=1e8, mask_threshold=20)
    results = compute.run_decomposition(dataset, *priors, settings)
    H = results["cnmf"].H
    left_out = H[:, ~include]  # no data, no amplitude: CNMF's positivity floor, far below any fitted value
    assert np.ptp(left_out) == 0 and left_out.max() <= 1e-6 * H[:, include].max()
    maps = results["gppnmf"].H.reshape(2, 8, 8, 8)
    np.testing.assert_array_equal(maps, maps[:, ::-1])  # the prior still fills left-out voxels symmetrically
    with pytest.raises(ValueError, match="the voxel mask keeps"):
        compute.check_settings(dataset, compute.JobSettings(methods=("cnmf",), rank=2, max_iter=10, tol=0,
                                                      n_replicates=1, noise_var=1.0, mask_threshold=100.5))


def test_an_upload_key_only_opens_for_its_own_session():
    from components.services.data_source import put_upload

    alice, bob = store.new_session_id(), store.new_session_id()
    key = put_upload(alice, load_dataset(TOY), "abc123" * 4)
    assert alice.split(".")[0] not in key  # the key names no session: safe to show and to export
    assert load_dataset(key, alice).X.shape == (100, 200)
    with pytest.raises(ValueError, match="expired"):
        load_dataset(key, bob)
    with pytest.raises(ValueError, match="own session"):
        load_dataset(key)
    assert store.get(bob, "dataset-" + "abc123" * 4) is None


def test_preview_shows_the_strongest_signal_and_blanks_masked_voxels():
    description, facts, fig = data_panel.show_dataset(CSI, None)
    signal, strength, summary = data_panel.show_preview(CSI, 20, None)
    assert signal.layout.xaxis.title.text == "chemical shift (ppm)"
    assert np.isnan(strength.data[0].z).any() and "of 512 observations take part" in summary


def test_an_expired_upload_is_explained_in_the_data_panel():
    key = "upload:" + "ab12" * 6  # well formed, but this session holds no such upload
    session = store.new_session_id()
    description, facts, heatmap = data_panel.show_dataset(key, session)
    assert "upload it again" in description.children and description.className == "error"
    assert facts == [] and heatmap is data_panel.no_update
    *figures, summary = data_panel.show_preview(key, 10, session)
    assert figures == [data_panel.no_update] * 2 and "upload it again" in summary.children


def test_figure_format_reaches_every_camera_button():
    static, results = results_panel.set_figure_format("svg", [{"type": "result-signals", "method": "cnmf"}], [], [])
    assert all(c["toImageButtonOptions"]["format"] == "svg" for c in static)
    assert len(static) == len(results_panel.STATIC_GRAPHS) and len(results[0]) == 1 and results[1] == []


def test_loading_a_settings_file_sets_every_control():
    import base64

    from components.views import exports

    specs = _paper_specs()
    payload = "data:application/json;base64," + base64.b64encode(exports.prior_settings_json(specs).encode()).decode()
    factor_ids = [{"type": "kernel", "factor": "D"}, {"type": "kernel", "factor": "H"}]
    param_ids = [{"type": "param-input", "factor": f, "name": n} for f, n in prior_panel.PARAMS]
    kernels, links, mirrors, params, loaded, message = prior_panel.load_prior_settings(payload, "p.json", factor_ids,
                                                                                       param_ids)
    assert kernels == ["rbf", "rbf"] and mirrors == [[], ["mirror"]] and params == [0.3, 1.0, 2.0, 0.0002, 1e8]
    assert loaded == {f: specs[f] for f in ("D", "H", "noise_var")}
    assert message.children == "Loaded p.json: every control is set from it."
    bad = prior_panel.load_prior_settings("data:,bm90IGpzb24=", "x.json", factor_ids, param_ids)
    assert "x.json" in bad[-1].children and bad[-1].className == "error"
