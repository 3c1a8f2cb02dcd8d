"""Factors where they live, and the data: lines against an :class:`~gppnmf_core.Axis`, images on a
:class:`~gppnmf_core.Grid`, the data matrix as a heat map, one observation with each method's fit, and a
histogram of prior draws against the link's density.

One code path draws a factor wherever it lives: lines against an Axis (ppm drawn high to low, the usual peaks
of the nucleus labelled), image tiles for a 2-D Grid, and 8×8 slices for a 3-D grid. A signal on an axis is
always a line, however long (a min/max envelope of at most :data:`MAX_LINE_POINTS` points is drawn).
"""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..dataset import Axis, Dataset, Grid
from ..datasets import PEAKS_31P
from ._common import (
    _MARGIN,
    MAX_LINE_POINTS,
    _axis_positions,
    _compact,
    _layout,
    axis_title,
    described,
    envelope_indices,
    shown_as,
    shown_matrix,
)
from .theme import METHOD_COLORS, METHOD_LABELS, component_color


def matrix_heatmap(X: np.ndarray, rows: Axis | Grid, cols: Axis | Grid, title: str, height: int = 340) -> go.Figure:
    """Heat map of a (K, L) matrix with its axes: features down, observations across.

    Signed data get a diverging scale centred at 0, so negative noise stands out.
    A matrix larger than :data:`MAX_HEATMAP_ROWS` × :data:`MAX_HEATMAP_COLS` is
    shown as block means, and the title says so.
    """
    signed = bool(X.size) and float(np.min(X)) < 0
    Z, blocks = shown_matrix(X)
    averaged = f"<br>mean of {blocks[0]} × {blocks[1]} values" if blocks != (1, 1) else ""
    heat = go.Heatmap(
        z=_compact(Z),
        y=_axis_positions(rows, blocks[0]),
        x=_axis_positions(cols, blocks[1]),
        colorscale="RdBu_r" if signed else "Viridis",
        zmid=0.0 if signed else None,
        colorbar={"title": {"text": "value"}, "thickness": 12},
        hovertemplate=f"x %{{x}}<br>y %{{y}}<br>value %{{z:.4g}}{averaged}<extra></extra>" if averaged else None,
    )
    reversed_rows = isinstance(rows, Axis) and rows.reversed
    return described(go.Figure(heat, _layout(
        title + shown_as(Z.shape, blocks, X.shape), height,
        xaxis={"title": {"text": axis_title(cols)}},
        # Heat maps draw row 0 at the bottom; matrices read top-down, ppm axes high-to-low.
        yaxis={"title": {"text": axis_title(rows)}, "autorange": True if reversed_rows else "reversed"},
    )))


def data_heatmap(dataset: Dataset) -> go.Figure:
    """The data matrix X of a data set, titled with its size (and how it is shown when it is reduced).

    A single observation on a feature axis is a signal, not a matrix: it is drawn
    as a line (peaks of its nucleus labelled), never as a one-column heat map.
    """
    K, L = dataset.X.shape
    title = f"{dataset.title}: X is {K} × {L}"
    if L == 1 and isinstance(dataset.rows, Axis):
        return factor_figure(dataset.X.T, dataset.rows, title=title, names=["X"],
                             height=340, nucleus=nucleus_of(dataset))
    return matrix_heatmap(dataset.X, dataset.rows, dataset.cols, title)


#: Several factors on a non-spectral Axis longer than this are drawn one row each (stacked lines)
#: instead of overlapping; spectra (ppm or Hz axes) are always overlaid.
STACK_POINTS = 500

#: Usual peaks of each nucleus, (label, ppm), labelled on ppm axes (SCIENCE.md §4, tests/data/real/SOURCES.md).
PEAKS = {
    "1H": (("H₂O", 4.68), ("NAA", 2.01), ("Cr", 3.03), ("Cr", 3.92), ("Cho", 3.20), ("mI", 3.56),
           ("Lip", 0.9), ("Lip", 1.3)),
    "31P": tuple((p.name.replace("gamma-", "γ-").replace("alpha-", "α-").replace("beta-", "β-"), p.ppm)
                 for p in PEAKS_31P),
    "13C": (("pyruvate", 171.0), ("lactate", 183.2), ("alanine", 176.6), ("pyr. hydrate", 179.4),
            ("bicarbonate", 161.0)),
}

