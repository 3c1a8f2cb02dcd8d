"""Decompose panel: choose rank, methods and budgets; run them in a background job.

The job runs in a worker process (Dash background callback) with a progress
bar and a Cancel button; Run is disabled while it runs. Results go to the
session's server-side store; the page receives only a small status record.
"""

from __future__ import annotations

import dataclasses
import logging
from contextlib import nullcontext

from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from . import store
from .data_source import load_dataset
from .job_slots import job_slot
from .jobs import JobSettings, JobTimeout, aligned_factors, run_decomposition, scores
from .messages import notice, problem
from .services import REDIS_URL
from .specs import factor_axis, prior_from_ui
from .theme import METHOD_LABELS, METHODS

log = logging.getLogger(__name__)


def _number(label: str, input_id: str, value, **kwargs) -> html.Div:
    return html.Div(className="field", children=[
        html.Label(label, htmlFor=input_id),
        dcc.Input(id=input_id, type="number", value=value, debounce=True, className="number", **kwargs),
    ])


def layout() -> html.Section:
    return html.Section(className="card", children=[
        html.H2("3 · Decompose"),
        html.Div(className="decompose-row", children=[
            _number("rank M", "rank-input", 2, min=1, step=1),
            html.Div(className="field", children=[
                html.Label("methods"),
                dcc.Checklist(id="methods-checklist", value=list(METHODS), inline=True,
                              options=[{"label": f" {METHOD_LABELS[m]}", "value": m} for m in METHODS]),
            ]),
            _number("max. iterations", "iter-input", 1000, min=1, step=1),
            _number("tolerance (LS-NMF, CNMF)", "tol-input", 1e-6, min=0, step="any"),
            _number("replicates", "replicates-input", 1, min=1, max=20, step=1),
            html.Button("Run", id="run-button", className="button primary"),
            html.Button("Cancel", id="cancel-button", className="button secondary", disabled=True),
        ]),
        html.P("LS-NMF needs nonnegative data and runs on max(X, 0): clipping the negative noise biases "
               "its fit upwards. CNMF keeps the negative values; GPP-NMF models the noise.", className="hint"),
        html.Div(className="progress-row", children=[
            html.Progress(id="job-progress", value="0", max="1"),
            html.Span(id="job-status", className="status", children="idle"),
        ]),
        html.Div(id="job-message", className="message", role="alert"),
        dcc.Store(id="job-result"),
    ])


@callback(Output("rank-input", "value"), Output("rank-input", "max"), Input("dataset-key", "data"),
          State("session-id", "data"))
def suggest_rank(dataset_key, session_id=None):
    dataset = load_dataset(dataset_key, session_id)
    return dataset.rank, min(dataset.X.shape)


def _as_int(value):
    return int(value) if isinstance(value, (int, float)) and float(value).is_integer() else value


def _store_results(session_id, dataset_key, dataset, settings, results, prior_specs=None) -> None:
    factors = aligned_factors(dataset, results)
    arrays, fits = {}, {}
    for method, result in results.items():
        arrays[f"{method}.D"], arrays[f"{method}.H"] = factors[method]
        arrays[f"{method}.trace"] = result.objective_trace
        fits[method] = {"objective": result.objective, "n_iter": result.n_iter, "converged": result.converged,
                        "runtime": result.runtime, "message": result.message}
    store.put(session_id, "results", arrays, {
        "dataset": dataset_key, "methods": list(results), "rank": settings.rank, "fits": fits,
        "scores": scores(dataset, factors),
        "settings": {"data": dataset.title, "job": dataclasses.asdict(settings), "priors": prior_specs},
    })


