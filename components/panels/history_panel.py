"""Run history: the session's last runs, listed with their settings; pinned runs compared in one RMSE chart.

Each run that ends with results (the methods that finished, for a stopped
one) is kept in the session by its job (:func:`components.jobs.keep_run`:
entries ``run-<n>``, the newest :data:`~components.jobs.RUNS_KEPT`, expiring
with the session). The list names each run's data set, settings (as
:func:`components.views.provenance.describe` says them) and time; ticking a run pins
it (the pins are kept in the session, so a reload keeps them) and the chart
compares the pinned runs (:func:`components.views.history_figures.history_rmse_figure`).
"""

from __future__ import annotations

import time

from dash import Input, Output, State, callback, dcc, html

from components import ids
from components.jobs import compute
from components.services import store
from components.views.figures import GRAPH_CONFIG, graph_config
from components.views.history_figures import history_rmse_figure
from components.views.provenance import describe
from components.views.theme import HIDDEN, SHOWN

PINS = "run-pins"


def layout() -> html.Div:
    return html.Div(id="history", className="history", children=[
        html.H3("Runs", className="plain"),
        html.P(f"This session's last {compute.RUNS_KEPT} runs. Pin runs to compare their RMSE in one chart "
               "(e.g. two GPP-NMF runs with different priors beside LS-NMF and CNMF).", className="hint"),
        html.P("No runs yet.", id="history-empty", className="hint"),
        dcc.Checklist(id="history-pins", options=[], value=[], className="history-list",
                      labelStyle={"display": "block"}),
        dcc.Graph(id="history-chart", style=HIDDEN, config=GRAPH_CONFIG),
    ])


def run_label(run: dict) -> str:
    """One line of the runs list: number, time, data set and settings."""
    when = time.strftime("%H:%M:%S", time.localtime(run.get("finished") or 0))
    summary = describe(run).removeprefix("Results for ")
    return f"run {run.get('run')} · {when} · {summary}"


def pinned(token) -> list[int]:
    stored = store.get(token, PINS)
    return list(stored[1].get("pinned", [])) if stored is not None else []


def pin(token, numbers) -> list[int]:
    """Keep ``numbers`` (run numbers, from the page) as the session's pins; the whole numbers among them."""
    numbers = sorted({n for n in (numbers or []) if isinstance(n, int) and not isinstance(n, bool)})
    store.put(token, PINS, {}, {"pinned": numbers})
    return numbers


def runs_list(token) -> tuple[list[dict], list[int], dict]:
    """(checklist options, pinned run numbers, "no runs yet" style) for the session's kept runs, newest first."""
    kept = compute.runs(token)
    options = [{"label": run_label(run), "value": run["run"]} for run in reversed(kept)]
    numbers = {run["run"] for run in kept}
    return options, [n for n in pinned(token) if n in numbers], HIDDEN if kept else SHOWN


def comparison(token, numbers) -> tuple[object, dict]:
    """(figure, style) comparing the pinned runs; hidden while none is pinned."""
    chosen = [run for run in compute.runs(token) if run["run"] in set(numbers or [])]
    if not chosen:
        return {}, HIDDEN
    return history_rmse_figure(chosen), SHOWN


@callback(
    Output("history-pins", "options"),
    Output("history-pins", "value"),
    Output("history-empty", "style"),
    Input(ids.JOB_RESULT, "data"),
    State(ids.SESSION_ID, "data"),
)
def list_runs(_job, session_id):
    """The runs list, on page load and whenever a job hands over results."""
    return runs_list(session_id)


@callback(
    Output("history-chart", "figure"),
    Output("history-chart", "style"),
    Input("history-pins", "value"),
    State(ids.SESSION_ID, "data"),
)
def compare_pinned_runs(numbers, session_id):
    """Keep the pins and draw the pinned runs' RMSE side by side."""
    return comparison(session_id, pin(session_id, numbers))


@callback(Output("history-chart", "config"), Input(ids.FIGURE_FORMAT, "value"), prevent_initial_call=True)
def set_history_figure_format(image_format):
    return graph_config(image_format)
