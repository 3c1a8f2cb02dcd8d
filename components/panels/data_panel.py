"""Data panel: a built-in data set or the user's own file; what it is, how it looks, which voxels count.

The picker and the upload both set the session's ``dataset-key``; one callback
draws whatever that key points to: description, facts, the data matrix, and a
preview (the strongest observation's signal as a line with the usual peaks of
its nucleus labelled, the signal energy of every observation with the voxel
mask applied). A data set with a single observation is flagged before Run: a
decomposition needs several.
"""

from __future__ import annotations

import numpy as np
from dash import Input, Output, State, callback, dcc, html, no_update

import gppnmf_core as gp
from components import ids
from components.panels import upload_panel
from components.services import config
from components.services.data_source import builtin_key, is_upload, load_dataset
from components.services.sessions import SessionError
from components.services.store import StoreError
from components.views.figures import GRAPH_CONFIG, axis_title, data_heatmap, factor_figure, nucleus_of
from components.views.messages import problem
from components.views.specs import row_bands, shown
from gppnmf_core import included_observations, signal_strength


def layout() -> html.Div:
    return html.Section(className="card", children=[
        html.H2("1 · Data"),
        html.Div(className="data-grid", children=[
            html.Div(children=[
                html.Label("Built-in data set", htmlFor=ids.DATASET_PICKER),
                dcc.Dropdown(
                    id=ids.DATASET_PICKER,
                    options=[{"label": load_dataset(builtin_key(n)).title, "value": n} for n in gp.datasets.NAMES],
                    value="paper_toy",
                    placeholder="your uploaded file",
                ),
                html.Label("… or your own file"),
                upload_panel.layout(),
                html.P(id="dataset-description", className="description"),
                html.Ul(id="dataset-info", className="facts"),
                html.Label(mask_label("observation"), id="mask-label", htmlFor=ids.MASK_THRESHOLD),
                html.Div(dcc.Slider(id=ids.MASK_THRESHOLD, min=0, max=50, step=1, value=0, allow_direct_input=False,
                                    marks={v: f"{v} %" for v in (0, 10, 20, 30, 40, 50)}),
                         **{"data-slider-label": "mask-label", "data-slider-format": "percent"}),
                html.P(id="mask-summary", className="hint"),
            ]),
            html.Div(children=[
                dcc.Graph(id=ids.DATASET_HEATMAP, config=GRAPH_CONFIG),
                html.Div(className="preview-grid", children=[
                    dcc.Graph(id=ids.PREVIEW_SIGNAL, config=GRAPH_CONFIG),
                    dcc.Graph(id=ids.PREVIEW_STRENGTH, config=GRAPH_CONFIG),
                ]),
            ]),
        ]),
        dcc.Store(id=ids.DATASET_KEY),
    ])


def observation_word(dataset: gp.Dataset) -> str:
    """What one observation (a column of X) is called on the page: "voxel" only where the columns are voxels
    of a grid; "observation" otherwise (days, frames, an index)."""
    cols = dataset.cols
    return "voxel" if isinstance(cols, gp.Grid) and cols.unit == "voxel" else "observation"


def mask_label(word: str) -> str:
    return (f"{word} mask: leave out {word}s whose signal (projection on the mean signal) is below"
            if word == "voxel" else "mask: leave out observations whose signal (projection on the mean signal) "
            "is below")


#: What the facts list says when a data set has a single observation (nothing to decompose yet).
SINGLE_OBSERVATION = ("A decomposition needs several observations — keep the dynamics, or upload a CSI/MRSI or "
                      "dynamic file.")


def dataset_facts(dataset: gp.Dataset) -> list:
    """Size, axes and grid layout of a data set as list items; a notice first when it has one observation."""
    K, L = dataset.X.shape
    items = [
        f"X is {K} × {L}: {K} features (rows), {L} observations (columns)",
        f"rows: {axis_title(dataset.rows)}",
        f"columns: {axis_title(dataset.cols)}",
        f"suggested rank {dataset.rank}, noise variance σ² = {dataset.noise_var:.3g}",
        f"{100 * negative_fraction(dataset.X):.0f} % of entries are negative (noise)",
    ]
    for part, where in (("rows", dataset.rows), ("columns", dataset.cols)):
        if isinstance(where, gp.Grid):
            axes = ", ".join(f"{name} ({n})" for name, n in zip(where.names, where.shape, strict=False))
            items.append(f"{part} are a {' × '.join(map(str, where.shape))} {where.unit} grid: {axes}")
    facts = [html.Li(text) for text in items]
    if L < 2:
        facts.insert(0, html.Li(SINGLE_OBSERVATION, className="notice", role="note"))
    return facts


