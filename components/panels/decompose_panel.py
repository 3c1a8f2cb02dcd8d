"""Decompose panel: choose rank, methods and budgets; run them as a job with progress and Cancel.

Run checks the settings at once (messages on the page), then hands the job to
the app's job runner (:mod:`components.jobs.runner`) and returns. While a job
is queued or running, an interval polls the session's job record and shows its
progress (each poll tells the job a page still watches it: a job no page polls
is cancelled after a grace period); when it ends, ``job-result`` tells the
results panel. A job stopped before its end (Cancel, the time limit) still
hands over the methods that finished. A reloaded page picks up its session's
job where it stands.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import NamedTuple

from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from components import ids
from components.jobs import runner
from components.jobs.compute import JobSettings, prepare
from components.jobs.compute import store_results as _store_results  # noqa: F401 - the name tests and benchmarks import
from components.services import store
from components.services.data_source import load_dataset
from components.views.messages import notice, problem
from components.views.theme import METHOD_LABELS, METHODS

#: How often a page with an active job asks how it stands (milliseconds).
POLL_MS = 400


def _number(label: str, input_id: str, value, **kwargs) -> html.Div:
    return html.Div(className="field", children=[
        html.Label(label, htmlFor=input_id),
        dcc.Input(id=input_id, type="number", value=value, debounce=True, className="number", **kwargs),
    ])


def layout() -> html.Section:
    return html.Section(className="card", children=[
        html.H2("3 · Decompose"),
        html.Div(className="decompose-row", children=[
            _number("rank M", ids.RANK_INPUT, 2, min=1, step=1),
            html.Div(className="field", children=[
                html.Label("methods"),
                dcc.Checklist(id="methods-checklist", value=list(METHODS), inline=True,
                              options=[{"label": f" {METHOD_LABELS[m]}", "value": m} for m in METHODS]),
            ]),
            _number("max. iterations", "iter-input", 1000, min=1, step=1),
            _number("tolerance (LS-NMF, CNMF)", "tol-input", 1e-6, min=0, step="any"),
            _number("replicates", "replicates-input", 1, min=1, max=20, step=1),
            html.Button("Run", id=ids.RUN_BUTTON, className="button primary"),
            html.Button("Cancel", id="cancel-button", className="button secondary", disabled=True),
        ]),
        html.P("LS-NMF needs nonnegative data and runs on max(X, 0): clipping the negative noise biases "
               "its fit upwards. CNMF keeps the negative values; GPP-NMF models the noise.", className="hint"),
        html.Div(className="progress-row", children=[
            html.Progress(id="job-progress", value="0", max="1"),
            html.Span(id="job-status", className="status", children="idle"),
        ]),
        html.Div(id=ids.JOB_MESSAGE, className="message", role="alert"),
        dcc.Store(id=ids.JOB_RESULT),
        dcc.Interval(id="job-poll", interval=POLL_MS, disabled=True),
    ])


@callback(Output(ids.RANK_INPUT, "value"), Output(ids.RANK_INPUT, "max"), Input(ids.DATASET_KEY, "data"),
          State(ids.SESSION_ID, "data"))
def suggest_rank(dataset_key, session_id=None):
    dataset = load_dataset(dataset_key, session_id)
    return dataset.rank, min(dataset.X.shape)


def _as_int(value):
    return int(value) if isinstance(value, (int, float)) and float(value).is_integer() else value


def settings_from_form(rank, methods, max_iter, tol, replicates, mask_threshold, noise_var) -> JobSettings:
    """The Decompose panel's inputs as job settings (checked later by :func:`components.jobs.check_settings`)."""
    return JobSettings(
        methods=tuple(m for m in METHODS if m in (methods or [])), rank=_as_int(rank),
        max_iter=_as_int(max_iter), tol=tol if isinstance(tol, (int, float)) else float("nan"),
        n_replicates=_as_int(replicates), noise_var=noise_var, mask_threshold=float(mask_threshold or 0.0),
    )


class JobView(NamedTuple):
    """What the page shows about the session's job: one value per output of :func:`drive_job`."""

    progress: object = no_update
    status: object = no_update
    message: object = no_update
    run_disabled: object = no_update
    cancel_disabled: object = no_update
    poll_disabled: object = no_update
    result: object = no_update


def _idle_view(status="idle", message=no_update, result=no_update) -> JobView:
    return JobView("0", status, message, False, True, True, result)


def _active_view(record: dict, message=no_update) -> JobView:
    return JobView(f"{record['fraction']:.3f}", record["text"], message, True, False, False)


def kept_partial_results(token, job_id) -> bool:
    """Whether the session's results are those of the methods that finished before job ``job_id`` was stopped."""
    stored = store.get(token, "results")
    return stored is not None and stored[1].get("job_id") == job_id and "partial" in stored[1]


def _partial_result(record: dict) -> dict:
    """What tells the results panel to draw a stopped job's finished methods, and then this panel how it ended."""
    return {"run": record["id"], "error": None, "ended": record.get("message"), "state": record["state"]}


