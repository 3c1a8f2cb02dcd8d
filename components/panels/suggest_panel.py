"""Suggest settings — which rank, which priors: cross-validation (paired over folds, one-SE rule) and the
Laplace evidence over candidates built from the page, as a background job; Apply sets the page's controls to
the choice.

Apply writes the rank box and the prior designer's controls (kernel, link, mirror and number boxes, through
outputs with ``allow_duplicate``, as loading a settings file does); the prior designer then rebuilds the
page's prior specs (``prior-specs``) from them, so controls and specs never disagree. σ² is left as it is.
"""

from __future__ import annotations

from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from components import ids
from components.jobs import model_choice_job
from components.panels import job_controls
from components.services import store
from components.services.data_source import load_dataset
from components.views.figures import GRAPH_CONFIG
from components.views.messages import notice, problem
from components.views.specs import controls_of
from components.views.theme import HIDDEN, SHOWN
from components.views.uncertainty_figures import cv_figure, suggestion_text

PREFIX = "suggest"


def layout() -> html.Section:
    return html.Section(className="card suggest-card", children=[
        html.H2("Suggest settings: rank and priors"),
        html.P("Compares candidates built from the settings above by 5-fold cross-validation on held-out "
               "entries of X (differences paired over the same folds, with their standard errors) and by the "
               "Laplace evidence; suggests the smallest rank within one standard error of the best.",
               className="hint"),
        html.Fieldset(className="suggest-families", children=[
            html.Legend("candidates to compare with the current settings"),
            dcc.Checklist(id="suggest-families", inline=True, value=list(model_choice_job.FAMILIES),
                          options=[{"label": f" {text}", "value": key}
                                   for key, text in model_choice_job.FAMILIES.items()]),
        ]),
        *job_controls.controls(PREFIX, "Suggest settings", "Suggest settings"),
        dcc.Graph(id="suggest-figure", config=GRAPH_CONFIG, style=HIDDEN),
        html.P(id="suggest-text", role="status"),
        html.Div(className="progress-row", children=[
            html.Button("Apply the suggestion", id="suggest-apply", className="button secondary", disabled=True),
            html.Span(id="suggest-applied", role="status"),
        ]),
    ])


def choice_request(token, specs, rank, mask_threshold, families) -> dict:
    """The model-choice request for the page's current state."""
    if not isinstance(specs, dict) or not isinstance(specs.get("dataset"), str):
        raise ValueError("fix the prior settings first (see the message in the prior designer)")
    dataset = load_dataset(specs["dataset"], token)
    rank = int(rank) if isinstance(rank, (int, float)) and float(rank).is_integer() else rank
    return model_choice_job.request_for(dataset, specs, rank, mask_threshold, families)


@callback(
    *job_controls.drive_args(PREFIX),
    State(ids.PRIOR_SPECS, "data"),
    State(ids.RANK_INPUT, "value"),
    State(ids.MASK_THRESHOLD, "value"),
    State("suggest-families", "value"),
)
def drive_model_choice(_start, _cancel, _tick, session_id, following, specs, rank, mask_threshold, families):
    """Suggest settings, its Cancel and its poll (and page load)."""
    return job_controls.drive(ctx.triggered_id, PREFIX, session_id, model_choice_job.KIND, following,
                              lambda: choice_request(session_id, specs, rank, mask_threshold, families),
                              clear=(model_choice_job.ENTRY,))


@callback(
    Output("suggest-figure", "figure"),
    Output("suggest-figure", "style"),
    Output("suggest-text", "children"),
    Output("suggest-apply", "disabled"),
    Input(f"{PREFIX}-ended", "data"),
    Input(ids.DATASET_KEY, "data"),
    State(ids.SESSION_ID, "data"),
)
def show_suggestion(_ended, dataset_key, session_id):
    """Plot the session's last model choice for this data set, the choice marked; Apply is offered with it."""
    stored = store.get(session_id, model_choice_job.ENTRY)
    if stored is None or stored[1].get("dataset") != dataset_key:
        return {}, HIDDEN, "", True
    meta = stored[1]
    names = [c["name"] for c in meta["candidates"]]
    figure = cv_figure(meta["table"], names, meta.get("best_index"), meta.get("evidence_index"))
    return figure, SHOWN, suggestion_text(meta), meta.get("best_index") is None


def chosen_controls(meta: dict, factor_ids, param_ids, noise_var) -> tuple:
    """Rank, kernel, link, mirror and number-box values that set the page to the chosen candidate."""
    choice = meta["candidates"][meta["best_index"]]
    shown = {f: controls_of(choice[f]) for f in ("D", "H")}
    factors = [i["factor"] for i in factor_ids]
    params = [noise_var if i["factor"] == "noise" else float(f"{shown[i['factor']][i['name']]:.3g}")
              for i in param_ids]
    return (choice["rank"], [shown[f]["kernel"] for f in factors], [shown[f]["link"] for f in factors],
            [["mirror"] if shown[f]["mirror"] else [] for f in factors], params)


@callback(
    Output(ids.RANK_INPUT, "value", allow_duplicate=True),
    Output(ids.kernel(), "value", allow_duplicate=True),
    Output(ids.link(), "value", allow_duplicate=True),
    Output(ids.mirror(), "value", allow_duplicate=True),
    Output(ids.param_input(), "value", allow_duplicate=True),
    Output("suggest-applied", "children"),
    Input("suggest-apply", "n_clicks"),
    State(ids.SESSION_ID, "data"),
    State(ids.DATASET_KEY, "data"),
    State(ids.kernel(), "id"),
    State(ids.param_input(), "id"),
    State(ids.param_input(), "value"),
    prevent_initial_call=True,
)
def apply_suggestion(_clicks, session_id, dataset_key, factor_ids, param_ids, param_values):
    """Set the rank and the prior controls to the suggested candidate (σ² stays as it is)."""
    stored = store.get(session_id, model_choice_job.ENTRY)
    if stored is None or stored[1].get("dataset") != dataset_key or stored[1].get("best_index") is None:
        return (*[no_update] * 5, problem("No suggestion for this data set: press Suggest settings first."))
    try:
        noise_var = next(v for i, v in zip(param_ids, param_values, strict=True) if i["factor"] == "noise")
        values = chosen_controls(stored[1], factor_ids, param_ids, noise_var)
    except (KeyError, TypeError, ValueError, StopIteration):
        return (*[no_update] * 5, problem("The page's controls do not fit this suggestion; reload the page."))
    name = stored[1]["candidates"][stored[1]["best_index"]]["name"]
    return (*values, notice(f"Applied: {name}. Press Run to fit it."))
