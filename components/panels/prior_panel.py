"""Prior designer: kernel, length scale, link and symmetry for D and H, and the noise variance.

Every change redraws, live: prior samples of each factor where it lives, a
histogram of sampled values against the link's target density, and one
simulated data matrix D H + noise. Each numeric setting is a log-scale slider
paired with a box to type the value; one pattern-matching callback keeps every
pair in step.

The page keeps the core's prior spec of each factor (``prior-specs``: see
:mod:`components.views.specs`). A preset, Reset or a loaded settings file sets
the controls and keeps its specs exactly (``prior-loaded``): while a factor's
controls still show what they were set to, its spec is the kept one — with β
to every digit, and with what no control shows (a periodic kernel's period,
per-axis kernels, a gamma link, ...) kept, and said so beside the controls.
Changing a control of the factor replaces it by the spec the controls show.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math

import numpy as np
from dash import (
    ALL,
    MATCH,
    ClientsideFunction,
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    dcc,
    html,
    no_update,
)

import gppnmf_core as gp
from components import ids
from components.panels import noise_panel
from components.services.data_source import load_dataset
from components.views import exports
from components.views.figures import (
    GRAPH_CONFIG,
    factor_figure,
    histogram_figure,
)
from components.views.messages import notice, problem
from components.views.model_figures import prior_check_figure
from components.views.specs import (
    CONTROL_FIELDS,
    FACTORS,
    KERNEL_OPTIONS,
    LINK_OPTIONS,
    beta_range,
    beta_unit,
    canonical_spec,
    checked_prior_specs,
    controls_of,
    default_spec,
    factor_axis,
    log_range,
    noise_range,
    prior_for,
    shown,
    spec_from_controls,
    spec_text,
    typed_positive,
    unshown,
)
from gppnmf_core.threads import blas_threads

#: Numeric settings: (factor, name). ``("noise", "var")`` is the noise variance σ².
PARAMS = (("D", "beta"), ("D", "scale"), ("H", "beta"), ("H", "scale"), ("noise", "var"))
N_DRAWS = 3

#: Prior samples on a 1-D axis are drawn at no more than this many of its points, spread evenly, both ends
#: included. For a GP that is exactly the prior's marginal at those points, and it keeps the web process from
#: building a dense K × K square root for a long spectrum (8000 points: a minute and 1.6 GB).
MAX_SAMPLE_POINTS = 500
#: Grids use Kronecker factors (one n_k × n_k matrix per grid axis) and are drawn whole up to these sizes.
MAX_GRID_AXIS_POINTS = 512
MAX_GRID_POINTS = 2**20

#: The figures :func:`draw_prior_samples` draws, by group: a factor's samples and histogram depend on the data set,
#: that factor's prior and the seed; the prior check on all of them and σ².
FIGURE_GROUPS = {"D": (ids.SAMPLES_D, ids.HIST_D), "H": (ids.SAMPLES_H, ids.HIST_H), "check": (ids.SIMULATED_DATA,)}
PRIOR_FIGURES = (ids.SAMPLES_D, ids.SAMPLES_H, ids.HIST_D, ids.HIST_H, ids.SIMULATED_DATA)
#: Store: what each group of figures on the page was drawn from (:func:`drawn_keys`).
DRAWN = "prior-drawn"


def _pid(kind: str, factor: str, name: str) -> dict:
    return {"type": kind, "factor": factor, "name": name}


def dom_id(component_id: dict) -> str:
    """The DOM id Dash renders for a pattern-matching id (what a label's htmlFor must name)."""
    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))


#: What each slider announces (assets/a11y.js): the value in the unit its box shows, not its log10.
SLIDER_VALUE_PREFIX = {"beta": "β = ", "scale": "", "var": "σ² = "}


def _param_control(factor: str, name: str, label: str) -> html.Div:
    """A log-scale slider and the box that shows (and takes) its value; the label names both, and the
    slider announces 10**value, the number in the box. While the slider is dragged its value reaches the box
    (and so the figures), one redraw at a time, and on release (assets/sliders.js: ``sync``)."""
    label_id, box_id = _pid("param-label", factor, name), ids.param_input(factor, name)
    message_id = _pid("param-message", factor, name)
    return html.Div(className="param", children=[
        html.Label(label, id=label_id, htmlFor=dom_id(box_id)),
        html.Div(className="param-row", **{"data-describedby": dom_id(message_id)}, children=[
            html.Div(dcc.Slider(id=_pid("param-slider", factor, name), min=-3, max=3, step=0.01, value=0,
                                updatemode="mouseup", marks=None, tooltip=None, allow_direct_input=False),
                     className="slider", **{"data-slider-label": dom_id(label_id), "data-slider-format": "log10",
                                            "data-slider-prefix": SLIDER_VALUE_PREFIX[name]}),
            dcc.Input(id=box_id, type="text", debounce=True, className="number",
                      inputMode="decimal", autoComplete="off"),
        ]),
        html.Div(id=message_id, className="field-message", role="alert"),
    ])


