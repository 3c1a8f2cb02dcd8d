"""Colours, names and the font every figure uses, so a method or a component looks the same everywhere (in a
notebook and on the page). Plain constants: importing this module imports no plotting library."""

from __future__ import annotations

#: Methods, in display order.
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
    """The colour of component ``m`` (0-based), cycling through :data:`COMPONENT_COLORS`."""
    return COMPONENT_COLORS[m % len(COMPONENT_COLORS)]