_NUCLEUS_IN_TEXT = re.compile(r"\bNucleus\s+(1H|31P|13C)\b")


def nucleus_from_ppm(low: float, high: float) -> str | None:
    """The nucleus a chemical-shift window most likely belongs to, or None when the window does not say.

    A rule of thumb, for labelling peaks only (the core is not asked): beyond
    100 ppm, 13C; a window inside −0.5…10.5 ppm (a cropped 1H spectrum) or
    centred on water (3.5–6 ppm, a full 1H spectrum referenced to 4.65), 1H;
    a window reaching below −5 ppm and centred between −12 and 2 ppm (PCr = 0),
    31P.
    """
    low, high = sorted((float(low), float(high)))
    centre = (low + high) / 2
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        return None
    if centre > 100:
        return "13C"
    if -0.5 <= low and high <= 10.5 or 3.5 <= centre <= 6.0:
        return "1H"
    if low < -5 and -12 <= centre <= 2:
        return "31P"
    return None


def nucleus_of(dataset: Dataset) -> str | None:
    """The nucleus of a data set's spectra: "Nucleus 1H" (as the readers write it) in its description, else
    guessed from the range of a ppm feature axis (:func:`nucleus_from_ppm`); None for anything else."""
    found = _NUCLEUS_IN_TEXT.search(dataset.description or "")
    if found:
        return found.group(1)
    rows = dataset.rows
    if isinstance(rows, Axis) and rows.unit == "ppm" and rows.size > 1:
        values = np.asarray(rows.values, dtype=np.float64)
        return nucleus_from_ppm(np.nanmin(values), np.nanmax(values))
    return None


def peak_labels(axis: Axis | Grid, nucleus: str | None, *, label_px: float = 6.0,
                plot_px: float = 420.0, tiers: int = 3) -> list[tuple[str, float, int]]:
    """The usual peaks of ``nucleus`` inside a ppm axis's range, as (label, ppm, tier).

    Neighbours too close to be read side by side go one tier down (at most
    ``tiers``), judged with about ``label_px`` pixels per character on a plot
    ``plot_px`` wide. Nothing for an axis that is not in ppm or a nucleus
    without a table.
    """
    if not isinstance(axis, Axis) or axis.unit != "ppm" or nucleus not in PEAKS or axis.size < 2:
        return []
    values = np.asarray(axis.values, dtype=np.float64)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    inside = sorted((ppm, name) for name, ppm in PEAKS[nucleus] if low <= ppm <= high)
    per_px = (high - low) / plot_px
    ends = [-np.inf] * tiers  # where the last label of each tier ends (ppm, increasing)
    out = []
    for ppm, name in inside:
        half = (len(name) + 1) * label_px * per_px / 2
        tier = next((t for t in range(tiers) if ppm - half > ends[t]), tiers - 1)
        ends[tier] = ppm + half
        out.append((name, ppm, tier))
    return out


def _peak_marks(labels, xref: str = "x", yref: str = "y domain") -> tuple[list[dict], list[dict]]:
    """Annotations (small grey text at the top of the plot, one tier per 11 px) and dotted guide lines."""
    notes = [{"x": ppm, "y": 1, "xref": xref, "yref": yref, "text": name, "showarrow": False, "yanchor": "top",
              "yshift": -11 * tier, "font": {"size": 9, "color": "#52606d"}, "bgcolor": "rgba(255,255,255,0.7)"}
             for name, ppm, tier in labels]
    lines = [{"type": "line", "x0": ppm, "x1": ppm, "y0": 0, "y1": 1, "xref": xref, "yref": yref, "layer": "below",
              "line": {"color": "#d9e2ec", "width": 1, "dash": "dot"}} for _, ppm, _ in labels]
    return notes, lines


