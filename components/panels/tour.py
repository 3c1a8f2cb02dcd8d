"""Classroom tour: a few steps through the built-in data sets, each setting the page up and saying what to look at.

A step chooses a data set and a preset through the page's own controls (the
data set picker, the preset picker), so everything the page shows is what a
user would get by choosing them; the step's text says, in plain words, what
to look at and what to press. Steps: the factories (what NMF does, and what
it cannot decide), the toy example with the correct prior and then the
incorrect one (what a prior adds), the CSI phantom (symmetry, and what
GPP-NMF buys over CNMF).
"""

from __future__ import annotations

from typing import NamedTuple

from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from components import ids
from components.views.theme import HIDDEN, SHOWN


class TourStep(NamedTuple):
    title: str
    dataset: str  #: a name in gppnmf_core.datasets.NAMES
    preset: str  #: one of that data set's presets
    text: tuple[str, ...]  #: what to look at, one paragraph each


STEPS = (
    TourStep(
        "What NMF does: three factories",
        "factories", "smooth",
        ("Each column of the data X (the heat map in section 1) is one day: how much waste came out in each of "
         "12 hours. Three factories discharge, each with its own daily profile, and on any day only some of "
         "them run.",
         "NMF writes X ≈ D·H. The columns of D are the signals (here: the three factories' profiles), and the "
         "rows of H are the weights (which factory ran on which day, and how much). Nothing else is assumed: "
         "only that every number in D and H is zero or more.",
         "Press Run (section 3). The picture X ≈ D × H in the results shows the three pieces side by side. "
         "Look at D: every method gets factories 1 and 2 right, up to their scale (correlation with the truth "
         "above 0.99 with these settings).",
         "Factory 3 is not identifiable: it discharges in every hour factory 2 does, so half of factory 2's "
         "profile can be taken out of factory 3's and added to factory 2's weights on the days factory 3 ran. "
         "Both D and H stay nonnegative and D × H is exactly the same X, so no method can tell the two answers "
         "apart from the data: factory 3 comes back mixed. NMF is unique only when every signal has zeros where "
         "the others do not."),
    ),
    TourStep(
        "What a prior adds: the right prior",
        "paper_toy", "correct",
        ("The paper's toy example: two smooth signals buried in heavy noise (σ² = 25; many entries of X are "
         "negative).",
         "The prior designer (section 2) shows what the prior believes before seeing any data: the prior "
         "samples are smooth curves, like the true signals. The histograms compare the values the prior draws "
         "with the distribution it is meant to have.",
         "Press Run and look at the RMSE bars at the bottom: GPP-NMF should be lowest against the noise-free "
         "data and the true factors. Against the noisy data every method is near the dashed noise level: "
         "nobody can predict the noise."),
    ),
    TourStep(
        "What a prior adds: the wrong prior",
        "paper_toy", "incorrect",
        ("Same data, but now the prior is wrong: the links are swapped and the length scales are off by a "
         "factor of ten. The prior samples no longer look like the signals.",
         "Press Run again and compare the RMSE bars with the last run: GPP-NMF's error against the true "
         "factors grows. A prior helps only as much as it is right — the prior check (simulated D·H + noise "
         "under the prior samples) is where to catch a wrong one before running."),
    ),
    TourStep(
        "Symmetry: the CSI phantom",
        "csi_phantom", "paper",
        ("A 31P chemical-shift image: 512 spectra on an 8×8×8 grid, a mix of a brain spectrum and a muscle "
         "spectrum. The maps in H show where each one is.",
         "The paper's prior says two things about the maps: neighbouring voxels are alike (length scale 2 "
         "voxels), and the head is left–right symmetric (the mirror box is ticked).",
         "Press Run and compare the maps of GPP-NMF with those of CNMF, slice by slice (the axial slice "
         "slider): GPP-NMF's brain and muscle maps are smooth and symmetric, CNMF's are noisy. The RMSE bars "
         "show the same: GPP-NMF is closest to the true factors."),
    ),
)