def _factor_controls(factor: str) -> html.Fieldset:
    kernel_id, link_id = ids.kernel(factor), ids.link(factor)
    return html.Fieldset(className="factor", children=[
        html.Legend(FACTORS[factor]),
        html.Label("covariance (kernel)", htmlFor=dom_id(kernel_id)),
        dcc.Dropdown(id=kernel_id, clearable=False,
                     options=[{"label": v, "value": k} for k, v in KERNEL_OPTIONS.items()]),
        _param_control(factor, "beta", "length scale β"),
        html.Label("link (marginal distribution)", htmlFor=dom_id(link_id)),
        dcc.Dropdown(id=link_id, clearable=False,
                     options=[{"label": v, "value": k} for k, v in LINK_OPTIONS.items()]),
        _param_control(factor, "scale", "λ"),
        dcc.Checklist(id=ids.mirror(factor), className="mirror",
                      options=[{"label": " left–right mirror symmetry (grid axis 1)", "value": "mirror"}]),
        html.P(id={"type": "kept-note", "factor": factor}, className="hint kept-note"),
    ])


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config=GRAPH_CONFIG, className="graph")


def layout() -> html.Section:
    return html.Section(className="card", children=[
        html.H2("2 · Prior designer"),
        html.Div(className="prior-grid", children=[
            html.Div(className="controls", children=[
                html.Label("Preset", htmlFor=ids.PRESET_PICKER),
                html.Div(className="seed-row", children=[
                    dcc.Dropdown(id=ids.PRESET_PICKER, clearable=False, className="preset-picker"),
                    html.Button("Reset", id="preset-reset", className="button secondary",
                                title="Set every control back to the chosen preset"),
                ]),
                html.P(id="preset-description", className="hint"),
                html.Div(className="seed-row", children=[
                    html.Label("seed", htmlFor="prior-seed"),
                    dcc.Input(id="prior-seed", type="number", value=0, min=0, step=1, debounce=True,
                              className="number"),
                    html.Button("Resample", id="resample-button", className="button secondary"),
                ]),
                html.Div(className="seed-row", children=[
                    html.Button("Save settings", id="save-prior", className="button secondary",
                                title="Download the prior settings as JSON, to share or to load later"),
                    html.Div(dcc.Upload(id="load-prior", max_size=exports.MAX_PRIOR_BYTES,
                                        accept=".json,application/json",
                                        children=html.Button("Load settings", className="button secondary")),
                             **{"data-file-label": "Load settings: a prior settings file (.json)"}),
                    dcc.Download(id="download-prior"),
                ]),
                _factor_controls("D"),
                _factor_controls("H"),
                html.Fieldset(className="factor", children=[
                    html.Legend("noise"),
                    _param_control("noise", "var", "noise variance σ² (slider on a log scale)"),
                    noise_panel.layout(),
                ]),
                html.Div(id="prior-message", className="message", role="alert"),
            ]),
            html.Div(className="prior-figures", children=[
                _graph(ids.SAMPLES_D), _graph(ids.SAMPLES_H),
                _graph(ids.HIST_D), _graph(ids.HIST_H),
            ]),
        ]),
        _graph(ids.SIMULATED_DATA),
        dcc.Store(id=ids.PRIOR_SPECS),
        dcc.Store(id="prior-loaded"),
        dcc.Store(id="slider-relay"),
        dcc.Store(id=DRAWN),
    ])


def _log_marks(lo: float, hi: float) -> dict:
    """At most four decade labels, so they never run into each other."""
    step = max(1, int(math.ceil((hi - lo) / 3)))
    return {k: {"label": f"{10.0 ** k:g}"} for k in range(int(lo), int(hi) + 1, step)}


def _preset_values(dataset: gp.Dataset, preset_name: str | None) -> dict:
    """Factor specs and the noise variance of a preset (or the data set's defaults)."""
    preset = dataset.presets.get(preset_name) if preset_name else None
    if preset is None:
        return {"D": default_spec(dataset, "D"), "H": default_spec(dataset, "H"), "noise_var": dataset.noise_var}
    return {"D": preset.prior_D.to_spec(), "H": preset.prior_H.to_spec(), "noise_var": preset.noise_var}