def _value_range(rows, headroom: float) -> list[float] | None:
    """A y range that holds every finite value with ``headroom`` (a share of the span) free above for labels."""
    finite = [r[np.isfinite(r)] for r in (np.asarray(r, dtype=np.float64) for r in rows)]
    finite = [r for r in finite if r.size]
    if not finite:
        return None
    low, high = min(float(r.min()) for r in finite), max(float(r.max()) for r in finite)
    span = high - low if high > low else max(abs(high), 1.0)
    return [low - 0.04 * span, high + headroom * span]


def is_spectral(axis: Axis | Grid) -> bool:
    """Whether an axis is a frequency axis (ppm, Hz, or drawn high-to-low as spectra are)."""
    return isinstance(axis, Axis) and (axis.unit in ("ppm", "Hz", "kHz") or axis.reversed)

#: Slices per row when every slice of a 3-D grid is drawn (8 slices -> 2 rows of 4).
SLICES_PER_ROW = 4

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


def _grid_layout(F: np.ndarray, grid: Grid, names, slice_index: int | None, truth: np.ndarray | None = None):
    """Image, labels and title suffix for factors on a 2-D or 3-D grid.

    Side by side, one tile per factor: a 2-D grid's image (grid rows down), or
    the slice at ``slice_index`` of a 3-D grid (``truth``, same shape as ``F``:
    a second row of tiles, labelled "truth", under the estimates). Without
    ``slice_index``, every slice of a 3-D grid, in rows of
    :data:`SLICES_PER_ROW`, one block per factor; slices are drawn with the
    first grid axis across.
    """
    if grid.ndim not in (2, 3):
        raise ValueError(f"can only draw 2-D or 3-D grids, got shape {grid.shape}")
    volumes = F.reshape((F.shape[0],) + tuple(grid.shape))
    if grid.ndim == 2 or slice_index is not None:
        def row(vs):
            return [v if grid.ndim == 2 else v[:, :, slice_index].T for v in vs]
        tiles = [row(volumes)]
        if truth is not None:
            tiles.append(row(np.asarray(truth).reshape((truth.shape[0],) + tuple(grid.shape))))
        h, w = tiles[0][0].shape
        labels = [_label(j * (w + 1) + (w - 1) / 2, -0.7, names[j], yanchor="bottom") for j in range(len(names))]
        if truth is not None:
            side = {"xanchor": "right", "textangle": -90, "xshift": -16, "font": {"size": 10, "color": "#52606d"}}
            labels += [_label(-0.5, (h - 1) / 2, "estimate", **side),
                       _label(-0.5, h + 1 + (h - 1) / 2, "truth", **side)]
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
                  slice_index: int | None = None, value_label: str = "value", height: int = 300,
                  nucleus: str | None = None, zranges=None) -> go.Figure:
    """Draw factors (rows of ``F``, shape (n, size)) where they live.

    On an Axis: lines, however long the axis. One line per factor in its
    component colour, the truth (same shape) dashed; on a ppm axis the usual
    peaks of ``nucleus`` ("1H", "31P", "13C"; None: no labels) are labelled
    (:func:`peak_labels`). Several factors on a long non-spectral axis (more
    than :data:`STACK_POINTS` points: a time series, a schedule) are drawn one
    row each, sharing the axis, so they do not hide each other. On a 2-D grid:
    one image per factor side by side. On a 3-D grid: the slice at
    ``slice_index`` of each factor side by side, or, without it, every slice of
    each factor (see :func:`_grid_layout`). What is sent stays bounded: lines
    by :func:`envelope_indices`, images by block means (the title says so).

    On a grid, images carry orientation labels (:func:`orientation_labels`:
    L/R, A/P, I/S where the grid's axis names say so, the names themselves
    otherwise); ``truth`` (same shape as ``F``) is drawn as a second row of
    tiles under the estimates (2-D grids, or one slice of a 3-D grid); and
    ``zranges`` (one (zmin, zmax) per factor) gives each factor its own colour
    scale, so the same component can share one scale across several figures.
    """
    F = np.atleast_2d(F)
    if isinstance(where, Axis):
        if len(F) > 1 and where.size > STACK_POINTS and not is_spectral(where):
            return described(_stacked_figure(F, where, title=title, names=names, truth=truth,
                                             value_label=value_label, height=height))
        return described(_line_figure(F, where, title=title, names=names, truth=truth, value_label=value_label,
                                      height=height, nucleus=nucleus))
    with_truth = truth is not None and (where.ndim == 2 or slice_index is not None)
    shown_truth = np.atleast_2d(truth) if with_truth else None
    image, labels, suffix = _grid_layout(F, where, names, slice_index, truth=shown_truth)
    Z, blocks = shown_matrix(image)
    if blocks != (1, 1):
        labels = [{**a, "x": a["x"] / blocks[1], "y": a["y"] / blocks[0]} for a in labels]
        suffix += f" (block means of {blocks[0]} × {blocks[1]} pixels)"
    else:
        labels += _orientation_marks(where, slice_index, image.shape)
    if with_truth:
        suffix += " — lower row: truth"
    if zranges is not None and blocks == (1, 1):
        owner, _, _ = _grid_layout(np.repeat(np.arange(len(F), dtype=np.float64)[:, None], where.size, axis=1),
                                   where, names, slice_index,
                                   truth=None if shown_truth is None else
                                   np.repeat(np.arange(len(F), dtype=np.float64)[:, None], where.size, axis=1))
        traces, coloraxes = _component_heatmaps(Z, owner, names, zranges, value_label)
    else:
        traces = [go.Heatmap(z=Z, colorscale="Viridis", colorbar={"title": {"text": value_label}, "thickness": 12},
                             hoverongaps=False, zmin=0)]
        coloraxes = {}
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    fig = go.Figure(traces, _layout(
        title + suffix, height, annotations=labels,
        xaxis={**hidden, "constrain": "domain"},
        yaxis={**hidden, "autorange": "reversed", "scaleanchor": "x", "constrain": "domain"},
        margin={**_MARGIN, "l": 46 if with_truth else 34, "t": _MARGIN["t"] + 12, "b": 26}, **coloraxes,
    ))
    return _with_orientation_summary(described(fig), where, slice_index)


