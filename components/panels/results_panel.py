"""Results panel: one column per method (signals, maps, convergence), the RMSE chart and an inspector.

Components are matched and scaled to the truth when it is known (otherwise to
the first method's result), so columns can be compared component by component.
Signals on a ppm axis carry the usual peaks of their nucleus; amplitudes on a
time axis are lines against time. The inspector shows one observation (a
number box, or the voxel or time point clicked on a method's map) with each
method's fit D·H[:, l] and residual.
"""

from __future__ import annotations

import numpy as np
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

import gppnmf_core as gp
from components import ids
from components.panels import history_panel  # noqa: F401 - its callbacks
from components.panels.callback_context import triggered_id
from components.services import store
from components.services.data_source import load_dataset
from components.views import exports, nifti_maps
from components.views.figures import (
    GRAPH_CONFIG,
    MAX_HEATMAP_COLS,
    MAX_HEATMAP_ROWS,
    RMSE_EXPLANATIONS,
    block_size,
    direction_letters,
    factor_figure,
    graph_config,
    inspector_figure,
    nucleus_of,
    rmse_figure,
    shared_zranges,
    trace_figure,
)
from components.views.messages import problem
from components.views.provenance import provenance_view
from components.views.theme import HIDDEN, METHOD_COLORS, METHOD_LABELS, RMSE_GROUPS, SHOWN
from gppnmf_core import plotting, signal_strength
from gppnmf_core.plotting.alignment import component_names


def layout() -> html.Section:
    return html.Section(className="card", children=[
        html.H2("4 · Results"),
        html.Div(className="format-row", children=[
            html.Span("Camera buttons save figures as", className="hint"),
            dcc.RadioItems(id=ids.FIGURE_FORMAT, value="png", inline=True, className="choices",
                           options=[{"label": " PNG", "value": "png"}, {"label": " SVG (vector)", "value": "svg"}]),
        ]),
        html.Div(id="slice-control", className="slice-control", style=HIDDEN, children=[
            html.Label("slice", htmlFor=ids.SLICE_SLIDER, id="slice-label"),
            html.Div(dcc.Slider(id=ids.SLICE_SLIDER, min=0, max=7, step=1, value=4,
                                marks={k: str(k + 1) for k in range(8)}, allow_direct_input=False),
                     **{"data-slider-label": "slice-label", "data-slider-format": "index1",
                        "data-slider-prefix": "slice "}),
        ]),
        html.P(id="results-placeholder", className="hint",
               children="Run a decomposition to compare the methods here."),
        html.Div(id="results-provenance", role="status"),
        html.Div(id="results-body", children=_results_body()),
        history_panel.layout(),
        dcc.Download(id="download-results"),
    ])


def _results_body() -> list:
    """What a run fills in (hidden as a whole when the results belong to another data set)."""
    return [
        html.Div(id="factorization", className="factorization", style=HIDDEN, children=[
            html.H3("The model: X ≈ D × H", className="plain"),
            html.Div(className="factorization-row", children=[
                html.Span("Draw it from the result of", id="factorization-method-label", className="hint"),
                html.Div(dcc.RadioItems(id="factorization-method", inline=True, className="choices"),
                         role="group", **{"aria-labelledby": "factorization-method-label"}),
            ]),
            dcc.Graph(id="factorization-graph", config=GRAPH_CONFIG),
            html.P(id="factorization-caption", className="caption"),
        ]),
        html.Div(id="results-columns", className="results-grid"),
        html.Div(id="inspector", className="inspector", style=HIDDEN, children=[
            html.H3("Inspect one observation", className="plain"),
            html.Div(className="inspector-row", children=[
                html.Label("observation number (empty: the strongest)", htmlFor="inspect-observation"),
                dcc.Input(id="inspect-observation", type="number", min=1, step=1, debounce=True,
                          className="number", placeholder="strongest"),
                html.Span("… or click a voxel or time point on a map", className="hint"),
            ]),
            html.Div(id="inspector-message", className="message", role="status"),
            dcc.Graph(id="inspector-graph", config=GRAPH_CONFIG),
        ]),
        dcc.Graph(id="rmse-chart", style=HIDDEN, config=GRAPH_CONFIG),
        html.Ul(id="rmse-explanation", className="rmse-explanation"),
        html.Div(id=ids.DOWNLOAD_ROW, className="download-row", style=HIDDEN, children=[
            html.Span("Take the results home:", className="hint"),
            html.Button("D, H, settings, metrics (.npz)", id="download-npz", className="button secondary"),
            html.Button("CSV files (.zip)", id="download-zip", className="button secondary"),
            html.Button("Maps for an MRI viewer (NIfTI, .zip)", id="download-nifti", className="button secondary",
                        style=HIDDEN),
            html.Span("Figures: the camera button on each chart saves a PNG.", className="hint"),
        ]),
    ]


