"""Figure and text builders for "How sure?", "Suggest settings" and "Estimate σ²" (no Dash callbacks).

The figures (:func:`band_figure`, :func:`uncertainty_map_figure`, :func:`cv_figure`) and the diagnostics in
words (:func:`diagnostics_summary`) are the library's (:mod:`gppnmf_core.plotting.uncertainty`, where a
notebook gets them too); the texts here read the page's stored job meta:

* :func:`posterior_source_text` — which run and settings the bands came from.
* :func:`suggestion_text` — a model choice in words.
* :func:`noise_text` — an estimated σ² and where it came from.
"""

from __future__ import annotations

from gppnmf_core.plotting.uncertainty import (  # noqa: F401  (re-exported for the panels and tests)
    CHOSEN_COLOR,
    ESS_OK,
    EVIDENCE_COLOR,
    MAX_BAND_POINTS,
    OTHER_COLOR,
    RHAT_OK,
    SMALL_MEDIAN,
    _fmt,
    band_figure,
    cv_figure,
    diagnostics_summary,
    relative_width,
    uncertainty_map_figure,
)


def posterior_source_text(meta: dict) -> str:
    """Which run and settings the bands came from."""
    source, job = meta.get("source") or {}, (meta.get("settings") or {}).get("job") or {}
    run = f"run #{source['run']}" if source.get("run") else "the run shown"
    sigma = job.get("noise_var")
    sigma_text = f", σ² = {float(sigma):.3g}" if isinstance(sigma, (int, float)) else ""
    return (f"From {run}: GPP-NMF, rank {meta.get('rank')}{sigma_text}, its prior settings; "
            f"{meta.get('n_chains')} chains × {meta.get('n_draws')} draws (NUTS), {float(meta['runtime']):.1f} s.")


def suggestion_text(meta: dict) -> str:
    """The choice in words: which candidate, why, and whether the evidence agrees."""
    best, evidence = meta.get("best_index"), meta.get("evidence_index")
    candidates = meta.get("candidates") or []
    if best is None or not 0 <= best < len(candidates):
        return "No suggestion: no candidate was finished."
    name = candidates[best]["name"]
    lowest = meta.get("lowest_index")
    why = ("lowest CV error" if best == lowest else
           "smallest rank within one standard error of the lowest CV error")
    text = f"Suggested: {name} ({why}, {meta.get('n_folds')}-fold held-out-entry CV, paired over folds)."
    if evidence is None:
        return text + " No evidence was computed (too many variables)."
    if evidence == best:
        return text + " The Laplace evidence agrees."
    return text + f" The Laplace evidence prefers {candidates[evidence]['name']}."


def noise_text(meta: dict, suggested: float | None = None) -> str:
    """An estimated σ² and where it came from (and the data set's own value, where it has one)."""
    where = (f"MacKay's RSS / (n − γ), γ = {_fmt(meta.get('gamma'), '.0f')} effective parameters of "
             f"n = {_fmt(meta.get('n'), '.0f')} observations, {meta.get('n_rounds')} rounds"
             f"{'' if meta.get('converged') else ', not converged'}")
    text = (f"σ² ≈ {float(meta['noise_var']):.4g} from the data ({where}; rank {meta.get('rank')}, "
            "the prior settings at the time).")
    if suggested is not None:
        text += f" The data set suggests {float(suggested):.4g}."
    return text
