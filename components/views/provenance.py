"""What the results on the page came from, and whether the page still shows those settings.

A result is only true for the data and settings it was computed with. The
results panel says which ones (data set, rank, methods, priors, σ², mask,
budgets), warns as soon as the controls differ from them, and hides results
that belong to another data set than the one selected — the store keeps them,
so switching back shows them again.
"""

from __future__ import annotations

from dash import html

from components.views.messages import problem
from components.views.specs import canonical_spec, spec_text
from components.views.theme import HIDDEN, METHOD_LABELS, SHOWN


def _labels(methods) -> str:
    names = [METHOD_LABELS.get(m, m) for m in methods]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names) or "no method"


def partial_note(meta: dict) -> str | None:
    """How a job stopped before its end, for results of only the methods that finished; None for a whole run.

    E.g. "cancelled during CNMF: GPP-NMF and LS-NMF finished".
    """
    partial = meta.get("partial")
    if not isinstance(partial, dict):
        return None
    during = METHOD_LABELS.get(partial.get("during"), partial.get("during") or "a method")
    return f"{partial.get('ended') or 'stopped'} during {during}: {_labels(partial.get('finished', []))} finished"


def describe(meta: dict) -> str:
    """One line naming the data and every setting a stored result was computed with (and a partial run's end)."""
    settings = meta.get("settings", {})
    job, priors = settings.get("job", {}), settings.get("priors") or {}
    methods = ", ".join(METHOD_LABELS.get(m, m) for m in meta.get("methods", []))
    parts = [f"Results for {settings.get('data', 'the data set')}: rank {meta.get('rank')}", methods]
    if "gppnmf" in meta.get("methods", []) and priors:
        parts.append(f"priors D: {spec_text(priors['D'])}; H: {spec_text(priors['H'])}")
    if job:
        parts.append(f"σ² {job.get('noise_var', 0):g}")
        if job.get("mask_threshold"):
            parts.append(f"voxel mask {job['mask_threshold']:g} %")
        parts.append(f"{job.get('max_iter')} iterations, {job.get('n_replicates')} replicate(s)")
    note = partial_note(meta)
    if note:
        parts.append(f"partial: {note}")
    return " · ".join(parts) + "."


def changes(meta: dict, specs: dict | None, rank) -> list[str]:
    """What the controls hold now that differs from the stored result's settings."""
    priors = meta.get("settings", {}).get("priors") or {}
    found = []
    if isinstance(rank, int) and rank != meta.get("rank"):
        found.append(f"rank {meta.get('rank')} → {rank}")
    if not isinstance(specs, dict) or not priors or "gppnmf" not in meta.get("methods", []):
        return found
    for factor in ("D", "H"):
        if not same_spec(specs.get(factor), priors.get(factor)):
            found.append(f"prior of {factor}")
    if specs.get("noise_var") != priors.get("noise_var"):
        found.append("σ²")
    return found


def same_spec(a, b) -> bool:
    """Whether two prior specs say the same (written alike by the core); False when either is not a spec."""
    try:
        return canonical_spec(a, "a") == canonical_spec(b, "b")
    except ValueError:
        return False


def provenance_view(meta: dict | None, dataset_key, specs, rank) -> tuple:
    """(provenance children, results-body style) for the page's current controls."""
    if meta is None:
        return "", SHOWN
    if meta.get("dataset") != dataset_key:
        title = meta.get("settings", {}).get("data", "another data set")
        return (html.P(f"The last results are for {title}, not the data set selected now: run to decompose this "
                       "one (switching back shows them again).", className="hint"), HIDDEN)
    line = html.P(describe(meta), className="hint provenance")
    changed = changes(meta, specs, rank)
    if not changed:
        return line, SHOWN
    return [line, problem(f"The settings changed since this run ({', '.join(changed)}): these results are still "
                          "those of the settings above. Run again to update them.")], SHOWN