@callback(
    Output("slice-control", "style"),
    Output(ids.SLICE_SLIDER, "max"),
    Output(ids.SLICE_SLIDER, "marks"),
    Output(ids.SLICE_SLIDER, "value"),
    Output("slice-label", "children"),
    Output("download-nifti", "style"),
    Input(ids.DATASET_KEY, "data"),
    State(ids.SESSION_ID, "data"),
)
def configure_slice_selector(dataset_key, session_id=None):
    """A slice selector only for maps on a 3-D grid (start at the paper's fifth axial slice), named after the
    grid's third axis; the NIfTI download only for maps on a grid."""
    cols = load_dataset(dataset_key, session_id).cols
    nifti = SHOWN if nifti_maps.has_maps(cols) else HIDDEN
    if not (isinstance(cols, gp.Grid) and cols.ndim == 3):
        return HIDDEN, no_update, no_update, no_update, no_update, nifti
    n = cols.shape[2]
    return SHOWN, n - 1, {k: str(k + 1) for k in range(n)}, min(4, n - 1), slice_label(cols), nifti


def slice_label(grid: gp.Grid) -> str:
    """The slice slider's label: "axial slice (inferior → superior)" only where the grid's third axis says so."""
    name = grid.names[2] if len(grid.names) == 3 else "z"
    ends = direction_letters(name)
    if ends is not None and set(ends) == {"I", "S"}:
        words = {"I": "inferior", "S": "superior"}
        return f"axial slice ({words[ends[0]]} → {words[ends[1]]})"
    return f"slice along {name}"


def _fit_summary(fit: dict) -> str:
    state = "converged" if fit["converged"] else "not converged"
    return f"{fit['n_iter']} iterations, {state}, {1e3 * fit['runtime']:.0f} ms"


def map_ranges(dataset: gp.Dataset, Hs) -> list | None:
    """One colour range per component over every method's maps and the truth's (maps on a grid only)."""
    if not nifti_maps.has_maps(dataset.cols) or not Hs:
        return None
    truth = dataset.truth
    rank = np.asarray(Hs[0]).shape[0]
    true_H = truth.H if truth is not None and truth.H.shape[0] == rank else None
    return shared_zranges(*Hs, true_H)


def method_column(method: str, fit: dict, D, H, trace, dataset: gp.Dataset, slice_index: int,
                  config: dict = GRAPH_CONFIG, zranges=None) -> html.Div:
    """One method's column: signals, maps (the truth's under them, on the colour scale of ``zranges``) and
    convergence trace."""
    truth = dataset.truth if dataset.truth is not None and dataset.truth.D.shape[1] == D.shape[1] else None
    names = component_names(dataset, D.shape[1])
    label = METHOD_LABELS[method]
    cols_on_axis = isinstance(dataset.cols, gp.Axis)
    amplitude = "amplitude" if cols_on_axis else "value"
    return html.Div(className="method-column", children=[
        html.H3(label, style={"borderColor": METHOD_COLORS[method]}),
        html.P(_fit_summary(fit), className="hint"),
        dcc.Graph(id={"type": "result-signals", "method": method}, config=config,
                  figure=factor_figure(D.T, dataset.rows, title=f"{label} · D, signals", names=names,
                                       truth=None if truth is None else truth.D.T, height=280,
                                       nucleus=nucleus_of(dataset))),
        dcc.Graph(id={"type": "result-maps", "method": method}, config=config,
                  figure=factor_figure(H, dataset.cols, title=f"{label} · H, amplitudes", names=names,
                                       truth=None if truth is None else truth.H, zranges=zranges,
                                       slice_index=slice_index, value_label=amplitude,
                                       height=260 if truth is None or cols_on_axis else 400)),
        dcc.Graph(id={"type": "result-trace", "method": method}, config=config,
                  figure=trace_figure(trace, method, height=220)),
    ])