@callback(
    Output("job-result", "data"),
    Input("run-button", "n_clicks"),
    State("session-id", "data"),
    State("prior-specs", "data"),
    State("rank-input", "value"),
    State("methods-checklist", "value"),
    State("iter-input", "value"),
    State("tol-input", "value"),
    State("replicates-input", "value"),
    State("mask-threshold", "value"),
    background=True,
    running=[
        (Output("run-button", "disabled"), True, False),
        (Output("cancel-button", "disabled"), False, True),
    ],
    cancel=[Input("cancel-button", "n_clicks")],
    progress=[Output("job-progress", "value"), Output("job-status", "children")],
    prevent_initial_call=True,
)
def run_job(set_progress, n_clicks, session_id, specs, rank, methods, max_iter, tol, replicates, mask_threshold):
    """Fit the chosen methods with the current priors; store the results for this session."""
    store.delete(session_id, "results")  # a job abandoned mid-run must not leave stale results
    set_job_state(session_id, n_clicks, "running")
    set_progress(("0", "starting"))
    try:
        if not specs:
            raise ValueError("fix the prior settings first (see the message in the prior designer)")
        dataset = load_dataset(specs["dataset"], session_id)
        settings = JobSettings(
            methods=tuple(m for m in METHODS if m in (methods or [])), rank=_as_int(rank),
            max_iter=_as_int(max_iter), tol=tol if isinstance(tol, (int, float)) else float("nan"),
            n_replicates=_as_int(replicates), noise_var=specs["noise_var"],
            mask_threshold=float(mask_threshold or 0.0),
        )
        priors = [prior_from_ui(specs[f], factor_axis(dataset, f), f) for f in ("D", "H")]
        with _slot(set_progress):
            results = run_decomposition(dataset, *priors, settings,
                                        report=lambda fraction, text: set_progress((f"{fraction:.3f}", text)))
        _store_results(session_id, specs["dataset"], dataset, settings, results, specs)
    except (ValueError, JobTimeout) as exc:
        set_progress(("0", "stopped" if isinstance(exc, JobTimeout) else "not started"))
        set_job_state(session_id, n_clicks, "error")
        return {"run": n_clicks, "error": str(exc)}
    except Exception as exc:  # shown on the page; the server keeps serving
        log.exception("decomposition job failed")
        set_progress(("0", "failed"))
        set_job_state(session_id, n_clicks, "error")
        return {"run": n_clicks, "error": f"The job failed: {type(exc).__name__}: {exc}"}
    set_job_state(session_id, n_clicks, "done")
    return {"run": n_clicks, "error": None}


def _slot(set_progress):
    """A job slot on the embedded default; Celery workers cap concurrency themselves."""
    if REDIS_URL:
        return nullcontext()
    return job_slot(on_wait=lambda n: set_progress(("0", f"waiting: {n} jobs are running, yours starts next")))


def set_job_state(session_id: str, run, state: str) -> None:
    """Record how this session's latest job stands: running, done, error or cancelled."""
    store.put(session_id, "job", {}, {"run": run, "state": state})


# Until a worker or a slot picks the job up, say it is queued (in the browser: no round trip).
clientside_callback(
    "function(n) { return ['0', 'queued: waiting for a free worker', '']; }",
    Output("job-progress", "value", allow_duplicate=True),
    Output("job-status", "children", allow_duplicate=True),
    Output("job-message", "children", allow_duplicate=True),
    Input("run-button", "n_clicks"),
    prevent_initial_call=True,
)


@callback(
    Output("job-message", "children", allow_duplicate=True),
    Output("job-status", "children", allow_duplicate=True),
    Input("run-button", "disabled"),
    State("session-id", "data"),
    prevent_initial_call=True,
)
def notice_lost_job(run_disabled, session_id):
    """When a run ends without a result (its worker died), tell the user instead of saying nothing."""
    if run_disabled:
        return no_update, no_update
    stored = store.get(session_id, "job")
    if stored is None or stored[1]["state"] != "running":
        return no_update, no_update
    set_job_state(session_id, stored[1]["run"], "lost")
    return problem("The job stopped unexpectedly (its worker was lost). Press Run to try again."), "failed"


@callback(
    Output("job-message", "children", allow_duplicate=True),
    Output("job-status", "children", allow_duplicate=True),
    Input("cancel-button", "n_clicks"),
    State("session-id", "data"),
    prevent_initial_call=True,
)
def report_cancel(_, session_id):
    stored = store.get(session_id, "job")
    if stored is not None:
        set_job_state(session_id, stored[1]["run"], "cancelled")
    return notice("Cancelled. Press Run to start again."), "cancelled"