#: Anatomical directions a grid axis name may spell ("left-right", "A-P", "inferior→superior"), as the letters
#: viewers print at the edges of an image.
_DIRECTIONS = {"left": "L", "right": "R", "anterior": "A", "posterior": "P", "inferior": "I", "superior": "S",
               "l": "L", "r": "R", "a": "A", "p": "P", "i": "I", "s": "S"}
_NAME_SPLIT = re.compile(r"\s*(?:->|→|–|—|-|\bto\b|_)\s*")


def direction_letters(name: str) -> tuple[str, str] | None:
    """The letters at the low and the high end of a grid axis whose name says its direction, e.g.
    ``"left-right"`` → ("L", "R") (the axis runs from the first word to the second); None for any other name
    ("x", "row", "axis 1"): an orientation is never guessed."""
    parts = [p.lower() for p in _NAME_SPLIT.split(str(name).strip()) if p]
    if len(parts) != 2 or any(p not in _DIRECTIONS for p in parts):
        return None
    low, high = (_DIRECTIONS[p] for p in parts)
    opposite = {"L": "R", "R": "L", "A": "P", "P": "A", "I": "S", "S": "I"}
    return (low, high) if opposite[low] == high else None


def image_axes(grid: Grid, slice_index: int | None = None) -> tuple[str, str]:
    """The names of the grid axes drawn across and down an image tile (see :func:`_grid_layout`): a 2-D grid
    as stored (axis 1 across, axis 0 down), a 3-D grid's slices transposed (axis 0 across, axis 1 down)."""
    names = tuple(grid.names) if len(grid.names) == grid.ndim else ("x", "y", "z")[: grid.ndim]
    return (names[1], names[0]) if grid.ndim == 2 else (names[0], names[1])


