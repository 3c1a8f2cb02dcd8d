"""Pictures of the model itself: X ≈ D × H drawn from data and a result, and the prior check (the data beside
data simulated from the prior).

Pure functions (arrays and axis descriptions in, plotly figures and plain text out).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..dataset import Axis, Dataset, Grid
from ._common import (
    MAX_HEATMAP_ROWS,
    _axis_positions,
    _compact,
    _layout,
    _number,
    axis_title,
    described,
    shown_matrix,
)

#: The most observations (columns of X) the X ≈ D × H picture shows: enough to see the pattern, few enough to
#: see each one.
TEACHING_COLUMNS = 100


def teaching_columns(cols: Axis | Grid, slice_index: int | None = None,
                     limit: int = TEACHING_COLUMNS) -> tuple[np.ndarray, str]:
    """Which observations the X ≈ D × H picture shows, and how to say it.

    All of them when there are at most ``limit``; the voxels of the shown slice of a 3-D grid; otherwise the
    first ``limit`` (days, frames: neighbours stay neighbours).
    """
    n = cols.size
    if n <= limit:
        return np.arange(n), ""
    if isinstance(cols, Grid) and cols.ndim == 3 and slice_index is not None and 0 <= slice_index < cols.shape[2]:
        i, j = np.meshgrid(np.arange(cols.shape[0]), np.arange(cols.shape[1]), indexing="ij")
        chosen = np.ravel_multi_index((i.ravel(), j.ravel(), np.full(i.size, slice_index)), cols.shape)
        name = cols.names[2] if len(cols.names) == 3 else "slice"
        return chosen, f"the {chosen.size} voxels of slice {slice_index + 1} along {name}, of {n}"
    what = cols.label if isinstance(cols, Axis) and cols.label else "observation"
    return np.arange(limit), f"the first {limit} of {n} {what if what.endswith('s') else what + 's'}"


def _matrix_trace(Z: np.ndarray, x, y, signed: bool, name: str, **extra) -> go.Heatmap:
    return go.Heatmap(z=_compact(Z), x=x, y=y, name=name, showscale=False,
                      colorscale="RdBu_r" if signed else "Viridis", zmid=0.0 if signed else None,
                      hovertemplate=f"{name}<br>x %{{x}}<br>y %{{y}}<br>value %{{z:.4g}}<extra></extra>", **extra)


def factorization_figure(X: np.ndarray, D: np.ndarray, H: np.ndarray, rows: Axis | Grid, cols: Axis | Grid, *,
                         title: str, names, column_note: str = "", height: int = 340) -> go.Figure:
    """Three heat maps side by side, X ≈ D × H: the data, the signals (columns of D), the weights (rows of H).

    Parameters
    ----------
    X : ndarray of shape (K, L)
        The data (the shown observations only).
    D : ndarray of shape (K, M)
        The signals, one per column.
    H : ndarray of shape (M, L)
        The weights of each signal in each shown observation.
    rows, cols : Axis or Grid
        The features, and the shown observations (see :func:`teaching_columns`).
    title : str
    names : sequence of str
        One name per component (D's columns, H's rows).
    column_note : str
        Which observations are shown, when not all (for the axis title).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces "X", "D", "H" (in that order); D shares X's rows, H shares X's columns; "≈" and "×" between
        them. Each matrix has its own colour scale (sequential; diverging around 0 for signed data).
    """
    X, D, H = (np.asarray(a, dtype=np.float64) for a in (X, D, H))
    K, L = X.shape
    M = D.shape[1]
    if D.shape[0] != K or H.shape != (M, L):
        raise ValueError(f"X ≈ D × H needs D of shape ({K}, M) and H of shape (M, {L}); "
                         f"got X {X.shape}, D {D.shape}, H {H.shape}")
    Zx, (row_block, col_block) = shown_matrix(X)
    Zd, _ = shown_matrix(D, max_rows=MAX_HEATMAP_ROWS, max_cols=max(M, 1))
    Zh, _ = shown_matrix(H, max_rows=max(M, 1))
    y = _axis_positions(rows, row_block)
    x = _axis_positions(cols, col_block)
    names = [str(n) for n in names]
    fig = make_subplots(rows=1, cols=3, column_widths=[0.46, 0.14, 0.40], horizontal_spacing=0.07)
    fig.add_trace(_matrix_trace(Zx, x, y, bool(X.size) and float(np.min(X)) < 0, "X"), row=1, col=1)
    fig.add_trace(_matrix_trace(Zd, names, y, bool(D.size) and float(np.min(D)) < 0, "D"), row=1, col=2)
    fig.add_trace(_matrix_trace(Zh, x, names, bool(H.size) and float(np.min(H)) < 0, "H"), row=1, col=3)

    reversed_rows = isinstance(rows, Axis) and rows.reversed
    row_direction = True if reversed_rows else "reversed"  # matrices read top-down; ppm axes high to low
    share = min(1.0, max(0.25, M / max(K, 1) * 3))  # H is short: M rows against K
    low = (1 - share) / 2
    # Short heads and axis titles: the caption says the sizes and which observations are shown (a phone is narrow).
    col_title = {"text": axis_title(cols), "font": {"size": 11}}
    fig.update_layout(_layout(
        title + ": data ≈ signals × weights" + (f" ({column_note})" if column_note else ""), height,
        xaxis={"title": col_title, "nticks": 4},
        yaxis={"title": {"text": axis_title(rows)}, "autorange": row_direction},
        xaxis2={"tickangle": -60, "tickfont": {"size": 9}},
        yaxis2={"matches": "y", "showticklabels": False},
        xaxis3={"matches": "x", "title": col_title, "nticks": 4},
        yaxis3={"domain": [low, 1 - low], "autorange": "reversed", "tickfont": {"size": 9}, "side": "right",
                "automargin": True},
        margin={"l": 60, "r": 12, "t": 32 + 30 + 22, "b": 70},
        showlegend=False,
    ))
    bands = [fig.layout.xaxis.domain, fig.layout.xaxis2.domain, fig.layout.xaxis3.domain]
    heads = ["<b>X</b>", "<b>D</b>", "<b>H</b>"]  # what they are: in the title and the caption
    notes = [{"x": (a + b) / 2, "y": 1.0, "xref": "paper", "yref": "paper", "text": text, "showarrow": False,
              "yanchor": "bottom", "font": {"size": 15}} for (a, b), text in zip(bands, heads, strict=True)]
    notes[2]["y"] = 1 - low
    for (_, left_end), (right_start, _), sign in ((bands[0], bands[1], "≈"), (bands[1], bands[2], "×")):
        notes.append({"x": (left_end + right_start) / 2, "y": 0.5, "xref": "paper", "yref": "paper", "text": sign,
                      "showarrow": False, "font": {"size": 26, "color": "#102a43"}})
    fig.update_layout(annotations=notes)
    return described(fig)


def factorization_caption(dataset: Dataset, method_label: str, names, n_shown: int, column_note: str,
                          fit_rmse: float | None = None) -> str:
    """One line under the X ≈ D × H picture: what D and H are for this data set, in plain words."""
    K, L = dataset.X.shape
    M = len(names)
    feature = axis_title(dataset.rows) if isinstance(dataset.rows, Axis) else f"the {dataset.rows.unit}s of the image"
    observation = dataset.cols.label if isinstance(dataset.cols, Axis) else dataset.cols.unit
    listed = ", ".join(str(n) for n in names)
    text = (f"{method_label}: X ({K} × {L}) ≈ D ({K} × {M}) × H ({M} × {L}). Each column of D is one signal "
            f"({listed}) against {feature}; each row of H says how much of that signal is in each {observation}: "
            f"every column of X is a weighted sum of the columns of D.")
    if column_note:
        text += f" Shown: {column_note}."
    if fit_rmse is not None and np.isfinite(fit_rmse):
        text += f" D × H differs from X by RMSE {_number(fit_rmse)}."
    return text


#: The prior check's map heads (its traces keep the long names, which hovering shows).
MAP_HEADS = ("the data X", "from the prior")


def prior_check_figure(X: np.ndarray, simulated: np.ndarray, rows: Axis | Grid, cols: Axis | Grid, *,
                       title: str, height: int = 320) -> go.Figure:
    """The data X and data simulated from the prior (D × H + noise) side by side, on one colour scale.

    ``X`` and ``simulated`` have the same shape (the same shown points: pick ``X``'s rows and columns at the
    points the simulation used). Traces "X (the data)" and "simulated from the prior", sharing both axes, so a
    wrong scale, length scale or sparsity shows at a glance. The maps' names above them are short and their
    column axis is named once, centred under both, so that nothing overlaps on a phone (maps about 85 px wide).
    """
    X, S = np.asarray(X, dtype=np.float64), np.asarray(simulated, dtype=np.float64)
    if X.shape != S.shape:
        raise ValueError(f"the data {X.shape} and the simulated data {S.shape} must have one shape")
    Zx, blocks = shown_matrix(X)
    Zs, _ = shown_matrix(S)
    finite = np.concatenate([Zx[np.isfinite(Zx)], Zs[np.isfinite(Zs)]])
    signed = bool(finite.size) and float(finite.min()) < 0
    bound = float(np.abs(finite).max()) if finite.size else 1.0
    scale = {"zmin": -bound if signed else 0.0, "zmax": bound, "colorscale": "RdBu_r" if signed else "Viridis"}
    y, x = _axis_positions(rows, blocks[0]), _axis_positions(cols, blocks[1])
    names = ("X (the data)", "simulated from the prior")
    traces = [go.Heatmap(z=_compact(Z), x=x, y=y, name=name, showscale=k == 1, xaxis=f"x{k + 1 if k else ''}",
                         yaxis=f"y{k + 1 if k else ''}", colorbar={"title": {"text": "value"}, "thickness": 12},
                         hovertemplate=f"{name}<br>x %{{x}}<br>y %{{y}}<br>value %{{z:.4g}}<extra></extra>", **scale)
              for k, (Z, name) in enumerate(((Zx, names[0]), (Zs, names[1])))]
    # Two maps side by side sharing the y axis, their names above them: what make_subplots(1, 2, shared_yaxes=True,
    # horizontal_spacing=0.04, subplot_titles=...) lays out, written at once (a slider redraws this figure on every
    # move, and make_subplots plus the updates after it took most of its building time).
    reversed_rows = isinstance(rows, Axis) and rows.reversed
    row_order = True if reversed_rows else "reversed"  # ppm axes high to low, matrices top-down
    heads = [{"text": head, "x": x_mid, "y": 1.0, "xref": "paper", "yref": "paper", "xanchor": "center",
              "yanchor": "bottom", "showarrow": False, "font": {"size": 12}}
             for head, x_mid in zip(MAP_HEADS, (0.24, 0.76), strict=True)]
    x_title = {"text": axis_title(cols), "x": 0.5, "y": 0.0, "xref": "paper", "yref": "paper", "xanchor": "center",
               "yanchor": "top", "yshift": -20, "showarrow": False, "font": {"size": 11}}
    fig = go.Figure(traces, _layout(
        title, height, showlegend=False,
        xaxis={"anchor": "y", "domain": [0.0, 0.48]},
        yaxis={"anchor": "x", "domain": [0.0, 1.0], "autorange": row_order, "title": {"text": axis_title(rows)}},
        xaxis2={"anchor": "y2", "domain": [0.52, 1.0]},
        yaxis2={"anchor": "x2", "domain": [0.0, 1.0], "matches": "y", "showticklabels": False,
                "autorange": row_order},
        annotations=[*heads, x_title],
    ))
    return described(fig)
