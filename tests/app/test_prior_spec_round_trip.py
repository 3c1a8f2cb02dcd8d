"""One prior spec everywhere (issue 11): the page's state, the job request, the stored result, its download and the
settings file loaded back all hold the core's spec, unchanged, for every kernel, link and per-axis setting."""

import base64
import dataclasses
import io
import json
import zipfile

import numpy as np
import pytest

import app  # noqa: F401 - binds the store the callbacks use
import gppnmf_core as gp
from components.jobs import compute
from components.panels import prior_panel
from components.services import store
from components.services.data_source import builtin_key, load_dataset
from components.views import exports
from components.views.specs import factor_axis

CSI = builtin_key("csi_phantom")  # D on a 397-point ppm axis, H on an 8 × 8 × 8 voxel grid
FACTOR_IDS = [{"type": "kernel", "factor": "D"}, {"type": "kernel", "factor": "H"}]
PARAM_IDS = [{"type": "param-input", "factor": f, "name": n} for f, n in prior_panel.PARAMS]
GRID = (8, 8, 8)

KERNELS = [gp.RBF(0.3), gp.Matern32(0.25), gp.Matern52(0.123456789), gp.Exponential(0.4),
           gp.Periodic(beta=0.5, period=5.0), gp.White()]
LINKS = [gp.ExponentialLink(3.0), gp.RectifiedGaussianLink(2.0), gp.GammaLink(k=2.0, theta=0.5)]

#: (prior of D on the ppm axis, prior of H on the grid): every kernel and every link on each factor, per-axis
#: kernels, every mirror axis, every structure and square-root method the core has.
CASES = (
    [(gp.GPPrior(k, LINKS[i % 3]), gp.GPPrior(k, LINKS[(i + 1) % 3], grid=GRID)) for i, k in enumerate(KERNELS)]
    + [(gp.GPPrior(KERNELS[0], link), gp.GPPrior(KERNELS[1], link, grid=GRID, mirror_axis=0)) for link in LINKS]
    + [(gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0), structure="dense", sqrt_method="cholesky"),
        gp.GPPrior([gp.Periodic(beta=2.0, period=5.0), gp.RBF(2.0), gp.Matern32(3.0)], gp.GammaLink(k=3.0, theta=2.0),
                   grid=GRID, mirror_axis=axis, structure=structure))
       for axis, structure in ((None, "kronecker"), (1, "dense"), (2, "auto"))]
    + [(gp.GPPrior(gp.Matern52(0.3), gp.ExponentialLink(2.5), structure="circulant"),
        gp.GPPrior([gp.White(), gp.RBF(1.5), gp.RBF(1.5)], gp.RectifiedGaussianLink(0.7), grid=GRID,
                   sqrt_method="cholesky"))]
)
IDS = [f"{d!r} | {h!r}" for d, h in CASES]


def _payload(text: str) -> str:
    return "data:application/json;base64," + base64.b64encode(text.encode()).decode()


def _loaded_page_specs(settings_text: str, filename: str = "settings.json"):
    """Upload a settings document into the prior designer: (the page's prior-specs, the load message, the notes
    beside the factors' controls)."""
    *controls, loaded, message = prior_panel.load_prior_settings(_payload(settings_text), filename, FACTOR_IDS,
                                                                 PARAM_IDS, CSI)
    kernels, links, mirrors, params = controls
    specs, problem, _, field_messages, _, notes = prior_panel.collect_prior_specs(
        CSI, kernels, links, mirrors, params, FACTOR_IDS, PARAM_IDS, None, "paper", loaded)
    assert problem == "" and set(field_messages) == {""}, (problem, field_messages)
    return specs, message, notes


def _stored_result(page_specs, token):
    """The job request the Run button sends for ``page_specs``, run (LS-NMF only: it does not bind the priors) and
    stored as a job stores it; (the priors prepare built, the stored meta, the stored arrays)."""
    settings = compute.JobSettings(methods=("ls_nmf",), rank=2, max_iter=2, tol=0.0, n_replicates=1,
                                   noise_var=page_specs["noise_var"])
    request = json.loads(json.dumps({"specs": page_specs, "settings": dataclasses.asdict(settings)}))  # a job record
    dataset, prior_D, prior_H, settings = compute.prepare(request, token)
    results = compute.run_decomposition(dataset, prior_D, prior_H, settings)
    meta = compute.store_results(token, CSI, dataset, settings, results, request["specs"])
    return (prior_D, prior_H), meta, store.get(token, "results")[0]


