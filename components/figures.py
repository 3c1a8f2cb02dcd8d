"""Pure figure builders: arrays and axis descriptions in, plotly figures out.

Nothing here touches Dash, the cache or the session: every function can be
called and checked in a test without a browser. One code path draws a factor
wherever it lives: lines against an :class:`~gppnmf_core.Axis` (ppm drawn high
to low), image tiles for a 2-D :class:`~gppnmf_core.Grid`, and 8×8 slices for
a 3-D grid.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from gppnmf_core import Axis, Dataset, Grid

from .theme import FONT, METHOD_COLORS, METHOD_LABELS, RMSE_GROUPS, component_color

_MARGIN = {"l": 60, "r": 20, "t": 44, "b": 48}


def _layout(title: str, height: int, **extra) -> dict:
    # Titles sit left, the short mode bar right, both in the top margin.
    return {"title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"}, "height": height,
            "margin": _MARGIN, "font": FONT, "template": "plotly_white", **extra}


def axis_title(axis: Axis | Grid) -> str:
    """``"label (unit)"`` for an axis; the grid's shape for a grid."""
    if isinstance(axis, Axis):
        return f"{axis.label} ({axis.unit})" if axis.unit and axis.unit != axis.label else axis.label
    return f"{' × '.join(str(n) for n in axis.shape)} grid ({axis.unit}s, flattened)"


def matrix_heatmap(X: np.ndarray, rows: Axis | Grid, cols: Axis | Grid, title: str, height: int = 340) -> go.Figure:
    """Heat map of a (K, L) matrix with its axes: features down, observations across.

    Signed data get a diverging scale centred at 0, so negative noise stands out.
    """
    signed = bool((X < 0).any())
    heat = go.Heatmap(
        z=X.astype(np.float32),  # half the bytes on the wire; colours need no more precision
        y=rows.values if isinstance(rows, Axis) else None,
        x=cols.values if isinstance(cols, Axis) else None,
        colorscale="RdBu_r" if signed else "Viridis",
        zmid=0.0 if signed else None,
        colorbar={"title": {"text": "value"}, "thickness": 12},
    )
    reversed_rows = isinstance(rows, Axis) and rows.reversed
    return go.Figure(heat, _layout(
        title, height,
        xaxis={"title": {"text": axis_title(cols)}},
        # Heat maps draw row 0 at the bottom; matrices read top-down, ppm axes high-to-low.
        yaxis={"title": {"text": axis_title(rows)}, "autorange": True if reversed_rows else "reversed"},
    ))


def data_heatmap(dataset: Dataset) -> go.Figure:
    """The data matrix X of a data set, titled with its size."""
    K, L = dataset.X.shape
    return matrix_heatmap(dataset.X, dataset.rows, dataset.cols, f"{dataset.title}: X is {K} × {L}")


#: Factors on an Axis longer than this are drawn as a raster instead of overlapping lines.
RASTER_POINTS = 500

#: Slices per row when every slice of a 3-D grid is drawn (8 slices -> 2 rows of 4).
SLICES_PER_ROW = 4

def graph_config(image_format: str = "png") -> dict:
    """Options for every dcc.Graph: a short mode bar (download, zoom, pan, reset), no logo, and
    the camera button saving ``image_format`` ("png" or "svg")."""
    return {
        "displaylogo": False,
        "modeBarButtonsToRemove": ["zoomIn2d", "zoomOut2d", "autoScale2d", "lasso2d", "select2d",
                                   "toggleSpikelines", "hoverClosestCartesian", "hoverCompareCartesian"],
        "toImageButtonOptions": {"format": image_format if image_format in ("png", "svg") else "png", "scale": 2},
    }


GRAPH_CONFIG = graph_config()


def _tile(tiles: list[list[np.ndarray]], gap: int = 1) -> np.ndarray:
    """Tile 2-D arrays (all the same shape) into one image, ``gap`` NaN lines between tiles."""
    h, w = tiles[0][0].shape
    n_rows, n_cols = len(tiles), max(len(row) for row in tiles)
    out = np.full((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap), np.nan)
    for i, row in enumerate(tiles):
        for j, tile in enumerate(row):
            out[i * (h + gap): i * (h + gap) + h, j * (w + gap): j * (w + gap) + w] = tile
    return out