def orientation_labels(grid: Grid, slice_index: int | None = None) -> dict[str, str]:
    """What to print at the edges of an image tile: ``{"left", "right", "top", "bottom"}`` letters when the
    grid's axis names give anatomical directions (L/R, A/P, I/S), else ``{"across", "down"}`` with the axis
    names ("x →", "y ↓"), plain "x"/"y" when the grid names none."""
    across, down = image_axes(grid, slice_index)
    h, v = direction_letters(across), direction_letters(down)
    if h is not None and v is not None:
        return {"left": h[0], "right": h[1], "top": v[0], "bottom": v[1]}
    return {"across": f"{across} →", "down": f"{down} ↓"}


def _orientation_marks(grid: Grid, slice_index, shape: tuple[int, int]) -> list[dict]:
    """Annotations around the first tile (top left of the image): letters at its edges, or the axis names."""
    if grid.ndim not in (2, 3):
        return []
    h, w = (grid.shape[0], grid.shape[1]) if grid.ndim == 2 else (grid.shape[1], grid.shape[0])
    labels = orientation_labels(grid, slice_index)
    bottom = shape[0] - 0.5  # under the last row of tiles
    font = {"size": 10, "color": "#243b53"}
    if "left" in labels:
        return [
            _label(-0.5, bottom, labels["left"], xanchor="left", yanchor="top", font=font),
            _label(w - 0.5, bottom, labels["right"], xanchor="right", yanchor="top", font=font),
            _label(-0.5, -0.5, labels["top"], xanchor="right", yanchor="top", xshift=-2, font=font),
            _label(-0.5, h - 0.5, labels["bottom"], xanchor="right", yanchor="bottom", xshift=-2, font=font),
        ]
    return [
        _label(-0.5, bottom, labels["across"], xanchor="left", yanchor="top", font=font),
        _label(-0.5, -0.5, labels["down"], xanchor="right", yanchor="top", xshift=-2, textangle=-90, font=font),
    ]


def _with_orientation_summary(fig: go.Figure, grid: Grid, slice_index) -> go.Figure:
    """The figure's text alternative, with how its images are oriented."""
    labels = orientation_labels(grid, slice_index)
    across, down = image_axes(grid, slice_index)
    if "left" in labels:
        how = (f" Images: {across} across ({labels['left']} at left, {labels['right']} at right), {down} down "
               f"({labels['top']} at top, {labels['bottom']} at bottom).")
    else:
        how = f" Images: {across} across, {down} down (orientation not known)."
    fig.layout.meta["summary"] += how
    return fig


def _component_heatmaps(Z: np.ndarray, owner: np.ndarray, names, zranges, value_label: str):
    """One heat map per factor (its tiles; NaN elsewhere), each on its own colour axis with the factor's range."""
    traces, axes = [], {}
    n = len(names)
    for m, name in enumerate(names):
        axis = "coloraxis" if m == 0 else f"coloraxis{m + 1}"
        low, high = (float(v) for v in zranges[m])
        if not (np.isfinite(low) and np.isfinite(high) and high > low):
            low, high = 0.0, max(high if np.isfinite(high) else 1.0, 1e-12)
        traces.append(go.Heatmap(z=np.where(owner == m, Z, np.nan), coloraxis=axis, hoverongaps=False,
                                 name=str(name), hovertemplate=f"{name}: {value_label} %{{z:.4g}}<extra></extra>"))
        # Up to three bars side by side (full height, each titled with its component: a bar per column of tiles,
        # never one that seems to belong to a row); more are stacked.
        place = ({"len": 0.9, "y": 0.5, "x": 1.02 + 0.2 * m} if n <= 3 else
                 {"len": 0.9 / n, "y": 1 - (m + 0.5) / n, "x": 1.02})
        axes[axis] = {"colorscale": "Viridis", "cmin": low, "cmax": high,
                      "colorbar": {"title": {"text": str(name)[:12], "side": "top", "font": {"size": 10}},
                                   "thickness": 10, "yanchor": "middle", "tickfont": {"size": 9}, **place}}
    return traces, axes


