"""Pure figure builders: core objects in, plotly figures out (testable without a browser)."""

from __future__ import annotations

import plotly.graph_objects as go

from gppnmf_core import Axis, Dataset


def _axis_title(axis) -> str:
    if isinstance(axis, Axis):
        return f"{axis.label} ({axis.unit})" if axis.unit else axis.label
    return f"{' × '.join(str(n) for n in axis.shape)} grid points ({axis.unit}, flattened)"


def data_heatmap(dataset: Dataset) -> go.Figure:
    """Heat map of ``dataset.X`` with its axes: features down, observations across."""
    rows = dataset.rows.values if isinstance(dataset.rows, Axis) else None
    cols = dataset.cols.values if isinstance(dataset.cols, Axis) else None
    # Noise makes many entries negative: a diverging scale centred at 0 shows where.
    signed = bool((dataset.X < 0).any())
    fig = go.Figure(go.Heatmap(
        z=dataset.X, y=rows, x=cols, colorbar={"title": "value"},
        colorscale="RdBu_r" if signed else "Viridis", zmid=0.0 if signed else None,
    ))
    reversed_rows = isinstance(dataset.rows, Axis) and dataset.rows.reversed
    fig.update_layout(
        title=f"{dataset.title}: X of shape {dataset.X.shape[0]} × {dataset.X.shape[1]}",
        xaxis_title=_axis_title(dataset.cols),
        yaxis_title=_axis_title(dataset.rows),
        yaxis={"autorange": True if reversed_rows else "reversed"},
        margin={"l": 70, "r": 20, "t": 50, "b": 50},
        height=420,
    )
    return fig
