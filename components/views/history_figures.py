"""Pinned runs compared in one RMSE chart: one bar set per (run, method), the paper's Figure 3 across runs.

Pure functions of the runs' stored meta (settings, scores): no Dash, no store.
Two runs on the same data with the same baseline settings fitted LS-NMF and
CNMF identically (the baselines ignore the priors), so those bars are shown
once; two GPP-NMF runs with different priors are two bar sets. Pinning the
toy's "incorrect" and "correct" runs thus draws the paper's Figure 3: LS-NMF,
CNMF, GPP-NMF incorrect prior, GPP-NMF correct prior.
"""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go

from components.views.figures import described
from components.views.theme import FONT, METHOD_COLORS, METHOD_LABELS, RMSE_GROUPS

#: Bars of the same method from different runs differ by fill pattern (as well as by name).
PATTERNS = ("", "/", "x", ".", "\\", "+", "-", "|")
#: Baselines first, as in the paper's Figure 3.
ORDER = ("ls_nmf", "cnmf", "gppnmf")
#: The settings a method's result depends on (besides data and rank): the baselines never see the priors.
_DEPENDS_ON = {
    "gppnmf": ("max_iter", "n_replicates", "mask_threshold", "noise_var"),
    "cnmf": ("max_iter", "n_replicates", "mask_threshold", "tol"),
    "ls_nmf": ("max_iter", "n_replicates", "mask_threshold", "tol"),
}


def _fit_key(run: dict, method: str) -> str:
    """What one method's fit in ``run`` was computed from: equal keys, equal results."""
    settings = run.get("settings") or {}
    job = settings.get("job") or {}
    key = {"data": run.get("dataset"), "rank": run.get("rank"), "method": method,
           **{name: job.get(name) for name in _DEPENDS_ON.get(method, tuple(job))}}
    if method == "gppnmf":
        priors = settings.get("priors") or {}
        key["priors"] = [priors.get("D"), priors.get("H")]
    return json.dumps(key, sort_keys=True, default=str)


def bar_sets(runs: list[dict]) -> list[dict]:
    """One entry per distinct (run, method) fit of ``runs`` (stored run meta, each with its number ``run``).

    Each: ``{"run", "method", "name", "scores"}``, baselines first, then by run;
    a fit repeated with the same data and settings in a later run is kept once
    (the latest).
    """
    latest = {}
    for run in sorted(runs, key=lambda r: r.get("run", 0)):
        for method in run.get("methods", []):
            if method in (run.get("scores") or {}):
                latest[_fit_key(run, method)] = (run, method)
    sets = [{"run": run.get("run"), "method": method, "scores": run["scores"][method],
             "name": f"{METHOD_LABELS.get(method, method)} · run {run.get('run')}"}
            for run, method in latest.values()]
    rank = {m: i for i, m in enumerate(ORDER)}
    return sorted(sets, key=lambda s: (rank.get(s["method"], len(ORDER)), s["run"] or 0))


def history_rmse_figure(runs: list[dict], height: int = 340) -> go.Figure:
    """The RMSE groups of the paper's Figure 3 with one bar per (run, method) of the pinned ``runs``."""
    sets = bar_sets(runs)
    groups = [g for g in RMSE_GROUPS if any(g in s["scores"] for s in sets)]
    seen: dict[str, int] = {}
    bars = []
    for s in sets:
        k = seen[s["method"]] = seen.get(s["method"], -1) + 1
        shown = [g for g in groups if g in s["scores"] and np.isfinite(s["scores"][g])]
        bars.append(go.Bar(
            x=[RMSE_GROUPS[g] for g in shown], y=[float(s["scores"][g]) for g in shown], name=s["name"],
            marker={"color": METHOD_COLORS.get(s["method"], "#333"),
                    "pattern": {"shape": PATTERNS[k % len(PATTERNS)], "fgcolor": "#102a43"}},
            texttemplate="%{y:.3g}", textposition="outside", cliponaxis=False,
            hovertemplate="%{x}: %{y:.3g}<extra>%{fullData.name}</extra>"))
    title = "RMSE of the pinned runs (paper Figure 3)" if bars else "Pin runs to compare them here"
    layout = {"title": {"text": title, "x": 0.01, "xanchor": "left"}, "height": height, "font": FONT,
              "template": "plotly_white", "barmode": "group", "margin": {"l": 60, "r": 20, "t": 62, "b": 48},
              "yaxis": {"title": {"text": "RMSE"}, "rangemode": "tozero", "exponentformat": "none"},
              "legend": {"orientation": "h", "y": -0.2}}
    return described(go.Figure(bars, layout))
