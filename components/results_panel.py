"""Results panel: one column per method (signals, maps, convergence) and the RMSE chart.

Components are matched and scaled to the truth when it is known (otherwise to
the first method's result), so columns can be compared component by component.
"""

from __future__ import annotations

from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

import gppnmf_core as gp

from . import exports, store
from .data_source import load_dataset
from .figures import GRAPH_CONFIG, factor_figure, graph_config, rmse_figure, trace_figure
from .messages import problem
from .theme import METHOD_COLORS, METHOD_LABELS

HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}


def layout() -> html.Section:
    return html.Section(className="card", children=[
        html.H2("4 · Results"),
        html.Div(className="format-row", children=[
            html.Span("Camera buttons save figures as", className="hint"),
            dcc.RadioItems(id="figure-format", value="png", inline=True, className="choices",
                           options=[{"label": " PNG", "value": "png"}, {"label": " SVG (vector)", "value": "svg"}]),
        ]),
        html.Div(id="slice-control", className="slice-control", style=HIDDEN, children=[
            html.Label("axial slice (inferior → superior)", htmlFor="slice-slider"),
            dcc.Slider(id="slice-slider", min=0, max=7, step=1, value=4,
                       marks={k: str(k + 1) for k in range(8)}, allow_direct_input=False),
        ]),
        html.P(id="results-placeholder", className="hint",
               children="Run a decomposition to compare the methods here."),
        html.Div(id="results-columns", className="results-grid"),
        dcc.Graph(id="rmse-chart", style=HIDDEN, config=GRAPH_CONFIG),
        html.Div(id="download-row", className="download-row", style=HIDDEN, children=[
            html.Span("Take the results home:", className="hint"),
            html.Button("D, H, settings, metrics (.npz)", id="download-npz", className="button secondary"),
            html.Button("CSV files (.zip)", id="download-zip", className="button secondary"),
            html.Span("Figures: the camera button on each chart saves a PNG.", className="hint"),
        ]),
        dcc.Download(id="download-results"),
    ])


@callback(
    Output("slice-control", "style"),
    Output("slice-slider", "max"),
    Output("slice-slider", "marks"),
    Output("slice-slider", "value"),
    Input("dataset-key", "data"),
    State("session-id", "data"),
)
def configure_slice_selector(dataset_key, session_id=None):
    """A slice selector only for maps on a 3-D grid; start at the paper's fifth axial slice."""
    cols = load_dataset(dataset_key, session_id).cols
    if not (isinstance(cols, gp.Grid) and cols.ndim == 3):
        return HIDDEN, no_update, no_update, no_update
    n = cols.shape[2]
    return SHOWN, n - 1, {k: str(k + 1) for k in range(n)}, min(4, n - 1)


def _fit_summary(fit: dict) -> str:
    state = "converged" if fit["converged"] else "not converged"
    return f"{fit['n_iter']} iterations, {state}, {1e3 * fit['runtime']:.0f} ms"


def method_column(method: str, fit: dict, D, H, trace, dataset: gp.Dataset, slice_index: int,
                  config: dict = GRAPH_CONFIG) -> html.Div:
    """One method's column: signals, maps and convergence trace."""
    truth = dataset.truth if dataset.truth is not None and dataset.truth.D.shape[1] == D.shape[1] else None
    names = [f"component {m + 1}" for m in range(D.shape[1])]
    if truth is not None and truth.names:
        names = list(truth.names)
    label = METHOD_LABELS[method]
    cols_on_axis = isinstance(dataset.cols, gp.Axis)
    return html.Div(className="method-column", children=[
        html.H3(label, style={"borderColor": METHOD_COLORS[method]}),
        html.P(_fit_summary(fit), className="hint"),
        dcc.Graph(id={"type": "result-signals", "method": method}, config=config,
                  figure=factor_figure(D.T, dataset.rows, title=f"{label} · D, signals", names=names,
                                       truth=None if truth is None else truth.D.T, height=280)),
        dcc.Graph(id={"type": "result-maps", "method": method}, config=config,
                  figure=factor_figure(H, dataset.cols, title=f"{label} · H, amplitudes", names=names,
                                       truth=None if truth is None or not cols_on_axis else truth.H,
                                       slice_index=slice_index, height=260)),
        dcc.Graph(id={"type": "result-trace", "method": method}, config=config,
                  figure=trace_figure(trace, method, height=220)),
    ])


@callback(
    Output("results-columns", "children"),
    Output("rmse-chart", "figure"),
    Output("rmse-chart", "style"),
    Output("results-placeholder", "style"),
    Output("download-row", "style"),
    Output("job-message", "children", allow_duplicate=True),
    Input("job-result", "data"),
    Input("slice-slider", "value"),
    State("session-id", "data"),
    State("figure-format", "value"),
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
    columns = [
        method_column(m, meta["fits"][m], arrays[f"{m}.D"], arrays[f"{m}.H"], arrays[f"{m}.trace"], dataset,
                      slice_index, graph_config(image_format))
        for m in meta["methods"]
    ]
    return columns, rmse_figure(meta["scores"]), SHOWN, HIDDEN, SHOWN, ""


def _valid_slice(slice_index, cols) -> int:
    """The slider's slice, or 0 for anything that is not a slice of this grid (a forged value)."""
    n = cols.shape[2] if isinstance(cols, gp.Grid) and cols.ndim == 3 else 1
    ok = isinstance(slice_index, int) and not isinstance(slice_index, bool) and 0 <= slice_index < n
    return slice_index if ok else 0


@callback(
    Output("download-results", "data"),
    Input("download-npz", "n_clicks"),
    Input("download-zip", "n_clicks"),
    State("session-id", "data"),
    prevent_initial_call=True,
)
def download_results(_npz, _zip, session_id):
    """The session's latest results as .npz or as CSV files in a .zip."""
    stored = store.get(session_id, "results")
    if stored is None:
        return no_update
    arrays, meta = stored
    dataset = load_dataset(meta["dataset"], session_id)
    if ctx.triggered_id == "download-npz":
        return dcc.send_bytes(exports.results_npz(arrays, meta, dataset), "gppnmf-results.npz")
    return dcc.send_bytes(exports.results_zip(arrays, meta, dataset), "gppnmf-results.zip")


#: Graphs that exist from the first page load (the result columns are built with the current format).
STATIC_GRAPHS = ("dataset-heatmap", "preview-signal", "preview-strength", "samples-D", "samples-H", "hist-D",
                 "hist-H", "simulated-data", "rmse-chart")
RESULT_GRAPHS = ("result-signals", "result-maps", "result-trace")


@callback(
    [Output(graph, "config") for graph in STATIC_GRAPHS],
    [Output({"type": kind, "method": ALL}, "config") for kind in RESULT_GRAPHS],
    Input("figure-format", "value"),
    [State({"type": kind, "method": ALL}, "id") for kind in RESULT_GRAPHS],
    prevent_initial_call=True,
)
def set_figure_format(image_format, *result_ids):
    """Every camera button saves in the chosen format."""
    config = graph_config(image_format)
    return [config] * len(STATIC_GRAPHS), [[config] * len(ids) for ids in result_ids]