def shared_zranges(*factor_sets) -> list[tuple[float, float]]:
    """One (zmin, zmax) per component over every given set of factors (each of shape (n_components, size);
    None is skipped): the range that lets component k share one colour scale across methods and the truth."""
    sets = [np.asarray(F, dtype=np.float64) for F in factor_sets if F is not None]
    n = min(len(F) for F in sets)
    out = []
    for m in range(n):
        values = np.concatenate([F[m][np.isfinite(F[m])] for F in sets])
        low = min(0.0, float(values.min())) if values.size else 0.0
        high = float(values.max()) if values.size else 1.0
        out.append((low, high if high > low else low + 1.0))
    return out


def _line(x: np.ndarray, y: np.ndarray, **style) -> go.Scatter:
    """One line, reduced to its min/max envelope when it is longer than :data:`MAX_LINE_POINTS`."""
    keep = envelope_indices(np.asarray(y, dtype=np.float64))
    if keep.size < np.size(y):
        return go.Scatter(x=np.asarray(x)[keep], y=np.asarray(y)[keep], mode="lines", **style)
    return go.Scatter(x=x, y=y, mode="lines", **style)


def _envelope_note(where: Axis) -> str:
    # Narrow graphs have no room in the title: the axis title says how a long line is drawn.
    return f" · min/max envelope of {where.size} points" if where.size > MAX_LINE_POINTS else ""


def _x_axis(where: Axis) -> dict:
    return {"title": {"text": axis_title(where) + _envelope_note(where)},
            "autorange": "reversed" if where.reversed else True}


def _line_figure(F, where: Axis, *, title, names, truth, value_label, height, nucleus=None) -> go.Figure:
    traces = []
    for m, row in enumerate(F):
        traces.append(_line(where.values, row, name=names[m], legendgroup=str(m),
                            line={"color": component_color(m), "width": 1.8}))
        if truth is not None:  # dashed, same colour, toggled with its component
            traces.append(_line(where.values, truth[m], name=f"{names[m]} (true)", legendgroup=str(m),
                                showlegend=False, line={"color": component_color(m), "width": 1.2, "dash": "dash"}))
    labels = peak_labels(where, nucleus)
    notes, guides = _peak_marks(labels)
    yaxis = {"title": {"text": value_label}}
    if labels:  # room above the highest peak for the labels' tiers
        tiers = 1 + max(t for *_, t in labels)
        value_range = _value_range([*F, *(truth if truth is not None else [])], 0.1 + 0.12 * tiers)
        if value_range is not None:
            yaxis["range"] = value_range
    return go.Figure(traces, _layout(
        title + (" — dashed: truth" if truth is not None else ""), height,
        legend={"orientation": "v", "x": 1.01, "y": 0.98, "font": {"size": 11}},
        xaxis=_x_axis(where), yaxis=yaxis, annotations=notes, shapes=guides,
    ))


