"""Callbacks called as functions with values a forged request could carry: each answers with a message in its own
panel, changes nothing else, and raises nothing."""

import base64

import pytest

import app  # noqa: F401 - configures the session secret
from components.panels import data_panel, prior_panel
from components.services import store
from components.services.data_source import builtin_key, load_dataset
from components.views import exports

CSI = builtin_key("csi_phantom")
FACTOR_IDS = [{"type": "kernel", "factor": "D"}, {"type": "kernel", "factor": "H"}]
PARAM_IDS = [{"type": "param-input", "factor": f, "name": n} for f, n in prior_panel.PARAMS]
NESTED = "[" * 990 + "]" * 990
HUGE_NAME = "rbf" * 300_000


def _nested_list(depth: int) -> list:
    nested = []
    for _ in range(depth):
        nested = [nested]
    return nested


def _paper_specs():
    p = load_dataset(CSI).presets["paper"]
    return {"dataset": CSI, "D": p.prior_D.to_spec(), "H": p.prior_H.to_spec(), "noise_var": p.noise_var}


def _with(path: str, value) -> dict:
    """The paper's specs with one field (``"D.kernel.beta"``, ``"noise_var"``) replaced."""
    specs = _paper_specs()
    *parents, last = path.split(".")
    target = specs
    for part in parents:
        target = target[part]
    target[last] = value
    return specs


def _is_message(span) -> bool:
    return getattr(span, "className", None) == "error" and len(span.children) < 400


FORGED_SPECS = [
    ["a", "list"], "a string", 42, {"dataset": CSI}, {"dataset": ["x"], "D": {}, "H": {}, "noise_var": 1},
    _with("D", [1, 2]), _with("D.kernel", "os.system"), _with("H.link", None), _with("D.kernel", HUGE_NAME),
    _with("D.kernel.beta", "NaN"), _with("D.kernel.beta", float("nan")), _with("D.kernel.beta", float("inf")),
    _with("D.kernel.beta", -1), _with("H.link.lam", [[1.0]]), _with("H.link.lam", {"$gt": 0}),
    _with("D.mirror_axis", "yes"), _with("H.kernel.beta", True), _with("D.mirror_axis", True),
    _with("D.structure", "fast"), _with("D.sqrt_method", "qr"), _with("H.link.name", "gamma"),
    _with("H.kernel", [{"name": "rbf"}] * 2), _with("D.kernel", [{"name": "rbf"}, {"name": "white"}]),
    _with("H.mirror_axis", 5), _with("D.extra", 1), _with("D.kernel.name", "gauss"),
    _with("noise_var", 0), _with("noise_var", "1e8"), _with("noise_var", _nested_list(50)),
    _with("dataset", "file:/etc/passwd"), _with("dataset", "upload:" + "0" * 24), _with("D.mirror_axis", 0),
]


@pytest.mark.parametrize("specs", FORGED_SPECS, ids=range(len(FORGED_SPECS)))
def test_forged_prior_specs_get_a_message_and_leave_the_figures(specs):
    *figures, message, drawn = prior_panel.draw_prior_samples(specs, 0, store.new_session_id())
    assert figures == [prior_panel.no_update] * 5 and drawn is prior_panel.no_update
    assert _is_message(message)


@pytest.mark.parametrize("value", [1e300, 1e-300, 5e-324])
def test_huge_and_tiny_numbers_draw_or_explain(value):
    for path in ("D.kernel.beta", "H.link.lam", "noise_var"):
        *figures, message, _ = prior_panel.draw_prior_samples(_with(path, value), 0)
        assert message == "" or _is_message(message)


@pytest.mark.parametrize("seed", [None, "x", -5, 1.5, 10**40, [1], True])
def test_any_seed_draws(seed):
    *figures, message, _ = prior_panel.draw_prior_samples(_paper_specs(), seed)
    assert message == "" and figures[0].data


def _collect(kernels=("rbf", "rbf"), links=("exponential", "exponential"), mirrors=([], ["mirror"]),
             params=(0.3, 1.0, 2.0, 2e-4, 1e8), factor_ids=FACTOR_IDS, param_ids=PARAM_IDS, key=CSI, session=None):
    specs, message, *_ = prior_panel.collect_prior_specs(
        key, list(kernels) if isinstance(kernels, tuple) else kernels, list(links), list(mirrors),
        list(params) if isinstance(params, tuple) else params, factor_ids, param_ids, session)
    return specs, message