def _param_value(values: dict, factor: str, name: str) -> float:
    """What a number box shows for ``values`` ({"D": spec, "H": spec, "noise_var": float})."""
    return values["noise_var"] if factor == "noise" else controls_of(values[factor])[name]


def _param_range(dataset: gp.Dataset, values: dict, factor: str, name: str) -> tuple[float, float]:
    if factor == "noise":
        return noise_range(dataset)
    if name == "beta":
        return beta_range(dataset, factor)
    return log_range(_param_value(values, factor, name))


@callback(
    Output(ids.PRESET_PICKER, "options"),
    Output(ids.PRESET_PICKER, "value"),
    Output({"type": "param-slider", "factor": ALL, "name": ALL}, "min"),
    Output({"type": "param-slider", "factor": ALL, "name": ALL}, "max"),
    Output({"type": "param-slider", "factor": ALL, "name": ALL}, "marks"),
    Output(ids.mirror(), "options"),
    Input(ids.DATASET_KEY, "data"),
    State({"type": "param-slider", "factor": ALL, "name": ALL}, "id"),
    State(ids.mirror(), "id"),
    State(ids.SESSION_ID, "data"),
)
def offer_presets(dataset_key, slider_ids, mirror_ids, session_id=None):
    """New data set: its presets, slider ranges in its units, symmetry only where a grid allows it."""
    dataset = load_dataset(dataset_key, session_id)
    names = list(dataset.presets) or ["defaults"]
    values = _preset_values(dataset, names[0] if dataset.presets else None)
    ranges = [_param_range(dataset, values, i["factor"], i["name"]) for i in slider_ids]
    mirror_options = []
    for i in mirror_ids:
        where = factor_axis(dataset, i["factor"])
        on_grid = isinstance(where, gp.Grid)
        axis_name = where.names[0] if on_grid and where.names else "grid axis 1"
        label = f" mirror symmetry across {axis_name}" if on_grid else " mirror symmetry (needs a grid)"
        mirror_options.append([{"label": label, "value": "mirror", "disabled": not on_grid}])
    return ([{"label": n, "value": n} for n in names], names[0], [r[0] for r in ranges], [r[1] for r in ranges],
            [_log_marks(*r) for r in ranges], mirror_options)