def layout() -> html.Section:
    return html.Section(className="card tour", id="tour", **{"aria-labelledby": "tour-heading"}, children=[
        html.Div(className="tour-head", children=[
            html.H2("Classroom tour", id="tour-heading"),
            html.Button("Start the tour", id="tour-start", className="button secondary"),
        ]),
        html.P("Four short steps through the built-in examples: what NMF does, what a prior adds, and what "
               "symmetry buys. Each step sets the page up; you press Run.", className="hint"),
        html.Div(id="tour-panel", className="tour-panel", style=HIDDEN, role="region", **{"aria-live": "polite",
                 "aria-label": "Tour step"}, children=[
            html.P(id="tour-progress", className="tour-progress"),
            html.H3(id="tour-title", className="plain"),
            html.Div(id="tour-text", className="tour-text"),
            html.Div(className="tour-buttons", children=[
                html.Button("Back", id="tour-back", className="button secondary"),
                html.Button("Next", id="tour-next", className="button primary"),
                html.Button("Close the tour", id="tour-close", className="button secondary"),
            ]),
        ]),
        dcc.Store(id="tour-step"),
    ])


def next_step(action: str | None, step) -> int | None:
    """The step after ``action`` ("start", "next", "back", "close") from ``step`` (None: the tour is closed)."""
    current = step if isinstance(step, int) and not isinstance(step, bool) and 0 <= step < len(STEPS) else None
    if action == "start":
        return 0
    if action == "close" or current is None:
        return None
    if action == "next":
        return current + 1 if current + 1 < len(STEPS) else None  # "Finish" on the last step closes the tour
    if action == "back":
        return max(0, current - 1)
    return current


@callback(
    Output("tour-step", "data"),
    Input("tour-start", "n_clicks"),
    Input("tour-next", "n_clicks"),
    Input("tour-back", "n_clicks"),
    Input("tour-close", "n_clicks"),
    State("tour-step", "data"),
    prevent_initial_call=True,
)
def move_through_tour(_start, _next, _back, _close, step):
    action = {"tour-start": "start", "tour-next": "next", "tour-back": "back", "tour-close": "close"}.get(
        ctx.triggered_id)
    return next_step(action, step)


@callback(
    Output("tour-panel", "style"),
    Output("tour-progress", "children"),
    Output("tour-title", "children"),
    Output("tour-text", "children"),
    Output("tour-back", "disabled"),
    Output("tour-next", "children"),
    Output("tour-start", "children"),
    Input("tour-step", "data"),
)
def show_tour_step(step):
    """The step's title and text (hidden when the tour is closed)."""
    if next_step(None, step) is None:
        return HIDDEN, "", "", [], True, "Next", "Start the tour"
    current = STEPS[step]
    last = step == len(STEPS) - 1
    return (SHOWN, f"Step {step + 1} of {len(STEPS)}", current.title, [html.P(t) for t in current.text],
            step == 0, "Finish" if last else "Next", "Start again")


@callback(
    Output(ids.DATASET_PICKER, "value", allow_duplicate=True),
    Output(ids.PRESET_PICKER, "value", allow_duplicate=True),
    Input("tour-step", "data"),
    State(ids.DATASET_PICKER, "value"),
    prevent_initial_call=True,
)
def set_up_tour_step(step, dataset):
    """Choose the step's data set; when it is already chosen, its preset at once (otherwise
    :func:`choose_tour_preset` does, once the new data set's presets are offered)."""
    if next_step(None, step) is None:
        return no_update, no_update
    current = STEPS[step]
    if dataset == current.dataset:
        return no_update, current.preset
    return current.dataset, no_update


@callback(
    Output(ids.PRESET_PICKER, "value", allow_duplicate=True),
    Input(ids.PRESET_PICKER, "options"),
    State("tour-step", "data"),
    State(ids.DATASET_PICKER, "value"),
    prevent_initial_call=True,
)
def choose_tour_preset(options, step, dataset):
    """Once the step's data set offers its presets, pick the step's one."""
    if next_step(None, step) is None or STEPS[step].dataset != dataset:
        return no_update
    names = [o.get("value") for o in options or [] if isinstance(o, dict)]
    return STEPS[step].preset if STEPS[step].preset in names else no_update
