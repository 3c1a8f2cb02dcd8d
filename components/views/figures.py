"""The page's figures: the library's figure builders (:mod:`gppnmf_core.plotting`, where a notebook gets the
same figures from a fit) and what only the page adds, the mode bar's options (:func:`graph_config`).

Nothing here touches Dash, the cache or the session: every function can be called and checked in a test
without a browser. The builders' names stay importable from here, so panels and tests import them from one
place; their one implementation is in :mod:`gppnmf_core.plotting`.
"""

from __future__ import annotations

from gppnmf_core.plotting._common import (  # noqa: F401  (re-exported for the panels and tests)
    MAX_HEATMAP_COLS,
    MAX_HEATMAP_ROWS,
    MAX_LINE_POINTS,
    MODEBAR_BAND,
    axis_title,
    block_means,
    block_size,
    described,
    envelope_indices,
    figure_summary,
    shown_as,
    shown_matrix,
)
from gppnmf_core.plotting.factors import (  # noqa: F401
    PEAKS,
    SLICES_PER_ROW,
    STACK_POINTS,
    data_heatmap,
    direction_letters,
    factor_figure,
    histogram_figure,
    image_axes,
    inspector_figure,
    is_spectral,
    matrix_heatmap,
    nucleus_from_ppm,
    nucleus_of,
    orientation_labels,
    peak_labels,
    shared_zranges,
)
from gppnmf_core.plotting.scores import RMSE_EXPLANATIONS, rmse_figure, trace_figure  # noqa: F401


def graph_config(image_format: str = "png") -> dict:
    """Options for every dcc.Graph: a short mode bar (download, zoom, pan, reset), no logo, and
    the camera button saving ``image_format`` ("png" or "svg").

    Nothing on the page can send a chart anywhere: plotly's "Share chart…" (an upload to Plotly
    Cloud) and "Edit in Chart Studio" are switched off and removed — charts may show patient data.
    """
    return {
        "displaylogo": False,
        "showSendToCloud": False,
        "showEditInChartStudio": False,
        "plotlyServerURL": "",
        "modeBarButtonsToRemove": ["zoomIn2d", "zoomOut2d", "autoScale2d", "lasso2d", "select2d",
                                   "toggleSpikelines", "hoverClosestCartesian", "hoverCompareCartesian",
                                   "sendChartToCloud", "sendDataToCloud", "editInChartStudio"],
        "toImageButtonOptions": {"format": image_format if image_format in ("png", "svg") else "png", "scale": 2},
    }


GRAPH_CONFIG = graph_config()
