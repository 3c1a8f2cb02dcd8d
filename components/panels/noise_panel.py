"""Estimate σ² — the noise variance from the data (alternating MAP fits and MacKay's RSS / (n − γ)), as a
background job, offered with where it came from; "Use this σ²" sets the prior designer's noise box (an
output with ``allow_duplicate``; its slider follows the box).
"""

from __future__ import annotations

from dash import Input, Output, State, callback, ctx, html, no_update

from components import ids
from components.jobs import noise_job
from components.panels import job_controls
from components.services import store
from components.services.data_source import load_dataset
from components.views.messages import notice, problem
from components.views.uncertainty_figures import noise_text

PREFIX = "noise-estimate"
#: The prior designer's noise-variance box (components/panels/prior_panel.py, PARAMS ("noise", "var")).
NOISE_BOX = ids.param_input("noise", "var")


def layout() -> html.Div:
    """Estimate σ², placed by the prior designer beside its noise slider."""
    return html.Div(className="noise-estimate", children=[
        html.P("Or estimate σ² from the data with the fit (the current rank and priors): MAP fits alternate with "
               "MacKay's update σ² = RSS / (n − γ), where γ counts the parameters the data determine. "
               "Cross-validation cannot set σ² (it is flat in σ²).", className="hint"),
        *job_controls.controls(PREFIX, "Estimate σ²", "Estimate σ²"),
        html.P(id="noise-estimate-text", role="status"),
        html.Div(className="progress-row", children=[
            html.Button("Use this σ²", id="noise-apply", className="button secondary", disabled=True),
            html.Span(id="noise-applied", role="status"),
        ]),
    ])


def estimate_request(token, specs, rank, mask_threshold) -> dict:
    if not isinstance(specs, dict) or not isinstance(specs.get("dataset"), str):
        raise ValueError("fix the prior settings first (see the message in the prior designer)")
    dataset = load_dataset(specs["dataset"], token)
    rank = int(rank) if isinstance(rank, (int, float)) and float(rank).is_integer() else rank
    return noise_job.request_for(dataset, specs, rank, mask_threshold)


@callback(
    *job_controls.drive_args(PREFIX),
    State(ids.PRIOR_SPECS, "data"),
    State(ids.RANK_INPUT, "value"),
    State(ids.MASK_THRESHOLD, "value"),
)
def drive_estimate(_start, _cancel, _tick, session_id, following, specs, rank, mask_threshold):
    """Estimate σ², its Cancel and its poll (and page load)."""
    return job_controls.drive(ctx.triggered_id, PREFIX, session_id, noise_job.KIND, following,
                              lambda: estimate_request(session_id, specs, rank, mask_threshold),
                              clear=(noise_job.ENTRY,))


def _estimate(session_id, dataset_key) -> dict | None:
    stored = store.get(session_id, noise_job.ENTRY)
    return stored[1] if stored is not None and stored[1].get("dataset") == dataset_key else None


@callback(
    Output("noise-estimate-text", "children"),
    Output("noise-apply", "disabled"),
    Input(f"{PREFIX}-ended", "data"),
    Input(ids.DATASET_KEY, "data"),
    State(ids.SESSION_ID, "data"),
)
def show_estimate(_ended, dataset_key, session_id):
    """The session's last estimate for this data set, and where it came from."""
    meta = _estimate(session_id, dataset_key)
    if meta is None:
        return "", True
    return noise_text(meta, load_dataset(dataset_key, session_id).noise_var), False


@callback(
    Output(NOISE_BOX, "value", allow_duplicate=True),
    Output("noise-applied", "children"),
    Input("noise-apply", "n_clicks"),
    State(ids.SESSION_ID, "data"),
    State(ids.DATASET_KEY, "data"),
    prevent_initial_call=True,
)
def apply_estimate(_clicks, session_id, dataset_key):
    """Set the noise box (three significant digits, as it shows values) to the estimate."""
    meta = _estimate(session_id, dataset_key)
    if meta is None:
        return no_update, problem("No estimate for this data set: press Estimate σ² first.")
    value = float(f"{meta['noise_var']:.3g}")
    return value, notice(f"σ² set to {value:g} (estimated from the data). Press Run to fit with it.")