def _label(x, y, text, **extra) -> dict:
    return {"x": x, "y": y, "text": text, "showarrow": False, "font": {"size": 11}, **extra}


def _grid_layout(F: np.ndarray, grid: Grid, names, slice_index: int | None):
    """Image, labels and title suffix for factors on a 2-D or 3-D grid.

    Side by side, one tile per factor: a 2-D grid's image (grid rows down), or
    the slice at ``slice_index`` of a 3-D grid. Without ``slice_index``, every
    slice of a 3-D grid, in rows of :data:`SLICES_PER_ROW`, one block per
    factor; slices are drawn with the first grid axis across.
    """
    if grid.ndim not in (2, 3):
        raise ValueError(f"can only draw 2-D or 3-D grids, got shape {grid.shape}")
    volumes = F.reshape((F.shape[0],) + tuple(grid.shape))
    if grid.ndim == 2 or slice_index is not None:
        tiles = [[v if grid.ndim == 2 else v[:, :, slice_index].T for v in volumes]]
        h, w = tiles[0][0].shape
        labels = [_label(j * (w + 1) + (w - 1) / 2, -0.7, names[j], yanchor="bottom") for j in range(len(names))]
        return _tile(tiles), labels, ""
    n_slices, gap = grid.shape[2], 2
    rows = []
    for v in volumes:
        slices = [v[:, :, k].T for k in range(n_slices)]
        rows += [slices[k: k + SLICES_PER_ROW] for k in range(0, n_slices, SLICES_PER_ROW)]
    h, w = rows[0][0].shape
    rows_per_factor = -(-n_slices // SLICES_PER_ROW)
    labels = []
    for i in range(len(rows)):
        top = i * (h + gap)
        for j in range(len(rows[i])):
            k = (i % rows_per_factor) * SLICES_PER_ROW + j
            labels.append(_label(j * (w + gap), top - 0.6, str(k + 1), xanchor="left", yanchor="bottom",
                                 font={"size": 9, "color": "#52606d"}))
        if i % rows_per_factor == 0:
            labels.append(_label(-0.8, top + (h * rows_per_factor) / 2, names[i // rows_per_factor],
                                 xanchor="right", textangle=-90))
    name = grid.names[2] if len(grid.names) == 3 else "slice"
    return _tile(rows, gap), labels, f" — slices 1–{n_slices} along {name}"


def factor_figure(F: np.ndarray, where: Axis | Grid, *, title: str, names, truth: np.ndarray | None = None,
                  slice_index: int | None = None, value_label: str = "value", height: int = 300) -> go.Figure:
    """Draw factors (rows of ``F``, shape (n, size)) where they live.

    On an Axis: one line per factor in its component colour, the truth (same
    shape) dashed. On a 2-D grid: one image per factor side by side. On a 3-D
    grid: the slice at ``slice_index`` of each factor side by side, or, without
    it, every slice of each factor (see :func:`_grid_layout`).
    """
    F = np.atleast_2d(F)
    if isinstance(where, Axis) and where.size > RASTER_POINTS:
        return _raster_figure(F, where, title=title, names=names, truth=truth, value_label=value_label,
                              height=height)
    if isinstance(where, Axis):
        traces = []
        for m, row in enumerate(F):
            traces.append(go.Scatter(x=where.values, y=row, mode="lines", name=names[m], legendgroup=str(m),
                                     line={"color": component_color(m), "width": 1.8}))
            if truth is not None:  # dashed, same colour, toggled with its component
                traces.append(go.Scatter(x=where.values, y=truth[m], mode="lines", name=f"{names[m]} (true)",
                                         legendgroup=str(m), showlegend=False,
                                         line={"color": component_color(m), "width": 1.2, "dash": "dash"}))
        return go.Figure(traces, _layout(
            title + (" — dashed: truth" if truth is not None else ""), height,
            legend={"orientation": "v", "x": 1.01, "y": 0.98, "font": {"size": 11}},
            xaxis={"title": {"text": axis_title(where)}, "autorange": "reversed" if where.reversed else True},
            yaxis={"title": {"text": value_label}},
        ))
    image, labels, suffix = _grid_layout(F, where, names, slice_index)
    heat = go.Heatmap(z=image, colorscale="Viridis", colorbar={"title": {"text": value_label}, "thickness": 12},
                      hoverongaps=False, zmin=0)
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    return go.Figure(heat, _layout(
        title + suffix, height, annotations=labels,
        xaxis={**hidden, "constrain": "domain"},
        yaxis={**hidden, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        margin={**_MARGIN, "l": 30, "t": 56, "b": 10},
    ))


def _raster_figure(F, where: Axis, *, title, names, truth, value_label, height) -> go.Figure:
    """Factors on a long axis as an activity raster: one row per factor (and per true factor)."""
    rows, labels = [], []
    for m, row in enumerate(F):
        rows.append(row)
        labels.append(names[m])
        if truth is not None:
            rows.append(truth[m])
            labels.append(f"{names[m]} (true)")
    heat = go.Heatmap(z=np.vstack(rows), x=where.values, y=labels, colorscale="Viridis", zmin=0,
                      colorbar={"title": {"text": value_label}, "thickness": 12})
    return go.Figure(heat, _layout(title, height, xaxis={"title": {"text": axis_title(where)}},
                                   yaxis={"autorange": "reversed", "automargin": True}))


def histogram_figure(values: np.ndarray, link, title: str, height: int = 260) -> go.Figure:
    """Histogram of sampled factor values (as a density) against the link's target density."""
    values = np.ravel(values)
    upper = float(np.quantile(values, 0.995)) if values.size else 1.0
    edges = np.linspace(0.0, max(upper, np.finfo(float).tiny), 41)
    density, _ = np.histogram(np.clip(values, 0.0, upper), bins=edges, density=True)
    grid = np.linspace(edges[0], edges[-1], 200)
    return go.Figure(
        [
            go.Bar(x=0.5 * (edges[:-1] + edges[1:]), y=density, width=np.diff(edges), name="prior samples",
                   marker={"color": "#9fb3c8"}),
            go.Scatter(x=grid, y=link.pdf(grid), mode="lines", name="target density",
                       line={"color": "#102a43", "width": 2}),
        ],
        _layout(title, height, bargap=0, showlegend=True, legend={"orientation": "h", "y": -0.3, "x": 0},
                xaxis={"title": {"text": "factor value"}}, yaxis={"title": {"text": "density"}}),
    )


def trace_figure(trace: np.ndarray, method: str, height: int = 240) -> go.Figure:
    """Objective against iteration for one method, on a log scale when it stays positive."""
    trace = np.asarray(trace, dtype=float)
    positive = bool(np.all(trace > 0))
    return go.Figure(
        go.Scatter(x=np.arange(trace.size), y=trace, mode="lines", name=METHOD_LABELS.get(method, method),
                   line={"color": METHOD_COLORS.get(method, "#333"), "width": 2}),
        _layout(f"{METHOD_LABELS.get(method, method)} · convergence", height,
                xaxis={"title": {"text": "iteration"}},
                yaxis={"title": {"text": "objective"}, "type": "log" if positive else "linear"}),
    )


def rmse_figure(scores: dict[str, dict[str, float]], height: int = 300) -> go.Figure:
    """The paper's Figure 3: RMSE bars grouped by reference, one colour per method.

    ``scores`` maps a method to :func:`gppnmf_core.evaluate` output; groups a
    method lacks (no truth known) are left out.
    """
    groups = [g for g in RMSE_GROUPS if any(g in s for s in scores.values())]
    bars = [
        go.Bar(x=[RMSE_GROUPS[g] for g in groups if g in s], y=[s[g] for g in groups if g in s],
               name=METHOD_LABELS.get(method, method), marker={"color": METHOD_COLORS.get(method, "#333")},
               texttemplate="%{y:.3s}", textposition="outside")
        for method, s in scores.items()
    ]
    return go.Figure(bars, _layout("RMSE by method (paper Figure 3)", height, barmode="group",
                                   yaxis={"title": {"text": "RMSE"}}, legend={"orientation": "h", "y": -0.2}))