def _stacked_figure(F, where: Axis, *, title, names, truth, value_label, height) -> go.Figure:
    """Several factors on a long axis, one row each (truth dashed in its row), sharing the x axis.

    Every row is a line bounded like any other (:func:`envelope_indices`). Rows
    keep at least about 55 px each, so a high rank makes a taller figure.
    """
    n = len(F)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=min(0.04, 0.3 / n))
    for m, row in enumerate(F):
        fig.add_trace(_line(where.values, row, name=names[m], legendgroup=str(m),
                            line={"color": component_color(m), "width": 1.4}), row=m + 1, col=1)
        if truth is not None:
            fig.add_trace(_line(where.values, truth[m], name=f"{names[m]} (true)", legendgroup=str(m),
                                showlegend=False, line={"color": component_color(m), "width": 1.0, "dash": "dash"}),
                          row=m + 1, col=1)
    fig.update_layout(_layout(title + (" — dashed: truth" if truth is not None else ""),
                              max(height, 100 + 55 * n),
                              legend={"orientation": "v", "x": 1.01, "y": 0.98, "font": {"size": 11}}))
    fig.update_xaxes(autorange="reversed" if where.reversed else True)
    fig.update_xaxes(title={"text": axis_title(where) + _envelope_note(where)}, row=n, col=1)
    fig.update_yaxes(tickfont={"size": 9}, nticks=3)
    fig.update_yaxes(title={"text": value_label, "font": {"size": 11}}, row=(n + 1) // 2, col=1)
    return fig


def inspector_figure(x: np.ndarray, fits: dict[str, np.ndarray], where: Axis | Grid, *, title: str,
                     nucleus: str | None = None, height: int = 380) -> go.Figure:
    """One observation's signal with each method's fit above, and each method's residual below.

    Parameters
    ----------
    x : ndarray of shape (K,)
        The observed signal, a column ``X[:, l]`` of the data.
    fits : dict of str to ndarray of shape (K,)
        Method name → its fitted signal ``D @ H[:, l]``, in display order.
    where : Axis or Grid
        The feature axis (a Grid is drawn against the feature index).
    title : str
    nucleus : str or None
        Labels the usual peaks on a ppm axis (see :func:`peak_labels`).
    height : int

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1: the data (grey, "X") and one line per method ("<method> fit",
        in the method's colour); row 2: "<method> residual" = x − fit. Every
        line is bounded by :func:`envelope_indices`.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    axis = where if isinstance(where, Axis) else Axis(np.arange(x.size), label="feature index")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.05)
    fig.add_trace(_line(axis.values, x, name="X", line={"color": "#7b8794", "width": 1.1}), row=1, col=1)
    for method, fit in fits.items():
        fit = np.asarray(fit, dtype=np.float64).ravel()
        color, label = METHOD_COLORS.get(method, "#333"), METHOD_LABELS.get(method, method)
        fig.add_trace(_line(axis.values, fit, name=f"{label} fit", legendgroup=method,
                            line={"color": color, "width": 1.6}), row=1, col=1)
        fig.add_trace(_line(axis.values, x - fit, name=f"{label} residual", legendgroup=method, showlegend=False,
                            line={"color": color, "width": 1.0}), row=2, col=1)
    labels = peak_labels(axis, nucleus)
    notes, guides = _peak_marks(labels, "x", "y domain")
    fig.update_layout(_layout(title, height, annotations=notes, shapes=guides,
                              legend={"orientation": "h", "x": 0, "y": -0.22, "font": {"size": 11}},
                              margin={**_MARGIN, "b": 70}))
    if labels:
        tiers = 1 + max(t for *_, t in labels)
        value_range = _value_range([x, *fits.values()], 0.1 + 0.12 * tiers)
        if value_range is not None:
            fig.update_yaxes(range=value_range, row=1, col=1)
    fig.update_xaxes(autorange="reversed" if axis.reversed else True)
    fig.update_xaxes(title={"text": axis_title(axis) + _envelope_note(axis)}, row=2, col=1)
    fig.update_yaxes(title={"text": "value"}, row=1, col=1)
    fig.update_yaxes(title={"text": "residual"}, row=2, col=1)
    return described(fig)


def histogram_figure(values: np.ndarray, link, title: str, height: int = 260) -> go.Figure:
    """Histogram of sampled factor values (as a density) against the link's target density."""
    values = np.ravel(values)
    upper = float(np.quantile(values, 0.995)) if values.size else 1.0
    edges = np.linspace(0.0, max(upper, np.finfo(float).tiny), 41)
    density, _ = np.histogram(np.clip(values, 0.0, upper), bins=edges, density=True)
    grid = np.linspace(edges[0], edges[-1], 200)
    return described(go.Figure(
        [
            go.Bar(x=0.5 * (edges[:-1] + edges[1:]), y=density, width=np.diff(edges), name="prior samples",
                   marker={"color": "#9fb3c8"}),
            go.Scatter(x=grid, y=link.pdf(grid), mode="lines", name="target density",
                       line={"color": "#102a43", "width": 2}),
        ],
        _layout(title, height, bargap=0, showlegend=True,  # the legend top right, where the densities are low
                legend={"x": 0.99, "xanchor": "right", "y": 0.99, "bgcolor": "rgba(255,255,255,0.75)"},
                xaxis={"title": {"text": "factor value"}}, yaxis={"title": {"text": "density"}}),
    ))

