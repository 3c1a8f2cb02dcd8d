"""How sure a fit is, and which settings the data prefer: posterior bands, band-width maps, the sampler's
diagnostics in words, and a model choice's cross-validation and evidence.

* :func:`band_figure` — a factor's median with its 90 % band, one colour per component.
* :func:`relative_width` / :func:`uncertainty_map_figure` — the 90 % band width relative to the median,
  drawn where the factor lives (slices of a grid, or bands on an axis).
* :func:`diagnostics_summary` — R̂ max and bulk ESS min in words, with a warning when they fail.
* :func:`cv_figure` — a model choice (:attr:`gppnmf_core.ModelSelection.table`): paired CV differences ± SE
  and the evidence per candidate, the choice marked.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..dataset import Axis, Grid
from ._common import MODEBAR_BAND, _layout, axis_title, described
from .factors import factor_figure
from .theme import component_color

#: Thresholds of the diagnostics (issue 12): chains agree (split-R̂) and enough effective draws (bulk ESS).
RHAT_OK = 1.01
ESS_OK = 200
#: Band widths are relative to the median only where the median is at least this fraction of the largest.
SMALL_MEDIAN = 1e-3
#: The most points one band sends to the browser (evenly spaced beyond it).
MAX_BAND_POINTS = 2000
CHOSEN_COLOR, OTHER_COLOR, EVIDENCE_COLOR = "#1f77b4", "#9aa5b1", "#ff7f0e"


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _positions(where, size: int) -> np.ndarray:
    return np.asarray(where.values) if isinstance(where, Axis) else np.arange(size)


def band_figure(Q: np.ndarray, where: Axis | Grid, *, title: str, names, value_label: str = "value",
                height: int = 300) -> go.Figure:
    """Median and 90 % band of each factor: ``Q`` of shape (3, M, size) holds the 5, 50 and 95 % quantiles.

    One colour per component (the band shaded in it); on a reversed axis (ppm) the axis runs right to left.
    At most :data:`MAX_BAND_POINTS` points per line (evenly spaced).
    """
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim != 3 or Q.shape[0] != 3:
        raise ValueError(f"Q must have shape (3, n_factors, size), got {Q.shape}")
    x = _positions(where, Q.shape[2])
    keep = np.unique(np.linspace(0, x.size - 1, min(x.size, MAX_BAND_POINTS)).round().astype(int))
    x = x[keep]
    traces = []
    for m in range(Q.shape[1]):
        lo, mid, hi = (Q[i, m, keep] for i in range(3))
        color, group = component_color(m), str(m)
        traces.append(go.Scatter(x=x, y=hi, mode="lines", line={"width": 0, "color": color}, legendgroup=group,
                                 showlegend=False, hoverinfo="skip", name=f"{names[m]} 95 %"))
        traces.append(go.Scatter(x=x, y=lo, mode="lines", line={"width": 0, "color": color}, fill="tonexty",
                                 fillcolor=_rgba(color, 0.25), legendgroup=group, showlegend=False,
                                 hoverinfo="skip", name=f"{names[m]} 5 %"))
        traces.append(go.Scatter(x=x, y=mid, mode="lines", line={"width": 1.8, "color": color}, legendgroup=group,
                                 name=f"{names[m]} (median, 90 % band)"))
    xaxis = {"title": {"text": axis_title(where) if isinstance(where, Axis) else "index"}}
    if isinstance(where, Axis) and where.reversed:
        xaxis["autorange"] = "reversed"
    return described(go.Figure(traces, _layout(
        title, height, xaxis=xaxis, yaxis={"title": {"text": value_label}},
        legend={"orientation": "h", "x": 0, "y": -0.3, "font": {"size": 11}})))


def relative_width(Q: np.ndarray) -> np.ndarray:
    """The 90 % band width over the median, per entry (shape (M, size)); NaN where the median is below
    :data:`SMALL_MEDIAN` of its factor's largest (a relative width there says nothing)."""
    Q = np.asarray(Q, dtype=np.float64)
    width, median = Q[2] - Q[0], np.abs(Q[1])
    floor = SMALL_MEDIAN * median.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((median > floor) & (median > 0), width / median, np.nan)


