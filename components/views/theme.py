"""Colours and names shared by every chart, so a method or a component looks the same everywhere."""

from __future__ import annotations

#: Methods the dashboard runs, in display order.
METHODS = ("gppnmf", "cnmf", "ls_nmf")

METHOD_LABELS = {"gppnmf": "GPP-NMF", "cnmf": "CNMF", "ls_nmf": "LS-NMF"}

#: One colour per method, used in every chart that compares methods.
METHOD_COLORS = {"gppnmf": "#1f77b4", "cnmf": "#ff7f0e", "ls_nmf": "#2ca02c"}

#: One colour per component (and per prior sample); cycled past the end.
COMPONENT_COLORS = ("#d62728", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")

#: The paper's three RMSE groups (its Figure 3), in order.
RMSE_GROUPS = {
    "rmse_noisy": "vs noisy data",
    "rmse_noise_free": "vs noise-free data",
    "rmse_factors": "vs underlying factors",
}

FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12}


def component_color(m: int) -> str:
    return COMPONENT_COLORS[m % len(COMPONENT_COLORS)]


#: Presentation mode (a projector at the back of a room): what every chart becomes. Applied in the browser to
#: the figures as drawn (assets/presentation.js), so the figure builders stay the same for both modes.
PRESENTATION = {
    "font": 18,         # ticks, legends, axis titles, colour bars (px)
    "title": 22,        # chart titles
    "annotation": 15,   # peak labels, slice numbers, the noise-level note
    "line_scale": 2.0,  # every line drawn this much thicker ...
    "line_min": 3.0,    # ... and at least this thick (px)
    "height_scale": 1.25,
}
