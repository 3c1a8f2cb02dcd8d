"""How sure? — posterior draws of the last GPP-NMF run, as a background job: 90 % bands on its spectra,
an uncertainty map per component (grids), R̂ and ESS with a warning when they fail.

The job (:mod:`components.jobs.posterior_job`) runs on the session's one job slot with progress and Cancel
(:mod:`components.panels.job_controls`); the bands say which run and settings they came from, and warn when
the results shown now are of another run.
"""

from __future__ import annotations

from dash import Input, Output, State, callback, ctx, dcc, html

import gppnmf_core as gp
from components import ids
from components.jobs import compute, posterior_job
from components.panels import job_controls
from components.services import store
from components.services.data_source import load_dataset
from components.views.figures import GRAPH_CONFIG
from components.views.messages import problem
from components.views.theme import HIDDEN, SHOWN
from components.views.uncertainty_figures import (
    band_figure,
    diagnostics_summary,
    posterior_source_text,
    uncertainty_map_figure,
)
from gppnmf_core.plotting.alignment import component_names

PREFIX = "how-sure"


def layout() -> html.Section:
    return html.Section(className="card uncertainty-card", children=[
        html.H2("How sure? GPP-NMF posterior bands"),
        html.P("Draws from the posterior of the last GPP-NMF run (NUTS, two chains): the spectra with their "
               "90 % bands (each spectrum scaled to unit norm) and, for data on a grid, how wide each map's "
               "band is relative to its value. Runs in the background like Run; one job at a time.",
               className="hint"),
        *job_controls.controls(PREFIX, "How sure?", "How sure? sampling"),
        html.Div(id="how-sure-source", className="hint", role="status"),
        html.Div(id="how-sure-diagnostics", className="diagnostics", role="status"),
        dcc.Graph(id="posterior-bands", config=GRAPH_CONFIG, style=HIDDEN),
        dcc.Graph(id="posterior-maps", config=GRAPH_CONFIG, style=HIDDEN),
    ])


def _results_meta(token) -> dict:
    """The session's results' meta (ValueError with a message when there are none)."""
    stored = store.get(token, "results")
    if stored is None:
        raise ValueError("run a decomposition with GPP-NMF first: How sure? samples that run's posterior")
    return stored[1]


def _run_number(token, job_id) -> int | None:
    return next((run["run"] for run in compute.runs(token) if run.get("job_id") == job_id), None)


def sampling_request(token) -> dict:
    """The request for the session's current results (the run shown)."""
    meta = _results_meta(token)
    if meta.get("partial") and "gppnmf" not in (meta["partial"].get("finished") or []):
        raise ValueError("the last run was stopped before GPP-NMF finished: run it again first")
    return posterior_job.request_for(meta, _run_number(token, meta.get("job_id")))


@callback(
    *job_controls.drive_args(PREFIX),
)
def drive_sampling(_start, _cancel, _tick, session_id, following):
    """How sure?, its Cancel and its poll (and page load: a sampling job under way is picked up)."""
    return job_controls.drive(ctx.triggered_id, PREFIX, session_id, posterior_job.KIND, following,
                              lambda: sampling_request(session_id), clear=(posterior_job.ENTRY,))


def _slice(slice_index, where) -> int | None:
    if not (isinstance(where, gp.Grid) and where.ndim == 3):
        return None
    n = where.shape[2]
    return slice_index if isinstance(slice_index, int) and 0 <= slice_index < n else min(4, n - 1)


def diagnostics_view(meta: dict) -> list:
    """R̂ and ESS in words, and a warning when they fail."""
    text, warnings = diagnostics_summary(meta.get("rhat_max"), meta.get("ess_bulk_min"), meta.get("n_chains"),
                                         meta.get("n_draws"))
    return [html.Span(text, className="ok" if not warnings else "")] + \
        [html.Div(problem(w), className="diagnostics-warning") for w in warnings]


def provenance(meta: dict, results_job) -> list:
    """Where the bands came from, and a warning when the results shown are of another run."""
    out = [posterior_source_text(meta)]
    if results_job != (meta.get("source") or {}).get("job_id"):
        out.append(html.Div(problem("These bands are of an earlier run than the results shown above: press "
                                    "How sure? again for the current run.")))
    return out


@callback(
    Output("how-sure-source", "children"),
    Output("how-sure-diagnostics", "children"),
    Output("posterior-bands", "figure"),
    Output("posterior-bands", "style"),
    Output("posterior-maps", "figure"),
    Output("posterior-maps", "style"),
    Input(f"{PREFIX}-ended", "data"),
    Input(ids.SLICE_SLIDER, "value"),
    Input(ids.JOB_RESULT, "data"),
    State(ids.SESSION_ID, "data"),
)
def show_bands(_ended, slice_index, _job, session_id):
    """Draw the session's posterior bands (nothing before the first)."""
    stored = store.get(session_id, posterior_job.ENTRY)
    if stored is None:
        return "", "", {}, HIDDEN, {}, HIDDEN
    arrays, meta = stored
    try:
        dataset = load_dataset(meta["dataset"], session_id)
    except ValueError as exc:
        return problem(f"The bands' data set is gone ({exc})."), "", {}, HIDDEN, {}, HIDDEN
    results = store.get(session_id, "results")
    names = component_names(dataset, int(meta["rank"]))
    bands = band_figure(arrays["D.q"].transpose(0, 2, 1), dataset.rows, names=names, value_label="unit-norm signal",
                        title="GPP-NMF · D, signals with 90 % bands (unit norm)", height=300)
    maps = uncertainty_map_figure(arrays["H.q"], dataset.cols, names=names,
                                  slice_index=_slice(slice_index, dataset.cols))
    return (provenance(meta, None if results is None else results[1].get("job_id")), diagnostics_view(meta),
            bands, SHOWN, maps, SHOWN)

