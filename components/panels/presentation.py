"""Presentation mode: one switch that re-styles the page and every chart for a projector, in the browser."""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, clientside_callback, dcc, html

from components.views.theme import PRESENTATION


def presentation_switch():
    """The one switch for presentation mode (large text, thick lines), remembered by this browser."""
    return html.Div(className="presentation-toggle", children=[
        dcc.Checklist(id="presentation-switch", value=[], persistence=True, persistence_type="local",
                      options=[{"label": " Presentation mode (projector: large text, thick lines)", "value": "on"}]),
        dcc.Store(id="presentation-style", data=PRESENTATION),
        dcc.Store(id="presentation-state"),
    ])


# Switching presentation mode re-styles the page and every chart in the browser (no server round trip).
clientside_callback(ClientsideFunction("gppnmf", "setPresentation"), Output("presentation-state", "data"),
                    Input("presentation-switch", "value"), State("presentation-style", "data"))