@callback(
    Output("results-columns", "children"),
    Output("rmse-chart", "figure"),
    Output("rmse-chart", "style"),
    Output("results-placeholder", "style"),
    Output(ids.DOWNLOAD_ROW, "style"),
    Output(ids.JOB_MESSAGE, "children", allow_duplicate=True),
    Input(ids.JOB_RESULT, "data"),
    Input(ids.SLICE_SLIDER, "value"),
    State(ids.SESSION_ID, "data"),
    State(ids.FIGURE_FORMAT, "value"),
    prevent_initial_call=True,
)
def show_results(job, slice_index, session_id, image_format="png"):
    """Draw the session's latest results, or the job's error."""
    if not job:
        return (no_update,) * 6
    if not isinstance(job, dict):
        return [], {}, HIDDEN, SHOWN, HIDDEN, problem("The page sent a job result this server cannot read; "
                                                      "run the decomposition again.")
    if job.get("error"):
        error = job["error"] if isinstance(job["error"], str) else "the job failed"
        return [], {}, HIDDEN, SHOWN, HIDDEN, problem(error[:300])
    stored = store.get(session_id, "results")
    if stored is None:
        return [], {}, HIDDEN, SHOWN, HIDDEN, problem("The results have expired; run the decomposition again.")
    arrays, meta = stored
    try:
        dataset = load_dataset(meta["dataset"], session_id)  # the data the results were computed on
    except ValueError as exc:
        return [], {}, HIDDEN, SHOWN, HIDDEN, problem(f"The results' data set is gone ({exc}); upload it and "
                                                      "run the decomposition again.")
    slice_index = _valid_slice(slice_index, dataset.cols)
    zranges = map_ranges(dataset, [arrays[f"{m}.H"] for m in meta["methods"]])
    columns = [
        method_column(m, meta["fits"][m], arrays[f"{m}.D"], arrays[f"{m}.H"], arrays[f"{m}.trace"], dataset,
                      slice_index, graph_config(image_format), zranges)
        for m in meta["methods"]
    ]
    noise_var = meta.get("settings", {}).get("job", {}).get("noise_var")
    return columns, rmse_figure(meta["scores"], noise_var=noise_var), SHOWN, HIDDEN, SHOWN, ""


@callback(Output("rmse-explanation", "children"), Input("rmse-chart", "figure"))
def explain_rmse_groups(figure):
    """One line under the RMSE chart for each bar group it shows."""
    return [html.Li(text) for text in rmse_explanations(figure)]


def rmse_explanations(figure) -> list[str]:
    """The explanation of each RMSE group drawn in ``figure`` (a plotly figure dict), in the chart's order."""
    try:
        shown = {x for trace in (figure or {}).get("data", []) for x in (trace.get("x") or [])}
    except (AttributeError, TypeError):
        return []
    return [RMSE_EXPLANATIONS[key] for key, label in RMSE_GROUPS.items() if label in shown]


def _valid_slice(slice_index, cols) -> int:
    """The slider's slice, or 0 for anything that is not a slice of this grid (a forged value)."""
    n = cols.shape[2] if isinstance(cols, gp.Grid) and cols.ndim == 3 else 1
    ok = isinstance(slice_index, int) and not isinstance(slice_index, bool) and 0 <= slice_index < n
    return slice_index if ok else 0


