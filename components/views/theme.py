"""Colours and names shared by every chart, so a method or a component looks the same everywhere.

The figure builders' theme lives in :mod:`gppnmf_core.plotting.theme` (a notebook's figures look like the
page's); this module adds what only the page has: presentation mode.
"""

from __future__ import annotations

from gppnmf_core.plotting.theme import (  # noqa: F401  (the app's names for the shared theme)
    COMPONENT_COLORS,
    FONT,
    METHOD_COLORS,
    METHOD_LABELS,
    METHODS,
    RMSE_GROUPS,
    component_color,
)

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

#: An element's style: hidden, or shown as a block.
HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}
