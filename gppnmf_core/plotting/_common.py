"""Shared pieces of the figure builders: the layout every figure has, its text alternative, and the bounds on what
one figure holds (heat maps as block means, long lines as their min/max envelope).

Plotly is imported here; nothing in this package is imported by ``import gppnmf_core``.
"""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go

from ..dataset import Axis, Grid
from .theme import FONT

#: Pixels at the top of every figure kept for plotly's mode bar (its buttons are about 24 px tall); the
#: title sits below this band, so the toolbar never covers it, however narrow the graph.
MODEBAR_BAND = 32
_MARGIN = {"l": 60, "r": 20, "t": MODEBAR_BAND + 30, "b": 48}


def _title(text: str) -> dict:
    return {"text": text, "font": {"size": 14}, "x": 0.01, "xanchor": "left", "xref": "container",
            "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": MODEBAR_BAND}}


#: The trace types the figure builders draw (:data:`TEMPLATE` holds plotly_white's defaults for these).
TRACE_TYPES = ("scatter", "bar", "heatmap")


def _white_template() -> go.layout.Template:
    """plotly_white as far as these figures use it: its layout (less its geo, polar, ternary and 3-D scene
    settings) and its defaults for :data:`TRACE_TYPES`. Drawn the same; but plotly copies and checks a figure's
    template whole each time one is built, and plotly_white's defaults for every trace type took most of the time
    of building a small figure (~10 ms of ~13 for the prior samples a slider redraws on every move)."""
    import plotly.io as pio

    white = pio.templates["plotly_white"]
    layout = {k: v for k, v in white.layout.to_plotly_json().items() if k not in ("geo", "polar", "ternary", "scene")}
    return go.layout.Template(layout=layout, data={kind: getattr(white.data, kind) for kind in TRACE_TYPES})


TEMPLATE = _white_template()


def _layout(title: str, height: int, **extra) -> dict:
    # The title sits left, under the band the mode bar (top right) takes.
    return {"title": _title(title), "height": height, "margin": _MARGIN, "font": FONT, "template": TEMPLATE, **extra}


def _number(value: float) -> str:
    """A value in plain digits, three significant ones (0.343, 12.5, 1230), never an SI prefix ("343m");
    scientific notation only beyond 1e6 or below 1e-4."""
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    if value != 0 and not 1e-4 <= abs(value) < 1e6:
        return f"{value:.2e}"
    return np.format_float_positional(value, precision=3, unique=False, fractional=False, trim="-")


_TAGS = re.compile(r"<[^>]+>")


def figure_summary(fig: go.Figure, limit: int = 6) -> str:
    """A text alternative for a chart: its title and the key numbers of each trace, in plain words.

    Lines: the number of points, the range of values and where the largest is; bars: every value; heat maps
    and images: the size and the range of values. At most ``limit`` traces are described (the rest counted).
    """
    title = _TAGS.sub(" ", str(fig.layout.title.text or "chart")).strip()
    parts = []
    shown = [t for t in fig.data if t.showlegend is not False or t.type != "scatter"]
    for trace in shown[:limit]:
        name = trace.name or trace.type
        if trace.type == "bar":
            values = ", ".join(f"{x} {_number(y)}" for x, y in zip(trace.x, trace.y, strict=False))
            parts.append(f"{name}: {values}")
        elif trace.type == "heatmap":
            z = np.asarray(trace.z, dtype=np.float64)
            finite = z[np.isfinite(z)]
            span = f"values {_number(finite.min())} to {_number(finite.max())}" if finite.size else "no values"
            named = f"{trace.name}: " if trace.name else ""
            parts.append(f"{named}image {z.shape[0]} × {z.shape[1] if z.ndim > 1 else 1}, {span}")
        elif trace.y is not None:
            y = np.asarray(trace.y, dtype=np.float64)
            finite = np.isfinite(y)
            if not finite.any():
                continue
            peak = int(np.nanargmax(np.where(finite, y, -np.inf)))
            where = "" if trace.x is None else f" at {_number(np.asarray(trace.x, dtype=np.float64)[peak])}"
            parts.append(f"{name}: {y.size} points from {_number(y[finite].min())} to {_number(y[peak])}{where}")
    if len(shown) > limit:
        parts.append(f"and {len(shown) - limit} more")
    return f"{title}. " + "; ".join(parts) + ("." if parts else "")


def described(fig: go.Figure) -> go.Figure:
    """The figure with its text alternative in ``layout.meta["summary"]`` (the page names the chart with it)."""
    fig.update_layout(meta={"summary": figure_summary(fig)})
    return fig


