"""Overview panel: pick a built-in data set, read what it shows, see its data matrix."""

from __future__ import annotations

from dash import Input, Output, callback, dcc, html

import gppnmf_core as gp

from .figures import data_heatmap


def layout() -> html.Div:
    return html.Div(
        className="card",
        children=[
            html.Label("Built-in data set", htmlFor="dataset-picker"),
            dcc.Dropdown(
                id="dataset-picker",
                options=[{"label": name.replace("_", " "), "value": name} for name in gp.datasets.NAMES],
                value=gp.datasets.NAMES[0],
                clearable=False,
            ),
            html.P(id="dataset-description"),
            dcc.Graph(id="dataset-heatmap"),
        ],
    )


@callback(
    Output("dataset-description", "children"),
    Output("dataset-heatmap", "figure"),
    Input("dataset-picker", "value"),
)
def show_dataset(name: str):
    dataset = gp.datasets.load(name, random_state=0)
    return dataset.description, data_heatmap(dataset)
