"""Component ids that more than one module uses: the page's shared state and the controls one panel
reads or sets for another. A panel imports them from here instead of spelling the id again; ids that
one module alone uses stay in that module.

The string values are what the browser sees (the DOM ids, ``assets/*.js`` and the browser tests name
them): change a value here only with them.
"""

from __future__ import annotations

from dash import ALL

# --- shared state (dcc.Store) ---------------------------------------------------------------------
#: This browser tab's session (app.py); every callback that reads the store passes it on.
SESSION_ID = "session-id"
#: The data set shown: a built-in name or an upload's key (data panel, set by the picker and uploads).
DATASET_KEY = "dataset-key"
#: The core prior spec of each factor, ``{"D": spec, "H": spec}`` (prior panel).
PRIOR_SPECS = "prior-specs"
#: The last finished run's summary (decompose panel); results, history and uncertainty follow it.
JOB_RESULT = "job-result"

# --- controls one panel owns and others read or set -----------------------------------------------
DATASET_PICKER = "dataset-picker"
MASK_THRESHOLD = "mask-threshold"
RANK_INPUT = "rank-input"
RUN_BUTTON = "run-button"
PRESET_PICKER = "preset-picker"
FIGURE_FORMAT = "figure-format"
SLICE_SLIDER = "slice-slider"

# --- messages and rows ----------------------------------------------------------------------------
APP_MESSAGE = "app-message"
JOB_MESSAGE = "job-message"
DOWNLOAD_ROW = "download-row"

# --- graphs whose download format the results panel sets ------------------------------------------
DATASET_HEATMAP = "dataset-heatmap"
PREVIEW_SIGNAL = "preview-signal"
PREVIEW_STRENGTH = "preview-strength"
SAMPLES_D = "samples-D"
SAMPLES_H = "samples-H"
HIST_D = "hist-D"
HIST_H = "hist-H"
SIMULATED_DATA = "simulated-data"


# --- the prior designer's pattern-matching controls (one per factor; ALL matches every factor) ------
def kernel(factor=ALL) -> dict:
    """A factor's kernel dropdown."""
    return {"type": "kernel", "factor": factor}


def link(factor=ALL) -> dict:
    """A factor's link dropdown."""
    return {"type": "link", "factor": factor}


def mirror(factor=ALL) -> dict:
    """A factor's mirror-symmetry checklist."""
    return {"type": "mirror", "factor": factor}


def param_input(factor=ALL, name=ALL) -> dict:
    """The box that shows (and takes) a numeric prior setting: ``name`` is beta, scale or var; the noise
    variance is ``param_input("noise", "var")``."""
    return {"type": "param-input", "factor": factor, "name": name}