@callback(
    Output(ids.kernel(), "value"),
    Output(ids.link(), "value"),
    Output(ids.mirror(), "value"),
    Output(ids.param_input(), "value", allow_duplicate=True),
    Output("prior-loaded", "data"),
    Input(ids.PRESET_PICKER, "value"),
    Input("preset-reset", "n_clicks"),
    State(ids.DATASET_KEY, "data"),
    State(ids.kernel(), "id"),
    State(ids.param_input(), "id"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def apply_preset(preset_name, _reset, dataset_key, factor_ids, param_ids, session_id=None):
    """Set every control to the chosen preset (again, on Reset), keeping its specs exactly."""
    dataset = load_dataset(dataset_key, session_id)
    values = _preset_values(dataset, preset_name if preset_name in dataset.presets else None)
    return _set_from(values, factor_ids, param_ids)


def _set_from(values: dict, factor_ids, param_ids) -> tuple[list, list, list, list, dict]:
    """Kernel, link, mirror and number-box values for every control, and the specs kept exactly
    (``prior-loaded``), from {"D": spec, "H": spec, "noise_var": float}."""
    shown_values = {f: controls_of(values[f]) for f in ("D", "H")}
    factors = [i["factor"] for i in factor_ids]
    return (
        [shown_values[f]["kernel"] for f in factors],
        [shown_values[f]["link"] for f in factors],
        [["mirror"] if shown_values[f]["mirror"] else [] for f in factors],
        [_format(_param_value(values, i["factor"], i["name"])) for i in param_ids],
        {"D": values["D"], "H": values["H"], "noise_var": values["noise_var"]},
    )


def _format(value: float) -> float:
    """Three significant digits, as the boxes show them."""
    return float(f"{value:.3g}")


#: A slider and its box in step, in the browser (assets/sliders.js: ``sync``), as the box feeds the specs and a
#: server round trip would delay every redraw: a released slider writes its value in the box, a valid typed value
#: moves the slider, and while a slider is dragged its value goes to the box one redraw at a time (the latest
#: value dragged meanwhile as soon as the last one is drawn: ``relayNext``, on every draw, :data:`DRAWN`).
clientside_callback(
    ClientsideFunction("gppnmfSliders", "sync"),
    Output({"type": "param-slider", "factor": MATCH, "name": MATCH}, "value"),
    Output(ids.param_input(MATCH, MATCH), "value"),
    Input({"type": "param-slider", "factor": MATCH, "name": MATCH}, "value"),
    Input({"type": "param-slider", "factor": MATCH, "name": MATCH}, "drag_value"),
    Input(ids.param_input(MATCH, MATCH), "value"),
    prevent_initial_call=True,
)
clientside_callback(ClientsideFunction("gppnmfSliders", "relayNext"), Output("slider-relay", "data"),
                    Input(DRAWN, "data"), prevent_initial_call=True)


@callback(
    Output({"type": "param-label", "factor": MATCH, "name": "scale"}, "children"),
    Input(ids.link(MATCH), "value"),
)
def label_link_parameter(link):
    return "rate λ (mean 1/λ)" if link == "exponential" else "scale s"


@callback(
    Output({"type": "param-slider", "factor": MATCH, "name": "beta"}, "disabled"),
    Output(ids.param_input(MATCH, "beta"), "disabled"),
    Input(ids.kernel(MATCH), "value"),
)
def disable_unused_length_scale(kernel):
    """A White kernel has no length scale: its β slider and box are greyed out and skipped."""
    unused = kernel == "white"
    return unused, unused


@callback(
    Output({"type": "param-label", "factor": ALL, "name": "beta"}, "children"),
    Input(ids.DATASET_KEY, "data"),
    State({"type": "param-label", "factor": ALL, "name": "beta"}, "id"),
    State(ids.SESSION_ID, "data"),
)
def label_length_scales(dataset_key, label_ids, session_id=None):
    dataset = load_dataset(dataset_key, session_id)
    return [f"length scale β ({beta_unit(dataset, i['factor'])})" for i in label_ids]


@callback(
    Output(ids.PRIOR_SPECS, "data"),
    Output("prior-message", "children"),
    Output(ids.param_input(), "className"),
    Output({"type": "param-message", "factor": ALL, "name": ALL}, "children"),
    Output("preset-description", "children"),
    Output({"type": "kept-note", "factor": ALL}, "children"),
    Input(ids.DATASET_KEY, "data"),
    Input(ids.kernel(), "value"),
    Input(ids.link(), "value"),
    Input(ids.mirror(), "value"),
    Input(ids.param_input(), "value"),
    State(ids.kernel(), "id"),
    State(ids.param_input(), "id"),
    State(ids.SESSION_ID, "data"),
    State(ids.PRESET_PICKER, "value"),
    State("prior-loaded", "data"),
)
def collect_prior_specs(dataset_key, kernels, links, mirrors, params, factor_ids, param_ids, session_id=None,
                        preset_name=None, loaded=None):
    """The controls as the page's prior specs (the specs a preset or a file set, exactly, while the controls
    still show them), or None while a setting is invalid (Run waits, the figures keep the last valid settings):
    each bad value is marked at its own box with a message beside it, the preset's description says whether the
    controls still hold the preset, and a note beside a factor's controls says when its prior has settings they
    cannot show."""
    n_params = len(param_ids) if isinstance(param_ids, list) else 0
    n_factors = len(factor_ids) if isinstance(factor_ids, list) else 0
    unchanged = ([no_update] * n_params, [no_update] * n_params)
    try:
        dataset = load_dataset(dataset_key, session_id)
        controls = controls_from_page(kernels, links, mirrors, params, factor_ids, param_ids)
    except ValueError as exc:
        return (no_update, problem(f"{exc}. The figures keep the last valid settings."), *unchanged, no_update,
                [no_update] * n_factors)
    problems = box_problems(controls, param_ids)
    classes = ["number invalid" if key in problems else "number" for key in _param_keys(param_ids)]
    messages = [problems.get(key, "") for key in _param_keys(param_ids)]
    if problems:
        return (None, problem("Fix the marked value: the figures keep the last valid settings and Run waits "
                              "until every value is valid."), classes, messages, no_update, [no_update] * n_factors)
    try:
        specs = specs_shown(controls, loaded)
        for f in ("D", "H"):
            prior_for(specs[f], factor_axis(dataset, f), f)
    except ValueError as exc:
        return (None, problem(f"{exc}. The figures keep the last valid settings."), classes, messages, no_update,
                [no_update] * n_factors)
    notes = [kept_note(specs[i["factor"]]) for i in factor_ids]
    return ({"dataset": dataset_key, **specs}, "", classes, messages, preset_state(dataset, preset_name, specs),
            notes)


def _param_keys(param_ids) -> list[tuple[str, str]]:
    return [(i["factor"], i["name"]) for i in param_ids]


def _typed(value) -> float:
    return typed_positive(value, "value")


def _typed_controls(controls: dict) -> dict:
    """A factor's control values with the typed numbers read (β of a White kernel, which has none, as 1)."""
    beta = 1.0 if controls["kernel"] == "white" and not _is_typed_positive(controls["beta"]) else \
        _typed(controls["beta"])
    return {**controls, "beta": beta, "scale": _typed(controls["scale"])}


def _is_typed_positive(value) -> bool:
    try:
        _typed(value)
        return True
    except ValueError:
        return False


def shown_alike(a: dict, b: dict) -> bool:
    """Whether two sets of control values (:data:`~components.views.specs.CONTROL_FIELDS`) look the same on the
    page: numbers as their boxes show them, β not at all for a White kernel."""
    same = all(a[k] == b[k] for k in ("kernel", "link", "mirror")) and _format(a["scale"]) == _format(b["scale"])
    return same and (a["kernel"] == "white" or _format(a["beta"]) == _format(b["beta"]))


def kept_spec(loaded, factor: str):
    """The factor's spec a preset or a file set (``prior-loaded``, which the browser holds), canonical; None when
    there is none or it is not a valid spec."""
    try:
        return canonical_spec(loaded[factor], factor)
    except (TypeError, KeyError, ValueError):
        return None


def specs_shown(controls: dict, loaded) -> dict:
    """``{"D": spec, "H": spec, "noise_var": float}`` for the controls' values (numbers checked before): each
    factor's kept spec (and σ²) while the controls still show it, else the spec the controls stand for."""
    specs = {}
    for f in ("D", "H"):
        typed = _typed_controls(controls[f])
        kept = kept_spec(loaded, f)
        specs[f] = kept if kept is not None and shown_alike(controls_of(kept), typed) else spec_from_controls(typed)
    noise_var = _typed(controls["noise_var"])
    kept_noise = loaded.get("noise_var") if isinstance(loaded, dict) else None
    if _is_typed_positive(kept_noise) and _format(_typed(kept_noise)) == _format(noise_var):
        noise_var = _typed(kept_noise)
    return {**specs, "noise_var": noise_var}


def kept_note(spec: dict) -> str:
    """Beside a factor's controls: what of its prior they cannot show, when there is something."""
    missing = unshown(spec)
    if not missing:
        return ""
    return (f"Kept as loaded: {spec_text(spec)}. The controls cannot show {'; '.join(missing)}: they show the "
            "nearest they can, and changing one of them replaces this prior with what they show.")


#: How each numeric setting is named in the messages beside its box.
PARAM_NAMES = {"beta": "length scale β of {f}", "scale": "link parameter of {f}", "var": "noise variance σ²"}


def box_problems(controls: dict, param_ids) -> dict[tuple[str, str], str]:
    """(factor, name) → message for every box whose text is not a positive number (β of a White kernel,
    which it does not use, is never a problem)."""
    problems = {}
    for factor, name in _param_keys(param_ids):
        if factor in ("D", "H") and name == "beta" and controls[factor]["kernel"] == "white":
            continue
        value = controls["noise_var"] if factor == "noise" else controls[factor][name]
        try:
            typed_positive(value, PARAM_NAMES[name].format(f=factor))
        except ValueError as exc:
            problems[(factor, name)] = str(exc)
    return problems


def preset_state(dataset: gp.Dataset, preset_name, specs: dict) -> str:
    """The chosen preset's description, or what differs from it when the controls were edited."""
    name = preset_name if preset_name in dataset.presets else None
    values = _preset_values(dataset, name)
    edits = []
    for f in ("D", "H"):
        was, now = controls_of(values[f]), controls_of(specs[f])
        for key, label in (("kernel", "kernel"), ("link", "link"), ("mirror", "mirror symmetry")):
            if was[key] != now[key]:
                edits.append(f"{f}: {label} {was[key]} → {now[key]}")
        for key, label in (("beta", "β"), ("scale", "link parameter")):
            if _format(was[key]) != _format(now[key]):
                edits.append(f"{f}: {label} {_format(was[key]):g} → {_format(now[key]):g}")
        if shown_alike(was, now) and canonical_spec(values[f], f) != specs[f]:
            edits.append(f"{f}: settings the controls cannot show ({spec_text(specs[f])})")
    if _format(values["noise_var"]) != _format(specs["noise_var"]):
        edits.append(f"σ² {_format(values['noise_var']):g} → {_format(specs['noise_var']):g}")
    preset = dataset.presets.get(name) if name else None
    original = preset.description if preset is not None else "Settings derived from the data's scale."
    if not edits:
        return original
    return f"Edited from '{name or 'defaults'}': {'; '.join(edits)}. Reset restores the preset."


def controls_from_page(kernels, links, mirrors, params, factor_ids, param_ids) -> dict:
    """``{"D": controls, "H": controls, "noise_var": value}`` from the controls' values (numbers as typed,
    unchecked; kernel and link names checked); ValueError when the page sent values that do not fit together."""
    try:
        values = {(i["factor"], i["name"]): v for i, v in zip(param_ids, params, strict=True)}
        controls = {}
        for i, kernel, link, mirror in zip(factor_ids, kernels, links, mirrors, strict=True):
            factor = i["factor"]
            if not isinstance(kernel, str) or kernel not in KERNEL_OPTIONS:
                raise ValueError(f"prior for {factor}: kernel must be one of {sorted(KERNEL_OPTIONS)}, "
                                 f"got {shown(kernel)}")
            if not isinstance(link, str) or link not in LINK_OPTIONS:
                raise ValueError(f"prior for {factor}: link must be one of {sorted(LINK_OPTIONS)}, got {shown(link)}")
            controls[factor] = dict(zip(CONTROL_FIELDS, (kernel, values.get((factor, "beta")), link,
                                                         values.get((factor, "scale")), bool(mirror)), strict=True))
        return {"D": controls["D"], "H": controls["H"], "noise_var": values.get(("noise", "var"))}
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"the page sent prior settings this server cannot read ({shown(exc)})") from None


def sample_points(n: int, limit: int = MAX_SAMPLE_POINTS) -> np.ndarray:
    """Indices of at most ``limit`` of ``n`` points, spread evenly, first and last included."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def sampled_where(where):
    """Where prior samples are drawn: a long Axis at :func:`sample_points`, a grid whole.

    ValueError for a grid too large to draw in the web process.
    """
    if isinstance(where, gp.Grid):
        if max(where.shape) > MAX_GRID_AXIS_POINTS or where.size > MAX_GRID_POINTS:
            raise ValueError(f"prior samples are drawn on grids of up to {MAX_GRID_AXIS_POINTS} points per axis "
                             f"and {MAX_GRID_POINTS:,} points in all; this grid is "
                             f"{' × '.join(map(str, where.shape))}. The decomposition itself is not limited by this")
        return where
    points = sample_points(where.size)
    if points.size == where.size:
        return where
    return gp.Axis(where.values[points], label=where.label, unit=where.unit, reversed=where.reversed)


def drawn_at(shown_where, where) -> str:
    """Title note when samples are drawn at fewer points than the factor has, e.g. " (500 of 8000 points)"
    (short: the sample graphs are narrow)."""
    return "" if shown_where.size == where.size else f" ({shown_where.size} of {where.size} points)"


def prior_draws(dataset: gp.Dataset, factor: str, spec: dict, seed: int, n_draws: int) -> np.ndarray:
    """``n_draws`` samples of one factor's prior at the points of :func:`sampled_where`, shape (n_draws, points).

    Not memoized: the square-root factors are cached by the core, and the draws themselves take milliseconds.
    """
    where = sampled_where(factor_axis(dataset, factor))
    prior = prior_for(spec, where, factor)
    rng = np.random.default_rng([seed, 0 if factor == "D" else 1])
    return prior.sample(n_draws, size=where.size, random_state=rng)


@callback(
    Output("prior-seed", "value"),
    Input("resample-button", "n_clicks"),
    State("prior-seed", "value"),
    prevent_initial_call=True,
)
def resample(_, seed):
    return (seed if isinstance(seed, int) and seed >= 0 else 0) + 1


@callback(
    *[Output(graph, "figure") for graph in PRIOR_FIGURES],
    Output("prior-message", "children", allow_duplicate=True),
    Output(DRAWN, "data"),
    Input(ids.PRIOR_SPECS, "data"),
    Input("prior-seed", "value"),
    State(ids.SESSION_ID, "data"),
    State(DRAWN, "data"),
    prevent_initial_call=True,
)
def draw_prior_samples(specs, seed, session_id=None, drawn=None):
    """Prior samples of D and H, their histograms, and one simulated data matrix, redrawing only the figures whose
    settings changed (``drawn``: what the page shows, :func:`drawn_keys`; a slider of D leaves H's figures as
    they are); a message when the specs (which the browser holds, and could change) are not valid."""
    if not specs:
        return (no_update,) * 7
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0
    try:
        specs = checked_prior_specs(specs)
        dataset = load_dataset(specs["dataset"], session_id)
        keys = drawn_keys(specs, seed)
        on_page = drawn if isinstance(drawn, dict) else {}
        figures = prior_figures(dataset, specs, seed, groups=[g for g in keys if on_page.get(g) != keys[g]])
    except ValueError as exc:
        return (no_update,) * 5 + (problem(f"{exc}. The figures keep the last valid settings."), no_update)
    return (*[figures.get(graph, no_update) for graph in PRIOR_FIGURES], "", keys)


def drawn_keys(specs: dict, seed: int) -> dict[str, str]:
    """For each of :data:`FIGURE_GROUPS`, a short digest of what its figures are drawn from (checked ``specs``)."""
    def digest(*parts) -> str:
        return hashlib.blake2b(json.dumps(parts, sort_keys=True).encode(), digest_size=12).hexdigest()

    data = specs["dataset"]
    return {"D": digest(data, specs["D"], seed), "H": digest(data, specs["H"], seed),
            "check": digest(data, specs["D"], specs["H"], specs["noise_var"], seed)}


def prior_figures(dataset: gp.Dataset, specs: dict, seed: int, groups=tuple(FIGURE_GROUPS)) -> dict:
    """Graph id → figure for the figure ``groups`` asked (:data:`FIGURE_GROUPS`), for checked ``specs``: samples of
    D and H where they live, their histograms, and simulated data. ValueError when samples overflow."""
    n_draws = max(N_DRAWS, dataset.rank)
    needed = {"D", "H"} if "check" in groups else set(groups)
    with blas_threads(1, 0):  # the web process serves everyone: spinning BLAS threads would slow the others
        draws = {f: prior_draws(dataset, f, specs[f], seed, n_draws) for f in ("D", "H") if f in needed}
    for f, values in draws.items():
        if not np.all(np.isfinite(values)):
            raise ValueError(f"the prior for {f} gives samples too large to draw (they overflow); "
                             "choose a less extreme λ or s")
    figures = {}
    for f in ("D", "H"):
        if f in groups:
            samples, histogram = FIGURE_GROUPS[f]
            figures[samples] = samples_figure(dataset, f, draws[f])
            link = prior_for(specs[f], factor_axis(dataset, f), f).link
            figures[histogram] = histogram_figure(draws[f], link, f"{f}: sampled values vs target density")
    if "check" in groups:
        figures[ids.SIMULATED_DATA] = simulated_figure(dataset, draws["D"][: dataset.rank].T,
                                                       draws["H"][: dataset.rank], specs["noise_var"], seed)
    return figures


def samples_figure(dataset: gp.Dataset, factor: str, draws: np.ndarray):
    """A few of a factor's prior draws where it lives (two on a volume, whose slices take room)."""
    where = factor_axis(dataset, factor)
    shown_where = sampled_where(where)
    on_volume = isinstance(where, gp.Grid) and where.ndim == 3
    drawn = draws[: 2 if on_volume else N_DRAWS]
    return factor_figure(drawn, shown_where, title=f"Prior samples of {factor}{drawn_at(shown_where, where)}",
                         names=[f"sample {i + 1}" for i in range(len(drawn))], height=420 if on_volume else 300)


#: At most this many points per side of the prior check's two maps: they share one card's width, and more cells
#: than pixels would only slow every slider move (the CSI phantom's 397 × 512 was 2.3 MB of JSON per redraw).
PRIOR_CHECK_ROWS, PRIOR_CHECK_COLS = 200, 256


def strided_points(n: int, limit: int) -> np.ndarray:
    """Every k-th of ``n`` points from the first, k the smallest stride that keeps at most ``limit`` of them.

    One stride: on a regular axis the picked points are evenly spaced too, so a heat map of them is a regular
    image (plotly then paints it as one image instead of a rectangle per cell: many times faster to redraw).
    """
    return np.arange(0, n, max(1, -(-n // limit)))


def _simulated_side(where, limit: int):
    """Which of a side's drawn points the simulated data use (at most ``limit``, one stride: see
    :func:`strided_points`), the same points as indices of the data's rows or columns, and their axis."""
    drawn = sampled_where(where)
    points = strided_points(drawn.size, limit)
    in_data = points if drawn is where else sample_points(where.size)[points]
    if points.size == drawn.size:
        return points, in_data, drawn
    if isinstance(drawn, gp.Axis):
        return points, in_data, gp.Axis(drawn.values[points], label=drawn.label, unit=drawn.unit,
                                         reversed=drawn.reversed)
    return points, in_data, gp.Axis(points.astype(float), label=f"{' × '.join(map(str, where.shape))} grid index",
                                    unit="flattened")


def simulated_figure(dataset: gp.Dataset, D: np.ndarray, H: np.ndarray, noise_var: float, seed: int):
    """The data X beside one simulated data matrix D H + noise, at the same points (no more than a heat map shows).

    ``D`` (drawn points, rank) and ``H`` (rank, drawn points) are prior samples; picking points of them (every
    k-th: :func:`strided_points`) is exactly the prior's simulated data at those points.
    """
    row_points, row_data, rows = _simulated_side(dataset.rows, PRIOR_CHECK_ROWS)
    col_points, col_data, cols = _simulated_side(dataset.cols, PRIOR_CHECK_COLS)
    D, H = D[row_points], H[:, col_points]
    noise = np.sqrt(noise_var) * np.random.default_rng([seed, 2]).standard_normal((D.shape[0], H.shape[1]))
    K, L = dataset.X.shape
    at = "" if (D.shape[0], H.shape[1]) == (K, L) else f" ({D.shape[0]} × {H.shape[1]} of its {K} × {L} points)"
    return prior_check_figure(dataset.X[np.ix_(row_data, col_data)], D @ H + noise, rows, cols,
                              title=f"Prior check: the data X beside D H + noise from the prior (rank "
                                    f"{dataset.rank}){at}", height=320)


@callback(Output("download-prior", "data"), Input("save-prior", "n_clicks"), State(ids.PRIOR_SPECS, "data"),
          State(ids.SESSION_ID, "data"), prevent_initial_call=True)
def save_prior_settings(_, specs, session_id=None):
    """The current priors as JSON, with the units β is measured in on this data set."""
    if not specs:
        return no_update
    dataset = load_dataset(specs["dataset"], session_id)
    units = {f: beta_unit(dataset, f) for f in ("D", "H")}
    return dcc.send_string(exports.prior_settings_json(specs, units), "gppnmf-prior.json")


def unit_warnings(saved_units: dict, dataset: gp.Dataset, settings: dict) -> list[str]:
    """What to check when settings saved with β in one unit are loaded onto data measured in another."""
    warnings = []
    for f, unit in saved_units.items():
        here = beta_unit(dataset, f)
        if unit != here:
            beta = controls_of(settings[f])["beta"]
            warnings.append(f"β of {f} was saved in {unit} and is now read as {beta:g} {here}")
    return warnings


@callback(
    Output(ids.kernel(), "value", allow_duplicate=True),
    Output(ids.link(), "value", allow_duplicate=True),
    Output(ids.mirror(), "value", allow_duplicate=True),
    Output(ids.param_input(), "value", allow_duplicate=True),
    Output("prior-loaded", "data", allow_duplicate=True),
    Output("prior-message", "children", allow_duplicate=True),
    Input("load-prior", "contents"),
    State("load-prior", "filename"),
    State(ids.kernel(), "id"),
    State(ids.param_input(), "id"),
    State(ids.DATASET_KEY, "data"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def load_prior_settings(contents, filename, factor_ids, param_ids, dataset_key=None, session_id=None):
    """Set every control from an uploaded settings file and keep its specs exactly, or say why it cannot be used;
    say what of it the controls cannot show, and warn when β was saved in other units than this data set's."""
    name = str(filename)[:80] if filename else "the settings file"
    try:
        data = base64.b64decode(str(contents).split(",", 1)[1], validate=True)
        settings = exports.parse_prior_settings(data)
        outputs = _set_from(settings, factor_ids, param_ids)
        warnings = unit_warnings(settings["beta_units"], load_dataset(dataset_key, session_id), settings) \
            if dataset_key else []
    except (ValueError, IndexError, binascii.Error) as exc:
        return (*[no_update] * 5, problem(f"{name}: {exc}"))
    except (TypeError, KeyError):
        return (*[no_update] * 5, problem(f"{name}: the page sent controls this server cannot set; reload the page"))
    kept = [f"{f}: {'; '.join(unshown(settings[f]))}" for f in ("D", "H") if unshown(settings[f])]
    if warnings:
        return (*outputs, problem(f"Loaded {name}, but check it: {'; '.join(warnings)}."))
    if kept:
        return (*outputs, notice(f"Loaded {name}. Kept as it is, with what the controls cannot show "
                                 f"({' · '.join(kept)}): see the note beside the controls."))
    return (*outputs, notice(f"Loaded {name}: every control is set from it."))