def negative_fraction(X: np.ndarray) -> float:
    """Share of negative entries, counted band by band (no boolean copy of a large X)."""
    return sum(int(np.count_nonzero(band < 0)) for band in row_bands(X)) / max(1, X.size)


def dataset_problem(key, exc: Exception) -> str:
    """What the data panel says when the data set behind ``key`` cannot be shown."""
    if is_upload(key) and not isinstance(exc, (SessionError, StoreError)):
        minutes = max(1, round(config.DEFAULT_TIMEOUT / 60))
        return (f"The uploaded data set is no longer on the server (uploads are kept {minutes} minutes after "
                "their last use); upload it again, or pick a built-in data set.")
    return str(exc)


def checked_threshold(value) -> float:
    """The voxel-mask threshold in percent (None means 0); ValueError unless a number from 0 to 100."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
        raise ValueError(f"the voxel-mask threshold must be a number from 0 to 100 %, got {shown(value)}")
    return float(value)


def preview_figures(dataset: gp.Dataset, threshold_percent):
    """The strongest observation's signal and the signal strength of every observation (left-out ones blank)."""
    strength = signal_strength(dataset.X)
    strongest = int(np.argmax(strength))
    signal = factor_figure(dataset.X[:, strongest][None, :], dataset.rows, names=[f"observation {strongest + 1}"],
                           title=f"Strongest observation ({strongest + 1})", height=260,
                           nucleus=nucleus_of(dataset))
    shown = np.where(included_observations(dataset.X, threshold_percent), strength, np.nan)
    strength_fig = factor_figure(shown[None, :], dataset.cols, names=["signal"], value_label="signal",
                                 title=f"Signal per {observation_word(dataset)}", height=260)
    return signal, strength_fig


@callback(Output(ids.DATASET_KEY, "data"), Input(ids.DATASET_PICKER, "value"))
def pick_builtin(name):
    """A built-in choice selects it; clearing the picker (an upload took over) changes nothing."""
    return builtin_key(name) if name else no_update


@callback(
    Output("dataset-description", "children"),
    Output("dataset-info", "children"),
    Output(ids.DATASET_HEATMAP, "figure"),
    Input(ids.DATASET_KEY, "data"),
    State(ids.SESSION_ID, "data"),
)
def show_dataset(key, session_id):
    """Description, facts and the data matrix (bounded to what a screen shows); a message when it is gone."""
    try:
        dataset = load_dataset(key, session_id)
    except (ValueError, StoreError) as exc:
        return problem(dataset_problem(key, exc)), [], no_update
    return dataset.description, dataset_facts(dataset), data_heatmap(dataset)


@callback(Output("mask-label", "children"), Input(ids.DATASET_KEY, "data"), State(ids.SESSION_ID, "data"))
def name_the_mask(key, session_id):
    """The mask slider's label: it speaks of voxels only where the observations are voxels."""
    try:
        dataset = load_dataset(key, session_id)
    except (ValueError, StoreError):
        return no_update
    return mask_label(observation_word(dataset))


@callback(
    Output(ids.PREVIEW_SIGNAL, "figure"),
    Output(ids.PREVIEW_STRENGTH, "figure"),
    Output("mask-summary", "children"),
    Input(ids.DATASET_KEY, "data"),
    Input(ids.MASK_THRESHOLD, "value"),
    State(ids.SESSION_ID, "data"),
)
def show_preview(key, threshold, session_id):
    """The strongest signal, the signal per voxel and how many voxels the mask keeps; a message instead when the
    data set is gone or the threshold is not a percentage."""
    try:
        threshold = checked_threshold(threshold)
    except ValueError as exc:
        return no_update, no_update, problem(exc)
    try:
        dataset = load_dataset(key, session_id)
    except (ValueError, StoreError) as exc:
        return no_update, no_update, problem(dataset_problem(key, exc))
    kept = int(included_observations(dataset.X, threshold).sum())
    L = dataset.X.shape[1]
    summary = f"{kept} of {L} observations take part in the fit" + ("" if kept < L else " (no mask)")
    return (*preview_figures(dataset, threshold), summary)