def uncertainty_map_figure(H_q: np.ndarray, where: Axis | Grid, *, names, slice_index: int | None = None,
                           height: int = 260) -> go.Figure:
    """Per component, how sure its map is: on a grid the 90 % width relative to the median (slices as the
    results' maps); on an axis (time, index) the amplitudes' bands."""
    if isinstance(where, Grid):
        return factor_figure(relative_width(H_q), where, names=names, slice_index=slice_index,
                             title="GPP-NMF · H, 90 % band width / median (higher: less sure)",
                             value_label="width / median", height=height)
    return band_figure(H_q, where, title="GPP-NMF · H, amplitudes with 90 % bands", names=names,
                       value_label="amplitude", height=height)


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else format(float(value), spec)


def diagnostics_summary(rhat_max, ess_bulk_min, n_chains: int, n_draws: int) -> tuple[str, list[str]]:
    """(the diagnostics in words, warnings): a warning when R̂ > 1.01, bulk ESS < 200 or either is unknown."""
    text = (f"R̂ max {_fmt(rhat_max, '.3f')} (want ≤ {RHAT_OK}), bulk ESS min {_fmt(ess_bulk_min, '.0f')} "
            f"(want ≥ {ESS_OK}) over {n_chains} chains × {n_draws} draws")
    warnings = []
    if rhat_max is None or not math.isfinite(float(rhat_max)):
        warnings.append("R̂ could not be computed: the bands may not be trustworthy")
    elif float(rhat_max) > RHAT_OK:
        warnings.append(f"R̂ {float(rhat_max):.3f} > {RHAT_OK}: the chains disagree, so the bands are not "
                        "trustworthy yet")
    if ess_bulk_min is None or not math.isfinite(float(ess_bulk_min)) or float(ess_bulk_min) < ESS_OK:
        warnings.append(f"bulk ESS {_fmt(ess_bulk_min, '.0f')} < {ESS_OK}: too few effective draws, the band "
                        "edges are rough")
    return text, warnings


def cv_figure(table: list[dict], names: list[str], best_index: int | None, evidence_index: int | None = None,
              height: int | None = None) -> go.Figure:
    """Paired CV differences to the lowest (± SE) and the Laplace log evidence (relative to the largest) per
    candidate, the choice marked (filled, darker, "✓" in its label)."""
    n = len(table)
    labels = [("✓ " if row["index"] == best_index else "") + names[row["index"]] for row in table]
    colors = [CHOSEN_COLOR if row["index"] == best_index else OTHER_COLOR for row in table]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04, column_widths=[0.6, 0.4],
                        subplot_titles=("CV error − lowest (± SE, paired)", "log evidence − largest"))
    fig.add_trace(go.Bar(y=labels, x=[row["diff"] for row in table], orientation="h", marker={"color": colors},
                         error_x={"type": "data", "array": [row["diff_se"] for row in table], "visible": True},
                         name="CV error difference",
                         hovertemplate="%{y}: %{x:.4g} ± %{error_x.array:.2g}<extra></extra>"), row=1, col=1)
    evidence = [row.get("evidence") for row in table]
    known = [e for e in evidence if e is not None and math.isfinite(e)]
    top = max(known) if known else 0.0
    shown = [None if e is None or not math.isfinite(e) else e - top for e in evidence]
    fig.add_trace(go.Bar(y=labels, x=shown, orientation="h", name="log evidence",
                         marker={"color": [EVIDENCE_COLOR if row["index"] == evidence_index else OTHER_COLOR
                                           for row in table]},
                         hovertemplate="%{y}: %{x:.4g}<extra></extra>"), row=1, col=2)
    fig.update_layout(_layout("Suggest settings: cross-validation and evidence per candidate",
                              height or 150 + 34 * n, showlegend=False, bargap=0.35))
    fig.update_layout(margin={"l": 10, "r": 20, "t": MODEBAR_BAND + 56, "b": 40})
    fig.update_yaxes(autorange="reversed", automargin=True, row=1, col=1)
    fig.update_xaxes(zeroline=True, zerolinecolor="#444", row=1, col=1)
    fig.update_xaxes(zeroline=True, zerolinecolor="#444", row=1, col=2)
    for annotation in fig.layout.annotations:
        annotation.font = {"size": 12}
    rows = [f"{names[row['index']]}: CV difference {_fmt(row['diff'], '.3g')} ± {_fmt(row['diff_se'], '.2g')}, "
            f"log evidence {_fmt(e, '.3g')}" for row, e in zip(table, shown, strict=True)]
    chosen = f" Chosen: {names[best_index]}." if best_index is not None else ""
    fig.update_layout(meta={"summary": f"{fig.layout.title.text}. " + "; ".join(rows) + "." + chosen})
    return fig

