"""Downloads: results as .npz and CSV-in-zip, prior settings JSON out and strictly back in."""

import io
import json
import zipfile

import numpy as np
import pytest

import gppnmf_core as gp
from components.views import exports

TOY = gp.datasets.paper_toy(random_state=0)


def _stored():
    rng = np.random.default_rng(0)
    arrays, fits, scores = {}, {}, {}
    for method in ("gppnmf", "ls_nmf"):
        arrays[f"{method}.D"], arrays[f"{method}.H"] = rng.random((100, 2)), rng.random((2, 200))
        arrays[f"{method}.trace"] = np.array([3.0, 2.0, 1.5])
        fits[method] = {"objective": 1.5, "n_iter": 2, "converged": True, "runtime": 0.01, "message": "ok"}
        scores[method] = {"rmse_noisy": 5.0, "rmse_noise_free": 0.3, "rmse_factors": 0.2}
    meta = {"dataset": "builtin:paper_toy", "methods": ["gppnmf", "ls_nmf"], "rank": 2, "fits": fits,
            "scores": scores, "settings": {"job": {"rank": 2}}}
    return arrays, meta


def test_results_npz_holds_factors_axes_settings_and_metrics():
    arrays, meta = _stored()
    with np.load(io.BytesIO(exports.results_npz(arrays, meta, TOY)), allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["D_gppnmf"], arrays["gppnmf.D"])
        np.testing.assert_array_equal(npz["H_ls_nmf"], arrays["ls_nmf.H"])
        np.testing.assert_array_equal(npz["feature_axis"], TOY.rows.values)
        assert json.loads(str(npz["settings_json"])) == {"job": {"rank": 2}}  # no priors: the job's settings only
        assert json.loads(str(npz["metrics_json"]))["scores"]["gppnmf"]["rmse_noise_free"] == 0.3


def test_results_zip_has_readable_csv_files():
    arrays, meta = _stored()
    with zipfile.ZipFile(io.BytesIO(exports.results_zip(arrays, meta, TOY))) as archive:
        names = set(archive.namelist())
        assert {"README.txt", "settings.json", "metrics.csv", "gppnmf_D.csv", "gppnmf_H.csv",
                "ls_nmf_objective.csv"} <= names
        D = np.loadtxt(io.StringIO(archive.read("gppnmf_D.csv").decode()), delimiter=",", skiprows=1)
        np.testing.assert_allclose(D[:, 1:], arrays["gppnmf.D"])
        np.testing.assert_allclose(D[:, 0], TOY.rows.values)
        metrics = archive.read("metrics.csv").decode().splitlines()
        assert metrics[0].startswith("method,rmse_noisy,rmse_noise_free,rmse_factors")
        assert metrics[1].startswith("GPP-NMF,5.0,0.3,0.2")


def test_prior_settings_round_trip():
    specs = {"dataset": "builtin:paper_toy", "noise_var": 25.0,
             "D": gp.GPPrior(gp.RBF(10.0), gp.RectifiedGaussianLink(1.0)).to_spec(),
             "H": gp.GPPrior(gp.Matern52(3.0), gp.ExponentialLink(2.0), grid=(8, 8), mirror_axis=0).to_spec()}
    text = exports.prior_settings_json(specs)
    assert json.loads(text)["version"] == 2 and json.loads(text)["H"]["link"] == {"name": "exponential", "lam": 2.0}
    back = exports.parse_prior_settings(text.encode())
    assert back == {"D": specs["D"], "H": specs["H"], "noise_var": 25.0, "beta_units": {}}
    units = {"D": "index steps", "H": "voxel"}
    back = exports.parse_prior_settings(exports.prior_settings_json(specs, units).encode())
    assert back["beta_units"] == units


def test_settings_saved_in_ppm_warn_when_loaded_onto_index_data():
    from components.panels import prior_panel
    from components.services.data_source import builtin_key, load_dataset

    csi, toy = load_dataset(builtin_key("csi_phantom")), load_dataset(builtin_key("paper_toy"))
    saved = {"D": "ppm", "H": "voxel"}
    settings = {f: gp.GPPrior(gp.RBF(beta), gp.ExponentialLink()).to_spec() for f, beta in (("D", 0.3), ("H", 2.0))}
    assert prior_panel.unit_warnings(saved, csi, settings) == []
    warnings = prior_panel.unit_warnings(saved, toy, settings)
    assert warnings[0] == "β of D was saved in ppm and is now read as 0.3 index steps"


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not json", "not a JSON file"),
        (b"\xff\xfe", "not a JSON file"),
        (b'{"D": {}}', "not a prior settings file"),
        (b'{"format": "gppnmf-studio-prior", "version": 9}', "unsupported settings version"),
        (b'{"format": "gppnmf-studio-prior", "version": 1, "D": {"kernel": "os.system", "link": "exponential", '
         b'"scale": 1, "beta": 1}}', r"D: prior spec: kernel.name must be one of"),
        (json.dumps({"format": "gppnmf-studio-prior", "version": 1, "noise_var": 1,
                     "D": {"kernel": "rbf", "beta": 0, "link": "exponential", "scale": 1},
                     "H": {"kernel": "rbf", "beta": 1, "link": "exponential", "scale": 1}}).encode(),
         r"D: prior spec: kernel.beta must be a positive number, got 0"),
        (json.dumps({"format": "gppnmf-studio-prior", "version": 2, "noise_var": 1,
                     "D": {"kernel": {"name": "rbf"}, "link": {"name": "gamma", "k": -2}},
                     "H": {"kernel": {"name": "rbf"}, "link": {"name": "gamma"}}}).encode(),
         r"D: prior spec: link.k must be a positive number, got -2"),
        (json.dumps({"format": "gppnmf-studio-prior", "version": 2, "noise_var": 1, "colour": "red",
                     "D": {"kernel": {"name": "rbf"}, "link": {"name": "gamma"}},
                     "H": {"kernel": {"name": "rbf"}, "link": {"name": "gamma"}}}).encode(),
         r"unknown field\(s\) \['colour'\]"),
        (b" " * 70000, "a settings file is a few hundred bytes"),
    ],
)
def test_bad_settings_files_are_refused_with_a_reason(data, message):
    with pytest.raises(ValueError, match=message):
        exports.parse_prior_settings(data)


@pytest.mark.parametrize("depth", [9, 990, 30_000])
def test_deeply_nested_settings_are_refused_before_parsing(depth):
    data = b"[" * depth + b"]" * depth
    with pytest.raises(ValueError, match=f"nested {depth} levels deep"):
        exports.parse_prior_settings(data)
    assert exports.nesting_depth(b'{"D": {"beta": [1, 2]}, "s": "x"}') == 3