@pytest.mark.parametrize("prior_D, prior_H", CASES, ids=IDS)
def test_page_job_result_download_and_upload_keep_the_spec(prior_D, prior_H):
    dataset = load_dataset(CSI)
    specs = {"D": prior_D.to_spec(), "H": prior_H.to_spec(), "noise_var": 123456.789}
    page, _, _ = _loaded_page_specs(exports.prior_settings_json(specs, {"D": "ppm", "H": "voxel"}))
    assert {f: page[f] for f in ("D", "H", "noise_var")} == specs and page["dataset"] == CSI

    token = store.new_session_id()
    priors, meta, arrays = _stored_result(page, token)
    assert [p.to_spec() for p in priors] == [specs["D"], specs["H"]]
    assert {f: meta["settings"]["priors"][f] for f in ("D", "H", "noise_var")} == specs

    with zipfile.ZipFile(io.BytesIO(exports.results_zip(arrays, meta, dataset))) as archive:
        downloaded = archive.read("settings.json").decode()
    with np.load(io.BytesIO(exports.results_npz(arrays, meta, dataset)), allow_pickle=False) as npz:
        assert json.loads(str(npz["settings_json"])) == json.loads(downloaded)
    doc = json.loads(downloaded)
    assert doc["data"] == dataset.title and doc["job"]["rank"] == 2
    # a downloaded result's settings load with the core alone
    assert gp.GPPrior.from_spec(doc["D"], coords=factor_axis(dataset, "D").values).to_spec() == specs["D"]
    assert gp.GPPrior.from_spec(doc["H"], grid=GRID).to_spec() == specs["H"]

    again, _, _ = _loaded_page_specs(downloaded, "results-settings.json")
    assert again == page


def test_settings_the_controls_cannot_show_are_kept_and_said_so_until_a_control_changes():
    H = gp.GPPrior([gp.Periodic(beta=2.0, period=5.0), gp.RBF(2.0), gp.RBF(2.0)], gp.GammaLink(k=2.0, theta=3.0),
                   grid=GRID, mirror_axis=1).to_spec()
    D = gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0)).to_spec()
    text = exports.prior_settings_json({"D": D, "H": H, "noise_var": 1e8})
    page, message, notes = _loaded_page_specs(text, "h.json")
    assert page["H"] == H and page["D"] == D
    assert "Kept as it is" in message.children and "period 5" in message.children
    assert notes[0] == ""
    assert notes[1].startswith("Kept as loaded: kernels per axis [periodic β 2 period 5 | rbf β 2 | rbf β 2], "
                               "gamma link k 2 θ 3")
    assert "gamma k 2 θ 3" in notes[1] and "mirror_axis 1" in notes[1]

    # the H controls show the nearest they can (RBF β 2, exponential link of the same mean, no mirror on axis 0)
    *controls, loaded, _ = prior_panel.load_prior_settings(_payload(text), "h.json", FACTOR_IDS, PARAM_IDS, CSI)
    kernels, links, mirrors, params = controls
    assert kernels == ["rbf", "rbf"] and links == ["exponential", "exponential"] and mirrors == [[], []]
    assert params[PARAM_IDS.index({"type": "param-input", "factor": "H", "name": "scale"})] == 0.167  # 1 / mean
    # ... and moving one of them replaces the kept prior by what they show
    params[PARAM_IDS.index({"type": "param-input", "factor": "H", "name": "beta"})] = 3.0
    edited, _, _, _, description, notes = prior_panel.collect_prior_specs(
        CSI, kernels, links, mirrors, params, FACTOR_IDS, PARAM_IDS, None, "paper", loaded)
    assert edited["D"] == D and notes == ["", ""]
    assert edited["H"]["kernel"] == {"name": "rbf", "beta": 3.0} and edited["H"]["mirror_axis"] is None


def test_a_preset_keeps_beta_to_every_digit_while_its_boxes_show_three():
    ids = FACTOR_IDS
    kernels, links, mirrors, params, loaded = prior_panel.apply_preset("incorrect", None, builtin_key("paper_toy"),
                                                                       ids, PARAM_IDS)
    assert params[0] == 3.16  # what the box shows
    specs, *_ = prior_panel.collect_prior_specs(builtin_key("paper_toy"), kernels, links, mirrors, params, ids,
                                                PARAM_IDS, None, "incorrect", loaded)
    assert specs["D"] == load_dataset(builtin_key("paper_toy")).presets["incorrect"].prior_D.to_spec()
    assert specs["D"]["kernel"]["beta"] == 10 ** 0.5


def test_settings_files_of_earlier_versions_load_converted_once():
    old = json.dumps({"format": "gppnmf-studio-prior", "version": 1, "noise_var": 1e8,
                      "beta_units": {"D": "ppm", "H": "voxel"},
                      "D": {"kernel": "rbf", "beta": 0.3, "link": "exponential", "scale": 1.0, "mirror": False},
                      "H": {"kernel": "matern32", "beta": 2.0, "link": "rectified_gaussian", "scale": 5.0,
                            "mirror": True}})
    page, message, notes = _loaded_page_specs(old, "old.json")
    assert page["D"] == gp.GPPrior(gp.RBF(0.3), gp.ExponentialLink(1.0)).to_spec()
    assert page["H"] == gp.GPPrior(gp.Matern32(2.0), gp.RectifiedGaussianLink(5.0), grid=GRID, mirror_axis=0).to_spec()
    assert message.children == "Loaded old.json: every control is set from it." and notes == ["", ""]