def axis_title(axis: Axis | Grid) -> str:
    """``"label (unit)"`` for an axis; the grid's shape for a grid."""
    if isinstance(axis, Axis):
        return f"{axis.label} ({axis.unit})" if axis.unit and axis.unit != axis.label else axis.label
    return f"{' × '.join(str(n) for n in axis.shape)} grid ({axis.unit}s, flattened)"


#: The most cells a heat map sends to the browser (rows, columns): about what a screen can show.
MAX_HEATMAP_ROWS, MAX_HEATMAP_COLS = 400, 800

#: The most points one line sends to the browser; longer lines are drawn as their min/max envelope.
MAX_LINE_POINTS = 4000


def block_size(n: int, limit: int) -> int:
    """How many neighbouring points one shown cell stands for so that ``n`` points fit in ``limit``."""
    return max(1, -(-int(n) // int(limit)))


def block_means(X: np.ndarray, row_block: int, col_block: int) -> np.ndarray:
    """Means of (row_block × col_block) blocks of ``X`` (the last ones may be smaller); NaN is left out.

    Works one band of rows at a time, so no temporary as large as ``X`` is made.
    A block with no finite value is NaN.
    """
    K, L = X.shape
    col_starts = np.arange(0, L, col_block)
    out = np.empty((-(-K // row_block), col_starts.size))
    for i, r in enumerate(range(0, K, row_block)):
        band = np.asarray(X[r: r + row_block], dtype=np.float64)
        finite = np.isfinite(band)
        sums = np.add.reduceat(np.where(finite, band, 0.0).sum(axis=0), col_starts)
        counts = np.add.reduceat(finite.sum(axis=0), col_starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out


def _block_centres(values: np.ndarray, block: int) -> np.ndarray:
    """Mean coordinate of each block of ``block`` neighbouring points."""
    return block_means(np.asarray(values, dtype=np.float64)[None, :], 1, block)[0]


def shown_matrix(X: np.ndarray, max_rows: int = MAX_HEATMAP_ROWS, max_cols: int = MAX_HEATMAP_COLS):
    """``(Z, (row_block, col_block))``: ``X`` itself when it fits, else its block means."""
    blocks = (block_size(X.shape[0], max_rows), block_size(X.shape[1], max_cols))
    return (X if blocks == (1, 1) else block_means(X, *blocks)), blocks


def _axis_positions(where: Axis | Grid, block: int):
    """Coordinates of the shown cells along an axis: its values (block centres), or None (indices) for a grid."""
    if isinstance(where, Axis):
        return where.values if block == 1 else _block_centres(where.values, block)
    return None if block == 1 else _block_centres(np.arange(where.size, dtype=np.float64), block)


def shown_as(shape: tuple[int, int], blocks: tuple[int, int], full: tuple[int, int]) -> str:
    """Title note for a reduced heat map, e.g. " — shown as 373 × 800 block means (11 × 41 values) of 4096 × 32768"."""
    if blocks == (1, 1):
        return ""
    return (f" — shown as {shape[0]} × {shape[1]} block means ({blocks[0]} × {blocks[1]} values) "
            f"of {full[0]} × {full[1]}")


def _compact(Z: np.ndarray) -> np.ndarray:
    """float32 (half the bytes on the wire; colours need no more precision) unless the values do not fit in it."""
    finite = Z[np.isfinite(Z)]
    fits = not finite.size or float(np.abs(finite).max()) < float(np.finfo(np.float32).max)
    return Z.astype(np.float32) if fits else Z



def envelope_indices(y: np.ndarray, max_points: int = MAX_LINE_POINTS) -> np.ndarray:
    """Indices of a line's min/max envelope: per block, its lowest and highest point, in order.

    At most ``max_points`` indices; every index when the line is short enough.
    Peaks survive, unlike plain striding. NaN points (gaps) are kept as gaps.
    """
    n = y.size
    if n <= max_points:
        return np.arange(n)
    block = block_size(n, max_points // 2)
    starts = np.arange(0, n, block)
    padded = np.full(starts.size * block, np.nan)
    padded[:n] = y
    blocks = padded.reshape(starts.size, block)
    finite = np.isfinite(blocks)
    low = np.where(finite, blocks, np.inf).argmin(axis=1)
    high = np.where(finite, blocks, -np.inf).argmax(axis=1)
    pairs = np.sort(np.stack([low, high], axis=1), axis=1) + starts[:, None]
    return np.unique(np.minimum(pairs.ravel(), n - 1))