@callback(
    Output("download-results", "data"),
    Input("download-npz", "n_clicks"),
    Input("download-zip", "n_clicks"),
    Input("download-nifti", "n_clicks"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def download_results(_npz, _zip, _nifti, session_id):
    """The session's latest results as .npz, as CSV files in a .zip, or their maps as NIfTI images in a .zip."""
    stored = store.get(session_id, "results")
    if stored is None:
        return no_update
    arrays, meta = stored
    dataset = load_dataset(meta["dataset"], session_id)
    if ctx.triggered_id == "download-npz":
        return dcc.send_bytes(exports.results_npz(arrays, meta, dataset), "gppnmf-results.npz")
    if ctx.triggered_id == "download-nifti":
        if not nifti_maps.has_maps(dataset.cols):
            return no_update
        return dcc.send_bytes(nifti_maps.results_maps_zip(arrays, meta, dataset), "gppnmf-maps-nifti.zip")
    return dcc.send_bytes(exports.results_zip(arrays, meta, dataset), "gppnmf-results.zip")


#: Graphs that exist from the first page load (the result columns are built with the current format).
STATIC_GRAPHS = (ids.DATASET_HEATMAP, ids.PREVIEW_SIGNAL, ids.PREVIEW_STRENGTH, ids.SAMPLES_D, ids.SAMPLES_H,
                 ids.HIST_D, ids.HIST_H, ids.SIMULATED_DATA, "rmse-chart", "inspector-graph", "factorization-graph")
RESULT_GRAPHS = ("result-signals", "result-maps", "result-trace")


@callback(
    [Output(graph, "config") for graph in STATIC_GRAPHS],
    [Output({"type": kind, "method": ALL}, "config") for kind in RESULT_GRAPHS],
    Input(ids.FIGURE_FORMAT, "value"),
    [State({"type": kind, "method": ALL}, "id") for kind in RESULT_GRAPHS],
    prevent_initial_call=True,
)
def set_figure_format(image_format, *result_ids):
    """Every camera button saves in the chosen format."""
    config = graph_config(image_format)
    return [config] * len(STATIC_GRAPHS), [[config] * len(graph_ids) for graph_ids in result_ids]


def observation_at(click, cols, slice_index: int, n_tiles: int = 1) -> int | None:
    """The observation (0-based column of X) under a click on a method's map; None when it names none.

    ``click`` is a graph's ``clickData``. Maps on an Axis: the point nearest the
    clicked coordinate. On a 2-D grid or the shown slice of a 3-D grid: the
    pixel under the click, in whichever component's tile (see
    :func:`components.views.figures._grid_layout`; ``n_tiles`` components side by
    side). Maps drawn as block means, and anything a browser could forge, name
    none.
    """
    try:
        point = click["points"][0]
        x, y = float(point["x"]), float(point.get("y", 0.0))
    except (TypeError, KeyError, IndexError, ValueError):
        return None
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    if isinstance(cols, gp.Axis):
        return int(np.argmin(np.abs(np.asarray(cols.values, dtype=np.float64) - x))) if cols.size else None
    if not isinstance(cols, gp.Grid) or cols.ndim not in (2, 3):
        return None
    shape = tuple(cols.shape)
    h, w = (shape[0], shape[1]) if cols.ndim == 2 else (shape[1], shape[0])  # 3-D slices are drawn transposed
    if block_size(h, MAX_HEATMAP_ROWS) > 1 or block_size(max(1, n_tiles) * (w + 1) - 1, MAX_HEATMAP_COLS) > 1:
        return None
    row, column = int(round(y)), int(round(x)) % (w + 1)
    if not (0 <= row < h and 0 <= column < w):
        return None  # the gap between tiles
    index = (row, column) if cols.ndim == 2 else (column, row, slice_index)
    if cols.ndim == 3 and not 0 <= slice_index < shape[2]:
        return None
    return int(np.ravel_multi_index(index, shape))


def _observation_number(value, L: int) -> int | None:
    """The number box's observation (1-based) as a column index; None for empty; ValueError when out of range."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        raise ValueError(f"the observation must be a whole number from 1 to {L}, got {str(value)[:40]!r}")
    if not 1 <= value <= L:
        raise ValueError(f"the observation must be from 1 to {L}, got {int(value)}")
    return int(value) - 1


def observation_fits(arrays: dict, methods, column: int, n_features: int) -> dict:
    """Each method's fitted signal D·H[:, column] from the stored results (method → (K,) array).

    KeyError, IndexError or ValueError when the stored factors do not fit a data set of ``n_features`` rows.
    """
    fits = {m: np.asarray(arrays[f"{m}.D"]) @ np.asarray(arrays[f"{m}.H"])[:, column] for m in methods}
    if any(fit.shape != (n_features,) for fit in fits.values()):
        raise ValueError("the stored factors do not match the data set")
    return fits


@callback(
    Output("inspector-graph", "figure"),
    Output("inspector", "style"),
    Output("inspect-observation", "max"),
    Output("inspect-observation", "value"),
    Output("inspector-message", "children"),
    Input(ids.JOB_RESULT, "data"),
    Input("inspect-observation", "value"),
    Input({"type": "result-maps", "method": ALL}, "clickData"),
    State(ids.SLICE_SLIDER, "value"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def inspect_observation(job, number, clicks, slice_index, session_id):
    """One observation's signal with each method's fit and residual, from the session's latest results.

    The observation comes from the number box, or from a click on a map (the
    box then shows its number); empty means the strongest observation.
    """
    stored = store.get(session_id, "results") if job else None
    if stored is None:
        return no_update, HIDDEN, no_update, no_update, ""
    arrays, meta = stored
    try:
        dataset = load_dataset(meta["dataset"], session_id)
    except ValueError:
        return no_update, HIDDEN, no_update, no_update, ""
    L = dataset.X.shape[1]
    column, box = None, no_update
    trigger = triggered_id()
    if isinstance(trigger, dict) and trigger.get("type") == "result-maps":
        click = next((c for c, i in zip(clicks or [], ctx.inputs_list[2], strict=False)
                      if i.get("id") == trigger), None)
        column = observation_at(click, dataset.cols, _valid_slice(slice_index, dataset.cols),
                                n_tiles=len(arrays[f"{meta['methods'][0]}.H"]) if meta.get("methods") else 1)
        box = no_update if column is None else column + 1
    if column is None:
        try:
            column = _observation_number(number, L)
        except ValueError as exc:
            return no_update, SHOWN, L, no_update, problem(exc)
    if column is None:
        column = int(np.argmax(signal_strength(dataset.X)))
    try:
        fits = observation_fits(arrays, meta["methods"], column, dataset.X.shape[0])
    except (KeyError, ValueError, IndexError):
        return no_update, HIDDEN, no_update, no_update, problem("The stored results do not match the data set; "
                                                                "run the decomposition again.")
    figure = inspector_figure(dataset.X[:, column], fits, dataset.rows, nucleus=nucleus_of(dataset),
                              title=f"Observation {column + 1} of {L}: data, fits and residuals")
    return figure, SHOWN, L, box, ""


@callback(
    Output("results-provenance", "children"),
    Output("results-body", "style"),
    Input(ids.JOB_RESULT, "data"),
    Input(ids.DATASET_KEY, "data"),
    Input(ids.PRIOR_SPECS, "data"),
    Input(ids.RANK_INPUT, "value"),
    State(ids.SESSION_ID, "data"),
)
def show_provenance(_job, dataset_key, specs, rank, session_id):
    """Say what the results came from, warn when the controls moved on, hide another data set's results."""
    stored = store.get(session_id, "results")
    return provenance_view(None if stored is None else stored[1], dataset_key, specs, rank)


@callback(
    Output("factorization-method", "options"),
    Output("factorization-method", "value"),
    Input(ids.JOB_RESULT, "data"),
    State("factorization-method", "value"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def offer_factorization_methods(job, chosen, session_id):
    """The methods of the latest results, to draw X ≈ D × H from; the chosen one kept when it is still there."""
    stored = store.get(session_id, "results") if job else None
    if stored is None:
        return no_update, no_update
    methods = [m for m in stored[1].get("methods", []) if m in METHOD_LABELS]
    options = [{"label": f" {METHOD_LABELS[m]}", "value": m} for m in methods]
    return options, chosen if chosen in methods else (methods[0] if methods else None)


def factorization_view(dataset: gp.Dataset, arrays: dict, meta: dict, method, slice_index: int):
    """The X ≈ D × H figure and its caption for one method of stored results; ValueError when it cannot be drawn."""
    methods = meta.get("methods") or []
    if method not in methods:
        method = methods[0] if methods else None
    if method is None:
        raise ValueError("no method in the results")
    cols = dataset.cols
    on_volume = isinstance(cols, gp.Grid) and cols.ndim == 3
    return plotting.factorization_view(dataset, arrays[f"{method}.D"], arrays[f"{method}.H"],
                                       label=METHOD_LABELS.get(method, method),
                                       slice_index=_valid_slice(slice_index, cols) if on_volume else None)


@callback(
    Output("factorization-graph", "figure"),
    Output("factorization-caption", "children"),
    Output("factorization", "style"),
    Input("factorization-method", "value"),
    Input(ids.SLICE_SLIDER, "value"),
    State(ids.SESSION_ID, "data"),
    prevent_initial_call=True,
)
def show_factorization(method, slice_index, session_id):
    """Draw X ≈ D × H from the chosen method's result (the shown slice's voxels on a 3-D grid)."""
    stored = store.get(session_id, "results")
    if stored is None or not method:
        return no_update, no_update, HIDDEN
    arrays, meta = stored
    try:
        dataset = load_dataset(meta["dataset"], session_id)
        figure, caption = factorization_view(dataset, arrays, meta, method, slice_index)
    except (ValueError, KeyError, IndexError):
        return no_update, no_update, HIDDEN
    return figure, caption, SHOWN
