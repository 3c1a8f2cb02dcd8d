"""Data panel: pick a built-in data set, read what it shows, see its data matrix and layout."""

from __future__ import annotations

from dash import Input, Output, callback, dcc, html

import gppnmf_core as gp

from .data_source import builtin_key, load_dataset
from .figures import GRAPH_CONFIG, axis_title, data_heatmap


def layout() -> html.Div:
    return html.Section(className="card", children=[
        html.H2("1 · Data"),
        html.Div(className="data-grid", children=[
            html.Div(children=[
                html.Label("Built-in data set", htmlFor="dataset-picker"),
                dcc.Dropdown(
                    id="dataset-picker",
                    options=[{"label": load_dataset(builtin_key(n)).title, "value": n} for n in gp.datasets.NAMES],
                    value="paper_toy",
                    clearable=False,
                ),
                html.P(id="dataset-description", className="description"),
                html.Ul(id="dataset-info", className="facts"),
            ]),
            dcc.Graph(id="dataset-heatmap", config=GRAPH_CONFIG),
        ]),
        dcc.Store(id="dataset-key"),
    ])


def dataset_facts(dataset: gp.Dataset) -> list:
    """Size, axes and grid layout of a data set as list items."""
    K, L = dataset.X.shape
    items = [
        f"X is {K} × {L}: {K} features (rows), {L} observations (columns)",
        f"rows: {axis_title(dataset.rows)}",
        f"columns: {axis_title(dataset.cols)}",
        f"suggested rank {dataset.rank}, noise variance σ² = {dataset.noise_var:.3g}",
        f"{100 * float((dataset.X < 0).mean()):.0f} % of entries are negative (noise)",
    ]
    for part, where in (("rows", dataset.rows), ("columns", dataset.cols)):
        if isinstance(where, gp.Grid):
            axes = ", ".join(f"{name} ({n})" for name, n in zip(where.names, where.shape, strict=False))
            items.append(f"{part} are a {' × '.join(map(str, where.shape))} {where.unit} grid: {axes}")
    return [html.Li(text) for text in items]


@callback(
    Output("dataset-key", "data"),
    Output("dataset-description", "children"),
    Output("dataset-info", "children"),
    Output("dataset-heatmap", "figure"),
    Input("dataset-picker", "value"),
)
def select_dataset(name: str):
    key = builtin_key(name)
    dataset = load_dataset(key)
    return key, dataset.description, dataset_facts(dataset), data_heatmap(dataset)
