"""Scores: the objective against iteration, and the paper's Figure 3 (RMSE bars by reference and method)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ._common import _layout, _number, described
from .theme import METHOD_COLORS, METHOD_LABELS, RMSE_GROUPS


def trace_figure(trace: np.ndarray, method: str, height: int = 240) -> go.Figure:
    """Objective against iteration for one method, on a log scale when it stays positive."""
    trace = np.asarray(trace, dtype=float)
    positive = bool(np.all(trace > 0))
    return described(go.Figure(
        go.Scatter(x=np.arange(trace.size), y=trace, mode="lines", name=METHOD_LABELS.get(method, method),
                   line={"color": METHOD_COLORS.get(method, "#333"), "width": 2}),
        _layout(f"{METHOD_LABELS.get(method, method)} · convergence", height,
                xaxis={"title": {"text": "iteration"}},
                yaxis={"title": {"text": "objective"}, "type": "log" if positive else "linear"}),
    ))


#: One line under the RMSE chart per bar group: what the group compares, and what a good value is.
RMSE_EXPLANATIONS = {
    "rmse_noisy": "vs noisy data: how far D·H is from the data X. A perfect model still misses the noise, so "
                  "the best value is about the noise level σ (dashed line); much lower means fitting noise.",
    "rmse_noise_free": "vs noise-free data: how far D·H is from the true X₀ = D₀H₀ (known for simulated data). "
                       "Lower is better; 0 is a perfect recovery.",
    "rmse_factors": "vs underlying factors: how far the signals D and amplitudes H are from the true ones, after "
                    "matching order and scale. Lower is better.",
}


def rmse_figure(scores: dict[str, dict[str, float]], height: int = 300, noise_var: float | None = None) -> go.Figure:
    """The paper's Figure 3: RMSE bars grouped by reference, one colour per method, values in plain digits.

    ``scores`` maps a method to :func:`gppnmf_core.evaluate` output; groups a
    method lacks (no truth known) are left out. With ``noise_var`` (σ²), a
    dashed line at the noise level σ = √σ² spans the "vs noisy data" group:
    the RMSE a perfect model reaches there.
    """
    groups = [g for g in RMSE_GROUPS if any(g in s for s in scores.values())]
    bars = [
        go.Bar(x=[RMSE_GROUPS[g] for g in groups if g in s], y=[s[g] for g in groups if g in s],
               name=METHOD_LABELS.get(method, method), marker={"color": METHOD_COLORS.get(method, "#333")},
               text=[_number(s[g]) for g in groups if g in s], texttemplate="%{text}", textposition="outside",
               cliponaxis=False, hovertemplate="%{x}: %{text}<extra>%{fullData.name}</extra>")
        for method, s in scores.items()
    ]
    title, shapes = "RMSE by method (paper Figure 3)", []
    if noise_var is not None and np.isfinite(noise_var) and noise_var > 0 and "rmse_noisy" in groups:
        sigma, at = float(np.sqrt(noise_var)), groups.index("rmse_noisy")
        shapes.append({"type": "line", "xref": "x", "yref": "y", "x0": at - 0.45, "x1": at + 0.45, "y0": sigma,
                       "y1": sigma, "line": {"color": "#102a43", "width": 2, "dash": "dash"}})
        title += f" — dashed: noise level σ = {_number(sigma)}"  # in the title: never on top of a bar label
    return described(go.Figure(bars, _layout(title, height, barmode="group", shapes=shapes,
                                             yaxis={"title": {"text": "RMSE"}, "rangemode": "tozero",
                                                    "exponentformat": "none", "separatethousands": False},
                                             legend={"orientation": "h", "y": -0.2})))