def _ended_view(record: dict, reported, page_load: bool, token=None) -> JobView:
    """A job that has ended: tell the results panel (done, error) or say it here (cancelled, lost), once.

    A stopped job whose first methods finished hands those to the results panel,
    which says how the job ended.
    """
    state, status = record["state"], record.get("status") or record["state"]
    if reported and reported.get("run") == record["id"]:
        return _idle_view(status)
    if state == "done":
        return JobView("1", "done", "", False, True, True, {"run": record["id"], "error": None})
    if page_load:  # a reloaded page shows how the last job ended, without repeating its message
        return _idle_view(status)
    if token is not None and kept_partial_results(token, record["id"]):
        return _idle_view(status, result=_partial_result(record))
    if state == "error":
        return _idle_view(status, result={"run": record["id"], "error": record["message"]})
    say = notice if state == "cancelled" else problem  # said once: the poll stops with this answer
    return _idle_view(status, message=say(record["message"]))


def poll_job(token, reported, page_load: bool) -> JobView:
    """How the session's job stands now (also on page load: a reloaded page finds its running job)."""
    record = runner.status(token)
    if record is None:
        return _idle_view()
    if runner.kind_of(record) != runner.DECOMPOSE:  # How sure?, Suggest settings or Estimate σ²: its own panel
        return _other_kind_view(record)
    if record["state"] in runner.ACTIVE:
        runner.seen(token, record["id"])  # a page still watches this job
        return _active_view(record)
    return _ended_view(record, reported, page_load, token)


#: What the other job kinds are called on the page (their panels show their progress and Cancel).
OTHER_KINDS = {"posterior": "How sure?", "model-choice": "Suggest settings", "noise": "Estimate σ²"}


def _other_kind_view(record: dict) -> JobView:
    """While another kind of job has the session's one job, Run waits (and the poll goes on until it ends)."""
    if record["state"] not in runner.ACTIVE:
        return _idle_view()
    name = OTHER_KINDS.get(runner.kind_of(record), "another job")
    return JobView("0", f"waiting: {name} is running", no_update, True, True, False)


def start_job(token, specs, settings: JobSettings) -> JobView:
    """Check the request, queue it as the session's job and return at once."""
    request = {"specs": specs, "settings": dataclasses.asdict(settings)}
    try:
        prepare(request, token)  # the data set loads, the settings and priors are valid
        record = runner.start(token, request)
    except runner.JobRefused as exc:
        return JobView(message=problem(str(exc)), run_disabled=True, cancel_disabled=False, poll_disabled=False)
    except ValueError as exc:
        return _idle_view("not started", result={"run": secrets.token_hex(4), "error": str(exc)})  # new each time
    return _active_view(record, message="")


def cancel_job(token) -> JobView:
    """Stop the session's job; its slot or worker is free at once."""
    record = runner.cancel(token)
    if record is not None and record["state"] not in ("cancelled", *runner.ACTIVE):
        return poll_job(token, None, page_load=False)  # it ended on its own just before
    if record is not None and kept_partial_results(token, record["id"]):
        return _idle_view("cancelled", result=_partial_result(record))
    return _idle_view("cancelled", message=notice("Cancelled. Press Run to start again."))


@callback(
    Output("job-progress", "value"),
    Output("job-status", "children"),
    Output(ids.JOB_MESSAGE, "children"),
    Output(ids.RUN_BUTTON, "disabled"),
    Output("cancel-button", "disabled"),
    Output("job-poll", "disabled"),
    Output(ids.JOB_RESULT, "data"),
    Input(ids.RUN_BUTTON, "n_clicks"),
    Input("cancel-button", "n_clicks"),
    Input("job-poll", "n_intervals"),
    State(ids.SESSION_ID, "data"),
    State(ids.PRIOR_SPECS, "data"),
    State(ids.RANK_INPUT, "value"),
    State("methods-checklist", "value"),
    State("iter-input", "value"),
    State("tol-input", "value"),
    State("replicates-input", "value"),
    State(ids.MASK_THRESHOLD, "value"),
    State(ids.JOB_RESULT, "data"),
)
def drive_job(_run, _cancel, _tick, session_id, specs, rank, methods, max_iter, tol, replicates, mask_threshold,
              reported):
    """Run, Cancel and the poll (and page load): the one callback that owns the job's controls."""
    if ctx.triggered_id == ids.RUN_BUTTON:
        noise_var = specs.get("noise_var") if isinstance(specs, dict) else None
        settings = settings_from_form(rank, methods, max_iter, tol, replicates, mask_threshold, noise_var)
        return list(start_job(session_id, specs, settings))
    if ctx.triggered_id == "cancel-button":
        return list(cancel_job(session_id))
    return list(poll_job(session_id, reported, page_load=ctx.triggered_id is None))


def ended_message(job):
    """How a stopped job ended, for the job message once its finished methods are drawn; no_update otherwise."""
    ended = job.get("ended") if isinstance(job, dict) else None
    if not isinstance(ended, str) or not ended:
        return no_update
    return (notice if job.get("state") == "cancelled" else problem)(ended[:300])


@callback(
    Output(ids.JOB_MESSAGE, "children", allow_duplicate=True),
    Input(ids.DOWNLOAD_ROW, "style"),
    State(ids.JOB_RESULT, "data"),
    prevent_initial_call=True,
)
def say_how_a_stopped_job_ended(_results_drawn, job):
    """After the results panel has drawn a stopped job's finished methods (clearing the job message), say how
    the job ended: triggered by the results panel's own output, so it always comes second."""
    return ended_message(job)