FORGED_CONTROLS = [
    dict(kernels="rbf"), dict(kernels=["rbf"]), dict(kernels=[["rbf"], "rbf"]), dict(kernels=[HUGE_NAME, "rbf"]),
    dict(params=(0.3, "NaN", 2.0, 2e-4, 1e8)), dict(params=(0.3, 1.0, [[2.0]], 2e-4, 1e8)),
    dict(params=(0.3, 1.0, 2.0, 2e-4, 1e400)), dict(params=(0.3, 1.0, 2.0, 2e-4)), dict(params=None),
    dict(factor_ids=[{"factor": "X"}, {"factor": "H"}]), dict(factor_ids=["D", "H"]), dict(param_ids=[7] * 5),
    dict(key=["builtin:csi_phantom"]), dict(key="upload:" + "1" * 24, session="forged"),
    dict(links=("exponential", "pickle")), dict(mirrors=([], ["mirror"]), kernels=("white", "rbf"),
                                                 params=(1.0, -1, 2.0, 2e-4, 1e8)),
]


@pytest.mark.parametrize("forged", FORGED_CONTROLS, ids=range(len(FORGED_CONTROLS)))
def test_forged_control_values_get_a_message(forged):
    specs, message = _collect(**forged)
    assert (specs is prior_panel.no_update or specs is None) and _is_message(message)  # None: Run waits


def test_the_real_controls_still_collect():
    specs, message = _collect()
    assert message == "" and specs == _paper_specs()


def _payload(data: bytes) -> str:
    return "data:application/json;base64," + base64.b64encode(data).decode()


@pytest.mark.parametrize("contents, reason", [
    (_payload(NESTED.encode()), "nested 990 levels deep"),
    (_payload(('{"format": "gppnmf-studio-prior", "version": 1, "D": ' + NESTED + "}").encode()), "nested"),
    (_payload(b"[]"), "not a prior settings file"),
    (None, "settings.json"), (5, "settings.json"), (["data:,e30="], "settings.json"), ("data:,%%%", "settings.json"),
])
def test_forged_settings_uploads_get_a_message(contents, reason):
    *controls, message = prior_panel.load_prior_settings(contents, "settings.json", FACTOR_IDS, PARAM_IDS)
    assert controls == [prior_panel.no_update] * 5
    assert _is_message(message) and reason in message.children


def test_forged_control_ids_while_loading_settings_get_a_message():
    good = _payload(exports.prior_settings_json(_paper_specs()).encode())
    for factor_ids, param_ids in (([{"x": 1}], PARAM_IDS), (FACTOR_IDS, [{"factor": "Q", "name": "z"}]), (7, 7)):
        *controls, message = prior_panel.load_prior_settings(good, "x" * 10_000, factor_ids, param_ids)
        assert controls == [prior_panel.no_update] * 5 and _is_message(message)


@pytest.mark.parametrize("key", [None, 5, ["builtin:paper_toy"], "upload:../../etc/passwd", "builtin:nope",
                                 "upload:" + "f" * 24])
def test_forged_or_gone_data_set_keys_get_a_message_in_the_data_panel(key):
    session = store.new_session_id()
    description, facts, heatmap = data_panel.show_dataset(key, session)
    assert _is_message(description) and facts == [] and heatmap is data_panel.no_update
    signal, strength, summary = data_panel.show_preview(key, 10, session)
    assert signal is strength is data_panel.no_update and _is_message(summary)


@pytest.mark.parametrize("session", ["forged", None, 12, {"id": 1}])
def test_a_forged_session_for_an_upload_gets_a_message(session):
    description = data_panel.show_dataset("upload:" + "e" * 24, session)[0]
    assert _is_message(description)


@pytest.mark.parametrize("threshold", ["NaN", float("nan"), -1, 101, [10], "10", True])
def test_forged_mask_thresholds_get_a_message(threshold):
    signal, strength, summary = data_panel.show_preview(builtin_key("paper_toy"), threshold, None)
    assert signal is strength is data_panel.no_update and _is_message(summary)
    assert "threshold" in summary.children
