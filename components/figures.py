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
    # A vertical mode bar at the right edge never covers the title.
    return {"title": {"text": title, "font": {"size": 14}, "x": 0.01, "xanchor": "left"}, "height": height,
            "margin": _MARGIN, "font": FONT, "template": "plotly_white", "modebar": {"orientation": "v"}, **extra}


def axis_title(axis: Axis | Grid) -> str:
    """``"label (unit)"`` for an axis; the grid's shape for a grid."""
    if isinstance(axis, Axis):
        return f"{axis.label} ({axis.unit})" if axis.unit else axis.label
    return f"{' × '.join(str(n) for n in axis.shape)} grid ({axis.unit}s, flattened)"


def matrix_heatmap(X: np.ndarray, rows: Axis | Grid, cols: Axis | Grid, title: str, height: int = 340) -> go.Figure:
    """Heat map of a (K, L) matrix with its axes: features down, observations across.

    Signed data get a diverging scale centred at 0, so negative noise stands out.
    """
    signed = bool((X < 0).any())
    heat = go.Heatmap(
        z=X,
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


def _tile_grid(tiles: list[list[np.ndarray]]) -> np.ndarray:
    """Tile 2-D arrays (all the same shape) into one image, one NaN line between tiles."""
    h, w = tiles[0][0].shape
    n_rows, n_cols = len(tiles), len(tiles[0])
    out = np.full((n_rows * (h + 1) - 1, n_cols * (w + 1) - 1), np.nan)
    for i, row in enumerate(tiles):
        for j, tile in enumerate(row):
            out[i * (h + 1): i * (h + 1) + h, j * (w + 1): j * (w + 1) + w] = tile
    return out


def _grid_images(F: np.ndarray, grid: Grid, slice_index: int | None) -> tuple[list[list[np.ndarray]], list[str]]:
    """Image tiles of factors on a grid: one row per factor; column labels.

    A 2-D grid gives one image per factor. A 3-D grid gives slices across its
    last axis (all of them, or the one at ``slice_index``), each drawn with the
    first grid axis across and the second down.
    """
    volumes = F.reshape((F.shape[0],) + tuple(grid.shape))
    if grid.ndim == 2:
        return [[v] for v in volumes], [""]
    if grid.ndim != 3:
        raise ValueError(f"can only draw 2-D or 3-D grids, got shape {grid.shape}")
    slices = range(grid.shape[2]) if slice_index is None else [slice_index]
    name = grid.names[2] if len(grid.names) == 3 else "slice"
    return [[v[:, :, k].T for k in slices] for v in volumes], [f"{name} {k + 1}" for k in slices]


def factor_figure(F: np.ndarray, where: Axis | Grid, *, title: str, names, truth: np.ndarray | None = None,
                  slice_index: int | None = None, value_label: str = "value", height: int = 300) -> go.Figure:
    """Draw factors (rows of ``F``, shape (n, size)) where they live.

    On an Axis: one line per factor in its component colour, the truth (same
    shape) dashed. On a 2-D grid: one image per factor side by side. On a 3-D
    grid: one row of slices per factor (every slice, or the one at
    ``slice_index`` for each factor side by side).
    """
    F = np.atleast_2d(F)
    if isinstance(where, Axis):
        traces = []
        for m, row in enumerate(F):
            traces.append(go.Scatter(x=where.values, y=row, mode="lines", name=names[m],
                                     line={"color": component_color(m), "width": 1.8}))
            if truth is not None:
                traces.append(go.Scatter(x=where.values, y=truth[m], mode="lines", name=f"{names[m]} (true)",
                                         line={"color": component_color(m), "width": 1.2, "dash": "dash"}))
        return go.Figure(traces, _layout(
            title, height, legend={"orientation": "h", "y": -0.25, "x": 0},
            xaxis={"title": {"text": axis_title(where)}, "autorange": "reversed" if where.reversed else True},
            yaxis={"title": {"text": value_label}},
        ))
    tiles, labels = _grid_images(F, where, slice_index)
    side_by_side = slice_index is not None or where.ndim == 2
    if side_by_side:  # one tile per factor, in a row
        tiles = [[row[0] for row in tiles]]
        labels = list(names)
    image = _tile_grid(tiles)
    h, w = tiles[0][0].shape
    annotations = [{"x": j * (w + 1) + (w - 1) / 2, "y": -1.2, "text": label, "showarrow": False,
                    "font": {"size": 11}, "yanchor": "bottom"} for j, label in enumerate(labels)]
    if not side_by_side:
        annotations += [{"x": -1.2, "y": i * (h + 1) + (h - 1) / 2, "text": names[i], "showarrow": False,
                         "xanchor": "right", "font": {"size": 11}} for i in range(len(tiles))]
    heat = go.Heatmap(z=image, colorscale="Viridis", colorbar={"title": {"text": value_label}, "thickness": 12},
                      hoverongaps=False, zmin=0)
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    return go.Figure(heat, _layout(
        title, height, annotations=annotations,
        xaxis={**hidden, "constrain": "domain"},
        yaxis={**hidden, "autorange": "reversed", "scaleanchor": "x"},
        margin={**_MARGIN, "l": 20 if side_by_side else 80, "t": 60},
    ))


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
        _layout(f"{METHOD_LABELS.get(method, method)}: convergence", height,
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
               text=[f"{s[g]:.3g}" for g in groups if g in s], textposition="outside")
        for method, s in scores.items()
    ]
    return go.Figure(bars, _layout("RMSE by method (paper Figure 3)", height, barmode="group",
                                   yaxis={"title": {"text": "RMSE"}}, legend={"orientation": "h", "y": -0.2}))
